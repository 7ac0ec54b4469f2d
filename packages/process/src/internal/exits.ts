/**
 * Exit rules: what a process's end is called (its exit reason), how an exit signal acts
 * on a local process (trap, ignore, kill), and killing.
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as Sig from "../Signal.js"
import { Atom, atoms, isTerm, Tuple } from "../Term.js"
import type { Pid, Term } from "../Term.js"
import { HState } from "./handler.js"
import type { ProcessImpl } from "./processTable.js"
import { samePid } from "./processTable.js"
import type { RuntimeImpl } from "./runtime.js"

/** @since 0.1.0 */
export class ProcessExit extends Data.TaggedError("ProcessExit")<{
  readonly reason: Term
}> {
  override get message(): string {
    return `process exited: ${String(this.reason)}`
  }
}

/** @internal */
export const shutdown = Atom.make("shutdown")
const effectFailure = Atom.make("effect_failure")
const encoder = new TextEncoder()

/** `{'EXIT', From, Reason}` @internal */
export const exitMessage = (from: Pid, reason: Term): Tuple => new Tuple([atoms.EXIT, from, reason])

/**
 * The exit reason of a process fiber's `exit` (see `Process`'s module doc): `normal`,
 * a `ProcessExit`'s or a failure term's reason, `shutdown` for an interruption, and
 * `{effect_failure, Text}` (logged) for anything else.
 * @internal
 */
export const exitReason = (rt: RuntimeImpl, p: ProcessImpl, exit: Exit.Exit<unknown, unknown>): Term => {
  if (Exit.isSuccess(exit)) return atoms.normal
  const cause = exit.cause
  if (Cause.isInterruptedOnly(cause)) return shutdown
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const e = failure.value
    if (e instanceof ProcessExit) return e.reason
    if (isTerm(e)) return e
  } else {
    const defect = Cause.dieOption(cause)
    if (Option.isSome(defect) && defect.value instanceof ProcessExit) return defect.value.reason
  }
  const text = Cause.pretty(cause)
  rt.logError(`Error in process ${p.pid.toString()} with exit value:\n${text}`)
  return new Tuple([effectFailure, encoder.encode(text)])
}

/**
 * Terminates a process with `reason`: its fiber is interrupted (finalizers run; the
 * cleanup follows when the fiber ends). A handler process with no fiber (idle) ends at
 * once; one whose handler is running synchronously ends when the handler returns.
 * @internal
 */
export const kill = (p: ProcessImpl, reason: Term): void => {
  if (p.dead || p.killReason !== undefined) return
  p.killReason = reason
  if (p.fiber !== undefined) p.fiber.unsafeInterruptAsFork(FiberId.none)
  else if (p.serving !== undefined && p.hstate !== HState.Running) p.rt.endIdle(p, Exit.void)
}

/**
 * Erlang's rules for an exit signal arriving at a local process: `kill` (as `exit/2`)
 * kills with `killed`; a trapping process gets `{'EXIT', From, Reason}`; `normal` is
 * ignored (unless it is the process's own `exit(self(), normal)`); any other reason kills.
 * @internal
 */
export const exitSignal = (p: ProcessImpl, from: Pid, reason: Term, kind: "link" | "exit2"): void => {
  if (p.dead || p.killReason !== undefined) return
  if (kind === "exit2" && reason === atoms.kill) return kill(p, atoms.killed)
  if (p.trapExit) return p.deliver(exitMessage(from, reason))
  if (reason === atoms.normal) {
    if (kind === "exit2" && samePid(from, p.pid)) kill(p, atoms.normal)
    return
  }
  kill(p, reason)
}

/** `exit(To, Reason)` from `from`: applied to a local process, sent to another node's. @internal */
export const exit2 = (rt: RuntimeImpl, from: Pid, to: Pid, reason: Term): void => {
  const p = rt.lookup(to)
  if (p !== undefined) exitSignal(p, from, reason, "exit2")
  else if (!rt.isLocal(to)) rt.enqueue(new Sig.Exit({ from, to, reason, kind: "exit2" }))
}
