/**
 * The run queue of process fibers: one FIFO of tasks drained in one microtask, instead of
 * effect's default scheduler, which keeps a `SchedulerRunner` per fiber (in a WeakMap) and
 * a promise per wake-up. That runner is ~230 B per live fiber and about half the cost of
 * starting a fiber.
 *
 * After `budget` tasks in one drain the rest continues in a macrotask (`setImmediate`),
 * so timers and I/O (the dist layer's sockets) still get their turn while processes
 * keep each other busy. Tasks with a non-default priority go to the default scheduler.
 * @internal
 */
import type * as RuntimeFiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Scheduler from "effect/Scheduler"
import { maxOpsOf } from "./effectInternals.js"

/**
 * A microtask through a resolved promise: `queueMicrotask` wraps each callback in an
 * AsyncResource (~200 ns); a `.then` on a shared resolved promise costs ~50 ns. The
 * callback must not throw (a throw in `.then` is an unhandled rejection, not an uncaught
 * exception): callers catch, and rethrow with `rethrowUncaught`.
 * @internal
 */
export const microtask = (f: () => void): void => {
  void resolved.then(f)
}
const resolved = Promise.resolve()

/**
 * Rethrows a defect caught in a `microtask` callback as an uncaught exception (what a
 * throw in a `queueMicrotask` callback is).
 * @internal
 */
export const rethrowUncaught = (e: unknown): void => {
  queueMicrotask(() => {
    throw e
  })
}

const macrotask: (f: () => void) => void = typeof setImmediate === "function"
  ? (f) => {
    setImmediate(f)
  }
  : (f) => {
    setTimeout(f, 0)
  }

/** @internal */
export class ProcessScheduler implements Scheduler.Scheduler {
  private queue: Array<Scheduler.Task | undefined> = []
  private scheduled = false
  constructor(readonly budget: number) {}

  scheduleTask(task: Scheduler.Task, priority: number, fiber?: RuntimeFiber.RuntimeFiber<unknown, unknown>): void {
    if (priority !== 0) return Scheduler.defaultScheduler.scheduleTask(task, priority, fiber)
    this.queue.push(task)
    if (!this.scheduled) {
      this.scheduled = true
      microtask(this.drain)
    }
  }

  shouldYield(fiber: RuntimeFiber.RuntimeFiber<unknown, unknown>): number | false {
    // asked at every run-loop step: the limit is remembered per FiberRefs (see `maxOpsOf`)
    return fiber.currentOpCount > maxOpsOf(fiber)
      ? fiber.getFiberRef(FiberRef.currentSchedulingPriority)
      : false
  }

  private readonly drain = (): void => {
    const queue = this.queue
    const budget = this.budget
    let i = 0
    try {
      // tasks scheduled while draining are appended and run in this drain (up to the budget)
      while (i < queue.length && i < budget) {
        const task = queue[i]!
        queue[i++] = undefined
        task()
      }
    } catch (e) {
      rethrowUncaught(e)
    } finally {
      if (i === queue.length) {
        queue.length = 0
        this.scheduled = false
      } else {
        this.queue = queue.slice(i)
        macrotask(this.drain)
      }
    }
  }
}

/** @internal */
export const processScheduler = new ProcessScheduler(4096)

/**
 * The scheduler a new process fiber gets: ours, unless its spawner chose another one
 * than effect's default (a `SyncScheduler` that was already flushed forwards to the
 * default, so it counts as the default).
 * @internal
 */
export const schedulerFor = (current: Scheduler.Scheduler): Scheduler.Scheduler | undefined =>
  current === Scheduler.defaultScheduler ||
    (current instanceof Scheduler.SyncScheduler && current.deferred)
    ? processScheduler
    : undefined
