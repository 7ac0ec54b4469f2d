/**
 * `Process.callLocal` (gen:do_call's exchange in one step) and `Process.replyFrom`.
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
})
