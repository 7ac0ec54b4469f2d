/**
 * The node-local process table and name registry, as a Layer. Everything an Erlang
 * node does for its own processes lives here; a pid or name that belongs to another node
 * goes through the `Router` (see `Router.ts`).
 *
 * For the dist layer: `node`/`creation` (default `nonode@nohost`, 0), `setNode` (pids
 * created afterwards carry the new node, and so does the sender of an `exit/2` from
 * outside a process; pids carrying `nonode@nohost` stay local),
 * `isLocal`, `deliver` (apply a signal that arrived from the network), `nodeDown`,
 * `makeRef`, `setRouter`.
 *
 * Costs: a process is one object (mailbox + fields; link/monitor tables are allocated on
 * first use) plus its fiber. A local send is a `Map` lookup and an array push, plus
 * waking the parked receiver; no Effect is run for it (`unsafeSend`).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as internal from "./internal/runtime.js"
import { Router } from "./Router.js"
import type { Destination, Signal } from "./Signal.js"
import type { Atom, Pid, Ref, Term } from "./Term.js"

/**
 * The service: the local process table, the registry and the signal rules.
 *
 * - `node`, `creation`: the local node (`nonode@nohost`, 0 until `setNode`).
 * - `localNode`: how this node prints pids, refs and ports (its own as `<0.N.S>`):
 *   `Term.formatWith(t, runtime.localNode)`. Every runtime has its own, so several
 *   nodes can share one JS process.
 * - `router`: the router in use (the default one when no distribution is running).
 * - `setNode(node, creation)`: called by the dist layer when the node starts.
 * - `setRouter(router)`: installs a router (`undefined` restores the one the layer was built with).
 * - `isLocal(pid)`: the pid belongs to this node (its node and creation, or `nonode@nohost`).
 * - `deliver(signal)`: applies a signal from the network with Erlang semantics: a `Link`
 *   to an unknown pid answers `Exit{noproc}`, a `Monitor` of an unknown pid/name answers
 *   `Down{noproc}` (both through the router); a link `Exit` for a link we do not have
 *   is ignored; `Unlink` is answered with `UnlinkAck`.
 * - `nodeDown(node, reason = noconnection)`: every link to a pid on that node fires,
 *   every monitor of a process on that node gets a `'DOWN'`; monitors held by processes
 *   of that node on ours are dropped. Nothing is sent back.
 * - `unsafe*`: synchronous entry points (benchmarks, the dist layer's reader loop).
 *   `unsafeSend` returns `false` for an unregistered local name and queues remote sends
 *   for the router (errors ignored). `unsafeSpawn` throws a `RegisterError` for a taken name.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProcessRuntimeShape extends internal.ProcessRuntimeShape {}

/**
 * The process runtime tag.
 *
 * @since 0.1.0
 * @category tags
 */
export const ProcessRuntime: typeof internal.ProcessRuntime = internal.ProcessRuntime

/**
 * @since 0.1.0
 * @category tags
 */
export type ProcessRuntime = internal.ProcessRuntime

/**
 * The process runtime of a node that is not alive: remote signals go to
 * `Router.defaultRouter` until the dist layer installs its router (`setRouter`). When the
 * layer is released every process still running is killed with reason `shutdown`, and
 * the finalizer waits for them.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<ProcessRuntime> = Layer.scoped(internal.ProcessRuntime, internal.make(undefined))

/**
 * The process runtime with the `Router` of the context as its default router (instead of
 * `Router.defaultRouter`); otherwise as `layer`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRouter: Layer.Layer<ProcessRuntime, never, Router> = Layer.scoped(
  internal.ProcessRuntime,
  Effect.flatMap(Router, internal.make)
)

/**
 * Sends synchronously: pushes into the local mailbox and wakes the receiver.
 *
 * @since 0.1.0
 * @category unsafe
 */
export const unsafeSend = (runtime: ProcessRuntimeShape, to: Destination, message: unknown): boolean =>
  runtime.unsafeSend(to, message)

/**
 * @since 0.1.0
 * @category utils
 */
export const deliver = (runtime: ProcessRuntimeShape, signal: Signal): Effect.Effect<void> => runtime.deliver(signal)

/**
 * @since 0.1.0
 * @category utils
 */
export const nodeDown = (runtime: ProcessRuntimeShape, node: Atom, reason?: Term): Effect.Effect<void> =>
  runtime.nodeDown(node, reason)

/**
 * @since 0.1.0
 * @category utils
 */
export const isLocal = (runtime: ProcessRuntimeShape, pid: Pid): boolean => runtime.isLocal(pid)

/**
 * @since 0.1.0
 * @category utils
 */
export const unsafeMakeRef = (runtime: ProcessRuntimeShape): Ref => runtime.unsafeMakeRef()
