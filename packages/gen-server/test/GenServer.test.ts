import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import * as T from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import * as GenServer from "../src/GenServer.js"

/** An atom on the wire, its text in TS. */
const AtomText = Schema.transform(Schema.declare((u): u is T.Atom => u instanceof T.Atom), Schema.String, {
  strict: true,
  decode: (a) => a.name,
  encode: (s) => T.Atom.make(s)
})

/** Runs `body` as a process on a fresh runtime, logs collected into `logs` when given (else silenced). */
const inProcess = <A, E>(
  body: Effect.Effect<A, E, Process.Self | ProcessRuntime.ProcessRuntime>,
  logs?: Array<string>
) =>
  Process.run(body).pipe(
    Effect.provide(ProcessRuntime.layer),
    logs === undefined
      ? Logger.withMinimumLogLevel(LogLevel.None)
      : Effect.provide(Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ message }) => void logs.push(Array.isArray(message) ? message.join(" ") : String(message)))
      ))
  )

/** Runs `effect` in a process of its own; its exit arrives in the returned Deferred. */
const spawnCall = <A, E>(effect: Effect.Effect<A, E, ProcessRuntime.ProcessRuntime | Process.Self>) =>
  Effect.gen(function*() {
    const done = yield* Deferred.make<A, E>()
    yield* Process.spawn(Effect.flatMap(Effect.exit(effect), (exit) => Deferred.done(done, exit)))
    return done
  })

/** Polls `effect` (yielding between tries) until `pred` holds. */
const until = <A, E, R>(effect: Effect.Effect<A, E, R>, pred: (a: A) => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 100_000; i++) {
      if (pred(yield* effect)) return
      yield* Effect.yieldNow()
    }
    expect.fail("condition never held")
  })

interface CounterState {
  readonly n: number
  readonly pending: ReadonlyArray<GenServer.From<number>>
  readonly terminated?: Deferred.Deferred<T.Term>
}

/**
 * A counter: call `get` → n; `N` (a number) adds N and answers the new value; `defer` answers
 * later (at the next `flush` cast); `crash` fails; `stop` stops with reply; cast N adds N.
 */
const Counter = GenServer.make({
  name: "counter",
  request: Schema.Union(Schema.Number, AtomText),
  reply: Schema.Number,
  cast: Schema.Union(Schema.Number, AtomText),
  init: (args: { readonly start: number; readonly trap?: boolean; readonly terminated?: Deferred.Deferred<T.Term> }) =>
    Effect.gen(function*() {
      if (args.trap === true) yield* Process.trapExit(true)
      if (args.start < 0) return { stop: "negative" } as const
      if (args.start === 999) return { ignore: true } as const
      if (args.start === 666) return yield* Effect.fail(T.atom("init_crashed"))
      return { state: { n: args.start, pending: [], ...(args.terminated ? { terminated: args.terminated } : {}) } }
    }),
  handleCall: (req, from, s: CounterState) => {
    if (typeof req === "number") return Effect.succeed({ reply: s.n + req, state: { ...s, n: s.n + req } })
    switch (req) {
      case "get":
        return Effect.succeed({ reply: s.n, state: s })
      case "pending":
        return Effect.succeed({ reply: s.pending.length, state: s })
      case "defer":
        return Effect.succeed({ state: { ...s, pending: [...s.pending, from] } })
      case "crash":
        return Effect.fail(T.atom("boom"))
      case "stop":
        return Effect.succeed({ stop: "normal", reply: s.n, state: s })
      default:
        return Effect.die(new Error(`unexpected ${req}`))
    }
  },
  handleCast: (msg, s) =>
    typeof msg === "number"
      ? Effect.succeed({ state: { ...s, n: s.n + msg } })
      : msg === "flush"
      ? Effect.as(Effect.forEach(s.pending, (f) => GenServer.reply(f, s.n)), { state: { ...s, pending: [] } })
      : Effect.succeed({ stop: T.tuple(T.atom("shutdown"), T.atom(msg)), state: s }),
  handleInfo: (msg, s) => Effect.succeed(msg === T.atoms.timeout ? { state: { ...s, n: -1 } } : { state: s }),
  terminate: (reason, s) => s.terminated === undefined ? Effect.void : Deferred.succeed(s.terminated, reason),
  codeChange: (_oldVsn, s, extra) => Effect.succeed({ ...s, n: typeof extra === "number" ? extra : s.n })
})

describe("GenServer", () => {
  it.effect("call and cast are typed end to end; a named server is reachable by name", () =>
    inProcess(Effect.gen(function*() {
      const server = yield* GenServer.start(Counter, { start: 10 }, { name: "counter" })
      expect(yield* GenServer.call(server, "get")).toBe(10)
      expect(yield* GenServer.call(server, 5)).toBe(15)
      yield* GenServer.cast(server, 7)
      const byName = GenServer.ref(Counter, "counter")
      expect(yield* GenServer.call(byName, "get")).toBe(22)
      // untyped: raw terms in and out
      expect(yield* GenServer.call("counter", T.atom("get"))).toBe(22)
      // a second start with the same name
      const again = yield* Effect.flip(GenServer.start(Counter, { start: 0 }, { name: "counter" }))
      expect(again._tag).toBe("AlreadyStarted")
      expect(again._tag === "AlreadyStarted" && T.equals(again.pid!, server.pid)).toBe(true)
    })))

  it.effect("a cast arrives, in order, however its Effect was built: here, outside any fiber, run by another process", () =>
    inProcess(Effect.gen(function*() {
      const server = yield* GenServer.start(Counter, { start: 0 })
      // built outside any fiber (no runtime to tell that the pid is local: the general path)
      const builtOutside = yield* Effect.async<
        Effect.Effect<void, GenServer.BadRequest, ProcessRuntime.ProcessRuntime>
      >(
        (resume) => {
          setImmediate(() => resume(Effect.succeed(GenServer.cast(server.pid, 100))))
        }
      )
      // built here (the pid is local: one synchronous step), run by this process and by another
      const builtHere = GenServer.cast(server.pid, 10)
      yield* builtHere
      yield* builtOutside
      const other = yield* spawnCall(Effect.zipRight(builtHere, GenServer.call(server.pid, T.atom("get"))))
      expect(yield* Deferred.await(other)).toBe(120)
      // a cast is asynchronous, but this process's casts arrive before its next call
      yield* GenServer.cast(server.pid, 1)
      expect(yield* GenServer.call(server, "get")).toBe(121)
    })))

  it.effect("works from outside a process too", () =>
    Effect.gen(function*() {
      const server = yield* GenServer.start(Counter, { start: 1 })
      expect(yield* GenServer.call(server, 2)).toBe(3)
    }).pipe(Effect.provide(ProcessRuntime.layer)))

  it.effect("deferred reply with reply(from, value)", () =>
    inProcess(Effect.gen(function*() {
      const server = yield* GenServer.start(Counter, { start: 3 })
      const caller = yield* spawnCall(GenServer.call(server, "defer"))
      yield* until(GenServer.call(server, "pending"), (n) => n === 1)
      yield* GenServer.cast(server, 4)
      // the cast is handled after the deferred call: flush answers with the state then
      yield* GenServer.cast(server, "flush")
      expect(yield* Deferred.await(caller)).toBe(7)
    })))

  it.effect("init: stop, ignore and a failure are returned as OTP does", () =>
    inProcess(Effect.gen(function*() {
      const stop = yield* Effect.flip(GenServer.start(Counter, { start: -1 }, { name: "c1" }))
      expect(stop._tag === "InitFailed" && stop.reason).toBe(T.atom("negative"))
      expect(Option.isNone(yield* Process.whereis("c1"))).toBe(true)
      const ignore = yield* Effect.flip(GenServer.start(Counter, { start: 999 }))
      expect(ignore._tag).toBe("InitIgnored")
      const crash = yield* Effect.flip(GenServer.start(Counter, { start: 666 }))
      expect(crash._tag === "InitFailed" && crash.reason).toBe(T.atom("init_crashed"))
      // startMonitor: the DOWN carries init's reason
      const r = yield* Effect.either(GenServer.startMonitor(Counter, { start: -1 }))
      expect(Either.isLeft(r)).toBe(true)
      const [server, mref] = yield* GenServer.startMonitor(Counter, { start: 1 }, { name: "monitored" })
      expect(yield* GenServer.call(GenServer.ref(Counter, "monitored"), "get")).toBe(1)
      yield* GenServer.cast(server, "bye")
      const down = yield* Process.receive((m) => Process.isDownMessage(m, mref))
      expect(T.format(down.elements[4]!)).toBe("{shutdown,bye}")
    })))

  it.effect("a crashing callback: the caller gets ServerExited with the reason, terminate runs, the crash is logged", () => {
    const logs: Array<string> = []
    return inProcess(
      Effect.gen(function*() {
        const terminated = yield* Deferred.make<T.Term>()
        const server = yield* GenServer.start(Counter, { start: 0, terminated })
        const err = yield* Effect.flip(GenServer.call(server, "crash"))
        expect(err._tag).toBe("ServerExited")
        expect(err._tag === "ServerExited" && err.reason).toBe(T.atom("boom"))
        expect(yield* Deferred.await(terminated)).toBe(T.atom("boom"))
        expect(yield* Process.isAlive(server.pid)).toBe(false)
        expect(logs.some((l) => l.includes("Generic server") && l.includes("boom"))).toBe(true)
        // a dead server: noproc
        const noproc = yield* Effect.flip(GenServer.call(server, "get"))
        expect(noproc._tag).toBe("NoProc")
        const unregistered = yield* Effect.flip(GenServer.call(GenServer.ref(Counter, "nobody"), "get"))
        expect(unregistered._tag).toBe("NoProc")
      }),
      logs
    )
  })

  it.effect("a cast handled at once that crashes: the report's last message is {'$gen_cast', Request}", () => {
    const logs: Array<string> = []
    return inProcess(
      Effect.gen(function*() {
        const Fragile = GenServer.make({
          init: (_: void) => Effect.succeed({ state: 0 }),
          handleCast: (req: T.Term, n: number) =>
            req === T.atom("crash") ? Effect.fail(T.atom("boom")) : Effect.succeed({ state: n })
        })
        const server = yield* GenServer.start(Fragile, undefined)
        const mref = yield* Process.monitor(server.pid)
        // idle (no fiber): the casts are handled at once, on this process's stack
        yield* until(Process.processInfo(server.pid), (o) => Option.isSome(o) && o.value.status === "waiting")
        yield* GenServer.cast(server.pid, T.atom("fine"))
        yield* GenServer.cast(server.pid, T.atom("crash"))
        const down = yield* Process.receive((m) => Process.isDownMessage(m, mref))
        expect(down.elements[4]).toBe(T.atom("boom"))
        expect(logs.some((l) => l.includes("Last message in was {'$gen_cast',crash}"))).toBe(true)
      }),
      logs
    )
  })

  it.effect("a server calling itself exits with calling_self, as in OTP", () =>
    inProcess(Effect.gen(function*() {
      const Selfish = GenServer.make({
        init: (_: void) => Effect.succeed({ state: 0 }),
        handleCall: (_req, _from, n: number) =>
          Effect.flatMap(Process.self, (me) => Effect.as(GenServer.call(me, T.atom("again")), { reply: n, state: n }))
      })
      const server = yield* GenServer.start(Selfish, undefined)
      const err = yield* Effect.flip(GenServer.call(server, T.atom("go")))
      expect(err._tag === "ServerExited" && err.reason).toBe(T.atom("calling_self"))
    })))

  it.effect("stop with a reply: the caller gets the reply, terminate runs with the reason", () =>
    inProcess(Effect.gen(function*() {
      const terminated = yield* Deferred.make<T.Term>()
      const server = yield* GenServer.start(Counter, { start: 8, terminated })
      expect(yield* GenServer.call(server, "stop")).toBe(8)
      expect(yield* Deferred.await(terminated)).toBe(T.atoms.normal)
    })))

  it.effect("a request that does not decode is a typed BadRequest; a bad cast is logged; the server lives on", () => {
    const logs: Array<string> = []
    return inProcess(
      Effect.gen(function*() {
        const server = yield* GenServer.start(Counter, { start: 1 })
        const bad = yield* Effect.flip(GenServer.call(server.pid, T.binary("nonsense")))
        expect(bad._tag).toBe("BadRequest")
        yield* GenServer.cast(server.pid, T.binary("nonsense"))
        expect(yield* GenServer.call(server, "get")).toBe(1)
        expect(logs.some((l) => l.includes("does not decode"))).toBe(true)
        // a reply that does not decode with the client's schema
        const asText = GenServer.ref(GenServer.protocol({ request: AtomText, reply: AtomText }), server.pid)
        const badReply = yield* Effect.flip(GenServer.call(asText, "get"))
        expect(badReply._tag).toBe("BadReply")
      }),
      logs
    )
  })

  it.effect("a reply after the timeout never lands in the caller's mailbox", () =>
    inProcess(Effect.gen(function*() {
      const server = yield* GenServer.start(Counter, { start: 5 })
      const caller = yield* Effect.fork(GenServer.call(server, "defer", "100 millis"))
      yield* TestClock.adjust("100 millis")
      const err = yield* caller.await.pipe(Effect.flatten, Effect.flip)
      expect(err._tag).toBe("CallTimeout")
      // the server answers now: the alias is gone, the reply is dropped
      yield* GenServer.cast(server, "flush")
      expect(yield* GenServer.call(server, "get")).toBe(5)
      const me = yield* Process.self
      const info = yield* Process.processInfo(me)
      expect(Option.getOrThrow(info).messages).toEqual([])
    })))

  it.live("the same with the live clock (the call's timer is the clock's own scheduler)", () =>
    inProcess(Effect.gen(function*() {
      const server = yield* GenServer.start(Counter, { start: 5 })
      const err = yield* Effect.flip(GenServer.call(server, "defer", "20 millis"))
      expect(err._tag).toBe("CallTimeout")
      yield* GenServer.cast(server, "flush")
      expect(yield* GenServer.call(server, "get", "5 seconds")).toBe(5)
      const me = yield* Process.self
      expect(Option.getOrThrow(yield* Process.processInfo(me)).messages).toEqual([])
    })))

  it.effect("inactivity timeout: handleInfo receives timeout", () =>
    inProcess(Effect.gen(function*() {
      const Idle = GenServer.make({
        init: (_: void) => Effect.succeed({ state: 0, timeout: "1 second" }),
        handleCall: (_req, _from, n: number) => Effect.succeed({ reply: n, state: n, timeout: "1 second" }),
        handleInfo: (msg, n) => Effect.succeed({ state: msg === T.atoms.timeout ? n + 1 : n })
      })
      const server = yield* GenServer.start(Idle, undefined)
      yield* TestClock.adjust("999 millis")
      expect(yield* GenServer.call(server, T.atom("get"))).toBe(0)
      yield* TestClock.adjust("999 millis")
      expect(yield* GenServer.call(server, T.atom("get"))).toBe(0)
      yield* TestClock.adjust("1 second")
      // the timeout fired once (handleInfo's result has no timeout)
      yield* Effect.yieldNow()
      expect(yield* GenServer.call(server, T.atom("get"))).toBe(1)
    })))

  it.effect("continue runs before the next message; hibernate is accepted", () =>
    inProcess(Effect.gen(function*() {
      const Cont = GenServer.make({
        init: (_: void) => Effect.succeed({ state: [] as ReadonlyArray<string>, continue: "init" }),
        handleCall: (_req, _from, s: ReadonlyArray<string>) =>
          Effect.succeed({ reply: s.join(","), state: [...s, "call"], continue: "after-call", hibernate: true }),
        handleContinue: (c: string, s) => Effect.succeed({ state: [...s, c] })
      })
      const server = yield* GenServer.start(Cont, undefined)
      expect(yield* GenServer.call(server, T.atom("x"))).toBe("init")
      expect(yield* GenServer.call(server, T.atom("x"))).toBe("init,call,after-call")
    })))

  it.effect("a trapping server runs terminate when its parent exits; startLink links", () =>
    inProcess(Effect.gen(function*() {
      const terminated = yield* Deferred.make<T.Term>()
      const got = yield* Deferred.make<GenServer.Server<any, any, any>>()
      const parent = yield* Process.spawn(Effect.gen(function*() {
        const s = yield* GenServer.startLink(Counter, { start: 0, trap: true, terminated })
        yield* Deferred.succeed(got, s)
        yield* Process.receive(() => false)
      }))
      const server = yield* Deferred.await(got)
      const ref = yield* Process.monitor(server.pid)
      yield* Process.exit(parent, T.atom("bye"))
      expect(yield* Deferred.await(terminated)).toBe(T.atom("bye"))
      const down = yield* Process.receive((m) => Process.isDownMessage(m, ref))
      expect(down.elements[4]).toBe(T.atom("bye"))
    })))

  it.effect("an exit signal from another process is a message for handleInfo when trapping", () =>
    inProcess(Effect.gen(function*() {
      const server = yield* GenServer.start(Counter, { start: 2, trap: true })
      yield* Process.exit(server.pid, T.atom("not_parent"))
      expect(yield* GenServer.call(server, "get")).toBe(2)
    })))

  it.effect("sys: get_state, get_status, suspend/resume, terminate (stop)", () =>
    inProcess(Effect.gen(function*() {
      const terminated = yield* Deferred.make<T.Term>()
      const Plain = GenServer.make({
        name: "plain",
        init: (d: Deferred.Deferred<T.Term>) => Effect.succeed({ state: d }),
        handleCall: (req, _from, d) => Effect.succeed({ reply: req, state: d }),
        terminate: (r, d) => Deferred.succeed(d, r)
      })
      const server = yield* GenServer.start(Counter, { start: 4 }, { name: "sys_counter" })
      expect(T.format(yield* GenServer.getState(server))).toBe(`<<"{\\"n\\":4,\\"pending\\":[]}">>`)
      const status = yield* GenServer.getStatus("sys_counter")
      const text = T.format(status)
      expect(text.startsWith(`{status,${T.format(server.pid)},{module,gen_server},`)).toBe(true)
      expect(text).toContain("\"Status for generic server sys_counter\"")
      expect(text).toContain("running")
      const me = yield* Process.self
      // suspend: calls wait; resume: they are answered
      const rt = yield* ProcessRuntime.ProcessRuntime
      const suspend = (msg: T.Term) =>
        Effect.flatMap(
          Effect.sync(() => rt.unsafeMakeRef()),
          (tag) =>
            Effect.zipRight(
              Process.send(server.pid, T.tuple(T.atom("system"), T.tuple(me, tag), msg)),
              Process.receive((m) => m instanceof T.Tuple && T.equals(m.elements[0]!, tag))
            )
        )
      yield* suspend(T.atom("suspend"))
      const pending = yield* spawnCall(GenServer.call(server, "get"))
      expect(T.format(yield* GenServer.getStatus(server))).toContain("suspended")
      // sys:change_code while suspended: codeChange makes the new state
      const changed = yield* suspend(T.tuple(T.atom("change_code"), T.atom("counter"), T.atom("v1"), 40))
      expect(T.format(changed as T.Term)).toMatch(/,ok}$/)
      yield* suspend(T.atom("resume"))
      expect(yield* Deferred.await(pending)).toBe(40)
      const unknown = yield* GenServer.getState(server).pipe(Effect.zipRight(suspend(T.atom("bogus"))))
      expect(T.format(unknown as T.Term)).toContain("unknown_system_msg")
      const p = yield* GenServer.start(Plain, terminated)
      yield* GenServer.stop(p, "going")
      expect(yield* Deferred.await(terminated)).toBe(T.atom("going"))
      // sys's ok was consumed by the call
      expect(Option.getOrThrow(yield* Process.processInfo(me)).messages).toEqual([])
      expect((yield* Effect.flip(GenServer.stop(p)))._tag).toBe("NoProc")
    })))

  it.effect("via names: start, call, cast, already started", () =>
    inProcess(Effect.gen(function*() {
      const registry = GenServer.localRegistry()
      const name = GenServer.via(registry, T.tuple(T.atom("counter"), 1))
      const server = yield* GenServer.start(Counter, { start: 1 }, { name })
      const ref = GenServer.ref(Counter, name)
      yield* GenServer.cast(ref, 1)
      expect(yield* GenServer.call(ref, "get")).toBe(2)
      const again = yield* Effect.flip(GenServer.start(Counter, { start: 1 }, { name }))
      expect(again._tag === "AlreadyStarted" && T.equals(again.pid!, server.pid)).toBe(true)
      yield* GenServer.stop(server)
      expect((yield* Effect.flip(GenServer.call(ref, "get")))._tag).toBe("NoProc")
    })))

  it.effect("multiCall and abcast (on the local node)", () =>
    inProcess(Effect.gen(function*() {
      const rt = yield* ProcessRuntime.ProcessRuntime
      yield* GenServer.start(Counter, { start: 1 }, { name: "mc" })
      yield* GenServer.abcast(Counter, [rt.node], "mc", 2)
      const r = yield* GenServer.multiCall(Counter, [rt.node], "mc", "get")
      expect(r.replies).toEqual([[rt.node, 3]])
      expect(r.badNodes).toEqual([])
      const none = yield* GenServer.multiCall(Counter, [rt.node], "nobody", "get")
      expect(none.badNodes).toEqual([rt.node])
    })))

  it.scoped("startScoped: the scope stops the server and terminate runs", () =>
    Effect.gen(function*() {
      const terminated = yield* Deferred.make<T.Term>()
      yield* Effect.scoped(GenServer.startScoped(Counter, { start: 0, terminated }))
      expect(yield* Deferred.await(terminated)).toBe(T.atom("shutdown"))
    }).pipe(Effect.provide(ProcessRuntime.layer), Logger.withMinimumLogLevel(LogLevel.None)))

  it.effect("enterLoop: the calling process becomes the server (calls, casts, its name, a timeout, stop)", () =>
    inProcess(Effect.gen(function*() {
      const terminated = yield* Deferred.make<T.Term>()
      const pid = yield* Process.spawn(
        GenServer.enterLoop(Counter, { n: 7, pending: [], terminated }, { name: "entered", timeout: "1 second" }),
        { name: "entered" }
      )
      const ref = GenServer.ref(Counter, "entered")
      // the first action: the timeout fires once (handleInfo sets n to -1)
      yield* TestClock.adjust("1 second")
      yield* until(GenServer.call(ref, "get"), (n) => n === -1)
      yield* GenServer.cast(ref, 8)
      expect(yield* GenServer.call(ref, 1)).toBe(8)
      const status = T.format(yield* GenServer.getStatus(ref))
      expect(status).toContain("\"Status for generic server entered\"")
      expect(status).toContain(`{status,${T.format(pid)},{module,gen_server},`)
      yield* GenServer.stop(ref, "done")
      expect(yield* Deferred.await(terminated)).toBe(T.atom("done"))
      // no name: the header names the pid
      const anon = yield* Process.spawn(GenServer.enterLoop(Counter, { n: 1, pending: [] }))
      expect(yield* GenServer.call(GenServer.ref(Counter, anon), "get")).toBe(1)
      expect(T.format(yield* GenServer.getStatus(anon))).toContain(`"Status for generic server ${T.format(anon)}"`)
    })))

  it.effect("enterLoop with a name the process does not hold exits process_not_registered, as OTP", () =>
    inProcess(Effect.gen(function*() {
      const exitOf = (body: Effect.Effect<unknown, unknown, any>) =>
        Effect.flatMap(
          Process.spawnMonitor(body as Effect.Effect<unknown, unknown, never>),
          ([, mref]) => Effect.map(Process.receive((m) => Process.isDownMessage(m, mref)), (down) => down.elements[4]!)
        )
      const state = { n: 0, pending: [] }
      expect(yield* exitOf(GenServer.enterLoop(Counter, state, { name: "not_mine" }))).toBe(
        T.atom("process_not_registered")
      )
      // the name is another process's
      yield* Process.spawn(Process.receive(() => false), { name: "taken" })
      expect(yield* exitOf(GenServer.enterLoop(Counter, state, { name: "taken" }))).toBe(
        T.atom("process_not_registered")
      )
      const registry = { ...GenServer.localRegistry(), module: T.atom("my_reg") }
      expect(T.format(yield* exitOf(GenServer.enterLoop(Counter, state, { name: GenServer.via(registry, 1) }))))
        .toBe("{process_not_registered_via,my_reg}")
      const global = { ...GenServer.localRegistry(), module: T.atom("global") }
      expect(yield* exitOf(GenServer.enterLoop(Counter, state, { name: GenServer.via(global, 1) }))).toBe(
        T.atom("process_not_registered_globally")
      )
      // registered in the registry first: it serves under the via name
      const named = GenServer.via(registry, 2)
      yield* Process.spawn(Effect.gen(function*() {
        yield* registry.register(2, yield* Process.self)
        return yield* GenServer.enterLoop(Counter, { n: 5, pending: [] }, { name: named })
      }))
      yield* until(registry.whereis(2), Option.isSome)
      expect(yield* GenServer.call(GenServer.ref(Counter, named), "get")).toBe(5)
    })))

  it.effect("formatStatus (OTP 25's format_status/1) shapes sys:get_status and the crash report", () => {
    const logs: Array<string> = []
    return inProcess(
      Effect.gen(function*() {
        const Secret = GenServer.make({
          name: "secret",
          init: (mode: string) => Effect.succeed({ state: { password: "hunter2", mode } }),
          handleCall: (_req, _from, s: { readonly password: string; readonly mode: string }) =>
            Effect.fail(T.atom("crashed")),
          formatStatus: (status) => {
            if (status.state.mode === "throw") throw new Error("nope")
            if (status.state.mode === "drop") return { state: "dropped the log key" } as any
            return { ...status, state: T.tuple(T.atom("password"), T.atom("hidden")), message: T.atom("hidden_msg") }
          }
        })
        const hidden = yield* GenServer.start(Secret, "hide")
        const data = ((yield* GenServer.getStatus(hidden)) as T.Tuple).elements[3] as ReadonlyArray<T.Term>
        const misc = data[4] as ReadonlyArray<T.Tuple>
        expect(T.format(misc[2]!)).toBe(`{data,[{"State",{password,hidden}}]}`)
        // the real state is untouched, and sys:get_state shows it
        expect(T.format(yield* GenServer.getState(hidden))).toContain("hunter2")
        const crashed = yield* Effect.flip(GenServer.call(hidden, T.atom("boom")))
        expect(crashed._tag === "ServerExited" && crashed.reason).toBe(T.atom("crashed"))
        const report = logs.find((l) => l.includes("Generic server"))!
        expect(report).toContain("{password,hidden}")
        expect(report).toContain("hidden_msg")
        expect(report).not.toContain("hunter2")
        // a callback that throws or drops a key: OTP's texts in place of the state
        const stateOf = (mode: string) =>
          Effect.map(GenServer.start(Secret, mode), (s) => s).pipe(
            Effect.flatMap((s) => GenServer.getStatus(s)),
            Effect.map((st) => T.format(((st as T.Tuple).elements[3] as ReadonlyArray<any>)[4][2]))
          )
        expect(yield* stateOf("throw")).toBe(`{data,[{"State","secret:format_status/1 crashed"}]}`)
        expect(yield* stateOf("drop")).toBe(
          `{data,[{"State","secret:format_status/1 returned a map with unknown keys"}]}`
        )
      }),
      logs
    )
  })

  it.effect("replaceState (sys:replace_state) with a JS function; a throwing one keeps the state", () =>
    inProcess(Effect.gen(function*() {
      const server = yield* GenServer.start(Counter, { start: 3 })
      const next = yield* GenServer.replaceState(server, (s: CounterState) => ({ ...s, n: s.n * 10 }))
      expect(next.n).toBe(30)
      expect(yield* GenServer.call(server, "get")).toBe(30)
      const failed = yield* Effect.flip(GenServer.replaceState(server, (_: CounterState): CounterState => {
        throw T.atom("no_way")
      }))
      expect(failed._tag).toBe("SysError")
      expect(failed._tag === "SysError" && T.format(failed.reason)).toBe(
        "{callback_failed,{gen_server,system_replace_state},{error,no_way}}"
      )
      expect(yield* GenServer.call(server, "get")).toBe(30)
      // an Erlang fun cannot run here: the answer OTP gives on a node without the fun's module
      const me = yield* Process.self
      const rt = yield* ProcessRuntime.ProcessRuntime
      const ask = (fun: T.Term) =>
        Effect.flatMap(Effect.sync(() => rt.unsafeMakeRef()), (tag) =>
          Effect.zipRight(
            Process.send(
              server.pid,
              T.tuple(T.atom("system"), T.tuple(me, tag), T.tuple(T.atom("replace_state"), fun))
            ),
            Effect.map(
              Process.receive((m) => m instanceof T.Tuple && T.equals(m.elements[0]!, tag)),
              (m) => T.format((m as T.Tuple).elements[1]!)
            )
          ))
      expect(yield* ask(new T.Export(T.atom("m"), T.atom("f"), 1))).toBe(
        "{error,{callback_failed,{gen_server,system_replace_state},{error,undef}}}"
      )
      expect(yield* ask(new T.Export(T.atom("m"), T.atom("f"), 2))).toMatch(
        /^\{error,\{callback_failed,\{gen_server,system_replace_state\},\{error,\{badarity,\{fun m:f\/2,\[<<".*">>\]\}\}\}\}\}$/
      )
      expect(yield* ask(42)).toBe("{error,{callback_failed,{gen_server,system_replace_state},{error,{badfun,42}}}}")
      expect(yield* GenServer.call(server, "get")).toBe(30)
    })))
})

/**
 * A log of casts: cast `{From, N}` appends `N` to `From`'s list; `block` waits for the `gate`
 * (the server is busy on a fiber meanwhile); `crash` fails; `{relay, N}` casts `{relay, N - 1}`
 * to the peer (set by a call with its pid) until 0, which completes `done`. Call `get` answers
 * the lists and the number of relays handled.
 */
interface LogState {
  readonly log: Map<string, Array<number>>
  readonly gate?: Deferred.Deferred<void> | undefined
  readonly done?: Deferred.Deferred<void> | undefined
  readonly peer?: T.Pid | undefined
  readonly relayed: number
}
const CastLog = GenServer.make({
  name: "cast_log",
  init: (args: { readonly gate?: Deferred.Deferred<void>; readonly done?: Deferred.Deferred<void> }) =>
    Effect.succeed({ state: { log: new Map(), gate: args.gate, done: args.done, relayed: 0 } as LogState }),
  handleCall: (req: T.Term, _from, s: LogState) =>
    req instanceof T.Pid
      ? Effect.succeed({ reply: T.atoms.ok, state: { ...s, peer: req } })
      : Effect.succeed({ reply: T.tuple(...[...s.log.values()].map((l) => [...l]), s.relayed), state: s }),
  handleCast: (msg: T.Term, s: LogState) => {
    if (msg === T.atom("block")) return Effect.as(Deferred.await(s.gate!), { state: s })
    if (msg === T.atom("crash")) return Effect.fail(T.atom("cast_crash"))
    if (msg instanceof T.Tuple && msg.elements[0] === T.atom("relay")) {
      const n = msg.elements[1] as number
      const next = { ...s, relayed: s.relayed + 1 }
      // an Effect, not an Exit: the server runs it on a fiber, whose cast reaches the idle peer
      return n === 0 ? Effect.as(Deferred.succeed(s.done!, undefined), { state: next }) : Effect.as(
        GenServer.cast(s.peer!, T.tuple(T.atom("relay"), n - 1)),
        { state: next }
      )
    }
    const [from, n] = (msg as T.Tuple).elements
    const key = String(from)
    const list = s.log.get(key) ?? []
    list.push(n as number)
    s.log.set(key, list)
    return Effect.succeed({ state: s })
  }
})

/** Counts the numbers cast to it (call `get`); a pid cast to it is killed (from a fiber of the server's). */
const Tally = GenServer.make({
  name: "tally",
  init: () => Effect.succeed({ state: 0 }),
  handleCall: (_req: T.Term, _from, n: number) => Effect.succeed({ reply: n, state: n }),
  handleCast: (msg: T.Term, n: number) =>
    msg instanceof T.Pid
      ? Effect.as(Process.exit(msg, T.atom("kill")), { state: n })
      : Effect.succeed({ state: n + (msg as number) })
})

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

describe("GenServer casts", () => {
  it.effect("a burst of casts, then a call: the call sees every cast applied, in order", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const server = yield* GenServer.start(CastLog, {})
      for (let i = 0; i < 20_000; i++) yield* GenServer.cast(server.pid, T.tuple(me, i))
      expect(yield* GenServer.call(server.pid, T.atom("get"))).toEqual(T.tuple(range(20_000), 0))
      // casts and calls interleaved
      for (let i = 20_000; i < 20_010; i++) {
        yield* GenServer.cast(server.pid, T.tuple(me, i))
        const r = (yield* GenServer.call(server.pid, T.atom("get"))) as T.Tuple
        expect((r.elements[0] as Array<number>).length).toBe(i + 1)
      }
    })))

  it.effect("bursts from several processes: each one's casts in its order, all applied", () =>
    inProcess(Effect.gen(function*() {
      const server = yield* GenServer.start(CastLog, {})
      const n = 3000
      const senders = yield* Effect.forEach([1, 2, 3], () =>
        spawnCall(Effect.gen(function*() {
          const self = yield* Process.self
          for (let i = 0; i < n; i++) {
            yield* GenServer.cast(server.pid, T.tuple(self, i))
            if (i % 211 === 0) yield* Effect.yieldNow()
          }
          // this process's casts arrive before its call
          return yield* GenServer.call(server.pid, T.atom("get"))
        })))
      for (const done of senders) yield* Deferred.await(done)
      const all = (yield* GenServer.call(server.pid, T.atom("get"))) as T.Tuple
      expect(all.elements.slice(0, 3)).toEqual([range(n), range(n), range(n)])
    })))

  it.effect("a cast to a busy server waits its turn; order is kept across the busy spell", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const gate = yield* Deferred.make<void>()
      const server = yield* GenServer.start(CastLog, { gate })
      yield* GenServer.cast(server.pid, T.tuple(me, 0))
      yield* GenServer.cast(server.pid, T.atom("block"))
      for (let i = 1; i < 100; i++) yield* GenServer.cast(server.pid, T.tuple(me, i))
      // the server is on its fiber, waiting: the casts wait in its mailbox
      const info = Option.getOrThrow(yield* Process.processInfo(server.pid))
      expect(info.messageQueueLen).toBe(99)
      yield* Deferred.succeed(gate, undefined)
      expect(yield* GenServer.call(server.pid, T.atom("get"))).toEqual(T.tuple(range(100), 0))
    })))

  it.effect("a handleCast that fails mid-burst ends the server with its reason; the sender's later casts are dropped", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      yield* Process.trapExit(true)
      const server = yield* GenServer.startLink(CastLog, {})
      const ref = yield* Process.monitor(server.pid)
      for (let i = 0; i < 500; i++) yield* GenServer.cast(server.pid, T.tuple(me, i))
      yield* GenServer.cast(server.pid, T.atom("crash"))
      // casts never fail, even to a server that is gone
      for (let i = 500; i < 1000; i++) yield* GenServer.cast(server.pid, T.tuple(me, i))
      const down = yield* Process.receive((m) => Process.isDownMessage(m, ref))
      expect(down.elements[4]).toBe(T.atom("cast_crash"))
      const exit = yield* Process.receive(Process.isExitMessage)
      expect(exit.elements[1]).toEqual(server.pid)
      expect(exit.elements[2]).toBe(T.atom("cast_crash"))
      expect((yield* Effect.flip(GenServer.call(server.pid, T.atom("get"))))._tag).toBe("NoProc")
    })))

  it.effect("re-entrancy: two servers casting to each other from their callbacks", () =>
    inProcess(Effect.gen(function*() {
      const done = yield* Deferred.make<void>()
      const a = yield* GenServer.start(CastLog, { done })
      const b = yield* GenServer.start(CastLog, { done })
      yield* GenServer.call(a.pid, b.pid)
      yield* GenServer.call(b.pid, a.pid)
      yield* GenServer.cast(a.pid, T.tuple(T.atom("relay"), 1001))
      // a gets 1001, 999, ..., 1 and b 1000, ..., 0, where the relay ends
      yield* Deferred.await(done)
      const relayed = (pid: T.Pid) => Effect.map(GenServer.call(pid, T.atom("get")), (r) => (r as T.Tuple).elements[0])
      expect(yield* relayed(a.pid)).toBe(501)
      expect(yield* relayed(b.pid)).toBe(501)
    })))

  it.effect("a long burst of casts from one process does not starve another process", () =>
    inProcess(Effect.gen(function*() {
      let ticks = 0
      yield* Process.spawn(Effect.forever(Effect.sync(() => ticks++)))
      const server = yield* GenServer.start(Tally, undefined)
      const before = ticks
      for (let i = 0; i < 50_000; i++) yield* GenServer.cast(server.pid, 1)
      expect(ticks).toBeGreaterThan(before)
      expect(yield* GenServer.call(server.pid, T.atom("get"))).toBe(50_000)
    })))

  it.effect("a server that kills the sender from a cast: the sender stops within a time slice, its casts applied in order until then", () =>
    inProcess(Effect.gen(function*() {
      const server = yield* GenServer.start(Tally, undefined)
      const maxOps = yield* FiberRef.get(FiberRef.currentMaxOpsBeforeYield)
      let sent = 0
      const sender = yield* Process.spawn(Effect.gen(function*() {
        const self = yield* Process.self
        for (let i = 0; i < 100_000; i++) {
          // cast 100 asks the server to kill this process (on a fiber of the server's)
          yield* GenServer.cast(server.pid, i === 100 ? self : 1)
          sent++
        }
      }))
      const ref = yield* Process.monitor(sender)
      const down = yield* Process.receive((m) => Process.isDownMessage(m, ref))
      expect(down.elements[4]).toBe(T.atom("killed"))
      expect(sent).toBeGreaterThan(100)
      expect(sent).toBeLessThan(100 + maxOps)
      // every cast sent before the kill was applied, the kill's own cast included
      expect(yield* GenServer.call(server.pid, T.atom("get"))).toBe(sent - 1)
    })))

  it.effect("while suspended by sys, casts wait; after resume they are applied in order", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const rt = yield* ProcessRuntime.ProcessRuntime
      const server = yield* GenServer.start(CastLog, {})
      const sys = (msg: T.Term) =>
        Effect.flatMap(Effect.sync(() => rt.unsafeMakeRef()), (tag) =>
          Effect.zipRight(
            Process.send(server.pid, T.tuple(T.atom("system"), T.tuple(me, tag), msg)),
            Process.receive((m) => m instanceof T.Tuple && T.equals(m.elements[0]!, tag))
          ))
      yield* GenServer.cast(server.pid, T.tuple(me, 0))
      yield* sys(T.atom("suspend"))
      for (let i = 1; i < 50; i++) yield* GenServer.cast(server.pid, T.tuple(me, i))
      expect(Option.getOrThrow(yield* Process.processInfo(server.pid)).messageQueueLen).toBe(49)
      yield* sys(T.atom("resume"))
      expect(yield* GenServer.call(server.pid, T.atom("get"))).toEqual(T.tuple(range(50), 0))
    })))
})
