/**
 * Distribution workloads for a TS node, mirroring bench_dist.erl:
 *
 *   node --import tsx bench/dist.ts server <name> <cookie>
 *     registers `echo` (`{From, Msg}` -> `From ! Msg`) and `sink` (counts `{seq, N, Bin}`
 *     and payload bytes; `{done, From}` -> `From ! {count, C, Bytes}`, then resets),
 *     prints `server <node> ready` and runs until killed.
 *   node --import tsx bench/dist.ts client <name> <cookie> <server node> <case> <args...>
 *     times the first `ping` of the server (fresh connect), then runs the case:
 *     `connect` | `pingpong N` | `oneway N Size`. It addresses the server's processes by
 *     registered name (`{echo, Node}`, `{sink, Node}`), so it works against an erl server
 *     (`bench_dist server`) and a TS one alike.
 *
 * Every client case prints `RESULT <name> key=value ...` lines with bench_dist.erl's names.
 */
import * as DistNode from "@effect-otp/dist/DistNode"
import * as NetKernel from "@effect-otp/dist/NetKernel"
import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { Atom, Tuple } from "@effect-otp/process/Term"
import type { Pid } from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"

const now = (): number => performance.now()
const seq = Atom.make("seq")
const done = Atom.make("done")
const count = Atom.make("count")
const pong = Atom.make("pong")
const warm = Atom.make("warm")

const nodeLayer = (name: string, cookie: string) =>
  DistNode.layerDefault({ hidden: true, name, cookie }).pipe(Layer.provideMerge(ProcessRuntime.layer))

const echo = Effect.forever(Effect.flatMap(Process.receive(), (m) =>
  m instanceof Tuple && m.elements.length === 2
    ? Effect.ignore(Process.send(m.elements[0] as Pid, m.elements[1]))
    : Effect.void))

const sink = Effect.gen(function*() {
  let c = 0
  let b = 0
  for (;;) {
    const m = yield* Process.receive()
    if (!(m instanceof Tuple)) continue
    const [tag, x, bin] = m.elements
    if (tag === seq && m.elements.length === 3) {
      c++
      b += bin instanceof Uint8Array ? bin.length : 0
    } else if (tag === done && m.elements.length === 2) {
      yield* Effect.ignore(Process.send(x as Pid, new Tuple([count, c, b])))
      c = 0
      b = 0
    }
  }
})

const server = (name: string, cookie: string) =>
  Effect.gen(function*() {
    yield* Process.spawn(echo, { name: "echo" })
    yield* Process.spawn(sink, { name: "sink" })
    const node = yield* NetKernel.node
    console.log(`server ${node.name} ready os_pid=${process.pid}`)
    return yield* Effect.never
    // the default node serves rpc: bench_dist's erl client finds echo/sink with rpc:call(B, erlang, whereis, [Name])
  }).pipe(Effect.provide(nodeLayer(name, cookie)))

const client = (name: string, cookie: string, serverNode: string, kase: string, args: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const b = Atom.make(serverNode)
    const t0 = now()
    const r = yield* NetKernel.ping(b)
    const tc = (now() - t0) * 1000
    if (r !== "pong") return yield* Effect.dieMessage(`ping ${serverNode}: ${r}`)
    console.log(`RESULT dist_client_first_ping case=${kase} us=${Math.round(tc)}`)
    const echoName = new Tuple([Atom.make("echo"), b])
    const sinkName = new Tuple([Atom.make("sink"), b])
    if (kase === "connect") return
    if (kase === "pingpong") {
      const n = args[0]!
      yield* Process.run(Effect.gen(function*() {
        const self = yield* Process.self
        yield* Process.send(echoName, new Tuple([self, warm]))
        yield* Process.receive((m) => m === warm)
        const req = new Tuple([self, pong])
        const isPong = (m: unknown) => m === pong
        const t1 = now()
        for (let i = 0; i < n; i++) {
          yield* Process.send(echoName, req)
          yield* Process.receive(isPong)
        }
        const us = (now() - t1) * 1000
        console.log(
          `RESULT dist_pingpong n=${n} us=${Math.round(us)} rt_per_s=${(n * 1e6 / us).toFixed(1)} ` +
            `us_per_rt=${(us / n).toFixed(2)}`
        )
      }))
      return
    }
    if (kase === "oneway") {
      const n = args[0]!
      const size = args[1]!
      const bin = new Uint8Array(size).fill(0x78)
      yield* Process.run(Effect.gen(function*() {
        const self = yield* Process.self
        const isCount = (m: unknown) => m instanceof Tuple && m.elements[0] === count
        const t1 = now()
        for (let i = n; i > 0; i--) yield* Process.send(sinkName, new Tuple([seq, i, bin]))
        yield* Process.send(sinkName, new Tuple([done, self]))
        const reply = (yield* Process.receive(isCount)) as Tuple
        const us = (now() - t1) * 1000
        const [, c, bytes] = reply.elements as [unknown, number, number]
        if (c !== n) return yield* Effect.dieMessage(`sink counted ${c} of ${n}`)
        console.log(
          `RESULT dist_oneway n=${n} payload=${size} us=${Math.round(us)} ` +
            `msgs_per_s=${(n * 1e6 / us).toFixed(1)} payload_MB_per_s=${(bytes / us).toFixed(2)}`
        )
      }))
      return
    }
    return yield* Effect.dieMessage(`unknown case ${kase}`)
  }).pipe(Effect.provide(nodeLayer(name, cookie)))

const main = async () => {
  const [role, name, cookie, ...rest] = process.argv.slice(2)
  if ((role !== "server" && role !== "client") || name === undefined || cookie === undefined) {
    console.error("usage: dist.ts server <name> <cookie> | client <name> <cookie> <server node> <case> <args...>")
    process.exit(2)
  }
  const runtime = ManagedRuntime.make(Layer.empty)
  if (role === "server") {
    await runtime.runPromise(server(name, cookie))
  } else {
    const [serverNode, kase, ...nums] = rest
    await runtime.runPromise(client(name, cookie, serverNode!, kase!, nums.map(Number)))
    process.exit(0)
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
