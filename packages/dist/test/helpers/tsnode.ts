/**
 * Test helpers for the interop suites: TS nodes (each with its own ProcessRuntime, so
 * several can live in one test process), a compiled Erlang peer module, erl log checks,
 * free ports and a log collector.
 */
import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { RemoteName } from "@effect-otp/process/Signal"
import { Atom, binary, format, isTagged, Tuple, tuple } from "@effect-otp/process/Term"
import { expect } from "@effect/vitest"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as net from "node:net"
import * as DistNode from "../../src/DistNode.js"
import * as Epmd from "../../src/Epmd.js"
import * as NodeName from "../../src/NodeName.js"
import * as Transport from "../../src/Transport.js"
import { compileErl, type ErlNode, type StartErlOptions, startErlScoped } from "./erl.js"

/**
 * The host part of short names here, derived as the node derives it (`NodeName.localHost`,
 * what `DistNode.layer` and `erl -sname` complete a bare name with). It need not resolve:
 * the node, like erl, takes its own unresolvable host name for loopback.
 */
export const host: string = Either.getOrThrow(NodeName.localHost())

/** How erl prints the atom `name` with `~p`/`~w`: quoted when it must be (`'a@laptop-42'`). */
export const printed = (name: string): string => format(Atom.make(name))

/** How erl prints the node `alive@host` with `~p`/`~w`: an atom, quoted when it must be (`'a@laptop-42'`). */
export const printedNode = (alive: string): string => format(Atom.make(`${alive}@${host}`))

/** `text` as a literal inside a `RegExp` (a host name may hold `.` or `-`). */
export const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/**
 * The name server of dist's own test nodes: none. A visible node requires OTP's `global`
 * (`DistNode.NameServer`, from `@effect-otp/global`, which dist cannot depend on); these
 * tests check the distribution layer alone, so their visible nodes start nothing (erl's
 * `global:sync()` would block against them; no test here calls it). Not for use outside
 * dist's tests: `packages/global/test` runs the real one.
 */
export const withoutGlobal: Layer.Layer<DistNode.NameServer> = Layer.succeed(DistNode.NameServer, {
  start: Effect.void
})

/**
 * A TS node: the default DistNode (TCP, `Epmd.layerAuto`, rpc) over its own ProcessRuntime
 * (both in the output). Hidden unless `extra.hidden` is `false` (dist's tests were
 * written for the old hidden default; a visible one gets `withoutGlobal`).
 */
export const nodeLayer = (name: string, cookie: string, extra: Partial<DistNode.Options> = {}) =>
  DistNode.layerDefault({ name, cookie, hidden: true, ...extra }).pipe(
    Layer.provide(withoutGlobal),
    Layer.provideMerge(ProcessRuntime.layer)
  )

/** A TS node on the given carrier and EPMD (`parts`, also in the output), over its own ProcessRuntime. */
export const nodeLayerWith = <ROut, E>(
  name: string,
  cookie: string,
  parts: Layer.Layer<ROut, E>,
  extra: Partial<DistNode.Options> = {}
) =>
  DistNode.layer({ name, cookie, hidden: true, ...extra }).pipe(
    Layer.provide(withoutGlobal),
    Layer.provideMerge(parts),
    Layer.provideMerge(ProcessRuntime.layer)
  )

/** Build a TS node for the current scope; provide the result to run code "on" that node. */
export const buildNode = (name: string, cookie: string, extra: Partial<DistNode.Options> = {}) =>
  Layer.build(nodeLayer(name, cookie, extra))

/** An embedded epmd on a free port for the scope; returns a builder of TS nodes using it (logs collected into `logs` if given). */
export const cluster = Effect.gen(function*() {
  const epmd = yield* Layer.build(Epmd.layerServer({ port: 0 }))
  const epmdLayer = Layer.succeedContext(Context.pick(Epmd.Epmd)(epmd))
  return (name: string, cookie: string, extra: Partial<DistNode.Options> = {}, logs?: Array<string>) =>
    Layer.build(
      nodeLayerWith(name, cookie, Layer.merge(Transport.layerTcp, epmdLayer), extra).pipe(
        Layer.provide(logs === undefined ? Layer.empty : collectLogs(logs))
      )
    )
})

/** Spawns a TS process registered as `echo`: `{From, Msg}` -> `From ! {echo, Msg}` (the chapter's echo). */
export const tsEcho = Process.spawn(
  Effect.forever(Effect.flatMap(Process.receive(), (m) =>
    m instanceof Tuple && m.elements.length === 2
      ? Effect.ignore(Process.send(m.elements[0] as Process.Target, tuple(Atom.make("echo"), m.elements[1]!)))
      : Effect.void)),
  { name: "echo" }
)

/** Sends `{self(), <<text>>}` to `echo` on `node` and waits up to 5 s for the `{echo, _}` answer. */
export const echoRoundTrip = (node: string, text: string) =>
  Process.run(Effect.gen(function*() {
    const self = yield* Process.self
    yield* Process.send(new RemoteName({ name: Atom.make("echo"), node: Atom.make(node) }), tuple(self, binary(text)))
    return yield* Process.receive((m) => isTagged(m, "echo", 2) ? Option.some(m) : Option.none(), {
      after: "5 seconds"
    })
  }))

/** Receive `{tag, ...}` with `arity` elements within `after` (5 s by default), or die (failing the test). */
export const expectTagged = (tag: string, arity: number, after: Duration.DurationInput = "5 seconds") =>
  Effect.flatMap(
    Process.receive((m) => isTagged(m, tag, arity) ? Option.some(m as Tuple) : Option.none(), { after }),
    Option.match({
      onNone: () => Effect.dieMessage(`no {${tag}, ...} message within ${String(after)}`),
      onSome: Effect.succeed
    })
  )

/**
 * The Erlang side of the interop tests. `start/0` registers:
 * - `echo`: `{From, Msg}` -> `From ! {echo, Msg}` (the chapter's echo)
 * - `worker`: the chapter's `send_work` server: `{work, From, W}` -> `From ! {result, W * 2}`
 * - `silent`: swallows everything (for the `send_work` timeout)
 * - `peer`: commands (see `peer/0`)
 * and prints `ready`.
 */
export const PEER_MODULE = `
-module(interop_peer).
-export([start/0, worker/0]).

start() ->
    register(echo, spawn(fun echo/0)),
    register(worker, spawn(fun worker/0)),
    register(silent, spawn(fun silent/0)),
    register(peer, spawn(fun peer/0)),
    io:format("ready~n").

echo() ->
    receive {From, Msg} -> From ! {echo, Msg} end,
    echo().

worker() ->
    receive
        {work, From, Work} when is_integer(Work) -> From ! {result, Work * 2};
        {work, From, Work} -> From ! {result, {done, Work}}
    end,
    worker().

silent() ->
    receive _ -> silent() end.

peer() ->
    receive
        {send_to, Pid, Msg} -> Pid ! Msg;
        {give_worker, From} -> From ! {worker_pid, whereis(worker)};
        {remote_worker, Node, From} -> From ! {worker_pid, rpc:call(Node, erlang, whereis, [worker])};
        {count, From, N} -> From ! {counter, spawn(fun() -> count(From, N, 1) end)};
        {emit, To, N} -> spawn(fun() -> emit(To, 1, N) end);
        {bin, From, B} -> From ! {bin, B, crypto:hash(sha256, B)};
        {is_pid, From, X} -> From ! {is_pid, is_pid(X), node(X)}
    end,
    peer().

count(From, N, I) when I > N ->
    io:format("count ok ~p~n", [N]),
    From ! {count_result, ok, N};
count(From, N, I) ->
    receive
        {seq, I} -> count(From, N, I + 1);
        Other ->
            io:format("count bad at ~p: ~p~n", [I, Other]),
            From ! {count_result, bad, I}
    end.

emit(To, I, N) when I > N -> To ! {seq_done, N};
emit(To, I, N) -> To ! {seq, I}, emit(To, I + 1, N).
`

/** The directory with `interop_peer.beam` (compiled once per test run). */
export const peerBeamDir = (): string => compileErl({ interop_peer: PEER_MODULE })

/** Starts `erl -sname <name> -setcookie <cookie>` running `interop_peer:start()`; killed with the scope. */
export const startPeer = (
  name: string,
  cookie: string,
  options: { readonly env?: Readonly<Record<string, string>>; readonly args?: ReadonlyArray<string> } = {}
): Effect.Effect<ErlNode, Error, Scope.Scope> =>
  Effect.suspend(() => {
    const opts: StartErlOptions = {
      args: ["-sname", name, "-setcookie", cookie, "-pa", peerBeamDir(), ...(options.args ?? [])],
      eval: "interop_peer:start().",
      ready: "ready",
      ...(options.env !== undefined ? { env: options.env } : {})
    }
    return startErlScoped(opts)
  })

/** Lines of erl's output that indicate a distribution problem or any error report. */
const badLine = /=ERROR REPORT|=WARNING REPORT|=CRASH REPORT|^\*\* |Connection attempt|invalid|rejected/im

/** Asserts erl printed no error report and no distribution complaint (stdout + stderr). */
export const expectCleanErlLog = (node: ErlNode): void => {
  const all = `${node.stdout()}\n${node.stderr()}`
  const bad = all.split("\n").filter((l) => badLine.test(l))
  expect(bad, `erl's log:\n${all}`).toEqual([])
}

/** A TCP port with nothing listening on it (found by binding port 0 on 127.0.0.1 and closing). */
export const freePort = (): Effect.Effect<number> =>
  Effect.async<number>((resume) => {
    const server = net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resume(Effect.succeed(port)))
    })
  })

/** A logger that collects every message (as text) into `lines`, as a layer for `Layer.provide`. */
export const collectLogs = (lines: Array<string>): Layer.Layer<never> =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ logLevel, message }) => {
      lines.push(`${logLevel.label} ${Array.isArray(message) ? message.map(String).join(" ") : String(message)}`)
    })
  )
