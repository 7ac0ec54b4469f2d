/**
 * Chapter 22, "A Distributed Key-Value Store": `dist_kv` as the chapter has it, in
 * TypeScript. Its Erlang original is `examples/erlang/dist_kv.erl`; both run in one
 * cluster and serve each other, because the terms on the wire are the same:
 *
 * ```erlang
 * start_link() -> gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).
 * put(Key, Value) ->
 *     [gen_server:cast({?MODULE, Node}, {put, Key, Value}) || Node <- [node() | nodes()]],
 *     ok.
 * get(Key) -> gen_server:call(?MODULE, {get, Key}).
 * init([]) -> {ok, #{}}.
 * handle_call({get, Key}, _From, State) -> {reply, maps:get(Key, State, undefined), State}.
 * handle_cast({put, Key, Value}, State) -> {noreply, State#{Key => Value}}.
 * ```
 *
 * `module` publishes `dist_kv:put/2` and `dist_kv:get/1` for rpc, so an Erlang node can
 * also run `rpc:call(TsNode, dist_kv, get, [Key])`. `npm run example:dist-kv` runs the
 * chapter's session over alice (this OS process), bob (another one, `peer.ts`) and, when
 * `erl` is installed, carol (an Erlang node running the chapter's module).
 */
import * as Module from "@effect-otp/dist/Module"
import * as NetKernel from "@effect-otp/dist/NetKernel"
import * as Rpc from "@effect-otp/dist/Rpc"
import { GenServer } from "@effect-otp/gen-server"
import * as Process from "@effect-otp/process/Process"
import type * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { atom, charlist, format, map, type Term, type TermMap, tuple } from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { pathToFileURL } from "node:url"
import { erlAvailable, erlEval, eventually, localNode, main, nameOf, print, startErl, startPeer } from "./cluster.js"

const tag = <const A extends string>(name: A) => Schema.compose(Module.Atom, Schema.Literal(name))

/** `{get, Key}` */
export const Get = Module.TupleOf(tag("get"), Module.Term)

/** `{put, Key, Value}` */
export const Put = Module.TupleOf(tag("put"), Module.Term, Module.Term)

/** The server: its state is an Erlang map, as in the chapter (so `sys:get_state` shows `#{...}`). */
export const DistKv = GenServer.make({
  name: "dist_kv",
  request: Get,
  reply: Module.Term,
  cast: Put,
  init: () => Effect.succeed({ state: map([]) as TermMap }),
  handleCall: ([, key], _from, state) => Effect.succeed({ reply: state.get(key) ?? atom("undefined"), state }),
  handleCast: ([, key, value], state) => Effect.succeed({ state: state.set(key, value) })
})

/** `dist_kv:start_link()`: starts the server, registered as `dist_kv`, linked to the calling process. */
export const startLink = GenServer.startLink(DistKv, undefined, { name: "dist_kv" })

/** `dist_kv:start()`: the same, not linked (for a node's lifetime). */
export const start = GenServer.start(DistKv, undefined, { name: "dist_kv" })

/** `dist_kv:put(Key, Value)`: casts `{put, Key, Value}` to `{dist_kv, N}` for every N in `[node() | nodes()]`. */
export const put = (
  key: Term,
  value: Term
): Effect.Effect<Term, never, NetKernel.NetKernel | ProcessRuntime.ProcessRuntime> =>
  Effect.gen(function*() {
    const nodes = [yield* NetKernel.node, ...(yield* NetKernel.nodes())]
    for (const node of nodes) {
      yield* Effect.orDie(GenServer.cast(GenServer.ref(DistKv, GenServer.remote("dist_kv", node)), ["put", key, value]))
    }
    return atom("ok")
  })

/** `dist_kv:get(Key)`: a local call; the value, or `undefined`. */
export const get = (key: Term): Effect.Effect<Term, GenServer.CallError, ProcessRuntime.ProcessRuntime> =>
  GenServer.call(GenServer.ref(DistKv, "dist_kv"), ["get", key])

/** `dist_kv:put/2` and `get/1` for rpc (`rpc:call(Node, dist_kv, get, [Key])` from any node). */
export const module = Module.make("dist_kv", {
  put: Module.fn({ args: Schema.Tuple(Module.Term, Module.Term), result: Module.Term }, put),
  get: Module.fn({ args: Schema.Tuple(Module.Term), result: Module.Term }, (key) => Effect.orDie(get(key)))
})

/** The chapter's session across the cluster; `print`s the transcript. */
export const session = Effect.gen(function*() {
  const withErl = erlAvailable()
  const alice = yield* Layer.build(localNode(nameOf("alice")))
  const aliceNode = (yield* NetKernel.node.pipe(Effect.provide(alice))).name
  const [bob, carol] = yield* Effect.all([
    startPeer(nameOf("bob"), { label: "bob", join: [aliceNode] }),
    withErl ? Effect.asSome(startErl(nameOf("carol"), ["dist_kv"])) : Effect.succeedNone
  ], { concurrency: "unbounded" })
  yield* Process.run(Effect.gen(function*() {
    const greeting = atom("greeting")
    print(`(alice)1> dist_kv:start_link().   %% bob started his at boot`)
    const kv = yield* startLink
    print(`{ok,${format(kv.pid)}}`)
    if (carol._tag === "Some") {
      const c = carol.value.node
      print(`(carol)1> net_adm:ping('${aliceNode}'), net_adm:ping('${bob.node}'), dist_kv:start_link().`)
      print(format(
        yield* erlEval(
          c,
          `pong = net_adm:ping(A), pong = net_adm:ping(B), {ok, P} = dist_kv:start_link(), unlink(P), {ok, P}.`,
          { A: atom(aliceNode), B: atom(bob.node) }
        )
      ))
    } else {
      print(`%% carol (an Erlang node) SKIPPED: ${process.env.EXAMPLE_NO_ERL === "1" ? "EXAMPLE_NO_ERL=1" : "no erl"}`)
    }
    print(`(alice)2> lists:sort(nodes()).`)
    print(format([...(yield* NetKernel.nodes())].sort((a, b) => a.name < b.name ? -1 : 1)))
    print(`(alice)3> dist_kv:put(greeting, "hello world").`)
    print(format(yield* put(greeting, charlist("hello world"))))
    print(`(alice)4> dist_kv:get(greeting).`)
    print(format(yield* get(greeting)))
    print(`(bob)1> dist_kv:get(greeting).`)
    print(format(yield* Rpc.call(bob.node, "dist_kv", "get", [greeting])))
    if (carol._tag === "Some") {
      const c = carol.value.node
      print(`(carol)2> dist_kv:get(greeting).`)
      print(format(yield* erlEval(c, `dist_kv:get(greeting).`)))
      print(`(carol)3> dist_kv:put(lang, {erlang, 25}).   %% the Erlang module writes to every node`)
      print(format(yield* erlEval(c, `dist_kv:put(lang, {erlang, 25}).`)))
      const lang = tuple(atom("erlang"), 25)
      print(`(alice)5> dist_kv:get(lang).`)
      print(format(yield* get(atom("lang"))))
      print(`(bob)2> dist_kv:get(lang).   %% carol's cast to bob and this read take different connections`)
      print(format(yield* eventually(Rpc.call(bob.node, "dist_kv", "get", [atom("lang")]), lang)))
    }
    print(`(bob)3> dist_kv:put(answer, 42).`)
    print(format(yield* Rpc.call(bob.node, "dist_kv", "put", [atom("answer"), 42])))
    print(`(alice)6> dist_kv:get(answer).`)
    print(format(yield* get(atom("answer"))))
    if (carol._tag === "Some") {
      print(`(carol)4> dist_kv:get(answer).`)
      print(format(yield* eventually(erlEval(carol.value.node, `dist_kv:get(answer).`), 42)))
    }
    print(`(alice)7> dist_kv:get(missing).`)
    print(format(yield* get(atom("missing"))))
  })).pipe(Effect.provide(alice))
})

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) main(session)
