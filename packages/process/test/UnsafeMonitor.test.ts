/**
 * `Process.unsafeMonitor` / `unsafeDemonitor` (synchronous monitors for `serve` handlers,
 * which run with no fiber), and `unsafeMakeSync2` / `unsafeCurrentContext` (one-step
 * synchronous Effects that read the running fiber's context).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Process from "../src/Process.js"
import * as ProcessRuntime from "../src/ProcessRuntime.js"
import { RouteError } from "../src/Router.js"
import type { RouterShape } from "../src/Router.js"
import type * as Sig from "../src/Signal.js"
import * as Term from "../src/Term.js"

const { atom, tuple } = Term

const inProcess = <A, E>(body: Effect.Effect<A, E, Process.Self | ProcessRuntime.ProcessRuntime>) =>
  Process.run(body).pipe(Effect.provide(ProcessRuntime.layer), Logger.withMinimumLogLevel(LogLevel.None))

/**
 * A handler process that, for `{monitor, Pid}`, monitors `Pid` synchronously and sends
 * `{monitored, Ref}` to `owner`; for `{demonitor, Ref}` demonitors it (with flush) and sends
 * `{demonitored, Active}`; any other message (a 'DOWN') goes to `owner` as `{got, Msg}`.
 */
const monitorer = (owner: Term.Pid) =>
  Effect.gen(function*() {
    const self = yield* Process.Self
    const rt = yield* ProcessRuntime.ProcessRuntime
    return yield* Process.serve((m) => {
      if (Term.isTagged(m, "monitor", 2)) {
        const ref = Process.unsafeMonitor(self, m.elements[1] as Term.Pid)
        rt.unsafeSend(owner, tuple(atom("monitored"), ref))
      } else if (Term.isTagged(m, "demonitor", 2)) {
        const active = Process.unsafeDemonitor(self, m.elements[1] as Term.Ref, { flush: true })
        rt.unsafeSend(owner, tuple(atom("demonitored"), Term.boolean(active)))
      } else rt.unsafeSend(owner, tuple(atom("got"), m as Term.Term))
      return Effect.void
    })
  })

const reply = (tag: string) => Effect.map(Process.receive((m) => Term.isTagged(m, tag, 2)), (m) => m.elements[1]!)

describe("Process.unsafeMonitor / unsafeDemonitor", () => {
  it.effect("a handler monitors a local process with no fiber: its 'DOWN' comes with the process's reason", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const target = yield* Process.spawn(Effect.flatMap(Process.receive(), () => Process.exit(atom("bye"))))
      const h = yield* Process.spawn(monitorer(me))
      yield* Process.send(h, tuple(atom("monitor"), target))
      const ref = (yield* reply("monitored")) as Term.Ref
      const info = Option.getOrThrow(yield* Process.processInfo(h))
      expect(info.monitors).toHaveLength(1)
      yield* Process.send(target, atom("go"))
      const down = (yield* reply("got")) as Term.Tuple
      expect(Process.isDownMessage(down, ref)).toBe(true)
      expect(down.elements[3]).toEqual(target)
      expect(down.elements[4]).toBe(atom("bye"))
    })))

  it.effect("a dead local target gives the 'DOWN' with noproc at once", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const dead = yield* Process.spawn(Effect.void)
      yield* Process.run(Effect.gen(function*() {
        const ref = yield* Process.monitor(dead)
        yield* Process.receive((m) => Process.isDownMessage(m, ref))
      }))
      const h = yield* Process.spawn(monitorer(me))
      yield* Process.send(h, tuple(atom("monitor"), dead))
      const ref = (yield* reply("monitored")) as Term.Ref
      const down = (yield* reply("got")) as Term.Tuple
      expect(Process.isDownMessage(down, ref)).toBe(true)
      expect(down.elements[4]).toBe(atom("noproc"))
    })))

  it.effect("unsafeDemonitor removes the monitor (true once, then false): no 'DOWN' comes after it", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const target = yield* Process.spawn(Effect.flatMap(Process.receive(), () => Process.exit(atom("bye"))))
      const h = yield* Process.spawn(monitorer(me))
      yield* Process.send(h, tuple(atom("monitor"), target))
      const ref = yield* reply("monitored")
      yield* Process.send(h, tuple(atom("demonitor"), ref))
      expect(yield* reply("demonitored")).toBe(atom("true"))
      yield* Process.send(h, tuple(atom("demonitor"), ref))
      expect(yield* reply("demonitored")).toBe(atom("false"))
      expect(Option.getOrThrow(yield* Process.processInfo(h)).monitors).toHaveLength(0)
      // the target's end reaches nobody: the next message the handler forwards is ours
      const watch = yield* Process.monitor(target)
      yield* Process.send(target, atom("go"))
      yield* Process.receive((m) => Process.isDownMessage(m, watch))
      yield* Process.send(h, atom("after"))
      expect(yield* reply("got")).toBe(atom("after"))
    })))

  it.effect("flush: a 'DOWN' already in the mailbox goes with the monitor", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const self = yield* Process.Self
      const target = yield* Process.spawn(Effect.flatMap(Process.receive(), () => Process.exit(atom("bye"))))
      const ref = Process.unsafeMonitor(self, target)
      const watch = yield* Process.monitor(target)
      yield* Process.send(target, atom("go"))
      yield* Process.receive((m) => Process.isDownMessage(m, watch))
      // the 'DOWN' of `ref` is in our mailbox now
      expect(Process.unsafeDemonitor(self, ref, { flush: true })).toBe(false)
      yield* Process.send(me, atom("marker"))
      expect(yield* Process.receive()).toBe(atom("marker"))
    })))
})

/** A router whose connection is up: signals are recorded (or refused with `refuse`). */
const recording = (refuse?: RouteError) => {
  const wire: Array<Sig.Signal> = []
  const take = (s: Sig.Signal): RouteError | undefined => {
    if (refuse !== undefined) return refuse
    wire.push(s)
    return undefined
  }
  const router: RouterShape = { route: (s) => Effect.suspend(() => take(s) ?? Effect.void), unsafeRoute: take }
  return { wire, router }
}

const remote = (refuse?: RouteError) =>
  Effect.gen(function*() {
    const rt = yield* ProcessRuntime.ProcessRuntime
    yield* rt.setNode(atom("a@host"), 1)
    const { router, wire } = recording(refuse)
    yield* rt.setRouter(router)
    return { rt, wire, target: new Term.Pid(atom("b@host"), 7, 0, 1) }
  })

describe("Process.unsafeMonitor of another node's process", () => {
  it.effect("MONITOR_P is written in the caller's step; unsafeDemonitor writes DEMONITOR_P", () =>
    inProcess(Effect.gen(function*() {
      const { target, wire } = yield* remote()
      const self = yield* Process.Self
      const ref = Process.unsafeMonitor(self, target)
      expect(wire.map((s) => s._tag)).toEqual(["Monitor"])
      expect((wire[0] as Sig.Monitor).ref).toBe(ref)
      expect((wire[0] as Sig.Monitor).to).toEqual(target)
      const me = yield* Process.self
      expect(Option.getOrThrow(yield* Process.processInfo(me)).monitors).toHaveLength(1)
      expect(Process.unsafeDemonitor(self, ref)).toBe(true)
      expect(wire.map((s) => s._tag)).toEqual(["Monitor", "Demonitor"])
      expect((wire[1] as Sig.Demonitor).ref).toBe(ref)
    })))

  it.effect("a MONITOR_P the router refuses gives the 'DOWN' with noconnection, as monitor does", () =>
    inProcess(Effect.gen(function*() {
      const { target } = yield* remote(new RouteError({ reason: "NoConnection", node: atom("b@host") }))
      const self = yield* Process.Self
      const ref = Process.unsafeMonitor(self, target)
      const down = yield* Process.receive((m) => Process.isDownMessage(m, ref))
      expect(down.elements[4]).toBe(atom("noconnection"))
    })))
})

describe("Process.unsafeMonitor on a node that is not alive", () => {
  it.effect("another node's process: the 'DOWN' with noconnection at once, as monitor", () =>
    inProcess(Effect.gen(function*() {
      const self = yield* Process.Self
      const ref = Process.unsafeMonitor(self, new Term.Pid(atom("b@host"), 7, 0, 1))
      const down = yield* Process.receive((m) => Process.isDownMessage(m, ref))
      expect(down.elements[4]).toBe(atom("noconnection"))
      const me = yield* Process.self
      expect(Option.getOrThrow(yield* Process.processInfo(me)).monitors).toHaveLength(0)
    })))
})

class Probe extends Context.Tag("UnsafeMonitor.test/Probe")<Probe, { readonly n: number }>() {}

describe("Process.unsafeMakeSync2 / unsafeCurrentContext", () => {
  it.effect("one Effect per call, run lazily each time it runs, reading the running fiber's context", () =>
    Effect.gen(function*() {
      let calls = 0
      const read = Process.unsafeMakeSync2((a: number, b: string) => {
        calls++
        const probe = Process.unsafeCurrentContext()?.unsafeMap.get(Probe.key) as { n: number } | undefined
        return `${b}${a + (probe?.n ?? -1000)}`
      })
      const eff = read(1, "x")
      expect(calls).toBe(0)
      expect(yield* eff.pipe(Effect.provideService(Probe, { n: 10 }))).toBe("x11")
      expect(yield* eff.pipe(Effect.provideService(Probe, { n: 20 }))).toBe("x21")
      expect(yield* eff).toBe("x-999")
      expect(calls).toBe(3)
    }))

  it("outside any fiber there is no current context", () => {
    expect(Process.unsafeCurrentContext()).toBeUndefined()
  })

  it.effect("a throwing function is a defect", () =>
    Effect.gen(function*() {
      const boom = Process.unsafeMakeSync2((_a: number, _b: number): number => {
        throw new Error("boom")
      })
      const exit = yield* Effect.exit(boom(1, 2))
      expect(exit._tag).toBe("Failure")
    }))
})
