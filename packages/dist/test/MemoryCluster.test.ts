/**
 * NetKernel on a `MemoryCluster`: full nodes in one JS process over the in-memory
 * network, with `TestClock` driving ticks, setup timeouts and `receive … after`. Each
 * scenario that also runs against real `erl` over TCP keeps that test as well (Links,
 * NodeMonitor, FaultSimultaneous, FaultPartition, FaultKill, FaultRestart); this run is
 * additional, and deterministic.
 */
import * as Process from "@effect-otp/process/Process"
import { RemoteName } from "@effect-otp/process/Signal"
import * as Term from "@effect-otp/process/Term"
import { describe, expect, it, layer } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as TestClock from "effect/TestClock"
import { formatIo } from "../src/internal/rpc/ioFormat.js"
import * as MemoryCluster from "../src/MemoryCluster.js"
import * as NetKernel from "../src/NetKernel.js"

const { atom, tuple } = Term

/** A process on `node` that puts every message it receives in a queue (registered as `name` if given). */
const inbox = (node: MemoryCluster.ClusterNode, name?: string) =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<unknown>()
    const pid = yield* node.provide(
      Process.spawn(
        Effect.forever(Effect.flatMap(Process.receive(), (m) => Queue.offer(queue, m))),
        name === undefined ? undefined : { name }
      )
    )
    return { pid, queue }
  })

/** `{nodeup | nodedown, Node, [{nodedown_reason, R}, {node_type, T}]}` for every node event of `node`. */
const nodeEvents = (node: MemoryCluster.ClusterNode) =>
  Effect.gen(function*() {
    const box = yield* inbox(node)
    node.kernel.subscribeNodes(box.pid, { hidden: true, nodedownReason: true })
    return Effect.map(Queue.take(box.queue), (m) => {
      const [tag, peer, info] = (m as Term.Tuple).elements
      const reason = (info as ReadonlyArray<Term.Tuple>).find((i) => i.elements[0] === atom("nodedown_reason"))
      return `${(tag as Term.Atom).name} ${(peer as Term.Atom).name}${
        reason === undefined ? "" : ` ${(reason.elements[1] as Term.Atom).name}`
      }`
    })
  })

/** Sends `message` to the process registered as `name` on `to`, from a process of `from`. */
const sendTo = (from: MemoryCluster.ClusterNode, name: string, to: MemoryCluster.ClusterNode, message: Term.Term) =>
  from.provide(Process.run(Process.send(new RemoteName({ name: atom(name), node: to.name }), message)))

/** Moves the test clock by `step` until `done()` holds (at most `limit`); returns the time moved. */
const advanceUntil = (step: Duration.DurationInput, limit: Duration.DurationInput, done: () => boolean) =>
  Effect.gen(function*() {
    const stepMs = Duration.toMillis(step)
    let elapsed = 0
    while (!done() && elapsed < Duration.toMillis(limit)) {
      yield* TestClock.adjust(stepMs)
      elapsed += stepMs
    }
    return elapsed
  })

const T = Duration.toMillis("8 seconds")

describe("MemoryCluster", () => {
  it.scoped("connect on demand: a send to {Name, Node} connects, the reply comes back, one link", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a", "b"])
      const a = cluster.node("a")
      const b = cluster.node("b")
      expect([String(a.name), String(b.name)]).toEqual(["a@memory", "b@memory"])
      const eventsA = yield* nodeEvents(a)
      yield* b.provide(Process.spawn(
        Effect.forever(Effect.flatMap(Process.receive(), (m) => {
          const [from, text] = (m as Term.Tuple).elements
          return Process.send(from as Term.Pid, tuple(atom("echo"), text!))
        })),
        { name: "echo" }
      ))
      expect(a.kernel.nodes("connected")).toEqual([])
      const reply = yield* a.provide(Process.run(Effect.gen(function*() {
        const self = yield* Process.self
        yield* Process.send(new RemoteName({ name: atom("echo"), node: b.name }), tuple(self, Term.binary("hi")))
        return yield* Process.receive()
      })))
      expect(Term.format(reply as Term.Term)).toBe(`{echo,<<"hi">>}`)
      expect(yield* eventsA).toBe("nodeup b@memory")
      // visible nodes by default, as erl nodes are
      expect(a.kernel.nodes()).toEqual([b.name])
      expect(b.kernel.nodes()).toEqual([a.name])
      const links = yield* cluster.links("a", "b")
      expect(links.map((l) => [String(l.dialer), String(l.acceptor), l.isOpen()])).toEqual([
        ["a@memory", "b@memory", true]
      ])
      expect(yield* a.provide(NetKernel.ping(b.name))).toBe("pong")
    }))

  it.scoped("nodes on several hosts: each registers with its host's epmd and reaches the others", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a@one", "b@two", "c"], { host: "three" })
      expect(cluster.nodes().map((n) => String(n.name))).toEqual(["a@one", "b@two", "c@three"])
      const a = cluster.node("a@one")
      for (const peer of ["b@two", "c@three"]) expect(yield* a.provide(NetKernel.ping(peer))).toBe("pong")
      expect(yield* a.provide(NetKernel.ping("b@one"))).toBe("pang")
      expect(cluster.node("c").kernel.nodes("connected")).toEqual([a.name])
      // a node started later joins the same network
      const d = yield* cluster.start("d@one")
      expect(yield* d.provide(NetKernel.ping("c@three"))).toBe("pong")
      expect(cluster.nodes().length).toBe(4)
    }))

  it.scoped("per-node options: a node started with allow refuses the others (net_kernel:allow/1)", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a", "b"])
      const c = yield* cluster.start("c", { allow: ["a@memory"] })
      expect(yield* cluster.node("a").provide(NetKernel.ping(c.name))).toBe("pong")
      expect(yield* cluster.node("b").provide(NetKernel.ping(c.name))).toBe("pang")
      expect(c.kernel.nodes().map(String)).toEqual(["a@memory"])
    }))

  it.scoped("two nodes print their own pids as <0.N.S> and each other's as <M.N.S>, also in io formats", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a", "b"])
      const a = cluster.node("a")
      const b = cluster.node("b")
      const boxA = yield* inbox(a, "box")
      // a pid of b, received over the wire, and printed on both nodes
      const onB = yield* b.provide(Process.run(Effect.gen(function*() {
        const self = yield* Process.self
        yield* Process.send(new RemoteName({ name: atom("box"), node: a.name }), tuple(atom("pid"), self))
        return { self, printed: Term.format(tuple(atom("pid"), self)) }
      })))
      const got = (yield* Queue.take(boxA.queue)) as Term.Tuple
      const pidB = got.elements[1] as Term.Pid
      expect(Term.equals(pidB, onB.self)).toBe(true)
      expect(onB.printed).toBe(`{pid,<0.${pidB.id}.0>}`)
      const onA = Term.formatWith(got, a.runtime.localNode)
      expect(onA).toMatch(new RegExp(`^\\{pid,<[1-9]\\d{4}\\.${pidB.id}\\.0>\\}$`))
      expect(yield* a.provide(Effect.sync(() => `${pidB}`))).toBe(onA.slice(5, -1))
      expect(Term.formatWith(boxA.pid, a.runtime.localNode)).toBe(`<0.${boxA.pid.id}.0>`)
      expect(Term.formatWith(boxA.pid, b.runtime.localNode)).toMatch(/^<[1-9]\d{4}\.\d+\.0>$/)
      // io:format("~p ~w", ...) as each node prints it
      expect(formatIo(Term.charlist("~p ~w"), [pidB, boxA.pid], b.runtime.localNode)).toBe(
        `<0.${pidB.id}.0> ${Term.formatWith(boxA.pid, b.runtime.localNode)}`
      )
      expect(formatIo(Term.charlist("~p"), [pidB], a.runtime.localNode)).toBe(onA.slice(5, -1))
    }))

  it.scoped("exit(pid, reason) outside a process comes from the node's <0.0.0>, with its real name", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a", "b"])
      const a = cluster.node("a")
      const b = cluster.node("b")
      const exits = yield* Queue.unbounded<unknown>()
      const trapping = yield* Queue.unbounded<void>()
      const target = yield* b.provide(Process.spawn(Effect.gen(function*() {
        yield* Process.trapExit(true)
        yield* Queue.offer(trapping, undefined)
        for (;;) yield* Queue.offer(exits, yield* Process.receive(Process.isExitMessage))
      })))
      yield* Queue.take(trapping)
      yield* a.provide(Process.exit(target, atom("from_a")))
      const [, from, reason] = ((yield* Queue.take(exits)) as Term.Tuple).elements
      expect(reason).toBe(atom("from_a"))
      const sender = from as Term.Pid
      expect([String(sender.node), sender.creation, sender.id]).toEqual([String(a.name), a.creation, 0])
      // and from b itself, the local system pid carries b's name
      yield* b.provide(Process.exit(target, atom("from_b")))
      const [, local] = ((yield* Queue.take(exits)) as Term.Tuple).elements
      expect([String((local as Term.Pid).node), (local as Term.Pid).creation]).toEqual([String(b.name), b.creation])
    }))

  it.scoped("simultaneous connect: the greater name's attempt stays, one connection, no message lost", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a", "b"], { netTicktime: T })
      const a = cluster.node("a")
      const b = cluster.node("b")
      const boxA = yield* inbox(a, "sink")
      const boxB = yield* inbox(b, "sink")
      const eventsA = yield* nodeEvents(a)
      const eventsB = yield* nodeEvents(b)
      // hold the bytes so that both attempts are under way before either handshake is read
      yield* cluster.freeze("a", "b")
      yield* sendTo(a, "sink", b, atom("from_a"))
      yield* sendTo(b, "sink", a, atom("from_b"))
      const links = yield* cluster.awaitLinks("a", "b", 2)
      expect(links.map((l) => String(l.dialer)).sort()).toEqual(["a@memory", "b@memory"])
      yield* cluster.thaw("a", "b")
      expect(yield* Queue.take(boxB.queue)).toBe(atom("from_a"))
      expect(yield* Queue.take(boxA.queue)).toBe(atom("from_b"))
      // OTP's rule: the node with the greater name refuses the other's attempt (nok), the
      // smaller one gives its own up; the connection left is the one b dialled
      const lost = links.find((l) => l.dialer === a.name)!
      const kept = links.find((l) => l.dialer === b.name)!
      const closed = yield* Effect.raceFirst(
        Effect.as(lost.closed, "a's attempt"),
        Effect.as(kept.closed, "b's attempt")
      )
      expect(closed).toBe("a's attempt")
      expect(kept.isOpen()).toBe(true)
      expect(yield* eventsA).toBe("nodeup b@memory")
      expect(yield* eventsB).toBe("nodeup a@memory")
      // ticks keep the single connection up; nothing else happened meanwhile
      const conn = a.kernel.connection(b.name)!
      yield* TestClock.adjust(3 * T)
      expect(a.kernel.connection(b.name)).toBe(conn)
      expect(conn.isClosed()).toBe(false)
      expect(conn.stats().ticksIn).toBeGreaterThan(0)
      expect(kept.isOpen()).toBe(true)
      expect((yield* cluster.links("a", "b")).length).toBe(2)
      yield* sendTo(a, "sink", b, atom("again"))
      expect(yield* Queue.take(boxB.queue)).toBe(atom("again"))
      expect([yield* Queue.size(boxA.queue), yield* Queue.size(boxB.queue)]).toEqual([0, 0])
    }))

  it.scoped("tick loss: a frozen link ends with net_tick_timeout within T ± T/4 of test time", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a", "b"], { netTicktime: T })
      const a = cluster.node("a")
      const b = cluster.node("b")
      const eventsA = yield* nodeEvents(a)
      const eventsB = yield* nodeEvents(b)
      expect(yield* a.provide(NetKernel.ping(b.name))).toBe("pong")
      expect(yield* eventsA).toBe("nodeup b@memory")
      expect(yield* eventsB).toBe("nodeup a@memory")
      // run a while with ticks flowing, then freeze at a point off the tick schedule
      yield* TestClock.adjust(T + T / 8 + T / 16)
      const connA = a.kernel.connection(b.name)!
      const connB = b.kernel.connection(a.name)!
      expect(connA.isClosed() || connB.isClosed()).toBe(false)
      yield* cluster.freeze("a", "b")
      const elapsedA = yield* advanceUntil(T / 40, 2 * T, () => connA.isClosed())
      const elapsedB = elapsedA + (yield* advanceUntil(T / 40, 2 * T, () => connB.isClosed()))
      for (const elapsed of [elapsedA, elapsedB]) {
        expect(elapsed).toBeGreaterThan(T - T / 4)
        expect(elapsed).toBeLessThanOrEqual(T + T / 4)
      }
      expect(yield* eventsA).toBe("nodedown b@memory net_tick_timeout")
      expect(yield* eventsB).toBe("nodedown a@memory net_tick_timeout")
    }))

  it.scoped("setup timeout and receive … after run on the test clock", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a", "b"], { setupTime: "5 seconds" })
      const a = cluster.node("a")
      yield* cluster.freeze("a", "b")
      const ping = yield* Effect.fork(a.provide(NetKernel.ping("b@memory")))
      yield* cluster.awaitLinks("a", "b", 1)
      yield* TestClock.adjust("5 seconds")
      expect(yield* ping).toBe("pang")
      const waited = yield* Effect.fork(a.provide(Process.run(Process.receive(undefined, { after: "1 hour" }))))
      yield* TestClock.adjust("1 hour")
      expect(Option.isNone(yield* waited)).toBe(true)
      yield* cluster.thaw("a", "b")
      expect(yield* a.provide(NetKernel.ping("b@memory"))).toBe("pong")
    }))

  it.scoped("partition: links and monitors get noconnection; pang while it lasts; heal reconnects on demand", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a", "b"], { netTicktime: T })
      const a = cluster.node("a")
      const b = cluster.node("b")
      const boxB = yield* inbox(b, "sink")
      const linked = yield* b.provide(Process.spawn(Process.receive()))
      const watched = yield* b.provide(Process.spawn(Process.receive()))
      const watcher = yield* Queue.unbounded<unknown>()
      const ready = yield* Queue.unbounded<Term.Ref>()
      yield* a.provide(Process.spawn(Effect.gen(function*() {
        yield* Process.trapExit(true)
        yield* Process.link(linked)
        const ref = yield* Process.monitor(watched)
        yield* Queue.offer(ready, ref)
        for (;;) yield* Queue.offer(watcher, yield* Process.receive())
      })))
      const ref = yield* Queue.take(ready)
      // a round trip after the link and monitor: b has applied both
      expect(yield* a.provide(NetKernel.ping(b.name))).toBe("pong")
      const connA = a.kernel.connection(b.name)!

      yield* cluster.partition("a", "b")
      yield* advanceUntil(T / 40, 2 * T, () => connA.isClosed())
      const got = [yield* Queue.take(watcher), yield* Queue.take(watcher)].map((m) => Term.format(m as Term.Term))
      expect(got.sort()).toEqual([
        `{'DOWN',${Term.format(ref)},process,${Term.format(watched)},noconnection}`,
        `{'EXIT',${Term.format(linked)},noconnection}`
      ].sort())
      expect(a.kernel.nodes("connected")).toEqual([])
      expect(yield* a.provide(NetKernel.ping(b.name))).toBe("pang")

      yield* cluster.heal("a", "b")
      yield* sendTo(a, "sink", b, atom("after_heal"))
      expect(yield* Queue.take(boxB.queue)).toBe(atom("after_heal"))
      expect(a.kernel.nodes("connected")).toEqual([b.name])
      expect((yield* cluster.links("a", "b")).filter((l) => l.isOpen()).length).toBe(1)
    }))

  it.scoped("kill and restart: peers see connection_closed; pids of the old creation are dead", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a", "b"])
      const a = cluster.node("a")
      const oldB = cluster.node("b")
      const eventsA = yield* nodeEvents(a)
      const spawnTarget = (node: MemoryCluster.ClusterNode) =>
        Effect.gen(function*() {
          const queue = yield* Queue.unbounded<unknown>()
          const pid = yield* node.provide(Process.spawn(
            Effect.forever(Effect.flatMap(Process.receive(), (m) => Queue.offer(queue, m)))
          ))
          return { pid, queue }
        })
      const oldTarget = yield* spawnTarget(oldB)
      const linkExit = yield* Queue.unbounded<unknown>()
      yield* a.provide(Process.spawn(Effect.gen(function*() {
        yield* Process.trapExit(true)
        yield* Process.link(oldTarget.pid)
        yield* Queue.offer(linkExit, yield* Process.receive(Process.isExitMessage))
      })))
      expect(yield* a.provide(NetKernel.ping(oldB.name))).toBe("pong")
      expect(yield* eventsA).toBe("nodeup b@memory")

      yield* cluster.kill("b")
      expect(oldB.isAlive()).toBe(false)
      expect(yield* eventsA).toBe("nodedown b@memory connection_closed")
      expect(Term.format((yield* Queue.take(linkExit)) as Term.Term)).toBe(
        `{'EXIT',${Term.format(oldTarget.pid)},noconnection}`
      )
      expect(yield* a.provide(NetKernel.ping(oldB.name))).toBe("pang")

      const b = yield* cluster.restart("b")
      expect(b.name).toBe(oldB.name)
      expect(b.creation).not.toBe(oldB.creation)
      const target = yield* spawnTarget(b)
      // the same id in the new incarnation: only the creation tells them apart
      expect(target.pid.id).toBe(oldTarget.pid.id)
      expect(b.runtime.unsafeIsAlive(oldTarget.pid)).toBe(false)

      const seen = yield* a.provide(Process.run(Effect.gen(function*() {
        yield* Process.trapExit(true)
        yield* Process.send(oldTarget.pid, atom("to_old"))
        yield* Process.send(target.pid, atom("to_new"))
        yield* Process.link(oldTarget.pid)
        const exit = yield* Process.receive(Process.isExitMessage)
        const ref = yield* Process.monitor(oldTarget.pid)
        const down = yield* Process.receive((m) => Process.isDownMessage(m, ref))
        return [Term.format(exit as Term.Term), Term.format(down as Term.Term)]
      })))
      expect(seen).toEqual([
        `{'EXIT',${Term.format(oldTarget.pid)},noproc}`,
        expect.stringMatching(new RegExp(`^\\{'DOWN',#Ref<[\\d.]+>,process,${Term.format(oldTarget.pid)},noproc\\}$`))
      ])
      expect(yield* Queue.take(target.queue)).toBe(atom("to_new"))
      expect(yield* Queue.size(target.queue)).toBe(0)
      expect(yield* eventsA).toBe("nodeup b@memory")
    }))

  it.scoped("ordering per pair under load: each sender's messages arrive complete and in order, its exit last", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a", "b", "c"])
      const a = cluster.node("a")
      const b = cluster.node("b")
      const c = cluster.node("c")
      const PER_SENDER = 2_000
      const SENDERS = 4
      // 512 bytes a message: 4 MB per connection, enough to make the connections busy
      const payload = new Uint8Array(512).fill(7)
      const received = yield* Queue.unbounded<unknown>()
      const sink = yield* b.provide(Process.spawn(Effect.zipRight(
        Process.trapExit(true),
        Effect.forever(Effect.flatMap(Process.receive(), (m) => Queue.offer(received, m)))
      )))
      const senders = [a, c].flatMap((node) =>
        Array.from({ length: SENDERS }, (_, i) => [node, `${String(node.name).slice(0, 1)}${i}`] as const)
      )
      for (const [node, tag] of senders) {
        yield* node.provide(Process.spawn(Effect.gen(function*() {
          yield* Process.link(sink)
          for (let i = 0; i < PER_SENDER; i++) yield* Process.send(sink, tuple(atom(tag), i, payload))
          return yield* Process.exit(atom(tag))
        })))
      }
      // per sender: 0, 1, ..., PER_SENDER - 1, then {'EXIT', Pid, Tag}
      const next = new Map<string, number>()
      for (let n = 0; n < senders.length * (PER_SENDER + 1); n++) {
        const m: unknown = yield* Queue.take(received)
        if (Process.isExitMessage(m)) {
          const tag = (m.elements[2] as Term.Atom).name
          expect([tag, next.get(tag)]).toEqual([tag, PER_SENDER])
          next.set(tag, -1)
          continue
        }
        const [tag, i, bytes] = (m as Term.Tuple).elements
        const key = (tag as Term.Atom).name
        expect([key, i]).toEqual([key, next.get(key) ?? 0])
        expect((bytes as Uint8Array).length).toBe(512)
        next.set(key, (i as number) + 1)
      }
      expect([...next.values()]).toEqual(senders.map(() => -1))
      expect(a.kernel.connection(b.name)!.stats().framesOut).toBeGreaterThanOrEqual(SENDERS * PER_SENDER)
    }))
})

layer(MemoryCluster.layer(["a", "b"], { netTicktime: T }))("MemoryCluster.layer", (it) => {
  it.effect("the nodes of a shared cluster live on the test clock: a silent peer is dropped after ~net_ticktime", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.MemoryCluster
      const a = cluster.node("a")
      expect(yield* a.provide(NetKernel.ping("b@memory"))).toBe("pong")
      const conn = a.kernel.connection(atom("b@memory"))!
      yield* cluster.freeze("a", "b")
      const elapsed = yield* advanceUntil(T / 40, 2 * T, () => conn.isClosed())
      expect(elapsed).toBeGreaterThan(T - T / 4)
      expect(elapsed).toBeLessThanOrEqual(T + T / 4)
      yield* cluster.thaw("a", "b")
    }))
})
