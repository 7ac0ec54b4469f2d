/**
 * Handler mode: a process that holds no fiber while idle (as Akka and Ergo actors).
 *
 * A process enters it with `Process.serve(handle)`: its fiber ends, and from then on each
 * message, in arrival order, is given to `handle`. When a message from a process fiber's
 * step (a send, a cast, a call's request) arrives at an idle handler process, the process
 * handles it at once on the sender's stack (`drainNow`, `handleNow`; nesting bounded);
 * when any other message arrives (from the network, a timer, a handler), a task on the
 * process scheduler drains the mailbox. Either way:
 * - `handle(message)` returning an `Exit` (`Effect.succeed`, `Effect.void`, `Effect.fail`…)
 *   is applied at once, with no fiber at all: success goes on to the next message, a
 *   failure ends the process with that exit, as a process fiber's failure would;
 * - any other Effect runs on a fresh process fiber (the spawner's context plus `Self`,
 *   the FiberRefs the process started with); the process is busy until it ends, then
 *   idle again. Inside it the process is an ordinary one (`receive` works).
 *
 * Links, monitors, exit signals and `trap_exit` are the process's, whatever its state:
 * an exit signal that kills an idle handler process ends it at once (its links and
 * monitors fire before `kill` returns), a busy one through its fiber's interruption.
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { Tuple } from "../Term.js"
import type { Atom, Term } from "../Term.js"
import { isSuccessExit } from "./effectInternals.js"
import type { ProcessImpl } from "./processTable.js"
import { processScheduler } from "./scheduler.js"

/** What a handler process does with each message. @internal */
export type Handle = (message: unknown) => Effect.Effect<unknown, unknown, any>

/**
 * A handler as an object (see `Process.Handler`): `handle(message)`, and optionally the
 * messages `{tag, Payload}` taken as their payload (`handleTagged`). @internal
 */
export interface HandlerObject {
  readonly handle: Handle
  readonly tag?: Atom | undefined
  readonly handleTagged?: Handle | undefined
}

/** What a handler process runs for each message (`ProcessImpl.serving`). @internal */
export type Serving = Handle | HandlerObject

/**
 * The value a process fiber ends with to hand the process over to its handler (`serve`),
 * and with which each handler fiber ends.
 * @internal
 */
export const SERVE: unique symbol = Symbol.for("@effect-otp/process/serve")

/** messages handled in one drain before the others get their turn */
const BUDGET = 4096

/** The handler states of a process (`ProcessImpl.hstate`): idle, drain scheduled, draining. @internal */
export const HState = { Idle: 0, Scheduled: 1, Running: 2 } as const

/** A message arrived at an idle handler process: drain its mailbox soon. @internal */
export const wake = (p: ProcessImpl): void => {
  p.hstate = HState.Scheduled
  processScheduler.scheduleTask(() => drain(p), 0)
}

/**
 * How many handler processes are handling messages on a sender's stack now (`drainNow`),
 * one inside another: a handler that sends to another idle handler process, which sends to
 * a third… Beyond `MAX_NESTED` the next one gets a task of its own, so that a chain of
 * handler processes never grows the stack without bound.
 */
let nested = 0
const MAX_NESTED = 8

/**
 * A message from a process fiber's step came to idle handler process `p` (a call's request
 * whose caller waits for the answer next, a cast, a send): `p` handles it now, on the
 * sender's stack, instead of in a task of its own. For a call that is a direct hand-off
 * (the caller would only park until that task ran); for a cast or a send it is the work
 * that task would do, done while the message is fresh. The process's semantics are those
 * of a drain in its own task: messages in arrival order, links, monitors and exit signals
 * as usual, the handler's own Effect (one that is not an `Exit`) on a fiber of its own.
 * @internal
 */
export const drainNow = (p: ProcessImpl): void => {
  if (nested === MAX_NESTED) return wake(p)
  p.hstate = HState.Scheduled
  nested++
  try {
    drain(p)
  } finally {
    nested--
  }
}

/**
 * `drainNow` for a message that was not queued, to an idle handler process with an empty
 * mailbox (it would be the next, and only, message handled): handled as it comes, then
 * whatever came meanwhile. The caller checked that `p` is idle, its mailbox empty, and that
 * it decodes nothing (see `ProcessImpl.deliverNow`).
 * @internal
 */
export const handleNow = (p: ProcessImpl, message: unknown): void => {
  if (nested === MAX_NESTED) {
    p.push(message)
    return wake(p)
  }
  p.hstate = HState.Running
  nested++
  try {
    handledNow(p, handleOne(p.serving!, message))
  } finally {
    nested--
  }
}

/**
 * `handleNow` for a message `{h.tag, payload}` to an idle handler process whose handler `h`
 * takes such messages as their payload (`handleTagged`): the tuple is never built. The
 * caller checked what `handleNow`'s caller checks, and that `h` has `handleTagged`.
 * @internal
 */
export const handleTaggedNow = (p: ProcessImpl, h: HandlerObject, payload: unknown): void => {
  if (nested === MAX_NESTED) {
    p.push(new Tuple([h.tag!, payload as Term]))
    return wake(p)
  }
  p.hstate = HState.Running
  nested++
  try {
    handledNow(p, handleTaggedOne(h, payload))
  } finally {
    nested--
  }
}

/** The rest of `handleNow`: the Effect applied, then whatever came meanwhile. */
const handledNow = (p: ProcessImpl, effect: Effect.Effect<unknown, unknown, any>): void => {
  if (!handled(p, effect)) return
  // the usual case: nothing came meanwhile
  if (p.size === 0 && p.killReason === undefined) {
    p.hstate = HState.Idle
    return
  }
  p.hstate = HState.Scheduled
  drain(p)
}

/** `handleTagged`'s Effect for a payload (a throwing handler dies). */
const handleTaggedOne = (h: HandlerObject, payload: unknown): Effect.Effect<unknown, unknown, any> => {
  try {
    return h.handleTagged!(payload)
  } catch (e) {
    return Exit.die(e)
  }
}

/** The handler's Effect for a message (a throwing handler dies). */
const handleOne = (serving: Serving, message: unknown): Effect.Effect<unknown, unknown, any> => {
  try {
    return typeof serving === "function" ? serving(message) : serving.handle(message)
  } catch (e) {
    return Exit.die(e)
  }
}

/**
 * Applies the handler's Effect for a message of running handler process `p`: `true` when
 * it was a success `Exit` (the next message may come); else `p` ends with that `Exit`, or
 * runs the Effect on a fiber.
 */
const handled = (p: ProcessImpl, effect: Effect.Effect<unknown, unknown, any>): boolean => {
  if (isSuccessExit(effect)) return true
  p.hstate = HState.Idle
  if (Exit.isExit(effect)) p.rt.endIdle(p, effect)
  else run(p, effect)
  return false
}

/** Handles the waiting messages (see the module doc). */
const drain = (p: ProcessImpl): void => {
  if (p.dead || p.fiber !== undefined || p.hstate !== HState.Scheduled) return
  p.hstate = HState.Running
  const serving = p.serving!
  for (let n = 0; p.size > 0 && p.killReason === undefined; n++) {
    if (n === BUDGET) return wake(p)
    if (!handled(p, handleOne(serving, p.removeAt(0)))) return
  }
  p.hstate = HState.Idle
  // an exit signal came while the handler ran: it ends the process now
  if (p.killReason !== undefined) p.rt.endIdle(p, Exit.void)
}

/** Runs a handler's Effect on a fresh process fiber. */
const run = (p: ProcessImpl, effect: Effect.Effect<unknown, unknown, any>): void => {
  p.rt.startFiber(p, Effect.as(effect, SERVE))
}

/**
 * A fiber of handler process `p` ended with `SERVE` (its `serve`, or a handler's Effect):
 * the process is idle, or drains what came meanwhile.
 * @internal
 */
export const fiberDone = (p: ProcessImpl): void => {
  p.fiber = undefined
  p.hstate = HState.Idle
  if (p.size > 0) wake(p)
}
