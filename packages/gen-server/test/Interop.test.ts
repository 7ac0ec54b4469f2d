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
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { erlAvailable, erlLines as lines, runErl, startErlScoped, uniqueName } from "../../dist/test/helpers/erl.js"
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

/** An Erlang gen_server with OTP 25's format_status/1, beside the TS one. */
const GS_FMT = `
-module(gs_fmt).
-behaviour(gen_server).
-export([init/1, handle_call/3, handle_cast/2, format_status/1]).
init(S) -> {ok, S}.
handle_call(get, _From, S) -> {reply, S, S}.
handle_cast(_, S) -> {noreply, S}.
format_status(Status) -> Status#{state => hidden}.
`

/** A supervisor with no children, to compare start_child's answers with. */
const GS_SUP = `
-module(gs_sup).
-behaviour(supervisor).
-export([start/0, init/1]).
start() ->
    Self = self(),
    spawn(fun() -> {ok, _} = supervisor:start_link({local, gs_sup}, ?MODULE, []), Self ! up, receive after infinity -> ok end end),
    receive up -> ok end.
init([]) -> {ok, {#{}, []}}.
`

/** Funs for sys:replace_state, loaded only on the erl client (no server has this module). */
const GS_FUN = `
-module(gs_fun).
-export([inc/0, two/0]).
inc() -> fun(S) -> S + 1 end.
two() -> fun(A, B) -> {A, B} end.
`

const beamDirs = new Map<string, string>()
/** Compiles the modules into a directory of their own (once per set); the directory for `-pa`. */
const compileAll = (modules: Record<string, string>): string => {
  const key = Object.keys(modules).join(",")
  let dir = beamDirs.get(key)
  if (dir === undefined) {
    const d = mkdtempSync(join(tmpdir(), "gs-peer-"))
    for (const [name, source] of Object.entries(modules)) {
      writeFileSync(join(d, `${name}.erl`), source)
      const r = spawnSync("erlc", ["-o", d, join(d, `${name}.erl`)], { encoding: "utf8" })
      if (r.status !== 0) throw new Error(`erlc failed: ${r.stdout}${r.stderr}`)
    }
    process.once("exit", () => rmSync(d, { recursive: true, force: true }))
    beamDirs.set(key, dir = d)
  }
  return dir
}
const compiled = (): string => compileAll({ gs_peer: GS_PEER, gs_fmt: GS_FMT, gs_sup: GS_SUP })
const compiledFun = (): string => compileAll({ gs_fun: GS_FUN })

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

/**
 * The late-reply gate. A `{sleep, _}` call to the TS counter is held until the process registered
 * as `gate` on the same JS process gets a message, so the caller's short timeout always fires
 * first: the test waits for that event instead of racing a real sleep against the timeout.
 */
const held: Array<Deferred.Deferred<void>> = []
const releaseHeld = Effect.sync(() => {
  for (const d of held.splice(0)) Deferred.unsafeDone(d, Exit.void)
})
const startGate = Process.spawn(Effect.forever(Effect.zipRight(Process.receive(), releaseHeld)), { name: "gate" })

/** The TS counter erl calls; `{sleep, _}` answers `slept` once the gate is opened (a slow server). */
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
      : Effect.gen(function*() {
        const d = yield* Deferred.make<void>()
        held.push(d)
        yield* Deferred.await(d)
        return { reply: T.atom("slept"), state: n }
      }),
  handleCast: (c, n) => Effect.succeed({ state: n + c.add })
})

/** A TS node and an erl node running `evalCode` (with the compiled modules), on a fresh cookie. */
const tsAndErl = (evalCode: string, ready: string) =>
  Effect.gen(function*() {
    const cookie = uniqueName("c")
    const erlName = uniqueName("erl")
    const ctx = yield* buildNode(uniqueName("ts"), cookie)
    const node = (ctx.unsafeMap.get(ProcessRuntime.key) as { readonly node: T.Atom }).node
    const host = node.name.split("@")[1]!
    const erl = yield* startErlScoped({
      args: ["-sname", erlName, "-setcookie", cookie, "-pa", compiled()],
      eval: evalCode,
      ready
    })
    return { cookie, ctx, node, host, erlNode: T.atom(`${erlName}@${host}`), erl }
  })

describe.skipIf(!erlAvailable())("GenServer interop with real erl", () => {
  it.scopedLive("erl → TS: gen_server:call/cast, a late reply does not leak, sys, supervisor:which_children", () =>
    Effect.gen(function*() {
      const cookie = uniqueName("c")
      const ctx = yield* buildNode(uniqueName("ts"), cookie)
      const node = ctx.unsafeMap.get(ProcessRuntime.key) as { readonly node: T.Atom }
      const body = Effect.gen(function*() {
        yield* GenServer.start(Counter, 10, { name: "counter" })
        yield* startGate
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
            {gate, N} ! release,
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
      const { ctx, erl, erlNode, host } = yield* tsAndErl("gs_peer:start().", "ready")
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

/** The TS server beside gs_fmt: its formatStatus hides the state as gs_fmt's format_status/1 does. */
const Fmt = GenServer.make({
  name: "fmt",
  init: (n: number) => Effect.succeed({ state: n }),
  handleCall: (_req, _from, n) => Effect.succeed({ reply: n, state: n }),
  formatStatus: (status) => ({ ...status, state: T.atom("hidden") })
})

describe.skipIf(!erlAvailable())(
  "GenServer interop with real erl: enter_loop, format_status, replace_state, {M,F,A}",
  () => {
    it.scopedLive("erl → TS, each answer beside erl's own gen_server/supervisor answer", () =>
      Effect.gen(function*() {
        const { cookie, ctx, erlNode, node } = yield* tsAndErl(
          "gs_peer:start(), gs_sup:start(), {ok, _} = gen_server:start({local, gs_fmt}, gs_fmt, 1, []), " +
            "io:format(\"up~n\").",
          "up"
        )
        const body = Effect.gen(function*() {
          // enter_loop: a process registered as `entered` becomes the Counter server
          yield* Process.spawn(GenServer.enterLoop(Counter, 10, { name: "entered" }), { name: "entered" })
          // enter_loop with a name the process does not hold: the reason, beside erl's below
          const [, mref] = yield* Process.spawnMonitor(GenServer.enterLoop(Counter, 0, { name: "nobody_here" }))
          const down = yield* Process.receive((m) => Process.isDownMessage(m, mref))
          yield* GenServer.start(Fmt, 1, { name: "fmt" })
          yield* Supervisor.start({
            children: [],
            modules: {
              ts_worker: {
                start_link: (n) => Effect.map(GenServer.startLink(Counter, n as number), (s) => s.pid)
              }
            }
          }, { name: "ts_mfa_sup" })
          const out = yield* Effect.promise(() =>
            runErl(
              `N = '${node.name}', E = '${erlNode.name}',
            true = net_kernel:connect_node(N), true = net_kernel:connect_node(E),
            io:format("entered=~p~n", [gen_server:call({entered, N}, get)]),
            io:format("entered_add=~p~n", [gen_server:call({entered, N}, {add, 1})]),
            {_, M} = spawn_monitor(fun() -> gen_server:enter_loop(gs_peer, [], 0, {local, nobody_here}) end),
            receive {'DOWN', M, _, _, EnterR} -> io:format("erl_enter=~p~n", [EnterR]) end,
            {status, _, {module, gen_server}, [_, running, _, [], TsMisc]} = sys:get_status({fmt, N}),
            {status, _, {module, gen_server}, [_, running, _, [], ErlMisc]} = sys:get_status({gs_fmt, E}),
            io:format("fmt_ts=~p~n", [lists:last(TsMisc)]),
            io:format("fmt_same=~p~n", [lists:last(TsMisc) =:= lists:last(ErlMisc)]),
            {data, [{"Status", running}, {"Parent", _}, {"Logged events", []}]} = lists:nth(2, TsMisc),
            io:format("fmt_header=~p~n", [lists:nth(1, TsMisc)]),
            Rs = fun(Name) -> try sys:replace_state(Name, gs_fun:inc()) catch C:R -> {C, R} end end,
            RTs = Rs({entered, N}),
            io:format("replace_ts=~w~n", [RTs]),
            io:format("replace_same=~w~n", [RTs =:= Rs({gs_peer, E})]),
            Ba = fun(Name) ->
                try sys:replace_state(Name, gs_fun:two())
                catch error:{callback_failed, CB, {error, {badarity, {F, [_]}}}} -> {CB, F =:= gs_fun:two()}
                end
            end,
            io:format("badarity_ts=~w~n", [Ba({entered, N})]),
            io:format("badarity_erl=~w~n", [Ba({gs_peer, E})]),
            io:format("state_kept=~p~n", [sys:get_state({entered, N})]),
            {ok, C1} = supervisor:start_child({ts_mfa_sup, N}, #{id => c1, start => {ts_worker, start_link, [5]}}),
            io:format("child_get=~p~n", [gen_server:call(C1, get)]),
            {ok, T1} = supervisor:start_child({ts_mfa_sup, N},
                {t1, {ts_worker, start_link, [7]}, temporary, 1000, worker, [ts_worker]}),
            io:format("tuple_get=~p~n", [gen_server:call(T1, get)]),
            io:format("mfa_children=~w~n",
                [[{Id, is_pid(P), Ty, Ms} || {Id, P, Ty, Ms} <- supervisor:which_children({ts_mfa_sup, N})]]),
            Undef = #{id => u, start => {nomod, start_link, [1]}},
            IsUndef = fun({error, {{'EXIT', {undef, [{nomod, start_link, [1], []} | _]}}, Rec}}) -> Rec; (Other) -> Other end,
            UndefTs = IsUndef(supervisor:start_child({ts_mfa_sup, N}, Undef)),
            io:format("undef_ts=~w~n", [UndefTs]),
            io:format("undef_same=~w~n", [UndefTs =:= IsUndef(supervisor:start_child({gs_sup, E}, Undef))]),
            MF = {m, f, []},
            Bad = [#{id => b, start => nope}, #{start => MF}, #{id => b}, #{id => b, start => MF, restart => never},
                   #{id => b, start => MF, shutdown => -1}, #{id => b, start => MF, type => x},
                   #{id => b, start => MF, modules => [1]}, #{id => b, start => MF, modules => x},
                   #{id => b, start => MF, significant => true}, #{id => b, start => MF, significant => maybe},
                   {b, MF, permanent, 5000, worker}, {short}],
            io:format("invalid_ts=~w~n", [[supervisor:start_child({ts_mfa_sup, N}, B) || B <- Bad]]),
            io:format("invalid_same=~w~n",
                [[supervisor:start_child({ts_mfa_sup, N}, B) =:= supervisor:start_child({gs_sup, E}, B) || B <- Bad]]),
            halt().`,
              { args: ["-sname", uniqueName("erl"), "-setcookie", cookie, "-pa", compiled(), "-pa", compiledFun()] }
            )
          )
          const r = lines(out.stdout)
          expect(r.entered).toBe("10")
          expect(r.entered_add).toBe("11")
          expect(r.erl_enter).toBe("process_not_registered")
          expect(T.format(down.elements[4]!)).toBe(r.erl_enter)
          expect(r.fmt_ts).toBe(`{data,[{"State",hidden}]}`)
          expect(r.fmt_same).toBe("true")
          expect(r.fmt_header).toBe(`{header,"Status for generic server fmt"}`)
          expect(r.replace_ts).toBe("{error,{callback_failed,{gen_server,system_replace_state},{error,undef}}}")
          expect(r.replace_same).toBe("true")
          expect(r.badarity_ts).toBe("{{gen_server,system_replace_state},true}")
          expect(r.badarity_erl).toBe(r.badarity_ts)
          expect(r.state_kept).toBe("11")
          expect(r.child_get).toBe("5")
          expect(r.tuple_get).toBe("7")
          expect(r.mfa_children).toBe("[{t1,true,worker,[ts_worker]},{c1,true,worker,[ts_worker]}]")
          // the reason with the child record, beside erl's (whose stack has more frames)
          expect(r.undef_ts).toBe("{child,undefined,u,{nomod,start_link,[1]},permanent,false,5000,worker,[nomod]}")
          expect(r.undef_same).toBe("true")
          expect(r.invalid_ts).toContain("{error,{invalid_mfa,nope}}")
          expect(r.invalid_same).toBe(`[${Array(12).fill("true").join(",")}]`)
        })
        yield* Effect.provide(Process.run(body), ctx)
      }))
  }
)

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
      yield* startGate.pipe(Effect.provide(ctx1))
      const ref = GenServer.ref(Counter, GenServer.remote("counter", n1))
      yield* Process.run(Effect.gen(function*() {
        expect(yield* GenServer.call(ref, "get")).toBe(1)
        yield* GenServer.cast(ref, { add: 2 })
        expect(yield* GenServer.call(ref, { add: 3 })).toBe(6)
        const late = yield* Effect.flip(GenServer.call(ref, { sleep: 200 }, "20 millis"))
        expect(late._tag).toBe("CallTimeout")
        yield* Process.send(T.tuple(T.atom("gate"), n1), T.atom("release"))
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
