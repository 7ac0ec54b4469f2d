/**
 * `Process.unsafeCallRemote` (gen:do_call's exchange with another node's process, OTP 25)
 * against a router that records what goes on the wire: MONITOR_P and the request written
 * in the call's own step (`unsafeRoute`), then the reply, the 'DOWN' or the timeout, and
 * the DEMONITOR_P.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as Process from "../src/Process.js"
import * as ProcessRuntime from "../src/ProcessRuntime.js"
import { RouteError } from "../src/Router.js"
import type { RouterShape } from "../src/Router.js"
import * as Sig from "../src/Signal.js"
import * as Term from "../src/Term.js"

const { atom, tuple } = Term

const genCall = atom("$gen_call")
const request = (self: Term.Pid, req: Term.Term) => (mref: Term.Ref) =>
  tuple(genCall, tuple(self, new Term.ImproperList([atom("alias")], mref)), req)

/** A router whose connection is always up: every signal is recorded, `sent` completes on the request. */
const recording = (sent: Deferred.Deferred<Term.Ref>) => {
  const wire: Array<Sig.Signal> = []
  const take = (s: Sig.Signal): RouteError | undefined => {
    if (s._tag === "Message" && !Term.isTerm(s.message)) {
      return new RouteError({ reason: "NotEncodable", node: atom("b@host"), detail: "no term form" })
    }
    wire.push(s)
    if (s._tag === "Message") {
      const m = s.message as Term.Tuple
      const tag = (m.elements[1] as Term.Tuple).elements[1] as Term.ImproperList
      Deferred.unsafeDone(sent, Effect.succeed(tag.tail as Term.Ref))
    }
    return undefined
  }
  const router: RouterShape = {
    route: (s) => Effect.suspend(() => take(s) ?? Effect.void),
    unsafeRoute: take
  }
  return { wire, router }
}

const setup = Effect.gen(function*() {
  const rt = yield* ProcessRuntime.ProcessRuntime
  yield* rt.setNode(atom("a@host"), 1)
  const sent = yield* Deferred.make<Term.Ref>()
  const { router, wire } = recording(sent)
  yield* rt.setRouter(router)
  return { rt, sent, wire, server: new Term.Pid(atom("b@host"), 1, 0, 1) }
})

const run = <A, E>(body: Effect.Effect<A, E, ProcessRuntime.ProcessRuntime>) =>
  body.pipe(Effect.provide(ProcessRuntime.layer), Logger.withMinimumLogLevel(LogLevel.None))

const call = (to: Term.Pid, req: Term.Term, timeoutMs?: number) =>
  Process.run(Effect.gen(function*() {
    const me = yield* Process.self
    const self = yield* Process.Self
    const r = yield* Effect.suspend(() => Process.unsafeCallRemote(self, to, request(me, req), timeoutMs))
    const info = Option.getOrThrow(yield* Process.processInfo(me))
    return { r, me, monitors: info.monitors, mailbox: info.messages }
  }))

describe("Process.unsafeCallRemote", () => {
  for (const [clock, test] of [["TestClock", it.effect], ["live clock", it.live]] as const) {
    test(`${clock}: MONITOR_P and the request in the call's step; the reply to the alias; then DEMONITOR_P`, () =>
      run(Effect.gen(function*() {
        const { rt, sent, server, wire } = yield* setup
        const fiber = yield* Effect.fork(call(server, atom("hi"), 5000))
        const mref = yield* Deferred.await(sent)
        expect(wire.map((s) => s._tag)).toEqual(["Monitor", "Message"])
        expect((wire[0] as Sig.Monitor).ref).toBe(mref)
        rt.unsafeDeliver(
          new Sig.Message({
            from: undefined,
            to: mref,
            message: tuple(new Term.ImproperList([atom("alias")], mref), atom("pong"))
          })
        )
        const { mailbox, monitors, r } = yield* Fiber.join(fiber)
        expect(r !== undefined && r.elements[1]).toBe(atom("pong"))
        expect(monitors).toEqual([])
        expect(mailbox).toEqual([])
        expect(wire.map((s) => s._tag)).toEqual(["Monitor", "Message", "Demonitor"])
      })))
  }

  it.effect("the 'DOWN' (noconnection, the server's reason) ends the call, with no DEMONITOR_P", () =>
    run(Effect.gen(function*() {
      const { rt, sent, server, wire } = yield* setup
      const fiber = yield* Effect.fork(call(server, atom("hi")))
      const mref = yield* Deferred.await(sent)
      const me = (wire[0] as Sig.Monitor).from
      rt.unsafeDeliver(new Sig.Down({ from: server, to: me, ref: mref, reason: atom("crashed") }))
      const { mailbox, monitors, r } = yield* Fiber.join(fiber)
      expect(Process.isDownMessage(r) && r.elements[4]).toBe(atom("crashed"))
      expect(monitors).toEqual([])
      expect(mailbox).toEqual([])
      expect(wire.map((s) => s._tag)).toEqual(["Monitor", "Message"])
    })))

  it.effect("a timeout by the TestClock: undefined, DEMONITOR_P, and a late reply never lands", () =>
    run(Effect.gen(function*() {
      const { rt, sent, server, wire } = yield* setup
      const done = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(Process.run(Effect.gen(function*() {
        const me = yield* Process.self
        const self = yield* Process.Self
        const r = yield* Effect.suspend(() => Process.unsafeCallRemote(self, server, request(me, atom("x")), 1000))
        yield* Deferred.succeed(done, undefined)
        // the late reply is sent now: the alias is gone, so nothing arrives
        const late = yield* Process.receive(undefined, { after: "1 second" })
        return { r, late }
      })))
      const mref = yield* Deferred.await(sent)
      yield* TestClock.adjust("999 millis")
      expect(yield* Deferred.isDone(done)).toBe(false)
      yield* TestClock.adjust("1 millis")
      yield* Deferred.await(done)
      expect(wire.map((s) => s._tag)).toEqual(["Monitor", "Message", "Demonitor"])
      rt.unsafeDeliver(
        new Sig.Message({
          from: undefined,
          to: mref,
          message: tuple(new Term.ImproperList([atom("alias")], mref), atom("late"))
        })
      )
      yield* TestClock.adjust("1 second")
      const { late, r } = yield* Fiber.join(fiber)
      expect(r).toBeUndefined()
      expect(Option.isNone(late)).toBe(true)
    })))

  it.effect("a node that is not alive (no unsafeRoute): the 'DOWN' with noconnection at once", () =>
    run(Effect.gen(function*() {
      const { r, monitors } = yield* call(new Term.Pid(atom("b@host"), 1, 0, 1), atom("hi"), 5000)
      expect(Process.isDownMessage(r) && r.elements[4]).toBe(atom("noconnection"))
      expect(monitors).toEqual([])
    })))

  it.effect("a request with no term form fails with NotEncodable, and the monitor is removed", () =>
    run(Effect.gen(function*() {
      const { server, wire } = yield* setup
      const r = yield* Process.run(Effect.gen(function*() {
        const self = yield* Process.Self
        const e = yield* Effect.flip(Effect.suspend(() => Process.unsafeCallRemote(self, server, () => Symbol("x"))))
        return { e, monitors: Option.getOrThrow(yield* Process.processInfo(self.pid)).monitors }
      }))
      expect(r.e.reason).toBe("NotEncodable")
      expect(r.monitors).toEqual([])
      expect(wire.map((s) => s._tag)).toEqual(["Monitor", "Demonitor"])
    })))
})
