/**
 * gen_server workloads (issue 11 §5) on `@effect-otp/gen-server`, mirroring bench_local.erl
 * (`gs_call`, `gs_cast`), bench_gen_server.erl (`idle_mem`) and bench_dist.erl (`gs_call`
 * between nodes), one case per fresh `node`:
 *
 *   node --expose-gc --import tsx bench/genServer.ts local <case> <n>
 *     `gs_call N`: N sequential `GenServer.call(server, ping)` from one process (OTP's default
 *       5 s timeout); `gs_call_infinity N`: the same with `"infinity"` (no timer per call);
 *     `gs_cast N`: N `GenServer.cast(server, inc)`, then a call that returns the count (so
 *       the time covers the server handling every cast);
 *     `idle_mem N`: N servers started with `GenServer.start` (no name), each having answered
 *       one call, then idle: bytes per server (`heapUsed` after 2x `gc()`, the array excluded).
 *   node --import tsx bench/genServer.ts server <name> <cookie>
 *     a node with rpc and a server registered as `gs` (`ping` -> `pong`), like
 *     `bench_dist server`; prints `server <node> ready` and runs until killed.
 *   node --import tsx bench/genServer.ts client <name> <cookie> <server node> gs_call|gs_call_infinity <N>
 *     finds `gs` with `rpc:call(Server, erlang, whereis, [gs])` (as bench_dist's client
 *     does) and makes N sequential calls to that pid; works against an erl server too.
 *
 * Every case prints `RESULT <name> key=value ...` with the Erlang modules' names.
 */
import * as DistNode from "@effect-otp/dist/DistNode"
import * as NetKernel from "@effect-otp/dist/NetKernel"
import * as Rpc from "@effect-otp/dist/Rpc"
import { GenServer } from "@effect-otp/gen-server"
import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { Atom, isPid, type Pid, type Term } from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { heapUsed, now } from "./harness.js"

const ping = Atom.make("ping")
const pong = Atom.make("pong")
const inc = Atom.make("inc")
const get = Atom.make("get")

/** bench_local.erl's server: `ping` -> `pong`, `get` -> the count; cast `inc` adds one. */
const Bench = GenServer.make({
  name: "bench",
  init: () => Effect.succeed({ state: 0 }),
  handleCall: (req: Term, _from, n: number) => Effect.succeed({ reply: req === get ? n : pong, state: n }),
  handleCast: (req: Term, n: number) => Effect.succeed({ state: req === inc ? n + 1 : n })
})

const perSecond = (n: number, us: number) => (n * 1e6 / us).toFixed(1)

const callLoop = (target: GenServer.Target, n: number, timeout?: GenServer.Timeout) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) {
      const r = yield* GenServer.call(target, ping, timeout)
      if (r !== pong) return yield* Effect.dieMessage(`call answered ${String(r)}`)
    }
  })

const local = (kase: string, n: number) =>
  Effect.gen(function*() {
    switch (kase) {
      case "gs_call":
      case "gs_call_infinity": {
        const server = yield* GenServer.start(Bench, undefined)
        const t0 = now()
        yield* Process.run(callLoop(server.pid, n, kase === "gs_call" ? undefined : "infinity"))
        const us = (now() - t0) * 1000
        console.log(
          `RESULT ${kase} n=${n} us=${Math.round(us)} calls_per_s=${perSecond(n, us)} us_per_call=${
            (us / n).toFixed(3)
          }`
        )
        return
      }
      case "gs_cast": {
        const server = yield* GenServer.start(Bench, undefined)
        const t0 = now()
        const count = yield* Process.run(Effect.gen(function*() {
          for (let i = 0; i < n; i++) yield* GenServer.cast(server.pid, inc)
          return yield* GenServer.call(server.pid, get, "infinity")
        }))
        const us = (now() - t0) * 1000
        if (count !== n) return yield* Effect.dieMessage(`the server counted ${String(count)} of ${n} casts`)
        console.log(`RESULT gs_cast n=${n} us=${Math.round(us)} casts_per_s=${perSecond(n, us)}`)
        return
      }
      case "idle_mem": {
        const pids: Array<Pid> = new Array<Pid>(n).fill(undefined as unknown as Pid)
        const h0 = heapUsed()
        const t0 = now()
        yield* Process.run(Effect.gen(function*() {
          for (let i = 0; i < n; i++) {
            const server = yield* GenServer.start(Bench, undefined)
            if ((yield* GenServer.call(server.pid, ping)) !== pong) return yield* Effect.dieMessage("no pong")
            pids[i] = server.pid
          }
        }))
        const t1 = now()
        const h1 = heapUsed()
        const rt = yield* ProcessRuntime.ProcessRuntime
        console.log(
          `RESULT gs_idle_mem n=${n} start_us=${Math.round((t1 - t0) * 1000)} ` +
            `us_per_start=${((t1 - t0) * 1000 / n).toFixed(3)} heap_delta=${h1 - h0} ` +
            `bytes_per_server=${((h1 - h0) / n).toFixed(1)} processes=${rt.unsafeProcessCount()}`
        )
        return
      }
      default:
        return yield* Effect.dieMessage(`unknown case ${kase}`)
    }
  }).pipe(Effect.provide(ProcessRuntime.layer))

const nodeLayer = (name: string, cookie: string) =>
  DistNode.layerDefault({ hidden: true, name, cookie }).pipe(Layer.provideMerge(ProcessRuntime.layer))

const server = (name: string, cookie: string) =>
  Effect.gen(function*() {
    yield* GenServer.start(Bench, undefined, { name: "gs" })
    console.log(`server ${(yield* NetKernel.node).name} ready os_pid=${process.pid}`)
    return yield* Effect.never
  }).pipe(Effect.provide(nodeLayer(name, cookie)))

const client = (name: string, cookie: string, serverNode: string, kase: string, n: number) =>
  Effect.gen(function*() {
    const t0 = now()
    const r = yield* NetKernel.ping(serverNode)
    if (r !== "pong") return yield* Effect.dieMessage(`ping ${serverNode}: ${r}`)
    console.log(`RESULT dist_client_first_ping case=${kase} us=${Math.round((now() - t0) * 1000)}`)
    if (kase !== "gs_call" && kase !== "gs_call_infinity") return yield* Effect.dieMessage(`unknown case ${kase}`)
    const timeout = kase === "gs_call" ? undefined : "infinity"
    yield* Process.run(Effect.gen(function*() {
      const gs = yield* Rpc.call(serverNode, "erlang", "whereis", [Atom.make("gs")])
      if (!isPid(gs)) return yield* Effect.dieMessage(`no gs on ${serverNode}`)
      yield* callLoop(gs, 1)
      const t1 = now()
      yield* callLoop(gs, n, timeout)
      const us = (now() - t1) * 1000
      console.log(
        `RESULT dist_${kase} n=${n} us=${Math.round(us)} calls_per_s=${perSecond(n, us)} ` +
          `us_per_call=${(us / n).toFixed(2)}`
      )
    }))
  }).pipe(Effect.provide(nodeLayer(name, cookie)))

const main = async () => {
  const [role, ...rest] = process.argv.slice(2)
  if (role === "local" && rest.length === 2) {
    await Effect.runPromise(local(rest[0]!, Number(rest[1])))
  } else if (role === "server" && rest.length === 2) {
    await Effect.runPromise(server(rest[0]!, rest[1]!))
  } else if (role === "client" && rest.length === 5) {
    await Effect.runPromise(client(rest[0]!, rest[1]!, rest[2]!, rest[3]!, Number(rest[4])))
  } else {
    console.error(
      "usage: genServer.ts local <gs_call|gs_call_infinity|gs_cast|idle_mem> <n> | server <name> <cookie> |\n" +
        "       client <name> <cookie> <server node> gs_call|gs_call_infinity <n>"
    )
    process.exit(2)
  }
  process.exit(0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
