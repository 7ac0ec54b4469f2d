/**
 * Fault suite: a network partition. A TCP proxy sits between two nodes (the TS side
 * dials the proxy: its `Epmd` answers the proxy port for the peer) and blackholes the
 * traffic both ways while keeping the sockets open. Both sides must see nodedown
 * (`net_tick_timeout`) within net_ticktime T ± T/4, and after healing a send reconnects
 * on demand through the proxy.
 *
 * The window is OTP's (kernel docs for `net_ticktime`); the assertion allows a little
 * slack on top for timer scheduling on a loaded 2-core machine, and prints the figures.
 */
import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { RemoteName } from "@effect-otp/process/Signal"
import { Atom, atom, format, isTagged, tuple } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as DistNode from "../src/DistNode.js"
import * as Epmd from "../src/Epmd.js"
import * as NetKernel from "../src/NetKernel.js"
import * as Transport from "../src/Transport.js"
import { erlAvailable, startErlScoped, uniqueName } from "./helpers/erl.js"
import { routedEpmd } from "./helpers/fault.js"
import { proxyScoped } from "./helpers/proxy.js"
import { host } from "./helpers/tsnode.js"

/** slack beyond T ± T/4 for timer scheduling (ms) */
const SLACK_MS = 300

const nodeLayer = (name: string, cookie: string, tickSeconds: number, epmd?: Epmd.EpmdService) => {
  const parts = Layer.merge(Transport.layerTcp, epmd === undefined ? Epmd.layerAuto() : Layer.succeed(Epmd.Epmd, epmd))
  return DistNode.layer({ hidden: true, name, cookie, netTicktime: `${tickSeconds} seconds` }).pipe(
    Layer.provide(parts),
    Layer.provideMerge(ProcessRuntime.layer)
  )
}

/** Node events with the wall-clock time they were seen. */
const recordEvents = Effect.gen(function*() {
  const queue = yield* Queue.unbounded<NetKernel.NodeEvent & { readonly at: number }>()
  const stream = yield* NetKernel.subscribeEvents({ hidden: true })
  yield* Stream.runForEach(stream, (e) => Queue.offer(queue, { ...e, at: Date.now() })).pipe(Effect.forkScoped)
  return queue
})

const nextEvent = (
  queue: Queue.Queue<NetKernel.NodeEvent & { readonly at: number }>,
  tag: "nodeup" | "nodedown",
  timeout: Duration.DurationInput
) =>
  Queue.take(queue).pipe(
    Effect.repeat({ until: (e) => e._tag === tag }),
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new Error(`no ${tag} within ${Duration.format(Duration.decode(timeout))}`)
    })
  )

const expectWithinTickWindow = (what: string, elapsed: number, tickMs: number) => {
  console.log(`partition: ${what} nodedown after ${elapsed} ms (T = ${tickMs} ms)`)
  expect(elapsed, what).toBeGreaterThanOrEqual(tickMs * 0.75 - SLACK_MS)
  expect(elapsed, what).toBeLessThanOrEqual(tickMs * 1.25 + SLACK_MS)
}

/** A registered process that hands every message to a queue. */
const sink = (queue: Queue.Queue<unknown>) =>
  Process.spawn(Effect.forever(Effect.flatMap(Process.receive(), (m) => Queue.offer(queue, m))), { name: "sink" })

describe("partition through a blackholing proxy", () => {
  it.scopedLive(
    "TS <-> TS: both sides see net_tick_timeout within T ± T/4; a send after healing reconnects",
    () =>
      Effect.gen(function*() {
        const T = 2
        const cookie = uniqueName("c")
        const bName = uniqueName("b")
        const routes = new Map<string, number>()
        const ctxA = yield* Layer.build(nodeLayer(uniqueName("a"), cookie, T, routedEpmd(routes)))
        const ctxB = yield* Layer.build(nodeLayer(bName, cookie, T))
        const b = yield* NetKernel.node.pipe(Effect.provide(ctxB))
        const bPort = (yield* NetKernel.NetKernel.pipe(Effect.provide(ctxB))).port
        const proxy = yield* proxyScoped({ port: bPort })
        routes.set(bName, proxy.port)

        const inbox = yield* Queue.unbounded<unknown>()
        yield* sink(inbox).pipe(Effect.provide(ctxB))
        const eventsA = yield* recordEvents.pipe(Effect.provide(ctxA))
        const eventsB = yield* recordEvents.pipe(Effect.provide(ctxB))
        const sendFromA = (n: number) =>
          Process.send(new RemoteName({ name: Atom.make("sink"), node: b }), tuple(atom("hello"), n)).pipe(
            Effect.provide(ctxA)
          )

        yield* sendFromA(1)
        expect(format((yield* Queue.take(inbox)) as any)).toBe("{hello,1}")
        expect(proxy.accepted()).toBe(1)
        yield* nextEvent(eventsA, "nodeup", "1 second")
        yield* nextEvent(eventsB, "nodeup", "1 second")

        const t0 = Date.now()
        proxy.blackhole()
        const [downA, downB] = yield* Effect.all([
          nextEvent(eventsA, "nodedown", Duration.seconds(3 * T)),
          nextEvent(eventsB, "nodedown", Duration.seconds(3 * T))
        ], { concurrency: 2 })
        expect(downA.reason).toBe("net_tick_timeout")
        expect(downB.reason).toBe("net_tick_timeout")
        expectWithinTickWindow("TS side A", downA.at - t0, T * 1000)
        expectWithinTickWindow("TS side B", downB.at - t0, T * 1000)
        expect(proxy.dropped()).toBeGreaterThan(0)

        proxy.heal()
        yield* sendFromA(2)
        const got = yield* Queue.take(inbox).pipe(Effect.timeout("5 seconds"))
        expect(format(got as any)).toBe("{hello,2}")
        expect(proxy.accepted()).toBe(2)
        yield* nextEvent(eventsA, "nodeup", "1 second")
        yield* nextEvent(eventsB, "nodeup", "1 second")
      }),
    60_000
  )

  it.scopedLive.skipIf(!erlAvailable())(
    "TS <-> erl (net_ticktime 4): both sides see nodedown within T ± T/4; a send after healing reconnects",
    () =>
      Effect.gen(function*() {
        const T = 4
        const cookie = uniqueName("c")
        const e = uniqueName("e")
        const peer = `${e}@${host}`
        const erl = yield* startErlScoped({
          args: ["-sname", e, "-setcookie", cookie, "-kernel", "net_ticktime", String(T)],
          eval: `register(echo, spawn(fun L() -> receive {From, Msg} -> From ! {echo, Msg}, L() end end)),
                 spawn(fun() ->
                   net_kernel:monitor_nodes(true, [{node_type, all}, nodedown_reason]),
                   (fun W() -> receive {Ev, N, Info} ->
                     io:format("event ~p ~p ~p ~p~n", [Ev, N, proplists:get_value(nodedown_reason, Info), os:system_time(millisecond)]),
                     W() end end)()
                 end),
                 io:format("ready~n").`,
          ready: "ready"
        })
        const info = yield* Epmd.make().portPlease(host, e)
        const proxy = yield* proxyScoped({ port: info.port })
        const routes = new Map([[e, proxy.port]])
        const ctx = yield* Layer.build(nodeLayer(uniqueName("ts"), cookie, T, routedEpmd(routes)))
        const events = yield* recordEvents.pipe(Effect.provide(ctx))
        const echo = (n: number) =>
          Process.run(Effect.gen(function*() {
            const self = yield* Process.self
            yield* Process.send(new RemoteName({ name: Atom.make("echo"), node: Atom.make(peer) }), tuple(self, n))
            return yield* Process.receive((m) => isTagged(m, "echo", 2) ? Option.some(m.elements[1]) : Option.none(), {
              after: "5 seconds"
            })
          })).pipe(Effect.provide(ctx))

        expect(yield* echo(1)).toEqual(Option.some(1))
        expect(proxy.accepted()).toBe(1)
        yield* nextEvent(events, "nodeup", "1 second")

        const t0 = Date.now()
        proxy.blackhole()
        const down = yield* nextEvent(events, "nodedown", Duration.seconds(3 * T))
        expect(down.reason).toBe("net_tick_timeout")
        expectWithinTickWindow("TS side", down.at - t0, T * 1000)
        const line = yield* Effect.promise(() => erl.waitFor(/event nodedown \S+ net_tick_timeout \d+/, 3 * T * 1000))
        const erlAt = Number(/event nodedown \S+ net_tick_timeout (\d+)/.exec(line)![1])
        expectWithinTickWindow("erl side", erlAt - t0, T * 1000)

        proxy.heal()
        expect(yield* echo(2)).toEqual(Option.some(2))
        expect(proxy.accepted()).toBe(2)
      }),
    60_000
  )
})
