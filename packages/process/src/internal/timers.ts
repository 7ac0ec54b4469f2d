/**
 * Timers of `send_after` / `start_timer`, by the counter of their ref (`aliasKey`). A
 * timer bound to a local process (a pid destination) ends with it, as in erts.
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import type { Ref } from "../Term.js"
import type { AliasKey } from "./aliases.js"
import { clockScheduler } from "./effectInternals.js"
import type { ProcessImpl } from "./processTable.js"
import type { RuntimeImpl } from "./runtime.js"

/** A timer of `send_after`/`start_timer`: when it fires, and how to stop it. @internal */
export interface Timer {
  readonly deadline: number
  /** the local process the timer is bound to (a pid destination): its death cancels the timer */
  readonly owner: ProcessImpl | undefined
  /** stops the clock's timer or the fiber that sleeps for it */
  cancel: (() => void) | undefined
}

/**
 * The longest delay a JS timer takes (the clock's scheduler treats a longer one as infinite).
 * @internal
 */
export const MAX_TIMER_MILLIS = 2 ** 31 - 1

/** @internal */
export class TimerTable {
  private readonly byKey = new Map<AliasKey, Timer>()

  /**
   * Starts a timer: `fire` runs after `ms` by `clock` (the caller's) unless the timer is
   * cancelled first, or its owner (a local process) dies. The returned ref names it. On
   * a clock with its own scheduler (the live one) the timer is just that scheduler's
   * timer; otherwise (the `TestClock`) a daemon fiber sleeps for it.
   */
  start(
    rt: RuntimeImpl,
    ms: number,
    clock: Clock.Clock,
    owner: ProcessImpl | undefined,
    ownerGone: boolean,
    fire: (ref: Ref) => void
  ): Effect.Effect<Ref> {
    const ref = rt.unsafeMakeRef()
    // a timer for a process that is not alive is cancelled at once, as in erts
    if (ownerGone) return Effect.succeed(ref)
    const k = rt.aliasKey(ref)!
    const timer: Timer = { deadline: clock.unsafeCurrentTimeMillis() + ms, owner, cancel: undefined }
    this.byKey.set(k, timer)
    if (owner !== undefined) (owner.timers ??= new Set()).add(k)
    const expire = () => {
      if (this.byKey.get(k) !== timer) return
      this.byKey.delete(k)
      owner?.timers?.delete(k)
      fire(ref)
    }
    return Effect.flatMap(clockScheduler(clock), (scheduler) => {
      if (scheduler !== undefined && ms <= MAX_TIMER_MILLIS) {
        timer.cancel = scheduler.unsafeSchedule(expire, Duration.millis(ms))
        return Effect.succeed(ref)
      }
      return Effect.map(Effect.forkDaemon(Effect.zipRight(Effect.sleep(ms), Effect.sync(expire))), (fiber) => {
        if (this.byKey.get(k) === timer) timer.cancel = () => fiber.unsafeInterruptAsFork(FiberId.none)
        else fiber.unsafeInterruptAsFork(FiberId.none)
        return ref
      })
    })
  }

  /** The pending timer of key `k`. */
  get(k: AliasKey | undefined): Timer | undefined {
    return k === undefined ? undefined : this.byKey.get(k)
  }

  /** Cancels a pending timer; `true` if it was pending. */
  cancel(k: AliasKey): boolean {
    const t = this.byKey.get(k)
    if (t === undefined) return false
    this.byKey.delete(k)
    t.owner?.timers?.delete(k)
    t.cancel?.()
    return true
  }

  cancelAll(): void {
    for (const k of [...this.byKey.keys()]) this.cancel(k)
  }

  /** A process died: the timers bound to it are cancelled. */
  onDeath(p: ProcessImpl): void {
    if (p.timers === undefined) return
    for (const k of p.timers) this.cancel(k)
    p.timers = undefined
  }
}
