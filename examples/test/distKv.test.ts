/**
 * The chapter's `dist_kv` (issue 11 §4) in a mixed cluster: two TS nodes running
 * `examples/src/distKv.ts` and a visible `erl` node running the chapter's
 * `examples/erlang/dist_kv.erl` (compiled with erlc here). A put on any node is readable on
 * every node. And the Elixir spelling: `GenServer.call({:dist_kv, TsNode}, ...)` from an
 * `elixir --sname` node.
 */
import * as Epmd from "@effect-otp/dist/Epmd"
import * as NetKernel from "@effect-otp/dist/NetKernel"
import * as Rpc from "@effect-otp/dist/Rpc"
import * as Process from "@effect-otp/process/Process"
import type * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { atom, binary, charlist, format, type Term, tuple } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { erlEval, eventually, localNode, type NodeOptions, startErl } from "../src/cluster.js"
import * as DistKv from "../src/distKv.js"
import { elixirInstalled, runElixir } from "./helpers/elixir.js"
import { erlInstalled, uniqueSuffix } from "./helpers/script.js"

const withErl = erlInstalled()
const withElixir = elixirInstalled()

/** A visible TS node with dist_kv started and published for rpc. */
const tsNode = (name: string, options: NodeOptions) =>
  Effect.gen(function*() {
    const ctx = yield* Layer.build(Rpc.layerPublish(DistKv.module).pipe(Layer.provideMerge(localNode(name, options))))
    yield* DistKv.start.pipe(Effect.provide(ctx))
    return { ctx, node: (yield* NetKernel.node.pipe(Effect.provide(ctx))).name }
  })

/** An embedded epmd on a free port for the test, and the options of nodes that use it. */
const privateCluster = Effect.gen(function*() {
  const suffix = uniqueSuffix()
  const server = Context.get(yield* Layer.build(Epmd.layerServer({ port: 0 })), Epmd.EpmdServer)
  return { suffix, options: { cookie: `c${suffix}`, epmdPort: server.port } }
})

const sorted = (xs: ReadonlyArray<{ readonly name: string } | string>) =>
  xs.map((x) => typeof x === "string" ? x : x.name).sort()

describe("dist_kv", () => {
  it.scopedLive.skipIf(!withErl)(
    "a put on any node is readable on every node: two TS nodes and the chapter's dist_kv.erl",
    () =>
      Effect.gen(function*() {
        const { options, suffix } = yield* privateCluster
        const a = yield* tsNode(`a${suffix}`, options)
        const b = yield* tsNode(`b${suffix}`, options)
        const e = yield* startErl(`e${suffix}`, ["dist_kv"], options)
        const inA = <A, E>(eff: Effect.Effect<A, E, Process.Self | ProcessRuntime.ProcessRuntime>) =>
          Process.run(eff).pipe(Effect.provide(a.ctx))
        const onErl = (text: string, bindings: Record<string, Term> = {}) => inA(erlEval(e.node, text, bindings))
        expect(yield* NetKernel.ping(b.node).pipe(Effect.provide(a.ctx))).toBe("pong")
        expect(format(
          yield* onErl(
            "pong = net_adm:ping(A), pong = net_adm:ping(B), {ok, P} = dist_kv:start_link(), unlink(P), ok.",
            { A: atom(a.node), B: atom(b.node) }
          )
        )).toBe("ok")

        // every node sees the two others in nodes(): all three are visible
        expect(sorted(yield* NetKernel.nodes().pipe(Effect.provide(a.ctx)))).toEqual(sorted([b.node, e.node]))
        expect(sorted(yield* NetKernel.nodes().pipe(Effect.provide(b.ctx)))).toEqual(sorted([a.node, e.node]))
        expect(format(yield* onErl("lists:sort(nodes()).")))
          .toBe(format(sorted([a.node, b.node]).map((n) => atom(n))))

        const writers: Record<string, (k: Term, v: Term) => Effect.Effect<Term, unknown>> = {
          a: (k, v) => DistKv.put(k, v).pipe(Effect.provide(a.ctx)),
          b: (k, v) => DistKv.put(k, v).pipe(Effect.provide(b.ctx)),
          erl: (k, v) => onErl("dist_kv:put(K, V).", { K: k, V: v })
        }
        const readers: Record<string, (k: Term) => Effect.Effect<Term, unknown>> = {
          a: (k) => DistKv.get(k).pipe(Effect.provide(a.ctx)),
          b: (k) => DistKv.get(k).pipe(Effect.provide(b.ctx)),
          erl: (k) => onErl("dist_kv:get(K).", { K: k })
        }
        for (const [writer, write] of Object.entries(writers)) {
          const key = atom(`from_${writer}`)
          const value = tuple(atom(writer), charlist("hello world"), binary(writer))
          // nobody has it before the put
          for (const read of Object.values(readers)) expect(format(yield* read(key))).toBe("undefined")
          expect(format(yield* write(key, value))).toBe("ok")
          for (const [reader, read] of Object.entries(readers)) {
            // eventually consistent: wait for the value with a probe
            expect(format(yield* eventually(read(key), value, 10_000)), `${writer} -> ${reader}`).toBe(format(value))
          }
        }
        // the TS server's state is an Erlang map, as the chapter's: sys:get_state from erl shows it
        expect(format(yield* onErl("maps:get(from_erl, sys:get_state({dist_kv, N})).", { N: atom(a.node) })))
          .toBe(format(tuple(atom("erl"), charlist("hello world"), binary("erl"))))
      }),
    120_000
  )

  it.scopedLive.skipIf(!withElixir)(
    "Elixir: GenServer.call({:dist_kv, ts_node}, {:get, key}) and GenServer.cast from an elixir --sname node",
    () =>
      Effect.gen(function*() {
        const { options, suffix } = yield* privateCluster
        const a = yield* tsNode(`a${suffix}`, options)
        expect(format(yield* DistKv.put(atom("greeting"), charlist("hello world")).pipe(Effect.provide(a.ctx))))
          .toBe("ok")
        const out = yield* Effect.promise(() =>
          runElixir(
            [
              `node = :"${a.node}"`,
              `IO.inspect(GenServer.call({:dist_kv, node}, {:get, :greeting}), label: "get")`,
              `IO.inspect(GenServer.call({:dist_kv, node}, {:get, :nothing}, 5000), label: "missing")`,
              `IO.inspect(GenServer.cast({:dist_kv, node}, {:put, :from_elixir, "elixir"}), label: "cast")`,
              `IO.inspect(GenServer.call({:dist_kv, node}, {:get, :from_elixir}), label: "after cast")`,
              `IO.inspect((try do GenServer.call({:no_such_server, node}, :hi) catch :exit, r -> r end), label: "noproc")`
            ].join("\n"),
            { sname: `x${suffix}`, cookie: options.cookie, epmdPort: options.epmdPort }
          )
        )
        expect(out).toContain(`get: 'hello world'`)
        expect(out).toContain(`missing: :undefined`)
        expect(out).toContain(`cast: :ok`)
        expect(out).toContain(`after cast: "elixir"`)
        expect(out).toMatch(
          /noproc: \{:noproc,\s+\{GenServer,\s+:call,\s+\[\{:no_such_server,\s+:"?a_t\w+@[^,]+\},\s+:hi,\s+5000\]\}\}/
        )
        // and the TS side has the Elixir write
        expect(format(yield* DistKv.get(atom("from_elixir")).pipe(Effect.provide(a.ctx)))).toBe(`<<"elixir">>`)
      }),
    120_000
  )
})
