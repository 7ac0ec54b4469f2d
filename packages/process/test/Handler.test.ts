/**
 * Handler mode (`Process.serve`, `Process.spawnHandler`): a process with no fiber while
 * idle, whose links, monitors, exit signals, trap_exit and registry work as any process's.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import type { RuntimeImpl } from "../src/internal/runtime.js"
import * as Process from "../src/Process.js"
import * as ProcessRuntime from "../src/ProcessRuntime.js"
import * as Term from "../src/Term.js"

const { atom, tuple } = Term

const inProcess = <A, E>(body: Effect.Effect<A, E, Process.Self | ProcessRuntime.ProcessRuntime>) =>
  Process.run(body).pipe(Effect.provide(ProcessRuntime.layer), Logger.withMinimumLogLevel(LogLevel.None))

const downReason = (ref: Term.Ref) =>
  Effect.map(Process.receive((m) => Process.isDownMessage(m, ref)), (m) => m.elements[4])

/** The process entry (to look at its fiber). */
const entry = (pid: Term.Pid) =>
  Effect.map(ProcessRuntime.ProcessRuntime, (rt) => (rt as unknown as RuntimeImpl).lookup(pid))

/** `{From, Msg}` -> `From ! {echo, Msg}`, synchronously (an `Exit`). */
const echoHandler = (rt: ProcessRuntime.ProcessRuntimeShape) => (m: unknown) => {
  if (m instanceof Term.Tuple && m.elements[0] instanceof Term.Pid) {
    rt.unsafeSend(m.elements[0], tuple(atom("echo"), m.elements[1]!))
  }
  return Effect.void
}

const waitForEcho = (x: Term.Term) =>
  Process.receive((m) => m instanceof Term.Tuple && m.elements[0] === atom("echo") && m.elements[1] === x)

describe("Process handler mode", () => {
  it.effect("a synchronous handler answers in order, and an idle handler process holds no fiber", () =>
    inProcess(Effect.gen(function*() {
      const rt = yield* ProcessRuntime.ProcessRuntime
      const me = yield* Process.self
      const seen: Array<number> = []
      const pid = yield* Process.spawnHandler((m) => {
        if (typeof m === "number") seen.push(m)
        return echoHandler(rt)(m)
      })
      for (let i = 0; i < 1000; i++) yield* Process.send(pid, i)
      yield* Process.send(pid, tuple(me, atom("done")))
      yield* waitForEcho(atom("done"))
      expect(seen).toEqual(Array.from({ length: 1000 }, (_, i) => i))
      const p = yield* entry(pid)
      expect(p).toBeDefined()
      expect(p!.fiber).toBeUndefined()
      const info = Option.getOrThrow(yield* Process.processInfo(pid))
      expect(info.status).toBe("waiting")
      expect(info.messageQueueLen).toBe(0)
    })))

  it.effect("thousands of idle handler processes hold no fiber between them", () =>
    inProcess(Effect.gen(function*() {
      const rt = yield* ProcessRuntime.ProcessRuntime
      const me = yield* Process.self
      const pids: Array<Term.Pid> = []
      for (let i = 0; i < 2000; i++) pids.push(yield* Process.spawnHandler(echoHandler(rt)))
      for (const pid of pids) yield* Process.send(pid, tuple(me, atom("hi")))
      for (let i = 0; i < pids.length; i++) yield* waitForEcho(atom("hi"))
      const impl = rt as unknown as RuntimeImpl
      let withFiber = 0
      for (const p of impl.procs.byId.values()) if (p.fiber !== undefined && p.pid !== me) withFiber++
      expect(withFiber).toBe(0)
      expect(impl.procs.size).toBe(2001)
    })))

  it.effect("an asynchronous handler runs on a fiber, can receive, and later messages wait their turn", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const log: Array<string> = []
      const pid = yield* Process.spawnHandler((m) =>
        Effect.gen(function*() {
          if (m === atom("first")) {
            // a selective receive inside the handler: `second` stays in the mailbox
            const go = yield* Process.receive((x) => x === atom("go"))
            log.push(`first:${String(go)}`)
          } else log.push(String(m))
          yield* Process.send(me, m)
        })
      )
      yield* Process.send(pid, atom("first"))
      yield* Process.send(pid, atom("second"))
      const p = yield* entry(pid)
      yield* Process.send(pid, atom("go"))
      expect(yield* Process.receive()).toBe(atom("first"))
      expect(yield* Process.receive()).toBe(atom("second"))
      expect(log).toEqual(["first:go", "second"])
      expect(p!.fiber).toBeUndefined()
    })))

  it.effect("a failing handler ends the process with its reason; links and monitors see it", () =>
    inProcess(Effect.gen(function*() {
      yield* Process.trapExit(true)
      const sync = yield* Process.spawnHandler((m) => m === atom("die") ? Effect.fail(atom("boom")) : Effect.void)
      const async = yield* Process.spawnHandler((m) =>
        m === atom("die") ? Effect.flatMap(Effect.yieldNow(), () => Process.exit(atom("bang"))) : Effect.void
      )
      yield* Process.link(sync)
      const ref = yield* Process.monitor(async)
      yield* Process.send(sync, atom("die"))
      yield* Process.send(async, atom("die"))
      const exit = yield* Process.receive(Process.isExitMessage)
      expect(exit.elements[1]).toEqual(sync)
      expect(exit.elements[2]).toBe(atom("boom"))
      expect(yield* downReason(ref)).toBe(atom("bang"))
      expect(yield* Process.isAlive(sync)).toBe(false)
      expect(yield* Process.isAlive(async)).toBe(false)
    })))

  it.effect("exit signals: an idle handler process dies at once (kill -> killed, a link's reason), or traps them", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      yield* Process.trapExit(true)
      // killed while idle: the 'DOWN' is there as soon as exit/2 returns
      const rt = yield* ProcessRuntime.ProcessRuntime
      const a = yield* Process.spawnHandler(echoHandler(rt))
      yield* Process.send(a, tuple(me, atom("a")))
      yield* waitForEcho(atom("a"))
      const ra = yield* Process.monitor(a)
      expect((yield* entry(a))!.fiber).toBeUndefined()
      yield* Process.exit(a, atom("kill"))
      expect(yield* Process.receive((m) => Process.isDownMessage(m, ra), { after: 0 })).toSatisfy(Option.isSome)
      // a linked process dies with `crash`: the idle handler process dies with it
      const worker = yield* Process.spawn(Process.receive((m) => m === atom("crash")))
      const b = yield* Process.spawnHandler(() => Effect.void)
      const rb = yield* Process.monitor(b)
      yield* Process.send(b, tuple(me, atom("x"))) // handled, then idle again
      const linker = yield* Process.spawnHandler((m) =>
        m instanceof Term.Pid ? Effect.zipRight(Process.link(m), Process.send(me, atom("linked"))) : Effect.void
      )
      yield* Process.send(linker, worker)
      yield* Process.send(linker, b)
      const rl = yield* Process.monitor(linker)
      yield* Process.receive((m) => m === atom("linked"))
      yield* Process.receive((m) => m === atom("linked"))
      yield* Process.exit(worker, atom("crash"))
      expect(yield* downReason(rl)).toBe(atom("crash"))
      expect(yield* downReason(rb)).toBe(atom("crash"))
      // trap_exit: exit signals come to the handler as {'EXIT', From, Reason}; kill does not
      const got: Array<Term.Term> = []
      const c = yield* Process.spawnHandler((m) => {
        got.push(m as Term.Term)
        return Process.send(me, atom("got"))
      }, { trapExit: true })
      yield* Process.exit(c, atom("normal"))
      yield* Process.exit(c, atom("please"))
      yield* Process.receive((m) => m === atom("got"))
      yield* Process.receive((m) => m === atom("got"))
      expect(got.map((m) => Term.format(m))).toEqual([
        `{'EXIT',${me.toString()},normal}`,
        `{'EXIT',${me.toString()},please}`
      ])
      const rc = yield* Process.monitor(c)
      yield* Process.exit(c, atom("kill"))
      expect(yield* downReason(rc)).toBe(atom("killed"))
      const exits = yield* Process.receive((m) => Process.isExitMessage(m), { after: 0 })
      expect(Option.isNone(exits)).toBe(true)
    })))

  it.effect("killed while its handler runs on a fiber: the fiber is interrupted and the process ends", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const pid = yield* Process.spawnHandler(() =>
        Effect.zipRight(Process.send(me, atom("busy")), Process.receive((m) => m === atom("never")))
      )
      const ref = yield* Process.monitor(pid)
      yield* Process.send(pid, atom("work"))
      yield* Process.receive((m) => m === atom("busy"))
      expect((yield* entry(pid))!.fiber).toBeDefined()
      yield* Process.exit(pid, atom("stop_it"))
      expect(yield* downReason(ref)).toBe(atom("stop_it"))
    })))

  it.effect("registry: a named handler process is found by name and its name goes with it", () =>
    inProcess(Effect.gen(function*() {
      const rt = yield* ProcessRuntime.ProcessRuntime
      const me = yield* Process.self
      const pid = yield* Process.spawnHandler(echoHandler(rt), { name: "echo_h" })
      expect(yield* Process.whereis("echo_h")).toEqual(Option.some(pid))
      yield* Process.send("echo_h", tuple(me, atom("by_name")))
      yield* waitForEcho(atom("by_name"))
      const ref = yield* Process.monitor("echo_h")
      yield* Process.exit(pid, atom("kill"))
      yield* downReason(ref)
      expect(yield* Process.whereis("echo_h")).toEqual(Option.none())
    })))

  it.effect("a chain of 20,000 linked idle handler processes dies without deep recursion", () =>
    inProcess(Effect.gen(function*() {
      const n = 20_000
      const me = yield* Process.self
      const linkTo = (m: unknown) =>
        m instanceof Term.Pid ? Effect.zipRight(Process.link(m), Process.send(me, atom("linked"))) : Effect.void
      const first = yield* Process.spawnHandler(linkTo)
      let prev = first
      for (let i = 1; i < n; i++) {
        const next = yield* Process.spawnHandler(linkTo)
        yield* Process.send(prev, next)
        prev = next
      }
      const ref = yield* Process.monitor(prev)
      for (let i = 1; i < n; i++) yield* Process.receive((m) => m === atom("linked"))
      yield* Process.exit(first, atom("kill"))
      expect(yield* downReason(ref)).toBe(atom("killed"))
      expect((yield* ProcessRuntime.ProcessRuntime).unsafeProcessCount()).toBe(1)
    })))
})

/** `{From, N}` where `From` is a pid and `N` a number: a numbered message and its sender. */
const numbered = (m: unknown): m is Term.Tuple =>
  m instanceof Term.Tuple && m.elements.length === 2 && m.elements[0] instanceof Term.Pid &&
  typeof m.elements[1] === "number"

/**
 * `spawnHandler`, returned once the process serves and is idle: it answers a first
 * `{ready, From}` synchronously, and is idle again when that answer is here.
 */
const spawnIdle = (handle: (m: unknown) => Effect.Effect<unknown, unknown, ProcessRuntime.ProcessRuntime>) =>
  Effect.gen(function*() {
    const rt = yield* ProcessRuntime.ProcessRuntime
    const me = yield* Process.self
    const pid = yield* Process.spawnHandler((m) => {
      if (m instanceof Term.Tuple && m.elements[0] === atom("ready")) {
        rt.unsafeSend(m.elements[1] as Term.Pid, tuple(atom("ready"), m.elements[2]!))
        return Effect.void
      }
      return handle(m)
    })
    const tag = rt.unsafeMakeRef()
    yield* Process.send(pid, tuple(atom("ready"), me, tag))
    yield* Process.receive((m) => m instanceof Term.Tuple && m.elements[0] === atom("ready") && m.elements[1] === tag)
    expect((yield* entry(pid))!.fiber).toBeUndefined()
    return pid
  })

describe("Process handler mode: messages from process fibers, handled on the sender's stack", () => {
  it.effect("a send from a process to an idle handler process is handled before the send returns", () =>
    inProcess(Effect.gen(function*() {
      const seen: Array<unknown> = []
      const pid = yield* spawnIdle((m) => {
        seen.push(m)
        return Effect.void
      })
      yield* Process.send(pid, 1)
      expect(seen).toEqual([1])
      yield* Process.send(pid, 2)
      yield* Process.send(pid, 3)
      expect(seen).toEqual([1, 2, 3])
      const p = yield* entry(pid)
      expect(p!.fiber).toBeUndefined()
      expect(p!.size).toBe(0)
    })))

  it.effect("bursts from two senders: each sender's messages in its order, through idle, queued and busy turns", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const n = 5000
      const seen: Array<readonly [string, number]> = []
      // every 700th message is handled on a fiber: later ones queue meanwhile
      const pid = yield* spawnIdle((m) => {
        if (!numbered(m)) return Process.send(me, atom("done"))
        const i = m.elements[1] as number
        seen.push([(m.elements[0] as Term.Pid).toString(), i])
        return i % 700 === 0 ? Effect.yieldNow() : Effect.void
      })
      const sender = Effect.gen(function*() {
        const self = yield* Process.self
        for (let i = 0; i < n; i++) {
          yield* Process.send(pid, tuple(self, i))
          if (i % 97 === 0) yield* Effect.yieldNow()
        }
        yield* Process.send(pid, atom("end"))
      })
      const a = yield* Process.spawn(sender)
      const b = yield* Process.spawn(sender)
      yield* Process.receive((m) => m === atom("done"))
      yield* Process.receive((m) => m === atom("done"))
      expect(seen.length).toBe(2 * n)
      for (const who of [a, b]) {
        const mine = seen.filter(([from]) => from === who.toString()).map(([, i]) => i)
        expect(mine).toEqual(Array.from({ length: n }, (_, i) => i))
      }
      // both senders had turns while the other was sending (a burst does not hold the scheduler)
      const firstOfB = seen.findIndex(([from]) => from === b.toString())
      const lastOfA = seen.map(([from]) => from).lastIndexOf(a.toString())
      expect(firstOfB).toBeLessThan(lastOfA)
    })))

  it.effect("a long burst from one process does not starve another process", () =>
    inProcess(Effect.gen(function*() {
      let ticks = 0
      yield* Process.spawn(Effect.forever(Effect.sync(() => ticks++)))
      let count = 0
      const pid = yield* spawnIdle(() => {
        count++
        return Effect.void
      })
      const before = ticks
      for (let i = 0; i < 50_000; i++) yield* Process.send(pid, i)
      expect(count).toBe(50_000)
      expect(ticks).toBeGreaterThan(before)
    })))

  it.effect("a handler failing mid-burst ends the process with its reason; the sender goes on, later sends dropped", () =>
    inProcess(Effect.gen(function*() {
      yield* Process.trapExit(true)
      let handled = 0
      const pid = yield* spawnIdle((m) => {
        if (m === 500) return Effect.fail(atom("boom"))
        handled++
        return Effect.void
      })
      yield* Process.link(pid)
      const ref = yield* Process.monitor(pid)
      for (let i = 0; i < 1000; i++) yield* Process.send(pid, i)
      expect(yield* downReason(ref)).toBe(atom("boom"))
      expect(handled).toBe(500)
      const exit = yield* Process.receive(Process.isExitMessage)
      expect(exit.elements[1]).toEqual(pid)
      expect(exit.elements[2]).toBe(atom("boom"))
      expect(yield* Process.isAlive(pid)).toBe(false)
    })))

  it.effect("re-entrancy: two handler processes sending to each other from their handlers' fibers", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const rounds = 2000
      const got = { a: [] as Array<number>, b: [] as Array<number> }
      const peer: { a?: Term.Pid; b?: Term.Pid } = {}
      const player = (name: "a" | "b") => (m: unknown) => {
        if (typeof m !== "number") return Effect.void
        got[name].push(m)
        if (m === rounds) return Process.send(me, atom("over"))
        // an Effect, not an Exit: the handler runs on a fiber of its process, which sends to the other
        return Process.send(name === "a" ? peer.b! : peer.a!, m + 1)
      }
      peer.a = yield* spawnIdle(player("a"))
      peer.b = yield* spawnIdle(player("b"))
      yield* Process.send(peer.a, 0)
      yield* Process.receive((m) => m === atom("over"))
      expect(got.a).toEqual(Array.from({ length: rounds / 2 + 1 }, (_, i) => 2 * i))
      expect(got.b).toEqual(Array.from({ length: rounds / 2 }, (_, i) => 2 * i + 1))
    })))

  it.effect("a chain of handlers each sending on from a fiber step nests a bounded depth, then takes turns", () =>
    inProcess(Effect.gen(function*() {
      const rt = yield* ProcessRuntime.ProcessRuntime
      const me = yield* Process.self
      const length = 40
      let depth = 0
      let deepest = 0
      const order: Array<number> = []
      const pids: Array<Term.Pid> = []
      for (let i = length - 1; i >= 0; i--) {
        const next = pids[0]
        pids.unshift(
          yield* spawnIdle((m) => {
            depth++
            deepest = Math.max(deepest, depth)
            order.push(i)
            // a fiber of its own, run synchronously inside the handler: its send is a process fiber's step
            const on = next === undefined ? Process.send(me, atom("end")) : Process.send(next, m)
            Effect.runSync(Effect.provideService(on, ProcessRuntime.ProcessRuntime, rt))
            depth--
            return Effect.void
          })
        )
      }
      yield* Process.send(pids[0]!, atom("go"))
      yield* Process.receive((m) => m === atom("end"))
      expect(order).toEqual(Array.from({ length }, (_, i) => i))
      expect(deepest).toBeGreaterThan(1)
      expect(deepest).toBeLessThan(length / 2)
    })))

  it.effect("a Handler object: {Tag, Payload} from unsafeTaggedSender is handleTagged(Payload) when handled at once, else handle gets the tuple, in order", () =>
    inProcess(Effect.gen(function*() {
      const t = atom("t")
      const send = Process.unsafeTaggedSender(t)
      const seen: Array<string> = []
      const release = yield* Deferred.make<void>()
      const h: Process.Handler = {
        handle: (m) => {
          seen.push(`handle ${Term.format(m as Term.Term)}`)
          // `slow` keeps the process busy (on a fiber) until released
          return m === atom("slow") ? Deferred.await(release) : Effect.void
        },
        tag: t,
        handleTagged: (x) => {
          seen.push(`tagged ${Term.format(x as Term.Term)}`)
          return Effect.void
        }
      }
      const pid = yield* Process.spawnHandler(h)
      // until its fiber has handed over to the handler, and the mailbox is drained
      const idle = (pid: Term.Pid) =>
        Effect.gen(function*() {
          const p = yield* entry(pid)
          while (p!.fiber !== undefined || p!.size > 0) yield* Effect.yieldNow()
        })
      yield* idle(pid)
      yield* send(pid, 1) // idle: at once, as its payload
      yield* Process.send(pid, tuple(t, 2)) // a plain send: the tuple
      yield* send(pid, 3)
      yield* Process.send(pid, atom("slow"))
      yield* send(pid, 4) // busy: queued, the tuple
      yield* send(pid, 5)
      yield* Deferred.succeed(release, undefined)
      yield* idle(pid)
      yield* send(pid, 6) // idle again
      expect(seen).toEqual([
        "tagged 1",
        "handle {t,2}",
        "tagged 3",
        "handle slow",
        "handle {t,4}",
        "handle {t,5}",
        "tagged 6"
      ])
      // another tag, a function handler, a dead pid: the tuple, or nothing
      yield* Process.unsafeTaggedSender(atom("u"))(pid, 7)
      const got: Array<unknown> = []
      const fn = yield* Process.spawnHandler((m) => {
        got.push(Term.format(m as Term.Term))
        return Effect.void
      })
      yield* idle(fn)
      yield* send(fn, 8)
      yield* Process.exit(fn, atom("kill"))
      yield* send(fn, 9)
      expect(seen.at(-1)).toBe("handle {u,7}")
      expect(got).toEqual(["{t,8}"])
    })))
})
