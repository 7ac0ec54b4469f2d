/**
 * `global:register_name` + `global:whereis_name` with 3 nodes (issue 12 §5), the TS side
 * of bench_global.erl, each node its own OS process:
 *
 *   node --import tsx bench/global.ts peer <name> <cookie>
 *     an idle default node (visible, with `GlobalRegistry.layer()`); prints `peer ready`.
 *   node --import tsx bench/global.ts main <name> <cookie> <peer1> <peer2> <N>
 *     connects to both peers, `sync`, registers N names (`{bench, I}` for N fresh pids:
 *     each `registerName` locks and writes on all 3 nodes), then looks each up 100 times
 *     (a local lookup), twice: the first pass as the code is first met, the second once it
 *     has run; prints `RESULT global_reg register_per_s=… whereis_first_per_s=… whereis_per_s=…`.
 */
import * as DistNode from "@effect-otp/dist/DistNode"
import * as NetKernel from "@effect-otp/dist/NetKernel"
import * as GlobalRegistry from "@effect-otp/global/GlobalRegistry"
import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { Atom, type Pid, tuple } from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { now } from "./harness.js"

const nodeLayer = (name: string, cookie: string) =>
  DistNode.layerDefault({ name, cookie }).pipe(
    Layer.provideMerge(GlobalRegistry.layer()),
    Layer.provideMerge(ProcessRuntime.layer)
  )

const bench = Atom.make("bench")

const main = (peers: ReadonlyArray<string>, n: number) =>
  Effect.gen(function*() {
    for (const p of peers) yield* NetKernel.connect(p)
    // the peers meet through global (connect_all): wait until this node sees both
    for (let i = 0; i < 500; i++) {
      const up = (yield* NetKernel.nodes()).map((a) => a.name)
      if (peers.every((p) => up.includes(p))) break
      yield* Effect.sleep("10 millis")
    }
    yield* GlobalRegistry.sync
    const pids: Array<Pid> = []
    for (let i = 0; i < n; i++) pids.push(yield* Process.spawn(Process.receive()))
    const t0 = now()
    for (let i = 0; i < n; i++) {
      if (!(yield* GlobalRegistry.registerName(tuple(bench, i + 1), pids[i]!))) {
        return yield* Effect.dieMessage(`register_name {bench, ${i + 1}}: no`)
      }
    }
    const t1 = now()
    const rounds = 100
    // two passes of the same lookups: the first as the code is met (V8 still compiling it),
    // the second once it has run; bench_global.erl times the same two passes
    const lookups = Effect.gen(function*() {
      for (let r = 0; r < rounds; r++) {
        for (let i = 0; i < n; i++) {
          const got = yield* GlobalRegistry.whereisName(tuple(bench, i + 1))
          if (Option.isNone(got)) return yield* Effect.dieMessage(`whereis_name {bench, ${i + 1}}: undefined`)
        }
      }
    })
    yield* lookups
    const t2 = now()
    yield* lookups
    const t3 = now()
    console.log(
      `RESULT global_reg register_per_s=${(n * 1000 / (t1 - t0)).toFixed(1)} ` +
        `whereis_first_per_s=${(n * rounds * 1000 / (t2 - t1)).toFixed(1)} ` +
        `whereis_per_s=${(n * rounds * 1000 / (t3 - t2)).toFixed(1)} names=${n}`
    )
  })

const [role, name, cookie, ...rest] = process.argv.slice(2)
if ((role !== "peer" && role !== "main") || name === undefined || cookie === undefined) {
  console.error("usage: global.ts peer <name> <cookie> | main <name> <cookie> <peer1> <peer2> <N>")
  process.exit(2)
}
// a peer stops on SIGTERM through exit, so that `--cpu-prof` can write its profile
process.on("SIGTERM", () => process.exit(0))
const program = role === "peer"
  ? Effect.zipRight(Effect.sync(() => console.log("peer ready")), Effect.never)
  : main(rest.slice(0, 2), Number(rest[2]))
Effect.runPromise(program.pipe(Effect.provide(nodeLayer(name, cookie)))).then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e)
    process.exit(1)
  }
)
