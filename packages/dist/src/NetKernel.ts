/**
 * `net_kernel`: the node's connections. Connect on demand (a send to `{Name, Node}` or
 * to a remote pid connects first), `ping`, `nodes()`, `disconnect`, node monitoring,
 * the visible/hidden type per node, `allow`, and the simultaneous-connect rule. It also
 * hosts the `net_kernel` process that answers OTP's `is_auth`, so `net_adm:ping/1`
 * from Erlang answers `pong`.
 *
 * Build it with `DistNode.layerDefault` (or `DistNode.layer`).
 *
 * @since 0.1.0
 */
import * as Process from "@effect-otp/process/Process"
import { Atom, format, Pid, type Term, TermMap } from "@effect-otp/process/Term"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as internal from "./internal/netKernel.js"
import * as internalOptions from "./internal/nodeEvents.js"

/**
 * Why a connection could not be set up.
 *
 * @since 0.1.0
 * @category errors
 */
export const ConnectError: typeof internal.ConnectError = internal.ConnectError

/**
 * @since 0.1.0
 * @category errors
 */
export type ConnectError = internal.ConnectError

/**
 * Which nodes `nodes` lists, as in `erlang:nodes/1`: `visible` (the default), `hidden`,
 * `connected` (both), `this`, `known`.
 *
 * @since 0.1.0
 * @category models
 */
export type NodeKind = internal.NodeKind

/**
 * `nodeup` / `nodedown`, with the node type, the connection id (unique per connection,
 * as OTP 25's `connection_id`) and the nodedown reason (`connection_closed`,
 * `net_tick_timeout`, `disconnect`, ...).
 *
 * @since 0.1.0
 * @category models
 */
export type NodeEvent = internal.NodeEvent

/**
 * The service.
 *
 * @since 0.1.0
 * @category models
 */
export interface NetKernelShape extends internal.NetKernelImpl {}

/**
 * @since 0.1.0
 * @category tags
 */
export class NetKernel extends Context.Tag("@effect-otp/dist/NetKernel")<NetKernel, NetKernelShape>() {}

const toAtom = (node: Atom | string): Atom => typeof node === "string" ? Atom.make(node) : node

/**
 * This node's name.
 *
 * @since 0.1.0
 * @category getters
 */
export const node: Effect.Effect<Atom, never, NetKernel> = Effect.map(NetKernel, (k) => k.node)

/**
 * `net_adm:ping/1`: connects if needed and asks the peer's `net_kernel` whether it
 * accepts us. `"pang"` on any failure (the connection is then dropped, as OTP does).
 *
 * @since 0.1.0
 * @category connections
 */
export const ping = (node: Atom | string): Effect.Effect<"pong" | "pang", never, NetKernel> =>
  Effect.flatMap(NetKernel, (k) => k.ping(node))

/**
 * `net_kernel:connect_node/1`, with the reason on failure.
 *
 * @since 0.1.0
 * @category connections
 */
export const connect = (node: Atom | string): Effect.Effect<void, ConnectError, NetKernel> =>
  Effect.flatMap(NetKernel, (k) => k.connect(node))

/**
 * What `nodes(kind, options)` tells of a node (the map of `erlang:nodes/2`):
 * `connectionId` (`undefined` for this node) when asked for, and `nodeType`
 * (`visible`, `hidden`, `this`, `known`) when asked for.
 *
 * @since 0.1.0
 * @category models
 */
export type NodeInfo = internal.NodeInfo

/**
 * The options of `erlang:nodes/2`: `connectionId` and `nodeType` add those items to each
 * node's info.
 *
 * @since 0.1.0
 * @category models
 */
export type NodesOptions = internal.NodesOptions

/**
 * `erlang:nodes/0,1`, and `erlang:nodes/2` with options: each node with its info
 * (`{ node, connectionId?, nodeType? }`), as OTP 25's `global` asks with
 * `erlang:nodes(visible, #{connection_id => true})`.
 *
 * @since 0.1.0
 * @category connections
 */
export const nodes: {
  (kind?: NodeKind | ReadonlyArray<NodeKind>): Effect.Effect<ReadonlyArray<Atom>, never, NetKernel>
  (
    kind: NodeKind | ReadonlyArray<NodeKind>,
    options: NodesOptions
  ): Effect.Effect<ReadonlyArray<NodeInfo>, never, NetKernel>
} = (
  kind?: NodeKind | ReadonlyArray<NodeKind>,
  options?: NodesOptions
): Effect.Effect<ReadonlyArray<any>, never, NetKernel> =>
  Effect.map(NetKernel, (k) => options === undefined ? k.nodes(kind) : k.nodesInfo(kind ?? "visible", options))

/**
 * `erlang:disconnect_node/1`: `true` if there was a connection (or attempt) to drop.
 *
 * @since 0.1.0
 * @category connections
 */
export const disconnect = (node: Atom | string): Effect.Effect<boolean, never, NetKernel> =>
  Effect.flatMap(NetKernel, (k) => k.disconnect(toAtom(node)))

/**
 * Options of `monitorNodes`, as in `net_kernel:monitor_nodes(true, Options)`:
 * - `nodeType`: which nodes are reported (`visible`, the default; `hidden`; `all`), and
 *   `{node_type, visible | hidden}` is added to the info; `hidden: true` is `nodeType: "all"`;
 * - `connectionId`: adds `{connection_id, Id}` (OTP 25);
 * - `nodedownReason`: adds `{nodedown_reason, R}` to nodedown messages;
 * - `format`: `"list"` (the default) is the list form (`[connection_id, {node_type, all}]`):
 *   the info is a list (in OTP's order: connection id, nodedown reason, node type), and
 *   with no option the message is `{nodeup, Node}`; `"map"` is the map form
 *   (`#{connection_id => true, node_type => all}`): the info is always a map.
 *
 * `fromErlangOptions` reads the options as erl writes them.
 *
 * @since 0.1.0
 * @category node monitoring
 */
export interface MonitorNodesOptions {
  readonly hidden?: boolean | undefined
  readonly nodedownReason?: boolean | undefined
  readonly connectionId?: boolean | undefined
  readonly nodeType?: "visible" | "hidden" | "all" | undefined
  readonly format?: "list" | "map" | undefined
}

/**
 * `net_kernel:monitor_nodes/2`'s `Options` as erl writes them: a map
 * (`#{connection_id => true, node_type => all, nodedown_reason => true}`) or a list
 * (`[connection_id, nodedown_reason, {node_type, all}]`). Bad options fail with the
 * reason `monitor_nodes` returns in `{error, Reason}`: `{unknown_options, Unknown}` or
 * `{bad_option_value, Bad}`.
 *
 * @since 0.1.0
 * @category node monitoring
 */
export const fromErlangOptions: (options: Term) => Either.Either<MonitorNodesOptions, Term> =
  internalOptions.fromErlangOptions

/**
 * `monitorNodes` was given options as erl writes them that erl refuses: `reason` is the
 * `Reason` of the `{error, Reason}` that `net_kernel:monitor_nodes/2` returns
 * (`{unknown_options, _}`, `{bad_option_value, _}`, `{invalid_options, _}`).
 *
 * @since 0.1.0
 * @category errors
 */
export class MonitorNodesError extends Data.TaggedError("MonitorNodesError")<{ readonly reason: Term }> {
  override get message(): string {
    return `monitor_nodes: ${format(this.reason)}`
  }
}

/** `net_kernel:monitor_nodes/2`'s options as erl writes them: a map or a list. */
type ErlangOptions = TermMap | ReadonlyArray<Term>

const isErlangOptions = (o: unknown): o is ErlangOptions => o instanceof TermMap || Array.isArray(o)

const subscribe = (
  pid: Pid,
  options: MonitorNodesOptions | ErlangOptions | undefined
): Effect.Effect<() => void, MonitorNodesError, NetKernel> =>
  Effect.flatMap(NetKernel, (k) => {
    if (!isErlangOptions(options)) return Effect.succeed(k.subscribeNodes(pid, options))
    const parsed = fromErlangOptions(options)
    return parsed._tag === "Left"
      ? Effect.fail(new MonitorNodesError({ reason: parsed.left }))
      : Effect.succeed(k.subscribeNodes(pid, parsed.right))
  })

/**
 * `net_kernel:monitor_nodes(true, Options)`: the process (the calling process when no pid
 * is given) receives `{nodeup, Node}` / `{nodedown, Node}`, or `{nodeup, Node, Info}` /
 * `{nodedown, Node, Info}` with options (see `MonitorNodesOptions`). The options may also
 * be given as erl writes them, a map (`#{connection_id => true, node_type => all}`) or a
 * list (`[connection_id, {node_type, all}]`); options erl refuses fail with
 * `MonitorNodesError`. Events are ordered per node (never two nodeups without a nodedown
 * between them). The subscription ends when the process exits, or when the returned
 * function is called.
 *
 * @since 0.1.0
 * @category node monitoring
 */
export const monitorNodes: {
  (options?: MonitorNodesOptions): Effect.Effect<() => void, never, NetKernel | Process.Self>
  (options: ErlangOptions): Effect.Effect<() => void, MonitorNodesError, NetKernel | Process.Self>
  (pid: Pid, options?: MonitorNodesOptions): Effect.Effect<() => void, never, NetKernel>
  (pid: Pid, options: ErlangOptions): Effect.Effect<() => void, MonitorNodesError, NetKernel>
} = (
  pidOrOptions?: Pid | MonitorNodesOptions | ErlangOptions,
  options?: MonitorNodesOptions | ErlangOptions
): Effect.Effect<() => void, never, any> =>
  (pidOrOptions instanceof Pid
    ? subscribe(pidOrOptions, options)
    : Effect.flatMap(Process.self, (self) => subscribe(self, pidOrOptions))) as Effect.Effect<() => void, never, any>

/**
 * Node events as a `Stream` (every nodeup and nodedown, visible and hidden). Prefer
 * `events`, which also filters.
 *
 * @since 0.1.0
 * @category node monitoring
 */
export const nodeEvents: Effect.Effect<Stream.Stream<NodeEvent>, never, NetKernel> = Effect.map(
  NetKernel,
  (k) => k.nodeEvents
)

/**
 * `monitorNodes` as a `Stream` of `NodeEvent`s, from the moment the stream starts.
 * Hidden nodes are left out unless `hidden` is set, as with `monitor_nodes`; every
 * nodedown carries its reason (`connection_closed`, `net_tick_timeout`, `disconnect`, ...).
 *
 * @since 0.1.0
 * @category node monitoring
 */
export const events = (
  options?: { readonly hidden?: boolean | undefined }
): Stream.Stream<NodeEvent, never, NetKernel> =>
  Stream.unwrap(
    Effect.map(
      NetKernel,
      (k) => options?.hidden === true ? k.nodeEvents : Stream.filter(k.nodeEvents, (e) => !e.hidden)
    )
  )

/**
 * `events`, subscribed at once: the stream holds every event from the moment this effect
 * runs, for the lifetime of the scope, however late it is read (`events` subscribes only
 * when the stream starts).
 *
 * @since 0.1.0
 * @category node monitoring
 */
export const subscribeEvents = (
  options?: { readonly hidden?: boolean | undefined }
): Effect.Effect<Stream.Stream<NodeEvent>, never, NetKernel | Scope.Scope> =>
  Effect.flatMap(
    NetKernel,
    (k) =>
      Effect.map(
        k.subscribeEvents,
        (events) => options?.hidden === true ? events : Stream.filter(events, (e) => !e.hidden)
      )
  )

/**
 * `erlang:monitor_node(Node, Flag)` for a process (the calling process when no pid is
 * given). With `true` (the default) it receives `{nodedown, Node}` once the connection
 * goes down (at once if it cannot be set up); connects first, as OTP does. Each call
 * adds a monitor (and so a message). `false` takes one monitor of the process on that
 * node away (nothing happens if it has none).
 *
 * @since 0.1.0
 * @category node monitoring
 */
export const monitorNode: {
  (node: Atom | string, flag?: boolean): Effect.Effect<void, never, NetKernel | Process.Self>
  (pid: Pid, node: Atom | string, flag?: boolean): Effect.Effect<void, never, NetKernel>
} = (pidOrNode: Pid | Atom | string, nodeOrFlag?: Atom | string | boolean, flag?: boolean): Effect.Effect<
  void,
  never,
  any
> =>
  pidOrNode instanceof Pid
    ? Effect.flatMap(NetKernel, (k) => k.monitorNode(pidOrNode, toAtom(nodeOrFlag as Atom | string), flag !== false))
    : Effect.flatMap(
      Process.self,
      (self) => Effect.flatMap(NetKernel, (k) => k.monitorNode(self, toAtom(pidOrNode), nodeOrFlag !== false))
    )

/**
 * `net_kernel:allow/1`: only these nodes may connect (`undefined` lifts the restriction).
 *
 * @since 0.1.0
 * @category policy
 */
export const allow = (nodes: ReadonlyArray<string> | undefined): Effect.Effect<void, never, NetKernel> =>
  Effect.map(NetKernel, (k) => k.setAllow(nodes))
