/**
 * `net_kernel`: the node's connections. Connect on demand (a send to `{Name, Node}` or
 * to a remote pid connects first), `ping`, `nodes()`, `disconnect`, node monitoring,
 * the visible/hidden type per node, `allow`, and the simultaneous-connect rule. It also
 * hosts the `net_kernel` process that answers OTP's `is_auth`, so `net_adm:ping/1`
 * from Erlang answers `pong`.
 *
 * Build it with `DistNode.layer`.
 *
 * @since 0.1.0
 */
import type { Pid } from "@effect-otp/process/Term"
import { Atom } from "@effect-otp/process/Term"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/netKernel.js"

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
 * `nodeup` / `nodedown`, with the node type and the nodedown reason
 * (`connection_closed`, `net_tick_timeout`, `disconnect`, ...).
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
 * `erlang:nodes/0,1`.
 *
 * @since 0.1.0
 * @category connections
 */
export const nodes = (
  kind?: NodeKind | ReadonlyArray<NodeKind>
): Effect.Effect<ReadonlyArray<Atom>, never, NetKernel> => Effect.map(NetKernel, (k) => k.nodes(kind))

/**
 * `erlang:disconnect_node/1`: `true` if there was a connection (or attempt) to drop.
 *
 * @since 0.1.0
 * @category connections
 */
export const disconnect = (node: Atom | string): Effect.Effect<boolean, never, NetKernel> =>
  Effect.flatMap(NetKernel, (k) => k.disconnect(toAtom(node)))

/**
 * `net_kernel:monitor_nodes(true, Options)` for a process: it receives
 * `{nodeup, Node}` / `{nodedown, Node}` (with an info list `[{node_type, T}, ...]` when
 * `hidden` or `nodedownReason` is set). Returns the unsubscribe function.
 *
 * @since 0.1.0
 * @category node monitoring
 */
export const monitorNodes = (
  pid: Pid,
  options?: { readonly hidden?: boolean; readonly nodedownReason?: boolean }
): Effect.Effect<() => void, never, NetKernel> => Effect.map(NetKernel, (k) => k.subscribeNodes(pid, options))

/**
 * Node events as a `Stream` (every nodeup and nodedown, visible and hidden).
 *
 * @since 0.1.0
 * @category node monitoring
 */
export const nodeEvents: Effect.Effect<Stream.Stream<NodeEvent>, never, NetKernel> = Effect.map(
  NetKernel,
  (k) => k.nodeEvents
)

/**
 * `erlang:monitor_node(Node, true)` for a process: it receives `{nodedown, Node}` once
 * the connection goes down (at once if it cannot be set up).
 *
 * @since 0.1.0
 * @category node monitoring
 */
export const monitorNode = (pid: Pid, node: Atom | string): Effect.Effect<void, never, NetKernel> =>
  Effect.flatMap(NetKernel, (k) => k.monitorNode(pid, toAtom(node)))

/**
 * `net_kernel:allow/1`: only these nodes may connect (`undefined` lifts the restriction).
 *
 * @since 0.1.0
 * @category policy
 */
export const allow = (nodes: ReadonlyArray<string> | undefined): Effect.Effect<void, never, NetKernel> =>
  Effect.map(NetKernel, (k) => k.setAllow(nodes))
