/**
 * `sendAfter`, `startTimer`, `cancelTimer`, `readTimer` (erlang:send_after/3,
 * start_timer/3, cancel_timer/1, read_timer/1), driven by the TestClock.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as Process from "../src/Process.js"
import * as ProcessRuntime from "../src/ProcessRuntime.js"
import * as Term from "../src/Term.js"

const { atom, tuple } = Term

const inProcess = <A, E>(body: Effect.Effect<A, E, Process.Self | ProcessRuntime.ProcessRuntime>) =>
  Process.run(body).pipe(Effect.provide(ProcessRuntime.layer), Logger.withMinimumLogLevel(LogLevel.None))

const nothingWaiting = Effect.map(Process.receive(() => true, { after: 0 }), Option.isNone)

describe("Process timers", () => {
  it.effect("sendAfter delivers when its time comes, in deadline order, not before", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      yield* Process.sendAfter("100 millis", me, atom("a"))
      yield* Process.sendAfter("150 millis", me, atom("b"))
      yield* Process.sendAfter("149 millis", me, atom("c"))
      yield* TestClock.adjust("149 millis")
      expect(yield* Process.receive()).toBe(atom("a"))
      expect(yield* Process.receive()).toBe(atom("c"))
      expect(yield* nothingWaiting).toBe(true)
      yield* TestClock.adjust("1 millis")
      expect(yield* Process.receive()).toBe(atom("b"))
    })))

  it.effect("startTimer delivers {timeout, TimerRef, Msg}", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const ref = yield* Process.startTimer("1 second", me, tuple(atom("tick"), 1))
      yield* TestClock.adjust("1 second")
      const m = yield* Process.receive()
      expect(Term.equals(m as Term.Term, tuple(atom("timeout"), ref, tuple(atom("tick"), 1)))).toBe(true)
      expect(yield* Process.readTimer(ref)).toBe(false)
      expect(yield* Process.cancelTimer(ref)).toBe(false)
    })))

  it.effect("cancelTimer returns the time left and the message never comes; readTimer reads it", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const ref = yield* Process.sendAfter("100 millis", me, atom("cancelled"))
      yield* Process.sendAfter("150 millis", me, atom("later"))
      yield* TestClock.adjust("30 millis")
      expect(yield* Process.readTimer(ref)).toBe(70)
      expect(yield* Process.cancelTimer(ref)).toBe(70)
      expect(yield* Process.cancelTimer(ref)).toBe(false)
      expect(yield* Process.readTimer(ref)).toBe(false)
      yield* TestClock.adjust("200 millis")
      // the cancelled one (due first) would have come first
      expect(yield* Process.receive()).toBe(atom("later"))
      expect(yield* nothingWaiting).toBe(true)
      // not a timer at all
      expect(yield* Process.cancelTimer(yield* Process.makeRef)).toBe(false)
    })))

  it.effect("a timer to a local pid ends with that process; one to a dead pid is cancelled at once", () =>
    inProcess(Effect.gen(function*() {
      const dead = yield* Process.spawn(Effect.void)
      yield* Effect.flatMap(Process.monitor(dead), (r) => Process.receive((m) => Process.isDownMessage(m, r)))
      const r1 = yield* Process.sendAfter("1 second", dead, 1)
      expect(r1).toBeInstanceOf(Term.Ref)
      expect(yield* Process.readTimer(r1)).toBe(false)
      const child = yield* Process.spawn(Process.receive((m) => m === atom("stop")))
      const r2 = yield* Process.startTimer("1 second", child, 2)
      expect(yield* Process.readTimer(r2)).toBe(1000)
      const mref = yield* Process.monitor(child)
      yield* Process.send(child, atom("stop"))
      yield* Process.receive((m) => Process.isDownMessage(m, mref))
      expect(yield* Process.cancelTimer(r2)).toBe(false)
    })))

  it.live("with the live clock (its own scheduler, no fiber per timer): fires, cancels, reads", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const cancelled = yield* Process.sendAfter("30 millis", me, atom("cancelled"))
      const long = yield* Process.startTimer("1 hour", me, atom("never"))
      const left = yield* Process.cancelTimer(cancelled)
      expect(typeof left === "number" && left >= 0 && left <= 30).toBe(true)
      yield* Process.sendAfter("60 millis", me, atom("fired"))
      // the cancelled one (due first) would have come first
      expect(yield* Process.receive()).toBe(atom("fired"))
      const read = yield* Process.readTimer(long)
      expect(typeof read === "number" && read > 0 && read <= 3_600_000).toBe(true)
      expect(typeof (yield* Process.cancelTimer(long))).toBe("number")
      expect(yield* Process.cancelTimer(long)).toBe(false)
    })))

  it.live("receive's after with the live clock: a timeout, a message in time, a shorter timeout after a longer one", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      expect(yield* Process.receive((m) => m === atom("none"), { after: "20 millis" })).toEqual(Option.none())
      // parked with a 1 hour deadline; another process sends once we wait
      yield* Process.spawn(Effect.zipRight(
        Effect.repeat(Process.processInfo(me), { until: (i) => Option.getOrThrow(i).status === "waiting" }),
        Process.send(me, atom("in_time"))
      ))
      expect(yield* Process.receive((m) => m === atom("in_time"), { after: "1 hour" })).toEqual(
        Option.some(atom("in_time"))
      )
      // the 1 hour timer may still be armed: a shorter deadline must not wait for it
      expect(yield* Process.receive((m) => m === atom("none"), { after: "10 millis" })).toEqual(Option.none())
      expect(yield* Process.receive((m) => m === atom("none"), { after: 0 })).toEqual(Option.none())
    })))

  it.effect("a name is resolved when the timer fires", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      yield* Process.sendAfter("10 millis", "timer_target", atom("hello"))
      const got = yield* Effect.fork(Process.run(Effect.gen(function*() {
        yield* Process.register("timer_target", yield* Process.self)
        yield* Process.send(me, atom("registered"))
        return yield* Process.receive()
      })))
      yield* Process.receive((m) => m === atom("registered"))
      yield* TestClock.adjust("10 millis")
      expect(yield* Fiber.join(got)).toBe(atom("hello"))
    })))
})
