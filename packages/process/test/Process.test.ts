import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as Process from "../src/Process.js"
import * as ProcessRuntime from "../src/ProcessRuntime.js"
import type * as Router from "../src/Router.js"
import * as Signal from "../src/Signal.js"
import * as Term from "../src/Term.js"

const { atom, tuple } = Term
const EXIT = atom("EXIT")
const DOWN = atom("DOWN")

/** Runs `body` as a process on a fresh runtime, with logs silenced. */
const inProcess = <A, E>(body: Effect.Effect<A, E, Process.Self | ProcessRuntime.ProcessRuntime>) =>
  Process.run(body).pipe(
    Effect.provide(ProcessRuntime.layer),
    Logger.withMinimumLogLevel(LogLevel.None)
  )

/** Yields until `cond` holds (at most 10k times). */
const eventually = (cond: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 10_000 && !cond(); i++) yield* Effect.yieldNow()
    expect(cond()).toBe(true)
  })

/** Blocks forever in receive (without `Effect.never`). */
const waitForever = Process.receive(() => false)

const echo = Effect.gen(function*() {
  while (true) {
    const m = yield* Process.receive()
    if (Term.isTagged(m, "stop")) return
    if (m instanceof Term.Tuple && m.elements[0] instanceof Term.Pid) {
      yield* Process.send(m.elements[0], tuple(atom("echo"), m.elements[1]!))
    }
  }
})

/** Receives the 'DOWN' for `ref` and returns its reason. */
const downReason = (ref: Term.Ref) =>
  Effect.map(Process.receive((m) => Process.isDownMessage(m, ref)), (m) => m.elements[4])

describe("Process", () => {
  it.effect("spawn, send and receive", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const pid = yield* Process.spawn(echo)
      yield* Process.send(pid, tuple(me, Term.binary("hi")))
      const reply = yield* Process.receive()
      expect(Term.format(reply as Term.Term)).toBe(`{echo,<<"hi">>}`)
      expect(pid.toString()).toMatch(/^<0\.\d+\.0>$/)
      expect(Term.equals(pid, me)).toBe(false)
    })))

  it.effect("selective receive keeps the other messages in order", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      for (const n of [1, 2, 3, 4, 5]) yield* Process.send(me, n)
      const four = yield* Process.receive((m): m is number => m === 4)
      expect(four).toBe(4)
      const even = yield* Process.receive((m) => (m as number) % 2 === 0 ? Option.some(`even ${m}`) : Option.none())
      expect(even).toBe("even 2")
      const rest = [yield* Process.receive(), yield* Process.receive(), yield* Process.receive()]
      expect(rest).toEqual([1, 3, 5])
    })))

  it.effect("a selective receive waits for a matching message that arrives later", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      yield* Process.spawn(Effect.gen(function*() {
        yield* Process.send(me, "a")
        yield* Process.send(me, "b")
        yield* Effect.yieldNow()
        yield* Process.send(me, "wanted")
        yield* Process.send(me, "c")
      }))
      expect(yield* Process.receive((m) => m === "wanted")).toBe("wanted")
      expect([yield* Process.receive(), yield* Process.receive(), yield* Process.receive()]).toEqual(["a", "b", "c"])
    })))

  it.effect("receive timeout works with the TestClock", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(
        Process.run(Effect.gen(function*() {
          const first = yield* Process.receive(() => true, { after: "1 second" })
          const second = yield* Process.receiveTimeout(0)
          return [first, second] as const
        }))
      )
      yield* TestClock.adjust("999 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 millis")
      const [first, second] = yield* Fiber.join(fiber)
      expect(Option.isNone(first)).toBe(true)
      expect(Option.isNone(second)).toBe(true)
    }).pipe(Effect.provide(ProcessRuntime.layer)))

  it.effect("receive with a timeout returns a message that arrives in time", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      yield* Process.spawn(Effect.zipRight(Effect.sleep("500 millis"), Process.send(me, "late but in time")))
      const fiber = yield* Effect.fork(Process.receiveTimeout("1 second"))
      yield* TestClock.adjust("500 millis")
      expect(yield* Fiber.join(fiber)).toEqual(Option.some("late but in time"))
    })))

  it.effect("an abnormal exit propagates along a chain of 3 links", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const a = yield* Process.spawn(Effect.gen(function*() {
        const b = yield* Process.spawnLink(Effect.gen(function*() {
          const c = yield* Process.spawnLink(Effect.zipRight(
            Process.receive((m) => m === "crash"),
            Process.exit(atom("boom"))
          ))
          yield* Process.send(me, tuple(atom("c"), c))
          yield* waitForever
        }))
        yield* Process.send(me, tuple(atom("b"), b))
        yield* waitForever
      }))
      const b = (yield* Process.receive((m) => Term.isTagged(m, "b"))).elements[1] as Term.Pid
      const c = (yield* Process.receive((m) => Term.isTagged(m, "c"))).elements[1] as Term.Pid
      const refs = [yield* Process.monitor(a), yield* Process.monitor(b), yield* Process.monitor(c)]
      const infoB = yield* Process.processInfo(b)
      expect(Option.getOrThrow(infoB).links.length).toBe(2)
      yield* Process.send(c, "crash")
      for (const ref of refs) expect(yield* downReason(ref)).toBe(atom("boom"))
      expect(yield* Process.isAlive(a)).toBe(false)
    })))

  it.effect("normal exits do not kill linked processes", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const a = yield* Process.spawn(Effect.gen(function*() {
        const b = yield* Process.spawnLink(Process.receive((m) => m === "go"))
        yield* Process.send(me, b)
        yield* waitForever
      }))
      const b = (yield* Process.receive((m) => m instanceof Term.Pid)) as Term.Pid
      const ref = yield* Process.monitor(b)
      yield* Process.send(b, "go")
      expect(yield* downReason(ref)).toBe(Term.atoms.normal)
      expect(yield* Process.isAlive(a)).toBe(true)
      const info = Option.getOrThrow(yield* Process.processInfo(a))
      expect(info.links).toEqual([])
      // exit(Pid, normal) is ignored by a process that does not trap exits
      yield* Process.exit(a, Term.atoms.normal)
      yield* Effect.yieldNow()
      expect(yield* Process.isAlive(a)).toBe(true)
    })))

  it.effect("a trapping process gets {'EXIT', From, Reason}; kill is untrappable and becomes killed", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      expect(yield* Process.trapExit(true)).toBe(false)
      const b = yield* Process.spawnLink(waitForever)
      yield* Process.exit(b, Term.atoms.kill)
      const m = yield* Process.receive(Process.isExitMessage)
      expect(Term.equals(m, tuple(EXIT, b, Term.atoms.killed))).toBe(true)

      // a crash of a linked process becomes a message too
      const c = yield* Process.spawnLink(Process.exit(atom("oops")))
      const m2 = yield* Process.receive(Process.isExitMessage)
      expect(Term.equals(m2, tuple(EXIT, c, atom("oops")))).toBe(true)

      // exit/2 with another reason to a trapping process is a message
      yield* Process.exit(me, atom("please"))
      const m3 = yield* Process.receive(Process.isExitMessage)
      expect(Term.equals(m3, tuple(EXIT, me, atom("please")))).toBe(true)

      // but kill kills even a trapping process
      const trapper = yield* Process.spawn(waitForever, { trapExit: true })
      const ref = yield* Process.monitor(trapper)
      yield* Process.exit(trapper, atom("ignored"))
      yield* Process.exit(trapper, Term.atoms.kill)
      expect(yield* downReason(ref)).toBe(Term.atoms.killed)
    })))

  it.effect("a process that exits with reason kill sends a trappable kill on its links", () =>
    inProcess(Effect.gen(function*() {
      yield* Process.trapExit(true)
      const b = yield* Process.spawnLink(Process.exit(Term.atoms.kill))
      const m = yield* Process.receive(Process.isExitMessage)
      expect(Term.equals(m, tuple(EXIT, b, Term.atoms.kill))).toBe(true)
    })))

  it.effect("linking to a dead pid gives noproc", () =>
    inProcess(Effect.gen(function*() {
      const dead = yield* Process.spawn(Effect.void)
      const ref = yield* Process.monitor(dead)
      yield* downReason(ref)
      yield* Process.trapExit(true)
      yield* Process.link(dead)
      const m = yield* Process.receive(Process.isExitMessage)
      expect(Term.equals(m, tuple(EXIT, dead, Term.atoms.noproc))).toBe(true)
      // not trapping: the linker dies with noproc
      const linker = yield* Process.spawn(Effect.zipRight(Process.link(dead), waitForever))
      const ref2 = yield* Process.monitor(linker)
      expect(yield* downReason(ref2)).toBe(Term.atoms.noproc)
    })))

  it.effect("monitor: DOWN with the reason, noproc at once for dead pids, by name", () =>
    inProcess(Effect.gen(function*() {
      const p = yield* Process.spawn(Effect.zipRight(Process.receive(), Process.exit(atom("bye"))))
      const ref = yield* Process.monitor(p)
      yield* Process.send(p, "go")
      const down = yield* Process.receive((m) => Process.isDownMessage(m, ref))
      expect(Term.equals(down, tuple(DOWN, ref, Term.atoms.process, p, atom("bye")))).toBe(true)

      const ref2 = yield* Process.monitor(p)
      const down2 = yield* Process.receiveTimeout(0, (m) => Process.isDownMessage(m, ref2))
      expect(Option.isSome(down2)).toBe(true)
      expect(Option.getOrThrow(down2).elements[4]).toBe(Term.atoms.noproc)

      const named = yield* Process.spawn(Process.receive(), { name: "srv" })
      const ref3 = yield* Process.monitor("srv")
      expect(Option.getOrThrow(yield* Process.processInfo(named)).monitoredBy.length).toBe(1)
      yield* Process.send("srv", "go")
      const down3 = yield* Process.receive((m) => Process.isDownMessage(m, ref3))
      expect(Term.format(down3.elements[3] as Term.Term)).toBe("{srv,nonode@nohost}")
      expect(down3.elements[4]).toBe(Term.atoms.normal)

      const ref4 = yield* Process.monitor("nobody")
      expect(yield* downReason(ref4)).toBe(Term.atoms.noproc)
    })))

  it.effect("isDownMessage: a 5-tuple 'DOWN' without a ref in place is not the DOWN of a ref", () =>
    inProcess(Effect.gen(function*() {
      const ref = yield* Process.makeRef
      const self = yield* Process.self
      const fake = tuple(DOWN, self, Term.atoms.process, self, Term.atoms.normal)
      expect(Process.isDownMessage(fake)).toBe(true)
      expect(Process.isDownMessage(fake, ref)).toBe(false)
      expect(Process.isDownMessage(tuple(DOWN, atom("x"), Term.atoms.process, self, Term.atoms.normal), ref)).toBe(
        false
      )
    })))

  it.effect("demonitor: no DOWN after it; flush removes a DOWN already delivered", () =>
    inProcess(Effect.gen(function*() {
      const p = yield* Process.spawn(Process.receive())
      const ref = yield* Process.monitor(p)
      expect(yield* Process.demonitor(ref)).toBe(true)
      yield* Process.send(p, "go")
      const ref2 = yield* Process.monitor(p) // dead by now or soon: use it to wait
      yield* downReason(ref2)
      expect(Option.isNone(yield* Process.receiveTimeout(0, (m) => Process.isDownMessage(m, ref)))).toBe(true)

      // the race: the target may die before or after the demonitor; with flush no DOWN remains
      for (let i = 0; i < 200; i++) {
        const q = yield* Process.spawn(Effect.void)
        const r = yield* Process.monitor(q)
        if (i % 2 === 0) yield* Effect.yieldNow()
        yield* Process.demonitor(r, { flush: true })
        expect(Option.isNone(yield* Process.receiveTimeout(0, (m) => Process.isDownMessage(m, r)))).toBe(true)
      }
      const dead = yield* Process.spawn(Effect.void)
      const r3 = yield* Process.monitor(dead)
      yield* downReason(r3).pipe(Effect.zipRight(Process.self), Effect.flatMap((me) => Process.send(me, "x")))
      expect(yield* Process.demonitor(r3, { flush: true })).toBe(false)
      expect(yield* Process.receive()).toBe("x")
    })))

  it.effect("spawnMonitor", () =>
    inProcess(Effect.gen(function*() {
      const [pid, ref] = yield* Process.spawnMonitor(Effect.fail(atom("failed_as_term")))
      const down = yield* Process.receive((m) => Process.isDownMessage(m, ref))
      expect(down.elements[3]).toBe(pid)
      expect(down.elements[4]).toBe(atom("failed_as_term"))
    })))

  it.effect("effect failures and defects become exit reasons that keep the cause text", () =>
    inProcess(Effect.gen(function*() {
      const [, r1] = yield* Process.spawnMonitor(Effect.fail(new Error("kaput")))
      const reason1 = (yield* downReason(r1)) as Term.Tuple
      expect(reason1.elements[0]).toBe(atom("effect_failure"))
      expect(Term.toText(reason1.elements[1]!)).toContain("kaput")
      const [, r2] = yield* Process.spawnMonitor(Effect.die("a defect"))
      const reason2 = (yield* downReason(r2)) as Term.Tuple
      expect(reason2.elements[0]).toBe(atom("effect_failure"))
      expect(Term.toText(reason2.elements[1]!)).toContain("a defect")
      const [, r3] = yield* Process.spawnMonitor(Effect.succeed(42))
      expect(yield* downReason(r3)).toBe(Term.atoms.normal)
      const [, r4] = yield* Process.spawnMonitor(Effect.interrupt)
      expect(yield* downReason(r4)).toBe(atom("shutdown"))
    })))

  it.effect("a process spawned with spawnScoped is killed when the scope closes", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const scope = yield* Scope.make()
      let finalized = false
      const pid = yield* Process.spawnScoped(
        Effect.ensuring(
          Effect.zipRight(Process.send(me, "ready"), waitForever),
          Effect.sync(() => {
            finalized = true
          })
        )
      ).pipe(Scope.extend(scope))
      expect(yield* Process.receive()).toBe("ready")
      const ref = yield* Process.monitor(pid)
      yield* Scope.close(scope, Exit.void)
      expect(finalized).toBe(true)
      expect(yield* downReason(ref)).toBe(atom("shutdown"))
    })))

  it.effect("registry: register, whereis, unregister, taken names, send by name", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const pid = yield* Process.spawn(echo, { name: "echo" })
      expect(yield* Process.whereis("echo")).toEqual(Option.some(pid))
      expect(yield* Process.registered).toContain(atom("echo"))
      const taken = yield* Effect.flip(Process.spawn(echo, { name: "echo" }))
      expect(taken.reason).toBe("NameTaken")
      const again = yield* Effect.flip(Process.register("echo", me))
      expect(again.reason).toBe("NameTaken")
      yield* Process.register("me", me)
      expect((yield* Effect.flip(Process.register("me2", me))).reason).toBe("AlreadyRegistered")
      expect((yield* Effect.flip(Process.register("undefined", pid))).reason).toBe("BadName")
      yield* Process.send("echo", tuple(me, 1))
      expect(Term.format((yield* Process.receive()) as Term.Term)).toBe("{echo,1}")
      yield* Process.send(tuple(atom("echo"), Term.atoms.nonode), tuple(me, 2))
      expect(Term.format((yield* Process.receive()) as Term.Term)).toBe("{echo,2}")
      const info = Option.getOrThrow(yield* Process.processInfo(pid))
      expect(info.registeredName).toEqual(Option.some(atom("echo")))
      // the name is freed when the process dies
      const ref = yield* Process.monitor(pid)
      yield* Process.send("echo", tuple(atom("stop")))
      yield* downReason(ref)
      expect(yield* Process.whereis("echo")).toEqual(Option.none())
      const err = yield* Effect.flip(Process.send("echo", "hello?"))
      expect(err._tag).toBe("SendError")
      expect(err.reason).toBe("NotRegistered")
      // sending to a dead pid is silently dropped
      yield* Process.send(pid, "hello?")
      yield* Process.unregister("me")
      expect((yield* Effect.flip(Process.unregister("me"))).reason).toBe("NotRegistered")
      expect((yield* Effect.flip(Process.register("dead", pid))).reason).toBe("NoProcess")
    })))

  it.effect("typed mailboxes decode with the schema; undecodable messages are dropped or kept", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const Msg = Schema.Struct({ n: Schema.NumberFromString })
      const worker = (policy: "drop" | "keep") =>
        Process.spawn(
          Effect.gen(function*() {
            const first = yield* Process.receive()
            const info = Option.getOrThrow(yield* Process.processInfo(yield* Process.self))
            yield* Process.send(me, [first, info.messageQueueLen])
          }),
          { schema: Msg, onDecodeError: policy }
        )
      const dropper = yield* worker("drop")
      yield* Process.send(dropper, "garbage")
      yield* Process.send(dropper, { n: "41" })
      expect(yield* Process.receive()).toEqual([{ n: 41 }, 0])
      const keeper = yield* worker("keep")
      yield* Process.send(keeper, "garbage")
      yield* Process.send(keeper, { n: "1" })
      expect(yield* Process.receive()).toEqual(["garbage", 1])

      yield* Process.send(me, "not it")
      yield* Process.send(me, { n: "7" })
      expect(yield* Process.receiveSchema(Msg)).toEqual({ n: 7 })
      expect(yield* Process.receive()).toBe("not it")
    })))

  it.effect("without distribution: {Name, Node} sends fail, remote pids drop, remote links/monitors get noconnection", () =>
    inProcess(Effect.gen(function*() {
      const other = atom("other@host")
      const err = yield* Effect.flip(Process.send(tuple(atom("srv"), other), "hi"))
      expect(err.reason).toBe("NotAlive")
      const remote = new Term.Pid(other, 1, 0, 1)
      yield* Process.send(remote, "dropped")
      yield* Process.trapExit(true)
      yield* Process.link(remote)
      const m = yield* Process.receive(Process.isExitMessage)
      expect(Term.equals(m, tuple(EXIT, remote, Term.atoms.noconnection))).toBe(true)
      const ref = yield* Process.monitor(remote)
      expect(yield* downReason(ref)).toBe(Term.atoms.noconnection)
    })))

  it.effect("processInfo reports queue length, links, monitors and status", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const p = yield* Process.spawnLink(waitForever, { trapExit: true })
      yield* Process.send(p, 1)
      yield* Process.send(p, 2)
      const ref = yield* Process.monitor(p)
      yield* Effect.yieldNow()
      const info = Option.getOrThrow(yield* Process.processInfo(p))
      expect(info.messageQueueLen).toBe(2)
      expect(info.messages).toEqual([1, 2])
      expect(info.links).toEqual([me])
      expect(info.monitoredBy).toEqual([me])
      expect(info.status).toBe("waiting")
      expect(info.trapExit).toBe(true)
      const mine = Option.getOrThrow(yield* Process.processInfo(me))
      expect(mine.monitors).toEqual([p])
      expect(mine.status).toBe("runnable")
      yield* Process.demonitor(ref)
      expect(Option.getOrThrow(yield* Process.processInfo(p)).monitoredBy).toEqual([])
    })))

  it.effect("run fails with ProcessExit when its process is killed", () =>
    Effect.gen(function*() {
      const result = yield* Effect.flip(Process.run(Effect.gen(function*() {
        const me = yield* Process.self
        yield* Process.exit(me, atom("stop_it"))
        yield* waitForever
      })))
      expect(result._tag).toBe("ProcessExit")
      expect((result as Process.ProcessExit).reason).toBe(atom("stop_it"))
    }).pipe(Effect.provide(ProcessRuntime.layer)))

  it.effect("the runtime kills its processes with shutdown when released", () =>
    Effect.gen(function*() {
      let reason: unknown
      yield* Effect.scoped(
        Effect.gen(function*() {
          const rt = yield* ProcessRuntime.ProcessRuntime
          yield* Process.spawn(Effect.onExit(waitForever, (exit) =>
            Effect.sync(() => {
              reason = Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)
            })))
          expect(rt.unsafeProcessCount()).toBe(1)
          yield* eventually(() => reason === undefined && rt.unsafeProcessCount() === 1)
          yield* Effect.yieldNow()
        }).pipe(Effect.provide(ProcessRuntime.layer))
      )
      expect(reason).toBe(true)
    }))

  it.effect("100k processes each receive a message", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const n = 100_000
      const pids: Array<Term.Pid> = []
      const body = Effect.flatMap(Process.receive(), (m) => Process.send(me, m))
      for (let i = 0; i < n; i++) pids.push(yield* Process.spawn(body))
      for (let i = 0; i < n; i++) yield* Process.send(pids[i]!, i)
      let sum = 0
      const seen = new Set<number>()
      for (let i = 0; i < n; i++) {
        const m = (yield* Process.receive()) as number
        sum += m
        seen.add(m)
      }
      expect(seen.size).toBe(n)
      expect(sum).toBe((n * (n - 1)) / 2)
    })))
})

describe("ProcessRuntime (dist contract)", () => {
  const other = atom("b@host")
  const captureRouter = (out: Array<Signal.Signal>): Router.RouterShape => ({
    route: (signal) => Effect.sync(() => void out.push(signal))
  })

  it.effect("setNode: new pids carry the node; remote links and monitors are routed; deliver applies Erlang rules", () =>
    Effect.gen(function*() {
      const rt = yield* ProcessRuntime.ProcessRuntime
      const routed: Array<Signal.Signal> = []
      yield* rt.setRouter(captureRouter(routed))
      yield* rt.setNode(atom("a@host"), 7)
      expect(rt.node).toBe(atom("a@host"))
      yield* Process.run(Effect.gen(function*() {
        const me = yield* Process.self
        expect(me.node).toBe(atom("a@host"))
        expect(me.creation).toBe(7)
        expect(rt.isLocal(me)).toBe(true)
        const remote = new Term.Pid(other, 5, 0, 3)
        expect(rt.isLocal(remote)).toBe(false)

        // outgoing
        yield* Process.send(remote, "hi")
        yield* Process.send(tuple(atom("srv"), other), "hello")
        yield* Process.trapExit(true)
        yield* Process.link(remote)
        const ref = yield* Process.monitor(remote)
        const ref2 = yield* Process.monitor(tuple(atom("srv"), other))
        expect(routed.map((s) => s._tag)).toEqual(["Message", "Message", "Link", "Monitor", "Monitor"])
        expect((routed[1] as Signal.Message).to).toEqual(new Signal.RemoteName({ name: atom("srv"), node: other }))
        expect((routed[0] as Signal.Message).from).toBe(me)

        // incoming
        yield* rt.deliver(new Signal.Message({ from: remote, to: me, message: "from afar" }))
        expect(yield* Process.receive((m) => typeof m === "string")).toBe("from afar")
        yield* rt.deliver(new Signal.Down({ from: remote, to: me, ref, reason: atom("gone") }))
        expect(yield* downReason(ref)).toBe(atom("gone"))
        yield* rt.deliver(new Signal.Exit({ from: remote, to: me, reason: atom("crashed"), kind: "link" }))
        const ex = yield* Process.receive(Process.isExitMessage)
        expect(Term.equals(ex, tuple(EXIT, remote, atom("crashed")))).toBe(true)
        // a second link exit for a link that no longer exists is ignored
        yield* rt.deliver(new Signal.Exit({ from: remote, to: me, reason: atom("again"), kind: "link" }))
        expect(Option.isNone(yield* Process.receiveTimeout(0, Process.isExitMessage))).toBe(true)

        // link and monitor from a remote process to an unknown local pid: answered with noproc
        routed.length = 0
        const ghost = new Term.Pid(atom("a@host"), 999_999, 0, 7)
        yield* rt.deliver(new Signal.Link({ from: remote, to: ghost }))
        const ghostRef = new Term.Ref(other, 3, [1, 2, 3])
        yield* rt.deliver(new Signal.Monitor({ from: remote, to: atom("nobody"), ref: ghostRef }))
        yield* Effect.yieldNow()
        yield* Effect.sleep(0)
        expect(routed.length).toBe(2)
        const [exit, down] = routed as [Signal.Exit, Signal.Down]
        expect(exit._tag).toBe("Exit")
        expect(exit.reason).toBe(Term.atoms.noproc)
        expect(exit.to).toBe(remote)
        expect(down._tag).toBe("Down")
        expect(down.reason).toBe(Term.atoms.noproc)
        expect(down.from).toBe(atom("nobody"))

        // a remote process links to and monitors a local one, which then dies
        routed.length = 0
        const local = yield* Process.spawn(Process.receive())
        yield* rt.deliver(new Signal.Link({ from: remote, to: local }))
        yield* rt.deliver(new Signal.Monitor({ from: remote, to: local, ref: ghostRef }))
        yield* Process.send(local, "die")
        const localRef = yield* Process.monitor(local)
        yield* downReason(localRef)
        yield* Effect.sleep(0)
        expect(routed.map((s) => s._tag).sort()).toEqual(["Down", "Exit"])

        // nodeDown: the remaining monitor by name and a new link fire with noconnection
        yield* Process.link(remote)
        yield* rt.nodeDown(other)
        expect(yield* downReason(ref2)).toBe(Term.atoms.noconnection)
        const ex2 = yield* Process.receive(Process.isExitMessage)
        expect(Term.equals(ex2, tuple(EXIT, remote, Term.atoms.noconnection))).toBe(true)
      }))
      yield* rt.setRouter(undefined)
      const err = yield* Effect.flip(Process.send(tuple(atom("srv"), other), "x"))
      expect(err.reason).toBe("NotAlive")
    }).pipe(Effect.provide(ProcessRuntime.layer), Logger.withMinimumLogLevel(LogLevel.None)))

  it.effect("remote monitors are keyed by the whole ref: equal refs (high zero words) match, others do not", () =>
    Effect.gen(function*() {
      const rt = yield* ProcessRuntime.ProcessRuntime
      const remote = new Term.Pid(other, 5, 0, 3)
      const local = rt.unsafeSpawn(Process.receive())
      const watchers = Effect.map(
        Process.processInfo(local),
        (i) => Option.getOrThrow(i).monitoredBy.length
      )
      const words = [0x3ffff, 0xfffffffe, 0x10001]
      const refs = [
        new Term.Ref(other, 3, words),
        new Term.Ref(other, 4, words), // another creation
        new Term.Ref(atom("c@host"), 3, words), // another node
        new Term.Ref(other, 3, [0x3ffff, 0xfffffffe, 0x10002]),
        new Term.Ref(other, 3, [0x3ffff, 0xfffffffe]),
        new Term.Ref(other, 3, [1.5]) // no wire form: keyed by its text
      ]
      for (const ref of refs) yield* rt.deliver(new Signal.Monitor({ from: remote, to: local, ref }))
      expect(yield* watchers).toBe(refs.length)
      // the same ref with two high zero words (a 5-word NEWER_REFERENCE) removes the first one only
      yield* rt.deliver(
        new Signal.Demonitor({ from: remote, to: local, ref: new Term.Ref(other, 3, [...words, 0, 0]) })
      )
      expect(yield* watchers).toBe(refs.length - 1)
      yield* rt.deliver(new Signal.Demonitor({ from: remote, to: local, ref: new Term.Ref(other, 3, [1.5]) }))
      yield* rt.deliver(new Signal.Demonitor({ from: remote, to: local, ref: new Term.Ref(other, 3, [0x3ffff]) }))
      expect(yield* watchers).toBe(refs.length - 2)
    }).pipe(Effect.provide(ProcessRuntime.layer), Logger.withMinimumLogLevel(LogLevel.None)))

  it.effect("a remote exit signal kills a non-trapping local process; unsafe entry points", () =>
    Effect.gen(function*() {
      const rt = yield* ProcessRuntime.ProcessRuntime
      const remote = new Term.Pid(other, 5, 0, 3)
      let got: unknown
      const pid = rt.unsafeSpawn(Effect.flatMap(Process.receive(), (m) =>
        Effect.sync(() => {
          got = m
        })))
      expect(rt.unsafeSend(pid, "sync send")).toBe(true)
      expect(rt.unsafeSend(atom("nope"), "x")).toBe(false)
      yield* eventually(() => got !== undefined)
      expect(got).toBe("sync send")
      const victim = rt.unsafeSpawn(waitForever, { name: "victim" })
      expect(rt.unsafeWhereis(atom("victim"))).toBe(victim)
      yield* rt.deliver(new Signal.Exit({ from: remote, to: victim, reason: atom("die"), kind: "exit2" }))
      yield* eventually(() => !rt.unsafeIsAlive(victim))
      expect(rt.unsafeIsAlive(victim)).toBe(false)
      expect(rt.unsafeWhereis(atom("victim"))).toBe(undefined)
      const r1 = rt.unsafeMakeRef()
      const r2 = rt.unsafeMakeRef()
      expect(Term.equals(r1, r2)).toBe(false)
    }).pipe(Effect.provide(ProcessRuntime.layer)))
})
