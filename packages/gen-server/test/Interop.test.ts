/**
 * Wire compatibility with OTP, both directions, against real `erl`:
 * - an erl client calling a TS GenServer and Supervisor (`gen_server:call/cast`, a late reply
 *   after a timeout, `sys:get_state`/`get_status`, `supervisor:which_children`/`count_children`);
 * - a TS client calling an Erlang `gen_server` compiled with `erlc` here (call, cast, a crash
 *   mid-call, `noproc`, `noconnection`).
 */
import * as Process from "@effect-otp/process/Process"
import { ProcessRuntime } from "@effect-otp/process/ProcessRuntime"
import * as T from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { erlAvailable, runErl, startErlScoped, uniqueName } from "../../dist/test/helpers/erl.js"
import { buildNode, cluster } from "../../dist/test/helpers/tsnode.js"
import * as GenServer from "../src/GenServer.js"
import * as Supervisor from "../src/Supervisor.js"

/** The Erlang gen_server the TS client calls. */
const GS_PEER = `
-module(gs_peer).
-behaviour(gen_server).
-export([start/0, init/1, handle_call/3, handle_cast/2, handle_info/2]).

start() ->
    {ok, _} = gen_server:start({local, gs_peer}, ?MODULE, [], []),
    {ok, _} = gen_server:start({local, gs_peer2}, ?MODULE, [], []),
    io:format("ready~n").

init([]) -> {ok, 0}.

handle_call(get, _From, N) -> {reply, N, N};
handle_call({add, K}, _From, N) -> {reply, N + K, N + K};
handle_call(crash, _From, _N) -> exit(crashed_mid_call);
handle_call({sleep, Ms}, _From, N) -> timer:sleep(Ms), {reply, slept, N};
handle_call(hang, _From, N) -> io:format("hanging~n"), {noreply, N}.

handle_cast({add, K}, N) -> {noreply, N + K}.

handle_info(_, N) -> {noreply, N}.
`

let beamDir: string | undefined
const compiled = (): string => {
  if (beamDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), "gs-peer-"))
    writeFileSync(join(dir, "gs_peer.erl"), GS_PEER)
    const r = spawnSync("erlc", ["-o", dir, join(dir, "gs_peer.erl")], { encoding: "utf8" })
    if (r.status !== 0) throw new Error(`erlc failed: ${r.stdout}${r.stderr}`)
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }))
    beamDir = dir
  }
  return beamDir
}

const isTagged2 = (tag: string) => (u: unknown): u is T.Tuple => T.isTagged(u, tag, 2)

/** get | {add, K} | {sleep, Ms} on the wire. */
const Request = Schema.Union(
  Schema.transform(Schema.declare((u): u is T.Atom => u === T.atom("get")), Schema.Literal("get"), {
    strict: true,
    decode: () => "get" as const,
    encode: () => T.atom("get")
  }),
  Schema.transform(
    Schema.declare((u): u is T.Tuple => isTagged2("add")(u) && typeof u.elements[1] === "number"),
    Schema.Struct({ add: Schema.Number }),
    { strict: true, decode: (t) => ({ add: t.elements[1] as number }), encode: (r) => T.tuple(T.atom("add"), r.add) }
  ),
  Schema.transform(
    Schema.declare((u): u is T.Tuple => isTagged2("sleep")(u) && typeof u.elements[1] === "number"),
    Schema.Struct({ sleep: Schema.Number }),
    {
      strict: true,
      decode: (t) => ({ sleep: t.elements[1] as number }),
      encode: (r) => T.tuple(T.atom("sleep"), r.sleep)
    }
  )
)
const Cast = Request.members[1]

/** The TS counter erl calls; `{sleep, Ms}` answers `slept` after Ms (a slow server). */
const Counter = GenServer.make({
  name: "ts_counter",
  request: Request,
  reply: Schema.Union(Schema.Number, Schema.declare((u): u is T.Atom => u instanceof T.Atom)),
  cast: Cast,
  state: Schema.Number,
  init: (n: number) => Effect.succeed({ state: n }),
  handleCall: (req, _from, n) =>
    req === "get"
      ? Effect.succeed({ reply: n, state: n })
      : "add" in req
      ? Effect.succeed({ reply: n + req.add, state: n + req.add })
      : Effect.as(Effect.sleep(req.sleep), { reply: T.atom("slept"), state: n }),
  handleCast: (c, n) => Effect.succeed({ state: n + c.add })
})

/** Lines `key=value` printed by erl. */
const lines = (stdout: string): Record<string, string> =>
  Object.fromEntries(
    stdout.split("\n").filter((l) => l.includes("=")).map((l) => {
      const i = l.indexOf("=")
      return [l.slice(0, i), l.slice(i + 1)]
    })
  )

describe.skipIf(!erlAvailable())("GenServer interop with real erl", () => {
  it.scopedLive("erl → TS: gen_server:call/cast, a late reply does not leak, sys, supervisor:which_children", () =>
    Effect.gen(function*() {
      const cookie = uniqueName("c")
      const ctx = yield* buildNode(uniqueName("ts"), cookie)
      const node = ctx.unsafeMap.get(ProcessRuntime.key) as { readonly node: T.Atom }
      const body = Effect.gen(function*() {
        yield* GenServer.start(Counter, 10, { name: "counter" })
        const sup = yield* Supervisor.startScoped(
          {
            strategy: "one_for_one",
            children: [
              Supervisor.worker("c1", Counter, 1),
              Supervisor.supervisor("inner", { children: [Supervisor.worker("c2", Counter, 2)] })
            ]
          },
          { name: "ts_sup" }
        )
        const N = `'${node.node.name}'`
        const out = yield* Effect.promise(() =>
          runErl(
            `N = ${N},
            true = net_kernel:connect_node(N),
            io:format("get=~p~n", [gen_server:call({counter, N}, get)]),
            {status, Pid, {module, gen_server}, [_PDict, running, _Parent, _Dbg, Misc]} = sys:get_status({counter, N}),
            io:format("status_pid=~p~n", [node(Pid) =:= N]),
            io:format("status_state=~p~n", [lists:last(Misc)]),
            io:format("add=~p~n", [gen_server:call(Pid, {add, 5}, 1000)]),
            ok = gen_server:cast({counter, N}, {add, 100}),
            io:format("after_cast=~p~n", [gen_server:call({counter, N}, get)]),
            io:format("state=~p~n", [sys:get_state({counter, N})]),
            Late = try gen_server:call({counter, N}, {sleep, 300}, 50) catch exit:E -> E end,
            io:format("late=~p~n", [element(1, Late)]),
            %% the server answers in order: once get is answered, the late reply was sent before
            io:format("get_again=~p~n", [gen_server:call({counter, N}, get)]),
            {messages, Msgs} = process_info(self(), messages),
            io:format("leaked=~p~n", [Msgs]),
            Bad = try gen_server:call({counter, N}, nonsense) catch C:R -> {C, R} end,
            io:format("bad=~p~n", [Bad]),
            io:format("alive=~p~n", [gen_server:call({counter, N}, get)]),
            Noproc = try gen_server:call({nobody, N}, get) catch exit:E2 -> element(1, E2) end,
            io:format("noproc=~p~n", [Noproc]),
            Children = supervisor:which_children({ts_sup, N}),
            io:format("children=~p~n", [[{Id, is_pid(P), T, M} || {Id, P, T, M} <- Children]]),
            io:format("count=~p~n", [supervisor:count_children({ts_sup, N})]),
            {inner, Inner, supervisor, _} = lists:keyfind(inner, 1, Children),
            io:format("inner=~p~n", [[{Id, is_pid(P)} || {Id, P, _, _} <- supervisor:which_children(Inner)]]),
            io:format("terminate=~p~n", [supervisor:terminate_child({ts_sup, N}, c1)]),
            io:format("after_terminate=~p~n", [[{Id, P} || {Id, P, _, _} <- supervisor:which_children({ts_sup, N})]]),
            io:format("restart=~p~n", [element(1, supervisor:restart_child({ts_sup, N}, c1))]),
            io:format("missing=~p~n", [supervisor:terminate_child({ts_sup, N}, nope)]),
            abcast = gen_server:abcast([N], counter, {add, 1}),
            io:format("multi=~p~n", [gen_server:multi_call([N, 'nobody@nohost'], counter, get)]),
            io:format("multi_t=~p~n", [gen_server:multi_call([N], counter, {add, -1}, 2000)]),
            ok = sys:suspend({counter, N}),
            {status, _, _, [_, suspended | _]} = sys:get_status({counter, N}),
            ok = sys:resume({counter, N}),
            io:format("resumed=~p~n", [gen_server:call({counter, N}, get)]),
            io:format("stop=~p~n", [gen_server:stop({counter, N}, bye, 5000)]),
            io:format("stopped=~p~n", [try gen_server:call({counter, N}, get) catch exit:E3 -> element(1, E3) end]),
            {messages, Msgs2} = process_info(self(), messages),
            io:format("leaked2=~p~n", [Msgs2]),
            halt().`,
            { args: ["-sname", uniqueName("erl"), "-setcookie", cookie] }
          )
        )
        const r = lines(out.stdout)
        expect(r.get).toBe("10")
        expect(r.status_pid).toBe("true")
        expect(r.status_state).toBe(`{data,[{"State",10}]}`)
        expect(r.add).toBe("15")
        expect(r.after_cast).toBe("115")
        expect(r.state).toBe("115")
        expect(r.late).toBe("timeout")
        expect(r.get_again).toBe("115")
        expect(r.leaked).toBe("[]")
        expect(r.bad?.startsWith("{'$gen_bad_request',<<")).toBe(true)
        expect(r.alive).toBe("115")
        expect(r.noproc).toBe("noproc")
        expect(r.children).toBe("[{inner,true,supervisor,[supervisor]},{c1,true,worker,[ts_counter]}]")
        expect(r.count).toBe("[{specs,2},{active,2},{supervisors,1},{workers,1}]")
        expect(r.inner).toBe("[{c2,true}]")
        expect(r.terminate).toBe("ok")
        expect(r.after_terminate).toMatch(/^\[\{inner,<[0-9.]+>\},\{c1,undefined\}\]$/)
        expect(r.restart).toBe("ok")
        expect(r.missing).toBe("{error,not_found}")
        expect(r.multi).toBe(`{[{${T.format(node.node)},116}],[nobody@nohost]}`)
        expect(r.multi_t).toBe(`{[{${T.format(node.node)},115}],[]}`)
        expect(r.resumed).toBe("115")
        expect(r.stop).toBe("ok")
        expect(r.stopped).toBe("noproc")
        expect(r.leaked2).toBe("[]")
        expect((yield* Supervisor.whichChildren(sup)).map((c) => c.pid instanceof T.Pid)).toEqual([true, true])
      })
      yield* Effect.provide(body, ctx)
    }))

  it.scopedLive("TS → erl: call, cast, a late reply does not leak, a crash mid-call, noproc, noconnection", () =>
    Effect.gen(function*() {
      const cookie = uniqueName("c")
      const erlName = uniqueName("erl")
      const ctx = yield* buildNode(uniqueName("ts"), cookie)
      const rt = ctx.unsafeMap.get(ProcessRuntime.key) as { readonly node: T.Atom }
      const host = rt.node.name.split("@")[1]!
      const erlNode = T.atom(`${erlName}@${host}`)
      const erl = yield* startErlScoped({
        args: ["-sname", erlName, "-setcookie", cookie, "-pa", compiled()],
        eval: "gs_peer:start().",
        ready: "ready"
      })
      const Peer = GenServer.protocol({ request: Request, reply: Schema.Number, cast: Cast })
      const peer = GenServer.ref(Peer, GenServer.remote("gs_peer", erlNode))
      const body = Effect.gen(function*() {
        expect(yield* GenServer.call(peer, "get")).toBe(0)
        expect(yield* GenServer.call(peer, { add: 2 })).toBe(2)
        yield* GenServer.cast(peer, { add: 40 })
        expect(yield* GenServer.call(peer, "get")).toBe(42)
        // a reply after the timeout (erl sends it to the alias, now inactive) never lands here
        const late = yield* Effect.flip(GenServer.call(peer, { sleep: 300 }, "50 millis"))
        expect(late._tag).toBe("CallTimeout")
        expect(yield* GenServer.call(peer, "get")).toBe(42)
        const me = yield* Process.self
        expect(Option.getOrThrow(yield* Process.processInfo(me)).messages).toEqual([])
        // by pid (from sys:get_status), untyped
        const status = yield* GenServer.getStatus(GenServer.remote("gs_peer2", erlNode))
        const pid = (status as T.Tuple).elements[1] as T.Pid
        expect(yield* GenServer.call(pid, T.tuple(T.atom("add"), 1), "2 seconds")).toBe(1)
        expect(yield* GenServer.getState(pid)).toBe(1)
        // a crash mid-call: the exit reason comes back
        const crash = yield* Effect.flip(GenServer.call(pid, T.atom("crash")))
        expect(crash._tag).toBe("ServerExited")
        expect(crash._tag === "ServerExited" && crash.reason).toBe(T.atom("crashed_mid_call"))
        // the name is gone now: noproc (as for any unregistered name)
        expect((yield* Effect.flip(GenServer.call(GenServer.remote("gs_peer2", erlNode), 1)))._tag).toBe("NoProc")
        expect((yield* Effect.flip(GenServer.call(GenServer.remote("nobody", erlNode), T.atom("get"))))._tag)
          .toBe("NoProc")
        // a request with no term form cannot go to another node: BadRequest at once
        const notATerm = yield* Effect.flip(GenServer.call(peer.target, { a: 1 } as unknown as T.Term))
        expect(notATerm._tag).toBe("BadRequest")
        // multi_call and abcast to the erl node (and a node that does not exist)
        const bogus = T.atom(`${uniqueName("none")}@${host}`)
        yield* GenServer.abcast(Peer, [erlNode, bogus], "gs_peer", { add: 1 })
        const multi = yield* GenServer.multiCall(Peer, [erlNode, bogus], "gs_peer", "get", "5 seconds")
        expect(multi.replies).toEqual([[erlNode, 43]])
        expect(multi.badNodes).toEqual([bogus])
        // a node that does not exist, then a node that goes down during a call
        const nowhere = yield* Effect.flip(GenServer.call(GenServer.remote("x", `${uniqueName("none")}@${host}`), 1))
        expect(nowhere._tag).toBe("NoConnection")
      })
      yield* Effect.provide(Process.run(body), ctx)
      // a call the erl server never answers, and the node dies: noconnection
      const body2 = Effect.gen(function*() {
        const hang = yield* Effect.fork(
          GenServer.call(GenServer.remote("gs_peer", erlNode), T.atom("hang"), "infinity")
        )
        yield* Effect.promise(() => erl.waitFor("hanging"))
        yield* Effect.promise(() => erl.kill())
        const err = yield* Effect.flip(hang.await.pipe(Effect.flatten))
        expect(err._tag).toBe("NoConnection")
      })
      yield* Effect.provide(body2, ctx)
    }))
})

describe("GenServer between two TS nodes", () => {
  it.scopedLive("call, cast, a late reply does not leak, multiCall (a node without the server is a bad node), sys", () =>
    Effect.gen(function*() {
      const node = yield* cluster
      const cookie = uniqueName("c")
      const ctx1 = yield* node(uniqueName("ts"), cookie)
      const ctx2 = yield* node(uniqueName("ts"), cookie)
      const n1 = (ctx1.unsafeMap.get(ProcessRuntime.key) as { readonly node: T.Atom }).node
      const n2 = (ctx2.unsafeMap.get(ProcessRuntime.key) as { readonly node: T.Atom }).node
      yield* GenServer.start(Counter, 1, { name: "counter" }).pipe(Effect.provide(ctx1))
      const ref = GenServer.ref(Counter, GenServer.remote("counter", n1))
      yield* Process.run(Effect.gen(function*() {
        expect(yield* GenServer.call(ref, "get")).toBe(1)
        yield* GenServer.cast(ref, { add: 2 })
        expect(yield* GenServer.call(ref, { add: 3 })).toBe(6)
        const late = yield* Effect.flip(GenServer.call(ref, { sleep: 200 }, "20 millis"))
        expect(late._tag).toBe("CallTimeout")
        expect(yield* GenServer.call(ref, "get")).toBe(6)
        const me = yield* Process.self
        expect(Option.getOrThrow(yield* Process.processInfo(me)).messages).toEqual([])
        const multi = yield* GenServer.multiCall(Counter, [n1, n2], "counter", "get", "5 seconds")
        expect(multi.replies).toEqual([[n1, 6]])
        expect(multi.badNodes).toEqual([n2])
        expect(T.format(yield* GenServer.getState(ref))).toBe("6")
      })).pipe(Effect.provide(ctx2))
    }))
})
