/**
 * A typed `gen_server` whose messages are OTP's.
 *
 * ```ts
 * const Counter = GenServer.make({
 *   name: "counter",
 *   request: Schema.Literal("get", "bump").pipe(...),   // call requests (Encoded side = the wire term)
 *   reply: TermSchema.Integer,                          // call replies
 *   cast: ...,                                          // casts
 *   init: (start: number) => Effect.succeed({ state: start }),
 *   handleCall: (req, from, n) => Effect.succeed(req === "get" ? { reply: n, state: n } : { reply: n + 1, state: n + 1 }),
 *   handleCast: (msg, n) => Effect.succeed({ state: n })
 * })
 * const server = yield* GenServer.start(Counter, 0, { name: "counter" })
 * const n = yield* GenServer.call(server, "get")          // n: number
 * ```
 *
 * On the wire a call is `{'$gen_call', {Pid, Tag}, Request}` and its reply `{Tag, Reply}`, a
 * cast is `{'$gen_cast', Request}`, and `{system, From, Msg}` answers `sys`: an Erlang node calls
 * a TS server with `gen_server:call({Name, Node}, Req)`, and `GenServer.call` calls an Erlang
 * `gen_server`. A call uses an alias monitor for its duration, exactly as OTP 25's
 * `gen:do_call`, so a reply that arrives after the timeout is dropped, never left in the
 * caller's mailbox.
 *
 * Callbacks return Effects and results are plain objects (OTP's tuples):
 * - `init` → `{ state, ...action }`, `{ ignore: true }` or `{ stop: reason }`;
 * - `handleCall` → `{ reply, state, ...action }`, `{ state, ...action }` (noreply: answer later
 *   with `reply(from, value)`), or `{ stop: reason, state, reply? }`;
 * - `handleCast`, `handleInfo`, `handleContinue` → `{ state, ...action }` or `{ stop, state }`;
 * - an action is `timeout` (an inactivity timeout: `handleInfo` then receives the atom
 *   `timeout`), `hibernate` (accepted and ignored: a JS process has no heap to shrink) and
 *   `continue` (runs `handleContinue` before the next message).
 *
 * A callback that fails (or dies) ends the server: the failure becomes the exit reason
 * (a `Term` or `ProcessExit` as is, anything else `{effect_failure, <<Text>>}`), the crash is
 * logged, and `terminate` runs. `terminate` also runs on `stop` and on an exit signal from the
 * parent when the server traps exits (`Process.trapExit(true)` in `init`), as in OTP. A request
 * that does not decode with the request schema is answered with a typed `BadRequest` (on the
 * wire `{'$gen_bad_request', <<Text>>}`); a cast that does not decode is logged; the server
 * lives on in both cases.
 *
 * `sys`: the server answers `get_state`, `get_status` (shaped by the optional `formatStatus`
 * callback, OTP 25's `format_status/1`), `replace_state`, `suspend`, `resume`, `change_code`
 * (through `codeChange`) and `terminate` (`ok`, then it terminates: `gen_server:stop` from erl),
 * and any other system message (`get_log`, `statistics`, `trace`…) with
 * `{error, {unknown_system_msg, Msg}}`. While suspended only system messages and the parent's
 * exit are handled, as in OTP. `replace_state` runs a JS function sent by `replaceState` from
 * this node; an Erlang fun from an erl node cannot run here, so the caller gets what OTP gives
 * when the fun fails on a node without its module:
 * `{error, {callback_failed, {gen_server, system_replace_state}, {error, undef}}}`
 * (`{error, {badarity, {Fun, [State]}}}` for a fun of another arity), and the state is kept.
 *
 * `enterLoop` turns the calling process into a server (gen_server:enter_loop).
 *
 * Not here: the older `format_status/2` (only the map form), `hibernate` (accepted, no
 * effect), debug options.
 *
 * Performance: a server started with `start`/`startLink`/`startMonitor` runs in the process's
 * handler mode (`Process.serve`): an idle server holds no fiber (about 480 B: the process entry
 * and its loop state, which is also its handler), and a message whose callbacks return `Effect.succeed(...)` is handled
 * with no fiber at all; other callbacks, a pending timeout and a suspension run on a fiber of
 * the server as before. `enterLoop` keeps the loop on the caller's own fiber. A local call (to a
 * pid or a local name, from a process) is one step of the caller's fiber (`Process.unsafeCallLocal`:
 * alias monitor, request, reply or 'DOWN'): an idle server handles the request at once, on the
 * caller's stack, so a callback that decides synchronously answers the call within that step
 * (no task, no wake-up, no timer); otherwise the caller waits with the monitor in place, with no
 * timer of its own (`receive … after` reuses an armed one).
 *
 * @since 0.1.0
 */
import type * as Process from "@effect-otp/process/Process"
import type { ProcessRuntime } from "@effect-otp/process/ProcessRuntime"
import { RemoteName } from "@effect-otp/process/Signal"
import type { Term } from "@effect-otp/process/Term"
import { Atom, Pid } from "@effect-otp/process/Term"
import type { Ref, Tuple } from "@effect-otp/process/Term"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as client from "./internal/client.js"
import * as server from "./internal/server.js"
import * as types from "./internal/types.js"
import * as via_ from "./internal/via.js"

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/**
 * No reply within the call's timeout (OTP's `exit(timeout)`); a late reply is dropped.
 *
 * @since 0.1.0
 * @category errors
 */
export const CallTimeout: typeof types.CallTimeout = types.CallTimeout

/**
 * @since 0.1.0
 * @category errors
 */
export type CallTimeout = types.CallTimeout

/**
 * The server does not exist (a dead pid, an unregistered name: OTP's `noproc`).
 *
 * @since 0.1.0
 * @category errors
 */
export const NoProc: typeof types.NoProc = types.NoProc

/**
 * @since 0.1.0
 * @category errors
 */
export type NoProc = types.NoProc

/**
 * The server's node is not reachable, or went down during the call (OTP's `noconnection`,
 * `{nodedown, Node}`).
 *
 * @since 0.1.0
 * @category errors
 */
export const NoConnection: typeof types.NoConnection = types.NoConnection

/**
 * @since 0.1.0
 * @category errors
 */
export type NoConnection = types.NoConnection

/**
 * The server exited during the call; `reason` is its exit reason.
 *
 * @since 0.1.0
 * @category errors
 */
export const ServerExited: typeof types.ServerExited = types.ServerExited

/**
 * @since 0.1.0
 * @category errors
 */
export type ServerExited = types.ServerExited

/**
 * The request did not encode (client side) or decode (server side) with the request schema.
 *
 * @since 0.1.0
 * @category errors
 */
export const BadRequest: typeof types.BadRequest = types.BadRequest

/**
 * @since 0.1.0
 * @category errors
 */
export type BadRequest = types.BadRequest

/**
 * The reply did not decode with the reply schema.
 *
 * @since 0.1.0
 * @category errors
 */
export const BadReply: typeof types.BadReply = types.BadReply

/**
 * @since 0.1.0
 * @category errors
 */
export type BadReply = types.BadReply

/**
 * `start` with a name that is taken (OTP's `{error, {already_started, Pid}}`).
 *
 * @since 0.1.0
 * @category errors
 */
export const AlreadyStarted: typeof types.AlreadyStarted = types.AlreadyStarted

/**
 * @since 0.1.0
 * @category errors
 */
export type AlreadyStarted = types.AlreadyStarted

/**
 * `init` failed, returned `{ stop: reason }` or timed out (OTP's `{error, Reason}`); the process
 * exited with `reason`.
 *
 * @since 0.1.0
 * @category errors
 */
export const InitFailed: typeof types.InitFailed = types.InitFailed

/**
 * @since 0.1.0
 * @category errors
 */
export type InitFailed = types.InitFailed

/**
 * `init` returned `{ ignore: true }` (OTP's `ignore`); the process exited `normal`.
 *
 * @since 0.1.0
 * @category errors
 */
export const InitIgnored: typeof types.InitIgnored = types.InitIgnored

/**
 * @since 0.1.0
 * @category errors
 */
export type InitIgnored = types.InitIgnored

/**
 * A `sys` request answered `{error, Reason}` (where OTP's `sys` raises `error(Reason)`), e.g.
 * `{callback_failed, {gen_server, system_replace_state}, {Class, Reason}}`.
 *
 * @since 0.1.0
 * @category errors
 */
export const SysError: typeof types.SysError = types.SysError

/**
 * @since 0.1.0
 * @category errors
 */
export type SysError = types.SysError

/**
 * What `call` fails with.
 *
 * @since 0.1.0
 * @category errors
 */
export type CallError = CallTimeout | NoProc | NoConnection | ServerExited | BadRequest | BadReply

/**
 * What `start` fails with.
 *
 * @since 0.1.0
 * @category errors
 */
export type StartError = AlreadyStarted | InitFailed | InitIgnored

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

/**
 * A timeout: a duration or `"infinity"`.
 *
 * @since 0.1.0
 * @category models
 */
export type Timeout = Duration.DurationInput | "infinity"

/**
 * What may follow a callback's result, as the last element of OTP's result tuples.
 *
 * @since 0.1.0
 * @category models
 */
export interface Action<C> {
  /** inactivity timeout: with no message in that time, `handleInfo` receives the atom `timeout` */
  readonly timeout?: Duration.DurationInput | undefined
  /** accepted and ignored (a JS process has no heap to shrink) */
  readonly hibernate?: boolean | undefined
  /** runs `handleContinue(continue, state)` before the next message */
  readonly continue?: C | undefined
}

/**
 * An exit reason: a term, or a string for the atom.
 *
 * @since 0.1.0
 * @category models
 */
export type Reason = Term | string

/**
 * @since 0.1.0
 * @category models
 */
export type InitResult<S, C> =
  | ({ readonly state: S } & Action<C>)
  | { readonly ignore: true }
  | { readonly stop: Reason }

/**
 * `{ reply, state }`, `{ state }` (noreply), or `{ stop, state, reply? }`.
 *
 * @since 0.1.0
 * @category models
 */
export type CallResult<Rep, S, C> =
  | ({ readonly reply: Rep; readonly state: S } & Action<C>)
  | ({ readonly noreply?: true; readonly state: S } & Action<C>)
  | { readonly stop: Reason; readonly state: S; readonly reply?: Rep }

/**
 * `{ state }` (noreply) or `{ stop, state }`.
 *
 * @since 0.1.0
 * @category models
 */
export type NoReplyResult<S, C> =
  | ({ readonly noreply?: true; readonly state: S } & Action<C>)
  | { readonly stop: Reason; readonly state: S }

/**
 * The caller of a call, for a deferred `reply(from, value)`. `term` is OTP's `{Pid, Tag}`.
 *
 * @since 0.1.0
 * @category models
 */
export interface From<Rep> {
  readonly term: Tuple
  readonly pid: Pid
  /** @internal */
  readonly encode: (reply: Rep) => unknown
}

/**
 * The schemas of a server's calls, replies and casts. The Encoded side is what crosses the
 * wire (a `Term`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Protocol<Req, Rep, Cast> extends types.Protocol<Req, Rep, Cast> {}

/**
 * The protocol of raw terms (no decoding): the default, and what an untyped `call` uses.
 *
 * @since 0.1.0
 * @category models
 */
export const raw: Protocol<Term, Term, Term> = types.raw

/**
 * Builds a protocol (for a client of a server written elsewhere, e.g. in Erlang); missing
 * schemas are raw terms.
 *
 * @since 0.1.0
 * @category constructors
 */
export const protocol = <Req = Term, Rep = Term, Cast = Term>(schemas: {
  readonly request?: Schema.Schema<Req, any, never>
  readonly reply?: Schema.Schema<Rep, any, never>
  readonly cast?: Schema.Schema<Cast, any, never>
}): Protocol<Req, Rep, Cast> => ({
  request: schemas.request ?? raw.request as any,
  reply: schemas.reply ?? raw.reply as any,
  cast: schemas.cast ?? raw.cast as any
})

/**
 * What `formatStatus` receives, as OTP 25's `format_status/1` map: `state` and `log` for
 * `sys:get_status`; `state`, `message` (the last message in), `reason` and `log` for the
 * report of a server that crashes. `log` is the `sys` debug log (always empty here).
 *
 * @since 0.1.0
 * @category models
 */
export interface Status<State> {
  readonly state: State
  readonly message?: unknown
  readonly reason?: Term
  readonly log: ReadonlyArray<Term>
}

/**
 * What `formatStatus` returns: the status with every key it was given (as OTP checks; write
 * `{ ...status, state: hidden(status.state) }`). `state` may be anything: it is shown through
 * the `state` schema when it encodes, as is when it is a term, else as its text.
 *
 * @since 0.1.0
 * @category models
 */
export interface FormattedStatus {
  readonly state: unknown
  readonly message?: unknown
  readonly reason?: Term
  readonly log: ReadonlyArray<Term>
}

/**
 * The callbacks (OTP's callback module) and schemas of a server.
 *
 * @since 0.1.0
 * @category models
 */
export interface Spec<
  Args,
  State,
  Req,
  Rep,
  Cast,
  Cont,
  RInit = never,
  RCall = never,
  RCast = never,
  RInfo = never,
  RCont = never,
  RTerm = never,
  RCode = never
> {
  /** shown by `sys:get_status` and in crash reports (default `gen_server`) */
  readonly name?: string | undefined
  readonly request?: Schema.Schema<Req, any, never> | undefined
  readonly reply?: Schema.Schema<Rep, any, never> | undefined
  readonly cast?: Schema.Schema<Cast, any, never> | undefined
  /** encodes the state for `sys:get_state`/`get_status` (default: the state if it is a term, else its text) */
  readonly state?: Schema.Schema<State, any, never> | undefined
  readonly init: (args: Args) => Effect.Effect<InitResult<State, Cont>, unknown, RInit>
  /** default: exits with `{bad_call, Request}`, as OTP's default */
  readonly handleCall?:
    | ((request: Req, from: From<Rep>, state: State) => Effect.Effect<CallResult<Rep, State, Cont>, unknown, RCall>)
    | undefined
  /** default: exits with `{bad_cast, Request}` */
  readonly handleCast?:
    | ((request: Cast, state: State) => Effect.Effect<NoReplyResult<State, Cont>, unknown, RCast>)
    | undefined
  /** default: logs the message and keeps going, as OTP's default */
  readonly handleInfo?:
    | ((message: unknown, state: State) => Effect.Effect<NoReplyResult<State, Cont>, unknown, RInfo>)
    | undefined
  readonly handleContinue?:
    | ((cont: Cont, state: State) => Effect.Effect<NoReplyResult<State, Cont>, unknown, RCont>)
    | undefined
  readonly terminate?: ((reason: Term, state: State) => Effect.Effect<unknown, unknown, RTerm>) | undefined
  /** `sys:change_code`: the new state */
  readonly codeChange?: ((oldVsn: Term, state: State, extra: Term) => Effect.Effect<State, unknown, RCode>) | undefined
  /**
   * OTP 25's `format_status/1` (the map form; the older `format_status/2` is not offered):
   * what `sys:get_status` and the crash report show, e.g. to hide a secret in the state. A
   * function that throws, returns no object or drops a key is reported as OTP does
   * (`"<name>:format_status/1 crashed"` and the like in place of the state).
   */
  readonly formatStatus?: ((status: Status<State>) => FormattedStatus) | undefined
}

/**
 * A server definition (`make`): its protocol and callbacks.
 *
 * @since 0.1.0
 * @category models
 */
export interface GenServer<Args, State, Req, Rep, Cast, R> extends Protocol<Req, Rep, Cast> {
  readonly spec: Spec<Args, State, Req, Rep, Cast, any, any, any, any, any, any, any, any>
  /** @internal the services the callbacks need */
  readonly R?: (_: never) => R
}

/**
 * A name registry for `via` names (OTP's `{via, Module, Name}`): `global` and others fill it.
 * `register` returns `false` when the name is taken; `send` to a name that is not registered
 * is ignored (as a cast).
 *
 * @since 0.1.0
 * @category models
 */
export interface ViaRegistry extends types.ViaRegistry {}

/**
 * A `via` name: a name in a registry.
 *
 * @since 0.1.0
 * @category models
 */
export const Via: typeof types.Via = types.Via

/**
 * @since 0.1.0
 * @category models
 */
export type Via = types.Via

/**
 * `{via, Registry, Name}`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const via = (registry: ViaRegistry, name: Term): Via => new types.Via({ registry, name })

/**
 * A registry of `via` names on this node (any term as the name; a dead process's names are
 * dropped when looked up). `global` is the cluster-wide one.
 *
 * @since 0.1.0
 * @category constructors
 */
export const localRegistry: () => ViaRegistry = via_.localRegistry

/**
 * What names a server: a pid, a local name, `{Name, Node}` (`RemoteName` or the tuple), or a
 * `via` name.
 *
 * @since 0.1.0
 * @category models
 */
export type Target = types.Target

/**
 * A server to call, with the schemas of its protocol.
 *
 * @since 0.1.0
 * @category models
 */
export const ServerRef: typeof types.ServerRef = types.ServerRef

/**
 * @since 0.1.0
 * @category models
 */
export type ServerRef<Req, Rep, Cast> = types.ServerRef<Req, Rep, Cast>

/**
 * A started server: a `ServerRef` whose target is its pid.
 *
 * @since 0.1.0
 * @category models
 */
export const Server: typeof types.Server = types.Server

/**
 * @since 0.1.0
 * @category models
 */
export type Server<Req, Rep, Cast> = types.Server<Req, Rep, Cast>

/**
 * A reference to a server by any target, typed by a definition or protocol.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ref = <Req, Rep, Cast>(protocol: Protocol<Req, Rep, Cast>, target: Target): ServerRef<Req, Rep, Cast> =>
  new types.ServerRef(target, { request: protocol.request, reply: protocol.reply, cast: protocol.cast })

/**
 * `{Name, Node}`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const remote = (name: string | Atom, node: string | Atom): RemoteName =>
  new RemoteName({
    name: typeof name === "string" ? Atom.make(name) : name,
    node: typeof node === "string" ? Atom.make(node) : node
  })

// ---------------------------------------------------------------------------
// Definition and start
// ---------------------------------------------------------------------------

/**
 * Defines a server. Missing schemas are raw terms.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <
  Args,
  State,
  Req = Term,
  Rep = Term,
  Cast = Term,
  Cont = never,
  RInit = never,
  RCall = never,
  RCast = never,
  RInfo = never,
  RCont = never,
  RTerm = never,
  RCode = never
>(
  spec: Spec<Args, State, Req, Rep, Cast, Cont, RInit, RCall, RCast, RInfo, RCont, RTerm, RCode>
): GenServer<Args, State, Req, Rep, Cast, RInit | RCall | RCast | RInfo | RCont | RTerm | RCode> => ({
  spec,
  request: spec.request ?? raw.request as any,
  reply: spec.reply ?? raw.reply as any,
  cast: spec.cast ?? raw.cast as any
})

/**
 * Options of `start`: a local name (string or atom), `{Name, Node}` is not allowed (as in OTP),
 * or a `via` name; `timeout` bounds `init` (the process is killed and `InitFailed(timeout)`
 * returned).
 *
 * @since 0.1.0
 * @category models
 */
export interface StartOptions {
  readonly name?: string | Atom | Via | undefined
  readonly timeout?: Timeout | undefined
}

/**
 * Starts a server (not linked) and waits for `init`, as `gen_server:start/3,4`.
 *
 * @since 0.1.0
 * @category starting
 */
export const start = <Args, State, Req, Rep, Cast, R>(
  def: GenServer<Args, State, Req, Rep, Cast, R>,
  args: Args,
  options?: StartOptions
): Effect.Effect<Server<Req, Rep, Cast>, StartError, ProcessRuntime | Exclude<R, Process.Self>> =>
  server.start(def, args, options, "nolink") as any

/**
 * Starts a server linked to the calling process, as `gen_server:start_link/3,4`. The calling
 * process is the server's parent: an exit signal from it makes a trapping server run
 * `terminate` and exit with the same reason.
 *
 * @since 0.1.0
 * @category starting
 */
export const startLink = <Args, State, Req, Rep, Cast, R>(
  def: GenServer<Args, State, Req, Rep, Cast, R>,
  args: Args,
  options?: StartOptions
): Effect.Effect<Server<Req, Rep, Cast>, StartError, ProcessRuntime | Process.Self | Exclude<R, Process.Self>> =>
  server.start(def, args, options, "link") as any

/**
 * Starts a server monitored by the calling process, as `gen_server:start_monitor/3,4`:
 * the server and the monitor ref.
 *
 * @since 0.1.0
 * @category starting
 */
export const startMonitor = <Args, State, Req, Rep, Cast, R>(
  def: GenServer<Args, State, Req, Rep, Cast, R>,
  args: Args,
  options?: StartOptions
): Effect.Effect<
  readonly [Server<Req, Rep, Cast>, Ref],
  StartError,
  ProcessRuntime | Process.Self | Exclude<R, Process.Self>
> => server.start(def, args, options, "monitor") as any

/**
 * Options of `enterLoop`: the name the process already holds (`name`), its parent (whose exit
 * signal a trapping server obeys; default: none, as for `start`), and the first action
 * (`timeout`, `hibernate` or `continue`), as the last argument of `gen_server:enter_loop`.
 *
 * @since 0.1.0
 * @category models
 */
export interface EnterLoopOptions<C> extends Action<C> {
  readonly name?: string | Atom | Via | undefined
  readonly parent?: Pid | undefined
}

/**
 * Turns the calling process into the server `def` with `state`, without `init`, as
 * `gen_server:enter_loop/3,4,5`: it never returns; the process ends as the server does. A
 * `name` must already be the process's own (registered before, e.g. by
 * `Process.spawn(..., { name })`), else the process exits with `process_not_registered`
 * (`{process_not_registered_via, Module}` for a via name, `process_not_registered_globally`
 * for a registry whose `module` is `global`), as OTP's gen:get_proc_name.
 *
 * @since 0.1.0
 * @category starting
 */
export const enterLoop = <Args, State, Req, Rep, Cast, R, C = never>(
  def: GenServer<Args, State, Req, Rep, Cast, R>,
  state: State,
  options?: EnterLoopOptions<C>
): Effect.Effect<never, unknown, ProcessRuntime | Process.Self | R> => server.enterLoop(def, state, options)

/**
 * `start` tied to the current `Scope`: when the scope closes the server is stopped as a
 * supervisor stops a child (`shutdown`, then `kill` after `shutdownTimeout`, 5 s by
 * default), so a trapping server runs `terminate`.
 *
 * @since 0.1.0
 * @category starting
 */
export const startScoped = <Args, State, Req, Rep, Cast, R>(
  def: GenServer<Args, State, Req, Rep, Cast, R>,
  args: Args,
  options?: StartOptions & { readonly shutdownTimeout?: Timeout | undefined }
): Effect.Effect<Server<Req, Rep, Cast>, StartError, ProcessRuntime | Scope.Scope | Exclude<R, Process.Self>> =>
  server.startScoped(def, args, options) as any

// ---------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------

/**
 * Calls a server and waits for its reply (5 s by default), as `gen_server:call/2,3`.
 * Inside a process the call runs in it (as in OTP); outside, in a short-lived process. A
 * plain target (not a `ServerRef`) sends and returns raw terms.
 *
 * @since 0.1.0
 * @category calls
 */
export const call: {
  <Req, Rep>(ref: ServerRef<Req, Rep, any>, request: Req, timeout?: Timeout): Effect.Effect<
    Rep,
    CallError,
    ProcessRuntime
  >
  (target: Target, request: Term, timeout?: Timeout): Effect.Effect<Term, CallError, ProcessRuntime>
} = (ref: ServerRef<any, any, any> | Target, request: unknown, timeout?: Timeout): any =>
  ref instanceof types.ServerRef
    ? client.call(ref.target, ref.protocol, request, timeout)
    : client.call(ref, raw, request as Term, timeout)

/**
 * Sends a cast (`{'$gen_cast', Request}`), as `gen_server:cast/2`: never fails (a missing
 * server is ignored), except for a request that does not encode.
 *
 * @since 0.1.0
 * @category calls
 */
export const cast: {
  <Cast>(ref: ServerRef<any, any, Cast>, request: Cast): Effect.Effect<void, BadRequest, ProcessRuntime>
  (target: Target, request: Term): Effect.Effect<void, BadRequest, ProcessRuntime>
} = (ref: ServerRef<any, any, any> | Target, request: unknown): any =>
  // a pid first (the usual target): no `ServerRef` check (see `client.castRaw`)
  ref instanceof Pid
    ? client.castRaw(ref, request as Term)
    : ref instanceof types.ServerRef
    ? client.cast(ref.target, ref.protocol.cast, request)
    : client.castRaw(ref, request as Term)

/**
 * Answers a call later (after `handleCall` returned no reply), as `gen_server:reply/2`.
 *
 * @since 0.1.0
 * @category calls
 */
export const reply = <Rep>(from: From<Rep>, value: Rep): Effect.Effect<void, BadReply, ProcessRuntime> =>
  client.reply(from, value)

/**
 * The result of `multiCall`: the nodes that answered with their replies, and the others.
 *
 * @since 0.1.0
 * @category models
 */
export interface MultiCallResult<Rep> {
  readonly replies: ReadonlyArray<readonly [Atom, Rep]>
  readonly badNodes: ReadonlyArray<Atom>
}

/**
 * Calls the server registered as `name` on each of `nodes` (the local node included if listed)
 * at once, as `gen_server:multi_call/4`; waits at most `timeout` (infinity by default).
 * A node whose server is missing, crashed, unreachable or late, or whose reply does not decode,
 * is a bad node.
 *
 * @since 0.1.0
 * @category calls
 */
export const multiCall = <Req, Rep>(
  protocol: Protocol<Req, Rep, any>,
  nodes: ReadonlyArray<string | Atom>,
  name: string | Atom,
  request: Req,
  timeout?: Timeout
): Effect.Effect<MultiCallResult<Rep>, BadRequest, ProcessRuntime> =>
  client.multiCall(protocol, nodes, name, request, timeout)

/**
 * Casts to the server registered as `name` on each of `nodes`, as `gen_server:abcast/3`.
 *
 * @since 0.1.0
 * @category calls
 */
export const abcast = <Cast>(
  protocol: Protocol<any, any, Cast>,
  nodes: ReadonlyArray<string | Atom>,
  name: string | Atom,
  request: Cast
): Effect.Effect<void, BadRequest, ProcessRuntime> => client.abcast(protocol, nodes, name, request)

/**
 * Stops a server as `gen_server:stop/1,3`: it runs `terminate(reason)` and exits with
 * `reason` (`normal` by default); waits for it to be gone (infinity by default). Fails with
 * `NoProc` when there is no such server, `CallTimeout` on timeout, and `ServerExited` when
 * it exited with another reason.
 *
 * @since 0.1.0
 * @category calls
 */
export const stop = (
  target: ServerRef<any, any, any> | Target,
  reason?: Reason,
  timeout?: Timeout
): Effect.Effect<void, NoProc | NoConnection | CallTimeout | ServerExited, ProcessRuntime> =>
  client.stop(target instanceof types.ServerRef ? target.target : target, reason, timeout)

/**
 * The server's state, as `sys:get_state/1` (what an Erlang node also gets, in term form).
 *
 * @since 0.1.0
 * @category sys
 */
export const getState = (
  target: ServerRef<any, any, any> | Target,
  timeout?: Timeout
): Effect.Effect<Term, CallError, ProcessRuntime> =>
  client.system(target instanceof types.ServerRef ? target.target : target, Atom.make("get_state"), timeout)

/**
 * The server's status, as `sys:get_status/1`: `{status, Pid, {module, gen_server}, [...]}`.
 *
 * @since 0.1.0
 * @category sys
 */
export const getStatus = (
  target: ServerRef<any, any, any> | Target,
  timeout?: Timeout
): Effect.Effect<Term, CallError, ProcessRuntime> =>
  client.system(target instanceof types.ServerRef ? target.target : target, Atom.make("get_status"), timeout)

/**
 * Replaces the server's state with `f(state)` and returns the new state, as `sys:replace_state/2,3`.
 * `f` is a JS function, so the server must be on this node; `f` runs in the server between two
 * messages. A function that throws leaves the state as it was and fails with `SysError`
 * (`{callback_failed, {gen_server, system_replace_state}, {error, Reason}}`).
 *
 * @since 0.1.0
 * @category sys
 */
export const replaceState = <S>(
  target: ServerRef<any, any, any> | Target,
  f: (state: S) => S,
  timeout?: Timeout
): Effect.Effect<S, CallError | SysError, ProcessRuntime> =>
  client.replaceState(target instanceof types.ServerRef ? target.target : target, f, timeout) as any
