import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import * as T from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as TestClock from "effect/TestClock"
import * as GenServer from "../src/GenServer.js"
import * as Supervisor from "../src/Supervisor.js"

const quiet = <A, E>(effect: Effect.Effect<A, E, ProcessRuntime.ProcessRuntime>) =>
  effect.pipe(Effect.provide(ProcessRuntime.layer), Logger.withMinimumLogLevel(LogLevel.None))

const inProcess = <A, E>(body: Effect.Effect<A, E, Process.Self | ProcessRuntime.ProcessRuntime>) =>
  quiet(Process.run(body))

/**
 * A worker: cast `crash` exits `crashed`, `normal` exits normal; call `ping` → `pong`.
 * `terminate` appends its name to `log`; with `hang`, it traps exits and its terminate never ends.
 */
const Worker = GenServer.make({
  init: (
    a: { readonly name: string; readonly log?: Array<string>; readonly trap?: boolean; readonly hang?: boolean }
  ) =>
    Effect.gen(function*() {
      if (a.trap === true || a.hang === true) yield* Process.trapExit(true)
      return { state: a }
    }),
  handleCall: (_req, _from, a) => Effect.succeed({ reply: T.atom("pong"), state: a }),
  handleCast: (msg, a) =>
    Effect.succeed(
      msg === T.atom("crash")
        ? { stop: "crashed", state: a }
        : msg === T.atom("normal")
        ? { stop: "normal", state: a }
        : { state: a }
    ),
  handleInfo: (_msg, a) => Effect.succeed({ state: a }),
  // a hanging worker's terminate never ends (a slow cleanup)
  terminate: (_r, a) => a.hang === true ? Process.receive(() => false) : Effect.sync(() => a.log?.push(a.name))
})

/** Runs `effect` in a process of its own (a process has one receiver); await the returned Deferred. */
const spawnCall = <A, E>(effect: Effect.Effect<A, E, ProcessRuntime.ProcessRuntime | Process.Self>) =>
  Effect.gen(function*() {
    const done = yield* Deferred.make<A, E>()
    yield* Process.spawn(Effect.flatMap(Effect.exit(effect), (exit) => Deferred.done(done, exit)))
    return done
  })

/** which_children in start order (OTP lists the last started child first) */
const children = (sup: Supervisor.Supervisor) => Effect.map(Supervisor.whichChildren(sup), (cs) => [...cs].reverse())

const pids = (sup: Supervisor.Supervisor) => Effect.map(children(sup), (cs) => cs.map((c) => c.pid))

/** Polls which_children until `pred` holds. */
const waitChildren = (sup: Supervisor.Supervisor, pred: (cs: ReadonlyArray<Supervisor.ChildInfo>) => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 100_000; i++) {
      const cs = yield* children(sup)
      if (pred(cs)) return cs
      yield* Effect.yieldNow()
    }
    return expect.fail("which_children never matched")
  })

/** Waits until the supervisor has started shutting `pid` down (it monitors it then). */
const waitMonitored = (pid: T.Pid) =>
  Effect.gen(function*() {
    for (let i = 0; i < 100_000; i++) {
      const info = yield* Process.processInfo(pid)
      if (info._tag === "Some" && info.value.monitoredBy.length > 1) return
      yield* Effect.yieldNow()
    }
    expect.fail("never monitored")
  })

const samePids = (a: ReadonlyArray<unknown>, b: ReadonlyArray<unknown>) =>
  a.map((p, i) => p instanceof T.Pid && b[i] instanceof T.Pid && T.equals(p, b[i] as T.Pid))

const crash = (pid: unknown) => GenServer.cast(pid as T.Pid, T.atom("crash"))

const three = (strategy: Supervisor.Strategy) => ({
  strategy,
  intensity: 10,
  period: 5,
  children: ["a", "b", "c"].map((n) => Supervisor.worker(n, Worker, { name: n }))
})

describe("Supervisor", () => {
  it.effect("one_for_one restarts the crashed child only", () =>
    inProcess(Effect.gen(function*() {
      const sup = yield* Supervisor.start(three("one_for_one"))
      const before = yield* pids(sup)
      expect(before.every((p) => p instanceof T.Pid)).toBe(true)
      yield* crash(before[1])
      const after = yield* waitChildren(sup, (cs) =>
        cs[1]!.pid instanceof T.Pid && !T.equals(cs[1]!.pid, before[1] as T.Pid))
      expect(samePids(
        before,
        after.map((c) =>
          c.pid
        )
      )).toEqual([true, false, true])
      expect(after.map((c) => c.id)).toEqual([T.atom("a"), T.atom("b"), T.atom("c")])
      expect(yield* GenServer.call(after[1]!.pid as T.Pid, T.atom("ping"))).toBe(T.atom("pong"))
    })))

  it.effect("one_for_all restarts every child; rest_for_one the crashed one and those after it", () =>
    inProcess(Effect.gen(function*() {
      const all = yield* Supervisor.start(three("one_for_all"))
      const b1 = yield* pids(all)
      yield* crash(b1[1])
      const a1 = yield* waitChildren(
        all,
        (cs) => cs.every((c, i) => c.pid instanceof T.Pid && !T.equals(c.pid, b1[i] as T.Pid))
      )
      expect(samePids(b1, a1.map((c) => c.pid))).toEqual([false, false, false])
      for (const p of b1) expect(yield* Process.isAlive(p as T.Pid)).toBe(false)

      const rest = yield* Supervisor.start(three("rest_for_one"))
      const b2 = yield* pids(rest)
      yield* crash(b2[1])
      const a2 = yield* waitChildren(
        rest,
        (cs) => cs.slice(1).every((c, i) => c.pid instanceof T.Pid && !T.equals(c.pid, b2[i + 1] as T.Pid))
      )
      expect(samePids(b2, a2.map((c) => c.pid))).toEqual([true, false, false])
    })))

  it.effect("transient restarts only abnormal exits; temporary never restarts and is removed", () =>
    inProcess(Effect.gen(function*() {
      const sup = yield* Supervisor.start({
        strategy: "one_for_one",
        intensity: 10,
        children: [
          Supervisor.worker("t", Worker, { name: "t" }, { restart: "transient" }),
          Supervisor.worker("tmp", Worker, { name: "tmp" }, { restart: "temporary" })
        ]
      })
      const [t, tmp] = yield* pids(sup)
      yield* GenServer.cast(t as T.Pid, T.atom("normal"))
      yield* waitChildren(sup, (cs) => cs[0]!.pid === undefined)
      yield* Supervisor.restartChild(sup, "t")
      const [t2] = yield* pids(sup)
      yield* crash(t2)
      yield* waitChildren(sup, (cs) => cs[0]!.pid instanceof T.Pid && !T.equals(cs[0]!.pid, t2 as T.Pid))
      yield* crash(tmp)
      const cs = yield* waitChildren(sup, (cs) => cs.length === 1)
      expect(cs[0]!.id).toBe(T.atom("t"))
      expect(yield* Supervisor.countChildren(sup)).toEqual({ specs: 1, active: 1, supervisors: 0, workers: 1 })
    })))

  it.effect("more restarts than the intensity within the period shut the supervisor down", () =>
    inProcess(Effect.gen(function*() {
      const sup = yield* Supervisor.start({
        strategy: "one_for_one",
        intensity: 2,
        period: 10,
        children: [Supervisor.worker("a", Worker, { name: "a" }), Supervisor.worker("b", Worker, { name: "b" })]
      })
      const mref = yield* Process.monitor(sup.pid)
      const other = (yield* pids(sup))[1] as T.Pid
      for (let i = 0; i < 2; i++) {
        const [a] = yield* pids(sup)
        yield* crash(a)
        yield* waitChildren(sup, (cs) => cs[0]!.pid instanceof T.Pid && !T.equals(cs[0]!.pid, a as T.Pid))
      }
      // after the period the count starts again
      yield* TestClock.adjust("11 seconds")
      const [a3] = yield* pids(sup)
      yield* crash(a3)
      const [a4] = (yield* waitChildren(sup, (cs) => cs[0]!.pid instanceof T.Pid && !T.equals(cs[0]!.pid, a3 as T.Pid)))
        .map((c) => c.pid)
      yield* crash(a4)
      const [a5] = (yield* waitChildren(sup, (cs) => cs[0]!.pid instanceof T.Pid && !T.equals(cs[0]!.pid, a4 as T.Pid)))
        .map((c) => c.pid)
      yield* crash(a5)
      const down = yield* Process.receive((m) => Process.isDownMessage(m, mref))
      expect(down.elements[4]).toBe(T.atom("shutdown"))
      expect(yield* Process.isAlive(other)).toBe(false)
    })))

  it.effect("shutdown: a child that ignores shutdown is killed after its timeout; brutal_kill kills at once", () =>
    inProcess(Effect.gen(function*() {
      const sup = yield* Supervisor.start({
        children: [
          Supervisor.worker("hang", Worker, { name: "hang", hang: true }, { shutdown: "2 seconds" }),
          Supervisor.worker("brutal", Worker, { name: "brutal", trap: true }, { shutdown: "brutal_kill" })
        ]
      })
      const [hang, brutal] = (yield* pids(sup)) as Array<T.Pid>
      const mh = yield* Process.monitor(hang!)
      const mb = yield* Process.monitor(brutal!)
      const term = yield* spawnCall(Supervisor.terminateChild(sup, "brutal"))
      const db = yield* Process.receive((m) => Process.isDownMessage(m, mb))
      expect(db.elements[4]).toBe(T.atoms.killed)
      yield* Deferred.await(term)
      const term2 = yield* spawnCall(Supervisor.terminateChild(sup, "hang"))
      yield* waitMonitored(hang!)
      yield* TestClock.adjust("1 second")
      expect(yield* Process.isAlive(hang!)).toBe(true)
      yield* TestClock.adjust("1 second")
      const dh = yield* Process.receive((m) => Process.isDownMessage(m, mh))
      expect(dh.elements[4]).toBe(T.atoms.killed)
      yield* Deferred.await(term2)
      expect((yield* children(sup)).map((c) => c.pid)).toEqual([undefined, undefined])
      // and they can be restarted and deleted
      expect((yield* Supervisor.restartChild(sup, "brutal")) instanceof T.Pid).toBe(true)
      const running = yield* Effect.flip(Supervisor.deleteChild(sup, "brutal"))
      expect(running._tag === "SupervisorError" && running.reason).toBe(T.atom("running"))
      yield* Supervisor.deleteChild(sup, "hang")
      expect((yield* children(sup)).map((c) => c.id)).toEqual([T.atom("brutal")])
      const missing = yield* Effect.flip(Supervisor.terminateChild(sup, "nope"))
      expect(missing._tag === "SupervisorError" && missing.reason).toBe(T.atom("not_found"))
    })))

  it.effect("a Scope owns the tree: closing it stops the children in reverse order, terminate runs", () =>
    quiet(Effect.gen(function*() {
      const log: Array<string> = []
      yield* Effect.scoped(Effect.gen(function*() {
        const sup = yield* Supervisor.startScoped({
          strategy: "one_for_one",
          children: [
            Supervisor.worker("a", Worker, { name: "a", log, trap: true }),
            Supervisor.supervisor("nested", {
              children: [Supervisor.worker("n1", Worker, { name: "n1", log, trap: true })]
            }),
            Supervisor.worker("c", Worker, { name: "c", log, trap: true })
          ]
        })
        const cs = yield* Supervisor.whichChildren(sup)
        expect(cs.map((c) => c.id)).toEqual([T.atom("c"), T.atom("nested"), T.atom("a")])
        expect(cs.map((c) => c.type)).toEqual(["worker", "supervisor", "worker"])
      }))
      expect(log).toEqual(["c", "n1", "a"])
    })))

  it.effect("simple_one_for_one: start_child with extra arguments, terminate_child by pid", () =>
    inProcess(Effect.gen(function*() {
      const sup = yield* Supervisor.start({
        strategy: "simple_one_for_one",
        children: [{
          id: "w",
          start: (extra: ReadonlyArray<unknown>) =>
            Effect.map(GenServer.startLink(Worker, { name: String(extra[0]) }), (s) => s.pid),
          restart: "temporary"
        }]
      })
      const p1 = yield* Supervisor.startChild(sup, ["one"])
      const p2 = yield* Supervisor.startChild(sup, ["two"])
      expect(yield* Supervisor.countChildren(sup)).toEqual({ specs: 1, active: 2, supervisors: 0, workers: 2 })
      yield* Supervisor.terminateChild(sup, p1!)
      expect(yield* Process.isAlive(p1!)).toBe(false)
      const cs = yield* Supervisor.whichChildren(sup)
      expect(cs.length).toBe(1)
      expect(T.equals(cs[0]!.pid as T.Pid, p2!)).toBe(true)
      expect(cs[0]!.id).toBe(T.atoms.undefined)
    })))

  it.effect("a child that fails to start fails the supervisor's start, the started ones are stopped", () =>
    inProcess(Effect.gen(function*() {
      const log: Array<string> = []
      const Failing = GenServer.make({ init: (_: void) => Effect.succeed({ stop: "nope" }) })
      const err = yield* Effect.flip(Supervisor.start({
        children: [
          Supervisor.worker("a", Worker, { name: "a", log, trap: true }),
          Supervisor.worker("bad", Failing, undefined)
        ]
      }))
      expect(err._tag).toBe("InitFailed")
      expect(err._tag === "InitFailed" && T.format(err.reason)).toBe("{shutdown,{failed_to_start_child,bad,nope}}")
      expect(log).toEqual(["a"])
    })))

  it.effect("start_child with an Erlang child spec: {M, F, A} through modules, OTP's checks, undef", () =>
    inProcess(Effect.gen(function*() {
      const sup = yield* Supervisor.start({
        children: [],
        modules: {
          worker: {
            start_link: (name) => Effect.map(GenServer.startLink(Worker, { name: T.format(name) }), (s) => s.pid),
            ignore: () => Effect.succeed(undefined)
          }
        }
      })
      const spec = (entries: Record<string, T.Term>) => T.map(entries)
      const mfa = (f: string, args: ReadonlyArray<T.Term>) => T.tuple(T.atom("worker"), T.atom(f), args)
      const pid = yield* Supervisor.startChild(sup, spec({ id: T.atom("w1"), start: mfa("start_link", [T.atom("a")]) }))
      expect(yield* GenServer.call(pid!, T.atom("ping"))).toBe(T.atom("pong"))
      // the old 6-tuple form
      yield* Supervisor.startChild(
        sup,
        T.tuple(T.atom("w2"), mfa("start_link", [T.atom("b")]), T.atom("transient"), 1000, T.atom("worker"), [])
      )
      const cs = yield* children(sup)
      expect(cs.map((c) => [T.format(c.id), c.type, c.modules])).toEqual([
        ["w1", "worker", ["worker"]],
        ["w2", "worker", []]
      ])
      // a child the supervisor restarts runs the same {M, F, A} again
      const before = cs[0]!.pid as T.Pid
      yield* GenServer.cast(before, T.atom("crash"))
      const after = yield* waitChildren(sup, (xs) => xs[0]!.pid instanceof T.Pid && !T.equals(xs[0]!.pid, before))
      expect(yield* GenServer.call(after[0]!.pid as T.Pid, T.atom("ping"))).toBe(T.atom("pong"))
      const reason = (e: Supervisor.SupervisorError | GenServer.CallError) =>
        e._tag === "SupervisorError" ? T.format(e.reason) : e._tag
      const fails = (s: T.Term) => Effect.map(Effect.flip(Supervisor.startChild(sup, s as T.TermMap)), reason)
      // as OTP's handle_start_child: {error, {Reason, #child{}}}
      expect(yield* fails(spec({ id: T.atom("u"), start: T.tuple(T.atom("nomod"), T.atom("start_link"), [1]) })))
        .toBe(
          "{{'EXIT',{undef,[{nomod,start_link,[1],[]}]}},{child,undefined,u,{nomod,start_link,[1]},permanent,false,5000,worker,[nomod]}}"
        )
      expect(yield* fails(spec({ id: T.atom("u"), start: mfa("nofun", []), shutdown: T.atom("brutal_kill") })))
        .toBe(
          "{{'EXIT',{undef,[{worker,nofun,[],[]}]}},{child,undefined,u,{worker,nofun,[]},permanent,false,brutal_kill,worker,[worker]}}"
        )
      // a TS child spec that fails: no {M, F, A} to show
      const failing = yield* Effect.flip(Supervisor.startChild(sup, {
        id: "ts",
        start: Effect.fail(T.atom("nope")),
        type: "supervisor",
        modules: "dynamic"
      }))
      expect(reason(failing)).toBe("{nope,{child,undefined,ts,undefined,permanent,false,infinity,supervisor,dynamic}}")
      expect(yield* fails(spec({ start: mfa("start_link", []) }))).toBe("missing_id")
      expect(yield* fails(spec({ id: 1 }))).toBe("missing_start")
      expect(yield* fails(spec({ id: 1, start: T.atom("x") }))).toBe("{invalid_mfa,x}")
      expect(yield* fails(spec({ id: 1, start: mfa("f", []), restart: T.atom("never") })))
        .toBe("{invalid_restart_type,never}")
      expect(yield* fails(spec({ id: 1, start: mfa("f", []), type: T.atom("thing") }))).toBe(
        "{invalid_child_type,thing}"
      )
      expect(yield* fails(spec({ id: 1, start: mfa("f", []), shutdown: -1 }))).toBe("{invalid_shutdown,-1}")
      expect(yield* fails(spec({ id: 1, start: mfa("f", []), modules: [1] }))).toBe("{invalid_module,1}")
      expect(yield* fails(spec({ id: 1, start: mfa("f", []), significant: T.atoms.true })))
        .toBe("{bad_combination,[{auto_shutdown,never},{significant,true}]}")
      expect(yield* fails(T.tuple(T.atom("short")))).toBe("{invalid_child_spec,{short}}")
      expect(yield* fails(spec({ id: T.atom("w1"), start: mfa("start_link", []) }))).toMatch(
        /^\{already_started,<.*>\}$/
      )
      // ignore: a temporary child is not kept, another is kept with no pid
      expect(yield* Supervisor.startChild(sup, spec({ id: T.atom("i"), start: mfa("ignore", []) }))).toBeUndefined()
      expect((yield* children(sup)).map((c) => [T.format(c.id), c.pid])).toEqual([
        ["w1", after[0]!.pid],
        ["w2", cs[1]!.pid],
        ["i", undefined]
      ])
    })))
})
