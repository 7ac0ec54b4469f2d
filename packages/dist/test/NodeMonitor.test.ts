/**
 * Node monitoring: `monitorNodes` as messages and as a `Stream`,
 * `monitorNode`, per-node event order, and `net_ticktime` detection of a silent peer on
 * both sides (a SIGSTOPped erl, and a TS node whose traffic is dropped).
 */
import * as Process from "@effect-otp/process/Process"
import { format, type Term } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Epmd from "../src/Epmd.js"
import * as NetKernel from "../src/NetKernel.js"
import * as Transport from "../src/Transport.js"
import { erlAvailable, startErlScoped, uniqueName } from "./helpers/erl.js"
import { host, nodeLayer, nodeLayerWith, printed, printedNode } from "./helpers/tsnode.js"

const idleErl = `io:format("ready~n").`

const startIdle = (cookie: string, extraArgs: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const e = uniqueName("e")
    const erl = yield* startErlScoped({
      args: ["-sname", e, "-setcookie", cookie, ...extraArgs],
      eval: idleErl,
      ready: "ready"
    })
    return { erl, node: `${e}@${host}` }
  })

const nextMessage = (after: Duration.DurationInput = "10 seconds") =>
  Effect.map(
    Process.receive((m: unknown) => Option.some(format(m as Term)), { after }),
    Option.getOrElse(() => "timeout")
  )

/** Spawns a process that runs `subscribe` itself, then waits forever; returns once it has subscribed. */
const spawnSubscribed = <E, R>(subscribe: Effect.Effect<unknown, E, R>) =>
  Effect.gen(function*() {
    const subscribed = yield* Deferred.make<void>()
    const pid = yield* Process.spawn(
      Effect.zipRight(subscribe, Effect.zipRight(Deferred.succeed(subscribed, undefined), Effect.never))
    )
    yield* Deferred.await(subscribed)
    return pid
  })

/** A TCP transport whose carriers send nothing (writes are dropped) while `frozen.value` is set: the node goes silent. */
const freezableTransport = (frozen: { value: boolean }): Context_Transport => {
  const tcp = Transport.tcpTransport
  const wrap = (c: Transport.Carrier): Transport.Carrier => {
    const overrides: Partial<Transport.Carrier> = {
      write: (chunk) => frozen.value ? Effect.void : c.write(chunk),
      writev: (chunks) => frozen.value ? Effect.void : c.writev(chunks),
      // no writes from the caller's stack either: every write goes through `writev`
      unsafeWritev: undefined
    }
    return new Proxy(c, {
      get: (target, prop, receiver) =>
        prop in overrides ? (overrides as any)[prop] : Reflect.get(target, prop, receiver)
    })
  }
  return {
    listen: (o) => Effect.map(tcp.listen(o), (l) => ({ ...l, accept: Effect.map(l.accept, wrap) })),
    connect: (a) => Effect.map(tcp.connect(a), wrap)
  }
}
type Context_Transport = typeof Transport.tcpTransport

describe.skipIf(!erlAvailable())("node monitoring (real erl)", () => {
  it.scopedLive(
    "monitorNodes() in a process: {nodeup, N} / {nodedown, N}; with options the info list",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const a = yield* startIdle(cookie)
        const b = yield* startIdle(cookie)
        const ctx = yield* Layer.build(nodeLayer(uniqueName("ts"), cookie, { hidden: false }))
        const out = yield* Effect.gen(function*() {
          const plain = yield* spawnSubscribed(NetKernel.monitorNodes())
          const withInfo = yield* spawnSubscribed(NetKernel.monitorNodes({ hidden: true, nodedownReason: true }))
          // subscribed, then unsubscribed: gets nothing
          const unsubscribed = yield* spawnSubscribed(Effect.map(NetKernel.monitorNodes(), (off) => off()))
          // every subscriber gets an event in the same step, so the last one seen here is in each mailbox
          const events = yield* NetKernel.subscribeEvents()
          expect(yield* NetKernel.ping(a.node)).toBe("pong")
          yield* Effect.promise(() => a.erl.kill())
          expect(yield* NetKernel.ping(b.node)).toBe("pong")
          expect(yield* NetKernel.disconnect(b.node)).toBe(true)
          yield* events.pipe(Stream.takeUntil((e) => e._tag === "nodedown" && e.node.name === b.node), Stream.runDrain)
          const mailbox = (pid: typeof plain) =>
            Effect.map(Process.processInfo(pid), (i) => Option.getOrThrow(i).messages.map((m) => format(m as Term)))
          return {
            plain: yield* mailbox(plain),
            withInfo: yield* mailbox(withInfo),
            unsubscribed: yield* mailbox(unsubscribed)
          }
        }).pipe(Effect.provide(ctx))
        const [A, B] = [a.node, b.node]
        expect(out.plain).toEqual([
          `{nodeup,${printed(A)}}`,
          `{nodedown,${printed(A)}}`,
          `{nodeup,${printed(B)}}`,
          `{nodedown,${printed(B)}}`
        ])
        expect(out.withInfo).toEqual([
          `{nodeup,${printed(A)},[{node_type,visible}]}`,
          `{nodedown,${printed(A)},[{nodedown_reason,connection_closed},{node_type,visible}]}`,
          `{nodeup,${printed(B)},[{node_type,visible}]}`,
          `{nodedown,${printed(B)},[{nodedown_reason,disconnect},{node_type,visible}]}`
        ])
        expect(out.unsubscribed).toEqual([])
      }),
    30_000
  )

  it.scopedLive(
    "a hidden node reports its connections only to subscribers that ask for hidden ones",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const a = yield* startIdle(cookie)
        const ctx = yield* Layer.build(nodeLayer(uniqueName("ts"), cookie)) // hidden (the test helper's default)
        const out = yield* Process.run(Effect.gen(function*() {
          const visibleOnly = yield* spawnSubscribed(NetKernel.monitorNodes())
          yield* NetKernel.monitorNodes({ hidden: true })
          yield* NetKernel.ping(a.node)
          const up = yield* nextMessage()
          yield* Effect.promise(() => a.erl.kill())
          const down = yield* nextMessage()
          const other = Option.getOrThrow(yield* Process.processInfo(visibleOnly)).messages
          return { up, down, other: other.length }
        })).pipe(Effect.provide(ctx))
        expect(out.up).toBe(`{nodeup,${printed(a.node)},[{node_type,hidden}]}`)
        expect(out.down).toBe(`{nodedown,${printed(a.node)},[{node_type,hidden}]}`)
        expect(out.other).toBe(0)
      }),
    30_000
  )

  it.scopedLive(
    "the events Stream is ordered per node: up/down alternate over repeated connects",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const a = yield* startIdle(cookie)
        const ctx = yield* Layer.build(nodeLayer(uniqueName("ts"), cookie))
        const events = yield* Effect.gen(function*() {
          const collected = yield* NetKernel.subscribeEvents({ hidden: true }).pipe(
            Effect.flatMap((events) => Stream.runCollect(Stream.take(events, 8))),
            Effect.fork
          )
          const visibleOnly = yield* Effect.fork(Stream.runCollect(yield* NetKernel.subscribeEvents()))
          for (let i = 0; i < 4; i++) {
            expect(yield* NetKernel.ping(a.node)).toBe("pong")
            yield* NetKernel.disconnect(a.node)
          }
          const all = Chunk.toReadonlyArray(yield* Fiber.join(collected))
          yield* Fiber.interrupt(visibleOnly)
          return all.map((e) => `${e._tag} ${e.node.name} ${e.hidden} ${e.reason ?? ""}`.trim())
        }).pipe(Effect.provide(ctx))
        const up = `nodeup ${a.node} true`
        const down = `nodedown ${a.node} true disconnect`
        expect(events).toEqual([up, down, up, down, up, down, up, down])
      }),
    30_000
  )

  it.scopedLive(
    "erl connecting again right after a drop: the nodedown always precedes the next nodeup",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const t = uniqueName("ts")
        const ctx = yield* Layer.build(nodeLayer(t, cookie))
        const e = uniqueName("e")
        const events = yield* Effect.gen(function*() {
          const collected = yield* Effect.fork(
            Stream.runCollect(Stream.take(yield* NetKernel.subscribeEvents({ hidden: true }), 6))
          )
          // erl pings, disconnects and pings again, three times
          yield* startErlScoped({
            args: ["-sname", e, "-setcookie", cookie],
            eval: `[begin pong = net_adm:ping('${t}@${host}'), erlang:disconnect_node('${t}@${host}') end
                  || _ <- [1,2,3]], io:format("ready~n").`,
            ready: "ready"
          })
          const all = Chunk.toReadonlyArray(yield* Fiber.join(collected))
          return all.map((ev) => ev._tag)
        }).pipe(Effect.provide(ctx))
        expect(events).toEqual(["nodeup", "nodedown", "nodeup", "nodedown", "nodeup", "nodedown"])
      }),
    30_000
  )

  it.scopedLive(
    "monitorNode(node): {nodedown, N} when the connection goes, at once when it cannot be set up",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const a = yield* startIdle(cookie)
        const ctx = yield* Layer.build(nodeLayer(uniqueName("ts"), cookie))
        const out = yield* Process.run(Effect.gen(function*() {
          const nowhere = `${uniqueName("nobody")}@${host}`
          yield* NetKernel.monitorNode(nowhere)
          const first = yield* nextMessage()
          yield* NetKernel.monitorNode(a.node)
          const connected = yield* NetKernel.nodes("hidden")
          yield* Effect.promise(() => a.erl.kill())
          const second = yield* nextMessage()
          return { first, second, nowhere, connected: connected.map((n) => n.name) }
        })).pipe(Effect.provide(ctx))
        expect(out.first).toBe(`{nodedown,${printed(out.nowhere)}}`)
        expect(out.connected).toEqual([a.node])
        expect(out.second).toBe(`{nodedown,${printed(a.node)}}`)
      }),
    30_000
  )

  it.scopedLive(
    "net_ticktime 4: a SIGSTOPped erl is detected as net_tick_timeout within a generous window",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const a = yield* startIdle(cookie, ["-kernel", "net_ticktime", "4"])
        const ctx = yield* Layer.build(nodeLayer(uniqueName("ts"), cookie, { netTicktime: "4 seconds" }))
        const out = yield* Effect.gen(function*() {
          const down = yield* Effect.fork(
            (yield* NetKernel.subscribeEvents({ hidden: true })).pipe(
              Stream.filter((ev) => ev._tag === "nodedown"),
              Stream.runHead
            )
          )
          expect(yield* NetKernel.ping(a.node)).toBe("pong")
          process.kill(a.erl.pid, "SIGSTOP")
          const start = Date.now()
          const ev = yield* Fiber.join(down)
          const elapsed = Date.now() - start
          process.kill(a.erl.pid, "SIGCONT")
          return { ev: Option.getOrThrow(ev), elapsed }
        }).pipe(Effect.provide(ctx))
        expect(out.ev.node.name).toBe(a.node)
        expect(out.ev.reason).toBe("net_tick_timeout")
        // OTP's window is T ± T/4 (3 s .. 5 s); generous bounds for a loaded machine
        expect(out.elapsed).toBeGreaterThan(2_000)
        expect(out.elapsed).toBeLessThan(10_000)
      }),
    30_000
  )

  it.scopedLive(
    "net_ticktime 4: when the TS side goes silent, erl reports net_tick_timeout in time and TS sees the drop",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const t = uniqueName("ts")
        const frozen = { value: false }
        const ctx = yield* Layer.build(
          nodeLayerWith(
            t,
            cookie,
            Layer.merge(Layer.succeed(Transport.Transport, freezableTransport(frozen)), Epmd.layerAuto()),
            { netTicktime: "4 seconds" }
          )
        )
        const e = uniqueName("e")
        const erl = yield* startErlScoped({
          args: ["-sname", e, "-setcookie", cookie, "-kernel", "net_ticktime", "4"],
          eval: `ok = net_kernel:monitor_nodes(true, [{node_type, all}, nodedown_reason]),
               pong = net_adm:ping('${t}@${host}'), io:format("ready~n"),
               receive {nodeup, _, _} -> ok after 0 -> ok end,
               receive {nodedown, N, Info} -> io:format("nodedown ~w ~w~n", [N, Info]) end.`,
          ready: "ready"
        })
        const out = yield* Effect.gen(function*() {
          const down = yield* Effect.fork(
            (yield* NetKernel.subscribeEvents({ hidden: true })).pipe(
              Stream.filter((ev) => ev._tag === "nodedown"),
              Stream.runHead
            )
          )
          frozen.value = true
          const start = Date.now()
          const ev = Option.getOrThrow(yield* Fiber.join(down))
          const tsElapsed = Date.now() - start
          const line = yield* Effect.promise(() => erl.waitFor(/nodedown .*\n/, 15_000))
          const erlElapsed = Date.now() - start
          return { ev, tsElapsed, erlElapsed, line: line.split("\n").find((l) => l.startsWith("nodedown"))! }
        }).pipe(Effect.provide(ctx))
        // as between two erl nodes when one goes silent: the peer that hears nothing times out
        // (net_tick_timeout) and closes the connection, which the silent node sees as connection_closed
        // (the SIGSTOP test covers detection on the TS side)
        expect(out.ev.reason).toBe("connection_closed")
        expect(out.line).toBe(`nodedown ${printedNode(t)} [{nodedown_reason,net_tick_timeout},{node_type,hidden}]`)
        expect(out.tsElapsed).toBeGreaterThan(2_000)
        expect(out.tsElapsed).toBeLessThan(10_000)
        expect(out.erlElapsed).toBeGreaterThan(2_000)
        expect(out.erlElapsed).toBeLessThan(12_000)
      }),
    40_000
  )
})
