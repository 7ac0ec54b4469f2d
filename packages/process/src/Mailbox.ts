/**
 * A process mailbox: a hand-written FIFO with selective receive.
 *
 * - `push` appends and wakes the single parked receiver (if any) through the resume
 *   callback it left in `waiter` when it parked; it never allocates more than the array slot.
 * - `find` scans in arrival order from a save point; non-matching messages stay in
 *   place, in order, for later receives. Only the owning process removes messages, so
 *   the indices it scanned stay valid while it waits.
 *
 * Not `effect/Queue`: every `Queue.take` on an empty queue allocates a `Deferred`
 * (measured 12× slower for ping-pong).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

const WAKE: Effect.Effect<void> = Effect.void

/**
 * What `receive` accepts: a predicate (`true` takes the message as is) or a function
 * returning an `Option` (`Some(a)` takes the message and yields `a`).
 *
 * @since 0.1.0
 * @category models
 */
export type Matcher<A> = (message: unknown) => Option.Option<A> | boolean

/**
 * @since 0.1.0
 * @category models
 */
export class Mailbox {
  private items: Array<unknown> | undefined = undefined
  private head = 0
  /** @internal the parked receiver's resume callback */
  waiter: ((wake: Effect.Effect<any>) => void) | undefined = undefined
  /** @internal what `waiter` is resumed with (what the parked fiber runs next) */
  wake: Effect.Effect<any> = WAKE
  /** @internal the matcher of the parked `receive` (see `Process.receive`) */
  recvMatch: Matcher<unknown> | undefined = undefined
  /** @internal number of messages the parked receiver has already scanned */
  waitFrom = 0
  /** @internal set by `find`: the value of the last match */
  lastMatch: unknown = undefined
  /**
   * @internal what a mailbox seldom needs (drain watchers, the timed-receive timer, …),
   * allocated on first use: a parked process carries one field for it, not one per item
   */
  x: MailboxExtra | undefined = undefined

  /** @internal `x`, allocated when first needed (`makeExtra` lets a subclass carry more) */
  extra(): MailboxExtra {
    return this.x ?? (this.x = this.makeExtra())
  }
  /** @internal */
  protected makeExtra(): MailboxExtra {
    return new MailboxExtra()
  }

  /**
   * Number of messages waiting.
   * @since 0.1.0
   */
  get size(): number {
    return this.items === undefined ? 0 : this.items.length - this.head
  }

  /**
   * Calls `resume` once at most `low` messages wait (at once if that is so now), or when
   * the mailbox is cleared. The distribution's receive backpressure waits on this: a
   * connection that delivered to a full mailbox reads on when the receiver has caught up.
   * @internal
   */
  onDrained(low: number, resume: () => void): void {
    if (this.size <= low) {
      resume()
      return
    }
    const x = this.extra()
    if (x.drainWatch === undefined) x.drainWatch = []
    x.drainWatch.push({ low, resume })
    if (low > x.drainAt) x.drainAt = low
  }

  private drained(all: boolean): void {
    const x = this.x!
    const watch = x.drainWatch!
    const size = this.size
    const keep: Array<{ readonly low: number; readonly resume: () => void }> = []
    const ready: Array<() => void> = []
    let at = -1
    for (const w of watch) {
      if (all || size <= w.low) ready.push(w.resume)
      else {
        keep.push(w)
        if (w.low > at) at = w.low
      }
    }
    x.drainWatch = keep.length > 0 ? keep : undefined
    x.drainAt = at
    for (const r of ready) r()
  }

  /**
   * Appends a message and wakes the parked receiver.
   * @since 0.1.0
   */
  push(message: unknown): void {
    if (this.items === undefined) this.items = [message]
    else this.items.push(message)
    const w = this.waiter
    if (w !== undefined) {
      this.waiter = undefined
      w(this.wake)
    }
  }

  /**
   * The index (relative to the oldest message) of the first message at or after `start`
   * that `match` accepts, with its value in `lastMatch`; or `-(size + 1)` when none does.
   * Without `match`, the oldest message at or after `start` matches.
   * @since 0.1.0
   */
  find(match: Matcher<unknown> | undefined, start: number): number {
    const items = this.items
    if (items === undefined) return -1
    const head = this.head
    for (let i = head + start; i < items.length; i++) {
      const m = items[i]
      if (match === undefined) {
        this.lastMatch = m
        return i - head
      }
      const r = match(m)
      if (r === true) {
        this.lastMatch = m
        return i - head
      }
      if (r !== false && Option.isOption(r) && Option.isSome(r)) {
        this.lastMatch = r.value
        return i - head
      }
    }
    return -(items.length - head) - 1
  }

  /**
   * Removes and returns the message at `index` (relative to the oldest message).
   * @since 0.1.0
   */
  removeAt(index: number): unknown {
    const items = this.items!
    const abs = this.head + index
    const m = items[abs]
    if (abs === this.head) {
      items[abs] = undefined
      this.head++
      if (this.head === items.length) {
        // emptied: the next message gets a fresh one-slot array (cheaper than `length = 0`)
        this.items = undefined
        this.head = 0
      } else if (this.head > 1024 && this.head * 2 > items.length) {
        this.items = items.slice(this.head)
        this.head = 0
      }
    } else {
      items.splice(abs, 1)
    }
    const x = this.x
    if (x !== undefined && x.drainAt >= 0 && this.size <= x.drainAt) this.drained(false)
    return m
  }

  /**
   * Removes every message that `predicate` accepts.
   * @since 0.1.0
   */
  removeWhere(predicate: (message: unknown) => boolean): number {
    if (this.items === undefined) return 0
    const kept = this.toArray()
    const rest = kept.filter((m) => !predicate(m))
    this.items = rest
    this.head = 0
    const x = this.x
    if (x !== undefined && x.drainAt >= 0 && this.size <= x.drainAt) this.drained(false)
    return kept.length - rest.length
  }

  /**
   * The waiting messages, oldest first (a copy).
   * @since 0.1.0
   */
  toArray(): Array<unknown> {
    return this.items === undefined ? [] : this.items.slice(this.head)
  }

  /**
   * Drops every message.
   * @since 0.1.0
   */
  clear(): void {
    this.items = undefined
    this.head = 0
    this.waiter = undefined
    const x = this.x
    if (x === undefined) return
    if (x.drainWatch !== undefined) this.drained(true)
    if (x.timer !== undefined) {
      clearTimeout(x.timer)
      x.timer = undefined
    }
  }

  /**
   * An effect that parks until a message arrives beyond the first `waitFrom` messages
   * (returns at once if one already has). Built once per mailbox and reused.
   * @since 0.1.0
   */
  wait(scanned: number): Effect.Effect<void> {
    this.waitFrom = scanned
    const x = this.extra()
    if (x.waitEffect === undefined) {
      x.waitEffect = Effect.async<void>((resume) => {
        if (this.size > this.waitFrom) resume(WAKE)
        else {
          this.wake = WAKE
          this.waiter = resume
        }
      })
    }
    return x.waitEffect
  }

  /** @internal the armed timer fired (`onTimer`) */
  timerFired(): void {
    this.x!.timer = undefined
    const w = this.waiter
    if (w !== undefined) {
      this.waiter = undefined
      w(this.wake)
    }
  }

  /**
   * `wait`, but also woken at `deadline` (the live clock's milliseconds; `now` is its
   * time) by a `setTimeout` (the live clock's own timers), with no fiber forked to race
   * the two. The timer stays armed when a message comes first (`releaseTimer` only
   * unrefs it, so it does not keep the program alive), and a later `waitTimed` with a
   * deadline no earlier reuses it: a process making call after call with the same
   * timeout arms about one timer per timeout period, not one per call. Its early firing
   * is a spurious wake-up, which every receive loop tolerates (it rescans and waits
   * again). `clear` (the process's death) cancels it.
   * @internal
   */
  waitTimed(scanned: number, deadline: number, now: number): Effect.Effect<void> {
    this.armTimer(deadline, now)
    return this.wait(scanned)
  }

  /**
   * `waitTimed`'s timer alone: the parked receiver (`waiter`) is woken at `deadline` at
   * the latest (the timer armed, or reused when it fires no later).
   * @internal
   */
  armTimer(deadline: number, now: number): void {
    const x = this.extra()
    if (x.timer === undefined || x.timerAt > deadline) {
      if (x.timer !== undefined) clearTimeout(x.timer)
      x.timerAt = deadline
      // the mailbox as the timer's argument: no closure per mailbox
      x.timer = setTimeout(onTimer, deadline - now, this)
    } else {
      ;(x.timer as { ref?: () => unknown }).ref?.()
    }
  }

  /**
   * A timed receive is over: the armed timer, if any, no longer keeps the program alive.
   * @internal
   */
  releaseTimer(): void {
    const t = this.x?.timer
    if (t !== undefined) (t as { unref?: () => unknown }).unref?.()
  }
}

/**
 * What a mailbox seldom needs, in one object allocated on first use (`Mailbox.extra`).
 * @since 0.1.0
 * @internal
 */
export class MailboxExtra {
  /** callbacks waiting for the mailbox to drain (see `onDrained`), with their low-water marks */
  drainWatch: Array<{ readonly low: number; readonly resume: () => void }> | undefined = undefined
  /** the highest low-water mark in `drainWatch`; -1 when nothing waits */
  drainAt = -1
  /** when the armed timer (see `waitTimed`) fires, in the clock's milliseconds (when `timer` is set) */
  timerAt = 0
  timer: ReturnType<typeof setTimeout> | undefined = undefined
  /** `wait`'s Effect, built once per mailbox */
  waitEffect: Effect.Effect<void> | undefined = undefined
}

const onTimer = (mailbox: Mailbox): void => mailbox.timerFired()

/**
 * An empty mailbox.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (): Mailbox => new Mailbox()
