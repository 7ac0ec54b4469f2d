/**
 * Handler mode: a process that holds no fiber while idle (as Akka and Ergo actors).
 *
 * A process enters it with `Process.serve(handle)`: its fiber ends, and from then on each
 * message, in arrival order, is given to `handle`. When a message arrives at an idle
 * handler process, a task on the process scheduler drains the mailbox:
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
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import { isSuccessExit } from "./effectInternals.js"
import type { ProcessImpl } from "./processTable.js"
import { Self } from "./processTable.js"
import { processScheduler } from "./scheduler.js"

/** What a handler process does with each message. @internal */
export type Handle = (message: unknown) => Effect.Effect<unknown, unknown, any>

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
 * A caller that is about to wait for the answer delivered a message to idle handler
 * process `p`: `p` handles it now, on the caller's stack, instead of in a task of its own
 * (a direct hand-off: the caller would only park until that task ran).
 * @internal
 */
export const drainNow = (p: ProcessImpl): void => {
  p.hstate = HState.Scheduled
  drain(p)
}

/** Handles the waiting messages (see the module doc). */
const drain = (p: ProcessImpl): void => {
  if (p.dead || p.fiber !== undefined || p.hstate !== HState.Scheduled) return
  p.hstate = HState.Running
  const handle = p.serving!
  for (let n = 0; p.size > 0 && p.killReason === undefined; n++) {
    if (n === BUDGET) return wake(p)
    const message = p.removeAt(0)
    let effect: Effect.Effect<unknown, unknown, any>
    try {
      effect = handle(message)
    } catch (e) {
      effect = Exit.die(e)
    }
    if (isSuccessExit(effect)) continue
    if (Exit.isExit(effect)) {
      p.hstate = HState.Idle
      return p.rt.endIdle(p, effect)
    }
    p.hstate = HState.Idle
    return run(p, effect)
  }
  p.hstate = HState.Idle
  // an exit signal came while the handler ran: it ends the process now
  if (p.killReason !== undefined) p.rt.endIdle(p, Exit.void)
}

/** Runs a handler's Effect on a fresh process fiber. */
const run = (p: ProcessImpl, effect: Effect.Effect<unknown, unknown, any>): void => {
  p.rt.startFiber(
    p,
    Runtime.make({
      context: Context.add(p.startContext!, Self, p),
      fiberRefs: p.startRefs!,
      runtimeFlags: Runtime.defaultRuntimeFlags
    }),
    Effect.as(effect, SERVE)
  )
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
