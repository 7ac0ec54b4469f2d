/**
 * `Process.callLocal` (gen:do_call's exchange in one step) and `Process.replyFrom`.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
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

const genCall = atom("$gen_call")
const request = (self: Term.Pid, req: Term.Term) => (mref: Term.Ref) =>
  tuple(genCall, tuple(self, new Term.ImproperList([atom("alias")], mref)), req)

/** `{'$gen_call', From, Req}` -> replies `{ok, Req}` (by `replyFrom`, no fiber) unless Req is `ignore`. */
const server = (rt: ProcessRuntime.ProcessRuntimeShape) =>
  Process.spawnHandler((m) => {
    if (!(m instanceof Term.Tuple) || m.elements[0] !== genCall) return Effect.void
    const [, from, req] = m.elements
    if (req === atom("crash")) return Effect.fail(atom("crashed"))
    if (req === atom("ignore")) return Effect.void
    return Process.replyFrom(rt, undefined, from!, tuple(atom("ok"), req!))
  })

describe("Process.callLocal", () => {
  it.effect("the reply; then the monitor and its alias are gone (nothing left behind)", () =>
    inProcess(Effect.gen(function*() {
      const rt = yield* ProcessRuntime.ProcessRuntime
      const me = yield* Process.self
      const pid = yield* server(rt)
      const r = yield* Process.callLocal(pid, request(me, atom("hi")))
      expect(Term.format((r as Term.Tuple).elements[1] as Term.Term)).toBe("{ok,hi}")
      const info = Option.getOrThrow(yield* Process.processInfo(me))
      expect(info.monitors).toEqual([])
      expect(Option.getOrThrow(yield* Process.processInfo(pid)).monitoredBy).toEqual([])
    })))

  it.effect("the 'DOWN': noproc for a dead pid, the reason when the callee dies", () =>
    inProcess(Effect.gen(function*() {
      const rt = yield* ProcessRuntime.ProcessRuntime
      const me = yield* Process.self
      const dead = yield* Process.spawn(Effect.void)
      yield* Process.run(Effect.void)
      expect(yield* Process.isAlive(dead)).toBe(false)
      const r1 = yield* Process.callLocal(dead, request(me, atom("x")))
      expect(Process.isDownMessage(r1) && r1.elements[4]).toBe(atom("noproc"))
      const pid = yield* server(rt)
      const r2 = yield* Process.callLocal(pid, request(me, atom("crash")))
      expect(Process.isDownMessage(r2) && r2.elements[4]).toBe(atom("crashed"))
    })))

  it.effect("a timeout (TestClock): undefined, and a reply sent afterwards never lands in the mailbox", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      let from: Term.Term | undefined
      const pid = yield* Process.spawnHandler((m) => {
        from = (m as Term.Tuple).elements[1]
        return Effect.void
      })
      const fiber = yield* Effect.fork(Process.callLocal(pid, request(me, atom("slow")), 1000))
      yield* TestClock.adjust("1001 millis")
      expect(yield* Fiber.join(fiber)).toBeUndefined()
      const rt = yield* ProcessRuntime.ProcessRuntime
      yield* Process.replyFrom(rt, pid, from!, atom("late"))
      expect(Option.isNone(yield* Process.receive(() => true, { after: 0 }))).toBe(true)
    })))

  it.effect("an idle handler answers at once: its alias is gone after, so a second reply is dropped", () =>
    inProcess(Effect.gen(function*() {
      const rt = yield* ProcessRuntime.ProcessRuntime
      const me = yield* Process.self
      const pid = yield* server(rt)
      let mref: Term.Ref | undefined
      const r = yield* Process.callLocal(pid, (ref) => {
        mref = ref
        return request(me, atom("hi"))(ref)
      })
      expect(Term.format((r as Term.Tuple).elements[1] as Term.Term)).toBe("{ok,hi}")
      yield* Process.send(mref!, atom("late"))
      expect(Option.isNone(yield* Process.receive(() => true, { after: 0 }))).toBe(true)
      expect(Option.getOrThrow(yield* Process.processInfo(me)).monitors).toEqual([])
    })))

  it.effect("a handler that answers from a fiber: the monitor is in place while the call waits", () =>
    inProcess(Effect.gen(function*() {
      const rt = yield* ProcessRuntime.ProcessRuntime
      const me = yield* Process.self
      const go = atom("go")
      const started = yield* Deferred.make<void>()
      // answers after a `go` message (its handler runs on a fiber, and receives there)
      const pid = yield* Process.spawnHandler((m) => {
        const [, from, req] = (m as Term.Tuple).elements
        return Effect.zipRight(
          Deferred.succeed(started, undefined),
          Effect.flatMap(
            Process.receive((x) => x === go),
            () => Process.replyFrom(rt, undefined, from!, tuple(atom("ok"), req!))
          )
        )
      })
      const fiber = yield* Effect.fork(Process.callLocal(pid, request(me, atom("later"))))
      // the call waits: the server is monitored (by pid) and knows its watcher
      yield* Deferred.await(started)
      expect(Option.getOrThrow(yield* Process.processInfo(me)).monitors).toEqual([pid])
      expect(Option.getOrThrow(yield* Process.processInfo(pid)).monitoredBy).toEqual([me])
      yield* Process.send(pid, go)
      const r = yield* Fiber.join(fiber)
      expect(Term.format((r as Term.Tuple).elements[1] as Term.Term)).toBe("{ok,later}")
      expect(Option.getOrThrow(yield* Process.processInfo(me)).monitors).toEqual([])
      expect(Option.getOrThrow(yield* Process.processInfo(pid)).monitoredBy).toEqual([])
    })))

  it.effect("a handler that dies on its fiber during the call: the 'DOWN' with its reason", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const pid = yield* Process.spawnHandler(() => Effect.flatMap(Effect.yieldNow(), () => Effect.fail(atom("boom"))))
      const r = yield* Process.callLocal(pid, request(me, atom("x")))
      expect(Process.isDownMessage(r) && r.elements[4]).toBe(atom("boom"))
      expect(Option.getOrThrow(yield* Process.processInfo(me)).monitors).toEqual([])
    })))

  // Erlang cannot interrupt a call; Effect can (`Effect.timeout` around it, a fiber interrupted):
  // the interrupted call's monitor and alias go, so a reply that comes later is dropped.
  const go = atom("go")

  /**
   * A server that takes one call, completes `started`, waits for `go`, replies `{ok, Req}`,
   * then sends `done` to `me`.
   */
  const lateServer = (me: Term.Pid, started: Deferred.Deferred<void>) =>
    Effect.gen(function*() {
      const rt = yield* ProcessRuntime.ProcessRuntime
      return yield* Process.spawn(Effect.gen(function*() {
        const m = yield* Process.receive()
        const [, from, req] = (m as Term.Tuple).elements
        yield* Deferred.succeed(started, undefined)
        yield* Process.receive((x) => x === go)
        yield* Process.replyFrom(rt, undefined, from!, tuple(atom("ok"), req!))
        yield* Process.send(me, atom("done"))
      }))
    })

  const interrupted = (timeoutMs: number | undefined) =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const started = yield* Deferred.make<void>()
      const pid = yield* lateServer(me, started)
      const fiber = yield* Effect.fork(Process.callLocal(pid, request(me, atom("late")), timeoutMs))
      yield* Deferred.await(started)
      expect(Option.getOrThrow(yield* Process.processInfo(me)).monitors).toEqual([pid])
      yield* Fiber.interrupt(fiber)
      expect(Option.getOrThrow(yield* Process.processInfo(me)).monitors).toEqual([])
      expect(Option.getOrThrow(yield* Process.processInfo(pid)).monitoredBy).toEqual([])
      // the server replies, then says `done`: from one sender, in order, so a reply that
      // got through would come first
      yield* Process.send(pid, go)
      expect(yield* Process.receive()).toBe(atom("done"))
    }))

  it.effect("an interrupted call leaves no monitor or alias: a late reply is dropped", () => interrupted(undefined))
  it.effect("... with a timeout on the TestClock", () => interrupted(60_000))
  it.live("... with a timeout on the live clock", () => interrupted(60_000))

  // an uninterruptible caller's wait is not interruptible (as with `Effect.onInterrupt`):
  // the call takes its reply, and the fiber ends interrupted after the region
  const uninterruptible = (timeoutMs: number | undefined) =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const started = yield* Deferred.make<void>()
      const got = yield* Deferred.make<unknown>()
      const pid = yield* lateServer(me, started)
      const fiber = yield* Effect.fork(Effect.uninterruptible(
        Effect.flatMap(Process.callLocal(pid, request(me, atom("kept")), timeoutMs), (r) => Deferred.succeed(got, r))
      ))
      yield* Deferred.await(started)
      // the interrupt reaches the fiber before the reply does (both are messages to it, in this order)
      fiber.unsafeInterruptAsFork(FiberId.none)
      yield* Process.send(pid, go)
      // the reply `{Tag, {ok, kept}}`
      expect(((yield* Deferred.await(got)) as Term.Tuple).elements[1]).toEqual(tuple(atom("ok"), atom("kept")))
      expect(Exit.isInterrupted(yield* Fiber.await(fiber))).toBe(true)
      expect(Option.getOrThrow(yield* Process.processInfo(me)).monitors).toEqual([])
    }))

  it.effect("an uninterruptible call waits for its reply through an interruption", () => uninterruptible(undefined))
  it.live("... with a timeout on the live clock", () => uninterruptible(60_000))
})
