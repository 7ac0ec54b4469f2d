/**
 * `global` against real `erl` (OTP 25): a visible TS node running `GlobalRegistry` joins
 * an Erlang node's `global` (connect handshake, lock, exchange, resolved), so that
 * - `global:sync()` on erl returns;
 * - a name erl registers resolves on TS, and `GlobalRegistry.send` reaches it;
 * - a name TS registers resolves on erl (`global:whereis_name`, `global:send`);
 * - `global:registered_names()` agrees on both sides;
 * - a name whose process dies goes away on TS without any broadcast (its monitor);
 * - junk casts and messages to our `global_name_server` are logged and ignored;
 * - the chapter's mesh: alice (TS) dials bob (erl), who knows carol (erl); `global` connects
 *   alice and carol, `global:sync()` returns on both erl nodes, and alice's name resolves on
 *   carol, which alice never dialled; when bob drops carol, prevent_overlapping_partitions
 *   isolates alice as it would an erl alice.
 */
import * as NetKernel from "@effect-otp/dist/NetKernel"
import * as GenServer from "@effect-otp/gen-server/GenServer"
import * as Process from "@effect-otp/process/Process"
import { ProcessRuntime } from "@effect-otp/process/ProcessRuntime"
import * as T from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { erlAvailable, runErl, startErlScoped, uniqueName } from "../../dist/test/helpers/erl.js"
import { collectLogs, printed } from "../../dist/test/helpers/tsnode.js"
import * as GlobalRegistry from "../src/GlobalRegistry.js"
import { globalNode } from "./helpers.js"

const lines = (out: string): Record<string, string> =>
  Object.fromEntries(
    out.split("\n").filter((l) => l.includes("=")).map((l) => {
      const i = l.indexOf("=")
      return [l.slice(0, i), l.slice(i + 1)]
    })
  )

/** The erl side: joins, registers `erl_name`, waits for `go`, then resolves TS's `ts_name`. */
const erlScript = (tsNode: string) => `
register(ctl, self()),
N = '${tsNode}',
true = net_kernel:connect_node(N),
io:format("sync=~p~n", [global:sync()]),
Echo = spawn(fun Loop() -> receive {From, M} -> From ! {erl_echo, M}, Loop() end end),
yes = global:register_name(erl_name, Echo),
Dies = spawn(fun() -> receive die -> ok end end),
yes = global:register_name(erl_dies, Dies),
io:format("registered~n"),
receive go -> ok end,
io:format("known=~p~n", [lists:member(N, nodes())]),
Ts = global:whereis_name(ts_name),
io:format("whereis=~p~n", [is_pid(Ts) andalso node(Ts) =:= N]),
global:send(ts_name, {self(), hello}),
receive {ts_echo, R} -> io:format("echo=~p~n", [R]) after 5000 -> io:format("echo=timeout~n") end,
Dies ! die,
gen_server:cast({global_name_server, N}, {junk, 1}),
{global_name_server, N} ! junk_info,
{global_name_server, N} ! {cancel_connect, node(), bogus_tag},
{global_name_server, N} ! {init_connect_ack, node(), bogus, bogus},
{global_name_server, N} ! {lost_connection, node(), 1, 1, nonode@nohost},
yes = global:register_name(erl_after_junk, spawn(fun() -> receive _ -> ok end end)),
io:format("names=~p~n", [lists:sort(global:registered_names())]),
io:format("sync2=~p~n", [global:sync()]),
io:format("done~n"),
receive stop -> ok end.
`

describe.skipIf(!erlAvailable())("global with real erl", () => {
  it.scopedLive("names both ways, global:sync() returns against a default (visible) TS node, junk is logged and ignored", () =>
    Effect.gen(function*() {
      const cookie = uniqueName("c")
      const logs: Array<string> = []
      const ctx = yield* Layer.build(
        globalNode(uniqueName("ts"), cookie).pipe(Layer.provide(collectLogs(logs)))
      )
      const body = Effect.gen(function*() {
        const rt = yield* ProcessRuntime
        const tsNode = rt.node.name
        const erlName = uniqueName("erl")
        const erl = yield* startErlScoped({
          args: ["-sname", erlName, "-setcookie", cookie],
          eval: erlScript(tsNode),
          ready: "registered"
        })
        const erlNode = T.atom(`${erlName}@${tsNode.split("@")[1]}`)
        expect(lines(erl.stdout()).sync).toBe("ok")
        yield* GlobalRegistry.sync
        // erl → TS
        const erlPid = Option.getOrThrow(yield* GlobalRegistry.whereisName("erl_name"))
        expect(erlPid.node).toBe(erlNode)
        const reply = yield* Process.run(Effect.gen(function*() {
          const self = yield* Process.self
          yield* GlobalRegistry.send("erl_name", T.tuple(self, T.atom("hi")))
          return yield* Process.receive((m) => T.isTagged(m, "erl_echo", 2))
        }))
        expect(reply.elements[1]).toBe(T.atom("hi"))
        // a pid that dies loses its name here through our monitor (no broadcast); wait on it
        const dies = Option.getOrThrow(yield* GlobalRegistry.whereisName("erl_dies"))
        const diesDown = yield* Process.spawn(Effect.gen(function*() {
          const ref = yield* Process.monitor(dies)
          yield* Process.receive((m) => Process.isDownMessage(m, ref))
        }))
        // TS → erl
        const echo = yield* Process.spawn(
          Effect.forever(Effect.flatMap(Process.receive(), (m) =>
            m instanceof T.Tuple && m.elements.length === 2
              ? Effect.ignore(Process.send(m.elements[0] as Process.Target, T.tuple(T.atom("ts_echo"), m.elements[1]!)))
              : Effect.void))
        )
        expect(yield* GlobalRegistry.registerName("ts_name", echo)).toBe(true)
        expect(yield* GlobalRegistry.registerName("ts_name", echo)).toBe(false)
        yield* Process.send(T.tuple(T.atom("ctl"), erlNode), T.atom("go"))
        yield* Effect.promise(() => erl.waitFor("done"))
        const r = lines(erl.stdout())
        expect(r.known).toBe("true")
        expect(r.whereis).toBe("true")
        expect(r.echo).toBe("hello")
        expect(r.sync2).toBe("ok")
        // erl's names after `erl_dies` died: exactly what TS holds
        expect(r.names).toBe("[erl_after_junk,erl_name,ts_name]")
        yield* Process.run(Effect.gen(function*() {
          const ref = yield* Process.monitor(diesDown)
          yield* Process.receive((m) => Process.isDownMessage(m, ref))
        }))
        // erl_after_junk was registered after the junk: the server survived it
        const names = (yield* GlobalRegistry.registeredNames).map((n) => T.format(n)).sort()
        expect(names).toEqual(["erl_after_junk", "erl_name", "ts_name"])
        expect(logs.some((l) => l.includes("unexpected cast {junk,1}"))).toBe(true)
        expect(logs.some((l) => l.includes("unexpected message junk_info"))).toBe(true)
        expect(Option.isNone(yield* GlobalRegistry.whereisName("erl_dies"))).toBe(true)
        const notThere = yield* Effect.flip(GlobalRegistry.send("nobody", T.atom("x")))
        expect(notThere._tag).toBe("GlobalNotRegistered")
      })
      yield* Effect.provide(body, ctx)
    }))

  it.scopedLive("the chapter's mesh: alice (TS) → bob (erl) ↔ carol (erl) becomes fully connected", () =>
    Effect.gen(function*() {
      const cookie = uniqueName("c")
      const ctx = yield* Layer.build(
        globalNode(uniqueName("alice"), cookie)
      )
      const body = Effect.gen(function*() {
        const rt = yield* ProcessRuntime
        const host = rt.node.name.split("@")[1]!
        const [bob, carol] = [uniqueName("bob"), uniqueName("carol")]
        const [bobNode, carolNode] = [T.atom(`${bob}@${host}`), T.atom(`${carol}@${host}`)]
        yield* startErlScoped({
          args: ["-sname", carol, "-setcookie", cookie],
          eval: `io:format("ready~n"), receive stop -> ok end.`,
          ready: "ready"
        })
        yield* startErlScoped({
          args: ["-sname", bob, "-setcookie", cookie],
          eval: `true = net_kernel:connect_node('${carolNode.name}'), ok = global:sync(), io:format("ready~n"),
                 receive stop -> ok end.`,
          ready: "ready"
        })
        const seesCarol = yield* Process.spawn(Effect.gen(function*() {
          yield* NetKernel.monitorNodes()
          yield* Process.receive((m) => T.isTagged(m, "nodeup") && m.elements[1] === carolNode)
        }))
        yield* NetKernel.connect(bobNode)
        yield* Process.run(Effect.gen(function*() {
          const ref = yield* Process.monitor(seesCarol)
          yield* Process.receive((m) => Process.isDownMessage(m, ref))
        }))
        yield* GlobalRegistry.sync
        expect((yield* NetKernel.nodes("visible")).map((n) => n.name).sort()).toEqual(
          [bobNode.name, carolNode.name].sort()
        )
        const me = yield* Process.spawn(Process.receive())
        expect(yield* GlobalRegistry.registerName("alice_svc", me)).toBe(true)
        const out = yield* Effect.promise(() =>
          runErl(
            `Carol = '${carolNode.name}', Bob = '${bobNode.name}', Alice = '${rt.node.name}',
            true = net_kernel:connect_node(Carol), true = net_kernel:connect_node(Bob),
            io:format("carol_sync=~p~n", [rpc:call(Carol, global, sync, [])]),
            io:format("bob_sync=~p~n", [rpc:call(Bob, global, sync, [])]),
            io:format("carol_nodes=~p~n", [lists:sort(rpc:call(Carol, erlang, nodes, [])) =:= lists:sort([Alice, Bob])]),
            P = rpc:call(Carol, global, whereis_name, [alice_svc]),
            io:format("carol_whereis=~p~n", [is_pid(P) andalso node(P) =:= Alice]),
            io:format("carol_names=~p~n", [rpc:call(Carol, global, registered_names, [])]),
            halt().`,
            { args: ["-sname", uniqueName("probe"), "-setcookie", cookie, "-hidden"], timeoutMs: 30_000 }
          )
        )
        const r = lines(out.stdout)
        expect(r.carol_sync).toBe("ok")
        expect(r.bob_sync).toBe("ok")
        expect(r.carol_nodes).toBe("true")
        expect(r.carol_whereis).toBe("true")
        expect(r.carol_names).toBe("[alice_svc]")

        // prevent_overlapping_partitions with erl: bob drops carol; both erl nodes report it
        // to alice, who asks each to drop her: alice ends up alone, as an erl alice would
        const losesBoth = yield* Process.spawn(Effect.gen(function*() {
          yield* NetKernel.monitorNodes()
          const lost = new Set<T.Atom>()
          while (lost.size < 2) {
            const m = yield* Process.receive((m) => T.isTagged(m, "nodedown", 2))
            lost.add(m.elements[1] as T.Atom)
          }
        }))
        yield* Effect.promise(() =>
          runErl(
            `true = rpc:call('${bobNode.name}', erlang, disconnect_node, ['${carolNode.name}']), halt().`,
            { args: ["-sname", uniqueName("probe"), "-setcookie", cookie, "-hidden"], timeoutMs: 30_000 }
          )
        )
        yield* Process.run(Effect.gen(function*() {
          const ref = yield* Process.monitor(losesBoth)
          yield* Process.receive((m) => Process.isDownMessage(m, ref))
        }))
        expect(yield* NetKernel.nodes("visible")).toEqual([])
      })
      yield* Effect.provide(body, ctx)
    }))

  it.scopedLive("trans on TS and erl over one resource: mutual exclusion; gen_server {global, Name} both ways", () =>
    Effect.gen(function*() {
      const cookie = uniqueName("c")
      const ctx = yield* Layer.build(
        globalNode(uniqueName("ts"), cookie)
      )
      const rounds = 25
      const body = Effect.gen(function*() {
        const rt = yield* ProcessRuntime
        const erlName = uniqueName("erl")
        const erlNode = T.atom(`${erlName}@${rt.node.name.split("@")[1]}`)
        // a TS gen_server registered as {global, ts_gs}
        const Echo = GenServer.make({
          init: (_: void) => Effect.succeed({ state: 0 }),
          handleCall: (req, _from, n: number) => Effect.succeed({ reply: T.tuple(T.atom("ts_gs"), req), state: n })
        })
        yield* GenServer.start(Echo, undefined, { name: yield* GlobalRegistry.via("ts_gs") })
        const erl = yield* startErlScoped({
          args: ["-sname", erlName, "-setcookie", cookie],
          eval: `register(ctl, self()),
            true = net_kernel:connect_node('${rt.node.name}'), ok = global:sync(),
            L = fun Loop(V) -> receive {get, F} -> F ! {val, V}, Loop(V); {set, X} -> Loop(X) end end,
            yes = global:register_name(ctr, spawn(fun() -> L(0) end)),
            G = fun GLoop() -> receive {'$gen_call', From, Req} -> gen:reply(From, {erl_gs, Req}), GLoop() end end,
            yes = global:register_name(erl_gs, spawn(G)),
            io:format("gs=~p~n", [gen_server:call({global, ts_gs}, ping)]),
            io:format("ready~n"),
            receive go -> ok end,
            Incr = fun() -> global:send(ctr, {get, self()}),
                            receive {val, V} -> erlang:yield(), global:send(ctr, {set, V + 1}) end end,
            [global:trans({ctr_lock, self()}, Incr) || _ <- lists:seq(1, ${rounds})],
            io:format("erl_done~n"),
            receive stop -> ok end.`,
          ready: "ready"
        })
        expect(lines(erl.stdout()).gs).toBe("{ts_gs,ping}")
        expect(yield* GenServer.call(yield* GlobalRegistry.via("erl_gs"), T.atom("pong"))).toEqual(
          T.tuple(T.atom("erl_gs"), T.atom("pong"))
        )
        yield* Process.send(T.tuple(T.atom("ctl"), erlNode), T.atom("go"))
        const final = yield* Process.run(Effect.gen(function*() {
          const self = yield* Process.self
          const get = Effect.gen(function*() {
            yield* GlobalRegistry.send("ctr", T.tuple(T.atom("get"), self))
            const v = yield* Process.receive((m) => T.isTagged(m, "val", 2))
            return v.elements[1] as number
          })
          for (let i = 0; i < rounds; i++) {
            yield* GlobalRegistry.trans(
              [T.atom("ctr_lock"), self],
              Effect.flatMap(get, (v) => GlobalRegistry.send("ctr", T.tuple(T.atom("set"), v + 1)))
            )
          }
          yield* Effect.promise(() => erl.waitFor("erl_done"))
          return yield* get
        }))
        expect(final).toBe(2 * rounds)
      })
      yield* Effect.provide(body, ctx)
    }))

  /**
   * Partition and heal: erl drops the connection, each side registers `dup` alone, erl
   * reconnects. As in an all-erl cluster (`random_exit_name`), the pid on the node with
   * the smaller name keeps `dup` everywhere and the other is killed. With the TS node's
   * name smaller, our resolver decides; with it larger, erl's resolver decides and kills
   * our pid with an exit signal.
   */
  for (const [prefix, tsWins] of [["a", true], ["z", false]] as const) {
    it.scopedLive(`partition and heal: a name conflict resolves to the smaller node (TS ${tsWins ? "wins" : "loses"})`, () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const ctx = yield* Layer.build(
          globalNode(uniqueName(prefix), cookie)
        )
        const body = Effect.gen(function*() {
          const rt = yield* ProcessRuntime
          const erlName = uniqueName("m")
          const erlNode = T.atom(`${erlName}@${rt.node.name.split("@")[1]}`)
          const erl = yield* startErlScoped({
            args: ["-sname", erlName, "-setcookie", cookie],
            eval: `register(ctl, self()), N = '${rt.node.name}',
              true = net_kernel:connect_node(N), ok = global:sync(),
              io:format("joined~n"),
              receive cut -> ok end,
              true = erlang:disconnect_node(N),
              Mine = spawn(fun() -> receive _ -> ok end end),
              yes = global:register_name(dup, Mine),
              io:format("cut~n"),
              receive {heal, From} -> ok end,
              true = net_kernel:connect_node(N), ok = global:sync(),
              W = global:whereis_name(dup),
              io:format("winner_is_mine=~p~n", [W =:= Mine]),
              io:format("winner_node=~p~n", [node(W)]),
              io:format("mine_alive=~p~n", [is_process_alive(Mine)]),
              From ! healed,
              receive stop -> ok end.`,
            ready: "joined"
          })
          yield* GlobalRegistry.sync
          const mine = yield* Process.spawn(Process.receive())
          const ctl = T.tuple(T.atom("ctl"), erlNode)
          const gone = yield* Process.spawn(Effect.gen(function*() {
            yield* NetKernel.monitorNodes()
            yield* Process.receive((m) => T.isTagged(m, "nodedown") && m.elements[1] === erlNode)
          }))
          yield* Process.send(ctl, T.atom("cut"))
          yield* Process.run(Effect.gen(function*() {
            const ref = yield* Process.monitor(gone)
            yield* Process.receive((m) => Process.isDownMessage(m, ref))
          }))
          yield* Effect.promise(() => erl.waitFor("cut"))
          expect(yield* GlobalRegistry.registerName("dup", mine)).toBe(true)
          const mineDown = yield* Process.spawn(Effect.gen(function*() {
            const ref = yield* Process.monitor(mine)
            yield* Process.receive((m) => Process.isDownMessage(m, ref))
          }))
          yield* Process.run(Effect.gen(function*() {
            yield* Process.send(ctl, T.tuple(T.atom("heal"), yield* Process.self))
            yield* Process.receive((m) => m === T.atom("healed"))
          }))
          yield* GlobalRegistry.sync
          const r = lines(yield* Effect.promise(() => erl.waitFor(/mine_alive=\w+\n/)))
          const winner = Option.getOrThrow(yield* GlobalRegistry.whereisName("dup"))
          if (tsWins) {
            expect(winner).toEqual(mine)
            expect(r.winner_node).toBe(printed(rt.node.name)) // as erl prints it (quoted when the host has a '-')
            expect(r.mine_alive).toBe("false")
          } else {
            expect(winner.node).toBe(erlNode)
            expect(r.winner_is_mine).toBe("true")
            expect(r.mine_alive).toBe("true")
            // our pid was killed by erl's resolver
            yield* Process.run(Effect.gen(function*() {
              const ref = yield* Process.monitor(mineDown)
              yield* Process.receive((m) => Process.isDownMessage(m, ref))
            }))
          }
          expect((yield* GlobalRegistry.registeredNames).map(T.format)).toEqual(["dup"])
        })
        yield* Effect.provide(body, ctx)
      }))
  }

  /**
   * erl's resolver calls `global:resolve_it/4` on our node: a (erl) and m (TS) form one
   * partition where m's pid holds `dup`; b (erl) holds `dup` alone. a meets b, and a, the
   * smaller node, calls resolve_it on m (the node of its partition's pid). Our resolve_it
   * runs `random_exit_name`: b's pid (smaller node) keeps the name and m's pid is killed.
   * Without resolve_it on m, erl's `{badrpc, _}` rule would keep b's pid and kill nothing.
   */
  it.scopedLive("erl's resolver calls global:resolve_it on the TS node, which kills the loser", () =>
    Effect.gen(function*() {
      const cookie = uniqueName("c")
      const ctx = yield* Layer.build(
        globalNode(uniqueName("m"), cookie)
      )
      const body = Effect.gen(function*() {
        const rt = yield* ProcessRuntime
        const host = rt.node.name.split("@")[1]!
        const [aName, bName] = [uniqueName("a"), uniqueName("b")]
        const bNode = T.atom(`${bName}@${host}`)
        const b = yield* startErlScoped({
          args: ["-sname", bName, "-setcookie", cookie],
          eval: `P = spawn(fun() -> receive _ -> ok end end), yes = global:register_name(dup, P),
                 io:format("ready~n"), receive stop -> ok end.`,
          ready: "ready"
        })
        void b
        const mine = yield* Process.spawn(Process.receive())
        const mineDown = yield* Process.spawn(Effect.gen(function*() {
          const ref = yield* Process.monitor(mine)
          return yield* Process.receive((m) => Process.isDownMessage(m, ref))
        }))
        const a = yield* startErlScoped({
          args: ["-sname", aName, "-setcookie", cookie],
          eval: `register(ctl, self()),
                 true = net_kernel:connect_node('${rt.node.name}'), ok = global:sync(), io:format("joined~n"),
                 receive {meet, From} -> ok end,
                 true = net_kernel:connect_node('${bNode.name}'), ok = global:sync(),
                 W = global:whereis_name(dup),
                 io:format("winner=~p~n", [node(W)]),
                 From ! met,
                 receive stop -> ok end.`,
          ready: "joined"
        })
        yield* GlobalRegistry.sync
        expect(yield* GlobalRegistry.registerName("dup", mine)).toBe(true)
        yield* Process.run(Effect.gen(function*() {
          yield* Process.send(
            T.tuple(T.atom("ctl"), T.atom(`${aName}@${host}`)),
            T.tuple(T.atom("meet"), yield* Process.self)
          )
          yield* Process.receive((m) => m === T.atom("met"))
        }))
        const r = lines(yield* Effect.promise(() => a.waitFor(/winner=\S+\n/)))
        expect(r.winner).toBe(printed(bNode.name))
        // killed by our resolve_it (random_exit_name)
        yield* Process.run(Effect.gen(function*() {
          const ref = yield* Process.monitor(mineDown)
          yield* Process.receive((m) => Process.isDownMessage(m, ref))
        }))
        expect(rt.unsafeIsAlive(mine)).toBe(false)
      })
      yield* Effect.provide(body, ctx)
    }))

  /**
   * OTP 26+ `gen_server:multi_call` tags its calls `[[alias|Alias]|MonRef]` and takes the
   * reply through the alias. Only OTP 25 is installed, so erl crafts those calls by hand:
   * From's pid is another (dummy) process, so the reply only arrives if our server sends
   * it to the alias, as OTP 26's `gen:reply` does.
   */
  it.scopedLive("OTP 26 multi_call reply tag [[alias|A]|MonRef]: set_lock/del_lock answered through the alias", () =>
    Effect.gen(function*() {
      const cookie = uniqueName("c")
      const ctx = yield* Layer.build(globalNode(uniqueName("ts"), cookie))
      const body = Effect.gen(function*() {
        const rt = yield* ProcessRuntime
        const erl = yield* startErlScoped({
          args: ["-sname", uniqueName("e"), "-setcookie", cookie],
          eval: `N = '${rt.node.name}', S = {global_name_server, N},
            true = net_kernel:connect_node(N), ok = global:sync(),
            Dummy = spawn(fun() -> receive _ -> ok end end),
            Call = fun(Req) ->
              Mref = erlang:monitor(process, S),
              Alias = alias(),
              Tag = [[alias|Alias]|Mref],
              erlang:send(S, {'$gen_call', {Dummy, Tag}, Req}, [noconnect]),
              receive {Tag, R} -> unalias(Alias), erlang:demonitor(Mref, [flush]), R
              after 5000 -> timeout end
            end,
            io:format("set=~p~n", [Call({set_lock, {otp26_res, req1}})]),
            io:format("other=~p~n", [Call({set_lock, {otp26_res, req2}})]),
            io:format("del=~p~n", [Call({del_lock, {otp26_res, req1}})]),
            io:format("again=~p~n", [Call({set_lock, {otp26_res, req2}})]),
            io:format("done~n"),
            receive stop -> ok end.`,
          ready: "done"
        })
        const r = lines(yield* Effect.promise(() => erl.waitFor("done")))
        // the lock is held by Dummy (From's pid), refused to another requester, freed by del_lock
        expect([r.set, r.other, r.del, r.again]).toEqual(["true", "false", "true", "true"])
      })
      yield* Effect.provide(body, ctx)
    }))

  /**
   * Stale `init_connect_ack`s after a reconnect. erl suspends its `global_name_server`,
   * connects (our `init_connect` waits in its mailbox), drops the connection and connects
   * again (we start a new session with a new tag), then resumes it. Its server then runs
   * both sessions back to back: we get two `init_connect`s and an `init_connect_ack` for our
   * old tag. OTP 25 restarts on that ack, and so does the peer on the answer: two erl nodes
   * in this very scenario loop for good (thousands of `cancel_connect`s a second and
   * `global:sync()` never returns; checked with OTP 25.2.3). We ignore the stale ack and only
   * answer the peer's newest tag once it has acked ours, so erl gets no `cancel_connect`
   * and no second `init_connect` from us, and its `global:sync()` returns on this connection.
   */
  it.scopedLive("stale init_connect_acks after a reconnect are ignored: no cancel_connect/restart loop, global:sync() returns", () =>
    Effect.gen(function*() {
      const cookie = uniqueName("c")
      const logs: Array<string> = []
      const ctx = yield* Layer.build(globalNode(uniqueName("ts"), cookie).pipe(Layer.provide(collectLogs(logs))))
      const body = Effect.gen(function*() {
        const rt = yield* ProcessRuntime
        const erl = yield* startErlScoped({
          args: ["-sname", uniqueName("e"), "-setcookie", cookie],
          eval: `N = '${rt.node.name}', G = whereis(global_name_server),
            InitConnects = fun() ->
              {messages, Ms} = process_info(G, messages),
              length([x || {'$gen_cast', {init_connect, _, Node, _}} <- Ms, Node =:= N])
            end,
            WaitFor = fun W(K, 0) -> exit({no_init_connect, K}); W(K, I) ->
              case InitConnects() >= K of true -> ok; false -> timer:sleep(5), W(K, I - 1) end end,
            ok = sys:suspend(G),
            true = net_kernel:connect_node(N),
            WaitFor(1, 2000),
            true = erlang:disconnect_node(N),
            true = net_kernel:connect_node(N),
            WaitFor(2, 2000),
            erlang:trace(G, true, ['receive']),
            ok = sys:resume(G),
            Self = self(),
            spawn(fun() -> Self ! {synced, global:sync()} end),
            Count = fun C(Cancels, Inits) -> receive
                {trace, G, 'receive', {cancel_connect, N, _}} -> C(Cancels + 1, Inits);
                {trace, G, 'receive', {'$gen_cast', {init_connect, _, N, _}}} -> C(Cancels, Inits + 1);
                {trace, G, 'receive', _} -> C(Cancels, Inits);
                {synced, R} -> {R, Cancels, Inits}
              after 20000 -> {timeout, Cancels, Inits} end end,
            {Sync, Cancels, Inits} = Count(0, 0),
            erlang:trace(G, false, ['receive']),
            io:format("sync=~p~ncancels=~p~ninits=~p~n", [Sync, Cancels, Inits]),
            yes = global:register_name(after_stale, self()),
            io:format("done~n"),
            receive stop -> ok end.`,
          ready: "done",
          timeoutMs: 40_000
        })
        const r = lines(yield* Effect.promise(() => erl.waitFor("done")))
        expect(r.sync).toBe("ok")
        // after the two init_connects queued while it was suspended, erl got no cancel_connect
        // and no further init_connect from us: we never restarted
        expect(r.cancels).toBe("0")
        expect(r.inits).toBe("0")
        expect(logs.some((l) => l.includes("stale init_connect_ack"))).toBe(true)
        expect(logs.some((l) => l.includes("restarting the connect"))).toBe(false)
        yield* GlobalRegistry.sync
        expect(Option.isSome(yield* GlobalRegistry.whereisName("after_stale"))).toBe(true)
      })
      yield* Effect.provide(body, ctx)
    }))
})
