/**
 * Connection ids (OTP 25), checked against real erl: `monitor_nodes` with the map-form
 * and list-form options sends what erl sends for the same options, `erlang:nodes/2`
 * gives the same ids (locally and through rpc from erl), and `monitor_node(Node, false)`
 * takes one monitor away.
 */
import * as Process from "@effect-otp/process/Process"
import * as Term from "@effect-otp/process/Term"
import * as TermLiteral from "@effect-otp/process/TermLiteral"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as MemoryCluster from "../src/MemoryCluster.js"
import * as NetKernel from "../src/NetKernel.js"
import { erlAvailable, startErlScoped, uniqueName } from "./helpers/erl.js"
import { host, nodeLayer, printed, printedNode } from "./helpers/tsnode.js"

const { atom, format } = Term

/**
 * The same subscriptions on both sides: erl's options, and ours (`undefined`: erl's
 * options as they are, a term).
 */
const subscriptions: ReadonlyArray<readonly [string, string, NetKernel.MonitorNodesOptions | undefined]> = [
  ["map_all", "#{connection_id => true, node_type => all, nodedown_reason => true}", undefined],
  ["list_all", "[connection_id, nodedown_reason, {node_type, all}]", {
    connectionId: true,
    nodedownReason: true,
    nodeType: "all"
  }],
  ["map_empty", "#{}", { format: "map" }],
  ["map_visible", "#{node_type => visible}", { format: "map", nodeType: "visible" }],
  ["list_cid", "[connection_id]", undefined]
]

/** Node names (as erl prints them: quoted when the host has a `-`) and connection ids out, so both sides' views compare. */
const normalize = (text: string, node: string) =>
  text.split(printed(node)).join("N").replace(/connection_id(,| => )\d+/g, "connection_id$1ID")

/** A process subscribed with `options` (erl's `text` as a term if none); every message it gets goes to the queue, formatted. */
const subscriber = (text: string, options: NetKernel.MonitorNodesOptions | undefined, queue: Queue.Queue<string>) =>
  Effect.gen(function*() {
    const pid = yield* Process.spawn(
      Effect.forever(Effect.flatMap(Process.receive(), (m) => Queue.offer(queue, format(m as Term.Term))))
    )
    if (options !== undefined) yield* NetKernel.monitorNodes(pid, options)
    else yield* Effect.orDie(NetKernel.monitorNodes(pid, TermLiteral.unsafeParse(text) as Term.TermMap))
    return pid
  })

describe.skipIf(!erlAvailable())("connection ids (real erl)", () => {
  it.scopedLive(
    "monitor_nodes map and list forms, nodes/2 and rpc nodes/2 give what erl gives, with the same ids",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const ts = uniqueName("ts")
        const tsNode = `${ts}@${host}`
        const ctx = yield* Layer.build(nodeLayer(ts, cookie, { hidden: false }))
        const queues = yield* Effect.forEach(subscriptions, () => Queue.unbounded<string>())
        yield* Effect.forEach(subscriptions, ([, text, options], i) => subscriber(text, options, queues[i]!)).pipe(
          Effect.provide(ctx)
        )
        // monitor_node: two monitors and one taken away leave one; one and one taken away leave none
        const nodeMonitors = yield* Queue.unbounded<string>()
        const noMonitor = yield* Queue.unbounded<string>()
        const e = uniqueName("e")
        const erlNode = `${e}@${host}`
        const erlSubscribe = subscriptions.map(([tag, opts]) => `Sub(${tag}, ${opts})`).join(",\n")
        const erl = yield* startErlScoped({
          args: ["-sname", e, "-setcookie", cookie],
          eval: `
          Ts = ${printedNode(ts)},
          Sub = fun(Tag, Opts) ->
            Parent = self(),
            spawn(fun() ->
              ok = net_kernel:monitor_nodes(true, Opts),
              Parent ! {subscribed, Tag},
              L = fun L() -> receive M -> io:format("EV ~s ~w~n", [Tag, M]), L() end end,
              L()
            end),
            receive {subscribed, Tag} -> ok end
          end,
          ${erlSubscribe},
          pong = net_adm:ping(Ts),
          io:format("NODES ~w~n", [erlang:nodes(visible, #{connection_id => true, node_type => true})]),
          io:format("RPC ~w~n", [rpc:call(Ts, erlang, nodes, [visible, #{connection_id => true, node_type => true}])]),
          io:format("RPCTHIS ~w~n", [rpc:call(Ts, erlang, nodes, [[this, visible], #{connection_id => true}])]),
          Bad = case rpc:call(Ts, erlang, nodes, [visible, #{foo => true}]) of
            {badrpc, {'EXIT', {badarg, _}}} -> badarg;
            Other -> Other
          end,
          io:format("RPCBAD ~w~n", [Bad]),
          io:format("ready~n").`,
          ready: "ready"
        })
        const out = yield* Effect.gen(function*() {
          const watch = (queue: Queue.Queue<string>, flags: ReadonlyArray<boolean>) =>
            Effect.gen(function*() {
              const pid = yield* Process.spawn(
                Effect.forever(Effect.flatMap(Process.receive(), (m) => Queue.offer(queue, format(m as Term.Term))))
              )
              for (const flag of flags) yield* NetKernel.monitorNode(pid, erlNode, flag)
            })
          yield* watch(nodeMonitors, [true, true, false])
          yield* watch(noMonitor, [true, false, false])
          const ups = yield* Effect.forEach(queues, Queue.take)
          const info = yield* NetKernel.nodes("visible", { connectionId: true, nodeType: true })
          const infoThis = yield* NetKernel.nodes(["this", "visible"], { connectionId: true })
          expect(yield* NetKernel.disconnect(erlNode)).toBe(true)
          const downs = yield* Effect.forEach(queues, Queue.take)
          const monitorDown = yield* Queue.take(nodeMonitors)
          return { ups, downs, info, infoThis, monitorDown }
        }).pipe(Effect.provide(ctx))
        yield* Effect.promise(() => erl.waitFor(/EV list_cid \{nodedown/))
        const stdout = erl.stdout()
        const erlLine = (prefix: string) => stdout.split("\n").find((l) => l.startsWith(prefix))!.slice(prefix.length)

        // the same shapes as erl's, for each subscription (the nodedown reason differs by side:
        // we disconnected, erl saw the connection close)
        subscriptions.forEach(([tag], i) => {
          const erlEvents = stdout.split("\n").filter((l) => l.startsWith(`EV ${tag} `)).map((l) =>
            normalize(l.slice(`EV ${tag} `.length), tsNode)
          )
          expect([out.ups[i]!, out.downs[i]!].map((m) =>
            normalize(m, erlNode).replace("=> disconnect", "=> connection_closed").replace(
              ",disconnect}",
              ",connection_closed}"
            )
          ))
            .toEqual(erlEvents)
        })
        expect(normalize(out.ups[0]!, erlNode)).toBe("{nodeup,N,#{connection_id => ID,node_type => visible}}")
        expect(normalize(out.downs[1]!, erlNode)).toBe(
          "{nodedown,N,[{connection_id,ID},{nodedown_reason,disconnect},{node_type,visible}]}"
        )
        // one id for the connection: in every event and in nodes/2
        const id = Number(/connection_id => (\d+)/.exec(out.ups[0]!)![1])
        for (const m of [...out.ups, ...out.downs]) {
          for (const [, n] of m.matchAll(/connection_id(?:,| => )(\d+)/g)) {
            expect(Number(n)).toBe(id)
          }
        }
        expect(out.info).toEqual([{ node: atom(erlNode), connectionId: id, nodeType: "visible" }])
        expect(out.infoThis).toEqual([
          { node: atom(tsNode), connectionId: undefined },
          { node: atom(erlNode), connectionId: id }
        ])
        // erlang:nodes/2 through rpc: erl sees our view of the connection (our id), in erl's shape
        expect(erlLine("RPC ")).toBe(`[{${printedNode(e)},#{connection_id => ${id},node_type => visible}}]`)
        expect(erlLine("RPCTHIS ")).toBe(
          `[{${printedNode(ts)},#{connection_id => undefined}},{${printedNode(e)},#{connection_id => ${id}}}]`
        )
        expect(erlLine("RPCBAD ")).toBe("badarg")
        // erl's own nodes/2 has the same shape (with erl's id for the connection)
        expect(normalize(erlLine("NODES "), tsNode)).toBe("[{N,#{connection_id => ID,node_type => visible}}]")
        // monitor_node(Node, false): one of two monitors left, so one message; none left, none
        expect(out.monitorDown).toBe(`{nodedown,${printedNode(e)}}`)
        expect(yield* Queue.size(nodeMonitors)).toBe(0)
        expect(yield* Queue.size(noMonitor)).toBe(0)
      }),
    60_000
  )
})

/** A process that puts every message it gets, printed, on `events`. */
const recorder = Effect.gen(function*() {
  const events = yield* Queue.unbounded<string>()
  const pid = yield* Process.spawn(
    Effect.forever(Effect.flatMap(Process.receive(), (m) => Queue.offer(events, format(m as Term.Term))))
  )
  return { events, pid }
})

describe("monitor_nodes options as erl writes them", () => {
  it("map and list forms, and erl's errors for bad ones", () => {
    const t = TermLiteral.unsafeParse
    expect(NetKernel.fromErlangOptions(t("#{connection_id => true, node_type => all}"))).toEqual(
      Either.right({ format: "map", connectionId: true, nodeType: "all" })
    )
    expect(NetKernel.fromErlangOptions(t("[nodedown_reason, connection_id, {node_type, hidden}]"))).toEqual(
      Either.right({ format: "list", connectionId: true, nodedownReason: true, nodeType: "hidden" })
    )
    const error = (s: string) => Either.match(NetKernel.fromErlangOptions(t(s)), { onLeft: format, onRight: () => "" })
    // as erl 25 answers net_kernel:monitor_nodes(true, Options) with {error, Reason}
    expect(error("[{node_type, foo}]")).toBe("{bad_option_value,{node_type,foo}}")
    expect(error("[{node_type, all}, bar, baz]")).toBe("{unknown_options,[baz,bar]}")
    expect(error("#{node_type => foo}")).toBe("{bad_option_value,#{node_type => foo}}")
    expect(error("#{connection_id => x, foo => 1, node_type => all}")).toBe("{bad_option_value,#{connection_id => x}}")
    expect(error("#{foo => true}")).toBe("{unknown_options,#{foo => true}}")
    expect(error("foo")).toBe("{invalid_options,foo}")
  })

  it.scoped("each monitor_nodes call is a subscription of its own, as in erl (a process may hold several)", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a", "b"])
      const a = cluster.node("a")
      const b = cluster.node("b")
      const { events, pid } = yield* a.provide(recorder)
      a.kernel.subscribeNodes(pid)
      const off = a.kernel.subscribeNodes(pid)
      a.kernel.subscribeNodes(pid, { connectionId: true })
      expect(yield* a.provide(NetKernel.ping(b.name))).toBe("pong")
      const [info] = a.kernel.nodesInfo("visible", { connectionId: true })
      const B = format(b.name)
      // erl 25 with monitor_nodes(true) twice and monitor_nodes(true, [connection_id]): the same three
      expect([yield* Queue.take(events), yield* Queue.take(events), yield* Queue.take(events)]).toEqual([
        `{nodeup,${B}}`,
        `{nodeup,${B}}`,
        `{nodeup,${B},[{connection_id,${info!.connectionId}}]}`
      ])
      off()
      yield* cluster.kill("b")
      expect([yield* Queue.take(events), yield* Queue.take(events)]).toEqual([
        `{nodedown,${B}}`,
        `{nodedown,${B},[{connection_id,${info!.connectionId}}]}`
      ])
    }))

  it.effect("monitorNodes fails with MonitorNodesError for options erl refuses", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a"])
      const a = cluster.node("a")
      const failed = yield* a.provide(
        Process.run(
          Effect.flip(NetKernel.monitorNodes(TermLiteral.unsafeParse("[{node_type, foo}]") as ReadonlyArray<Term.Term>))
        )
      )
      expect(failed._tag).toBe("MonitorNodesError")
      expect(format(failed.reason)).toBe("{bad_option_value,{node_type,foo}}")
    }).pipe(Effect.scoped))

  it.scoped("on a MemoryCluster: monitor_node false cancels one monitor; events carry the connection id", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a", "b"])
      const a = cluster.node("a")
      const b = cluster.node("b")
      const { events, pid } = yield* a.provide(recorder)
      a.kernel.subscribeNodes(pid, { format: "map", connectionId: true })
      yield* a.provide(NetKernel.monitorNode(pid, b.name))
      yield* a.provide(NetKernel.monitorNode(pid, b.name, false))
      const [info] = a.kernel.nodesInfo("visible", { connectionId: true })
      expect(yield* Queue.take(events)).toBe(`{nodeup,${format(b.name)},#{connection_id => ${info!.connectionId}}}`)
      yield* cluster.kill("b")
      expect(yield* Queue.take(events)).toBe(`{nodedown,${format(b.name)},#{connection_id => ${info!.connectionId}}}`)
      // a new connection, a new id
      yield* cluster.restart("b")
      expect(yield* a.provide(NetKernel.ping(b.name))).toBe("pong")
      const again = yield* Queue.take(events)
      const [next] = a.kernel.nodesInfo("visible", { connectionId: true })
      expect(next!.connectionId).not.toBe(info!.connectionId)
      expect(again).toBe(`{nodeup,${format(b.name)},#{connection_id => ${next!.connectionId}}}`)
      // the monitor_node was taken away: no {nodedown, b} came between
      expect(yield* Queue.size(events)).toBe(0)
    }))
})
