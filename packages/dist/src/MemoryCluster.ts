/**
 * A deterministic cluster in one JS process, to test cluster code without sockets.
 *
 * Each node is a full node: its own `ProcessRuntime` and a `DistNode` (the real
 * handshake, ticks, `net_kernel`, links and monitors across nodes), connected by
 * in-memory carriers and registered with an in-memory epmd. Nothing waits on real time:
 * ticks, `net_setuptime` and `receive … after` run on Effect's `Clock`, so under
 * `TestClock` a silent link times out exactly when the test moves the clock.
 *
 * Faults, per pair of nodes or per node:
 * - `freeze(a, b)` / `thaw(a, b)`: the bytes between `a` and `b` stop (and are delivered,
 *   in order, on `thaw`), as over a stalled TCP connection: ticks stop, so after about
 *   `net_ticktime` both sides drop the connection with `net_tick_timeout`.
 * - `partition(a, b)` / `heal(a, b)`: `freeze`, and new connections between them are
 *   refused (`pang`), until `heal`.
 * - `kill(a)`: the node dies at once: its links close (peers see `connection_closed`),
 *   its name leaves epmd, its processes end. `restart(a)` starts it again with a new
 *   creation, so pids of the old incarnation are dead.
 *
 * Receive backpressure (`maxMailboxBacklog`, 100 000 messages by default) needs no clock
 * either: a connection held by a full mailbox moves on as soon as its receiver has
 * drained it to half, whether or not the test clock moves.
 *
 * ```ts
 * it.scoped("a ping over the in-memory network", () =>
 *   Effect.gen(function*() {
 *     const cluster = yield* MemoryCluster.make(["a", "b"])
 *     const a = cluster.node("a")
 *     expect(yield* a.provide(NetKernel.ping("b@memory"))).toBe("pong")
 *   }))
 * ```
 *
 * @since 0.1.0
 */
import type { ProcessRuntime, ProcessRuntimeShape } from "@effect-otp/process/ProcessRuntime"
import type { Atom } from "@effect-otp/process/Term"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as DistNode from "./DistNode.js"
import * as internal from "./internal/testing/cluster.js"
import type { NetKernel, NetKernelShape } from "./NetKernel.js"

/**
 * Options for every node of the cluster (a node started with `start` may override them).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The host part of bare node names (default `memory`: `a` is `a@memory`). */
  readonly host?: string | undefined
  /** The cookie of every node (default `memory-cluster`). */
  readonly cookie?: string | undefined
  /** `net_ticktime` (default 60 s, as `DistNode`). */
  readonly netTicktime?: Duration.DurationInput | undefined
  /** `net_setuptime` per handshake step (default 7 s, as `DistNode`). */
  readonly setupTime?: Duration.DurationInput | undefined
  /**
   * Hidden nodes. Default `false`: the nodes are visible to each other, as `erl` nodes
   * are. They run no OTP `global` (`DistNode.NameServer`) of their own: only the
   * cluster's nodes can connect to them, so no Erlang node waits for one;
   * `GlobalRegistry.layerOnNode()` from `@effect-otp/global` adds it to a node.
   */
  readonly hidden?: boolean | undefined
}

/**
 * Options of one node (`DistNode.Options` but its name), e.g. `allow`, `cookie` or
 * `maxMailboxBacklog`; they override the cluster's `Options`.
 *
 * @since 0.1.0
 * @category models
 */
export type NodeOptions = Partial<Omit<DistNode.Options, "name">>

/**
 * One node of the cluster (one incarnation: `restart` makes a new one).
 *
 * @since 0.1.0
 * @category models
 */
export interface ClusterNode {
  readonly name: Atom
  readonly creation: number
  /** The node's services, to provide to code that runs "on" it. */
  readonly context: Context.Context<ProcessRuntime | NetKernel>
  readonly runtime: ProcessRuntimeShape
  readonly kernel: NetKernelShape
  /** Whether this incarnation still runs (`kill` ends it). */
  readonly isAlive: () => boolean
  /** Runs `effect` on this node (with its `ProcessRuntime` and `NetKernel`). */
  readonly provide: <A, E, R>(
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E, Exclude<R, ProcessRuntime | NetKernel>>
}

/**
 * A connection between two nodes, as the network sees it: who dialled, who accepted,
 * and whether either end is still open. Every link ever opened between a pair is kept,
 * so a test can tell a lost simultaneous attempt from the one that stayed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Link {
  readonly dialer: Atom
  readonly acceptor: Atom
  readonly isOpen: () => boolean
  /** Completes when both ends have closed. */
  readonly closed: Effect.Effect<void>
}

/**
 * The cluster. Nodes are named by their full name or, for bare names, by the name
 * given (`"a"` for `a@memory`).
 *
 * @since 0.1.0
 * @category models
 */
export interface MemoryClusterShape {
  /** The current incarnation of a node (throws for a name the cluster never started). */
  readonly node: (name: string | Atom) => ClusterNode
  /** The nodes running now. */
  readonly nodes: () => ReadonlyArray<ClusterNode>
  /** Starts a node (another one, or a new incarnation: a running one is killed first). */
  readonly start: (
    name: string | Atom,
    options?: NodeOptions
  ) => Effect.Effect<ClusterNode, DistNode.DistNodeError>
  /** Kills a node abruptly (no goodbye on the wire: its links just close). */
  readonly kill: (name: string | Atom) => Effect.Effect<void>
  /** Kills the node if it runs, and starts it again with a new creation (same options). */
  readonly restart: (
    name: string | Atom,
    options?: NodeOptions
  ) => Effect.Effect<ClusterNode, DistNode.DistNodeError>
  /** Holds every byte between two nodes and refuses new connections between them. */
  readonly partition: (a: string | Atom, b: string | Atom) => Effect.Effect<void>
  /** Ends a partition: held bytes go out in order, new connections are accepted. */
  readonly heal: (a: string | Atom, b: string | Atom) => Effect.Effect<void>
  /** Holds every byte between two nodes (existing and new links): ticks stop. */
  readonly freeze: (a: string | Atom, b: string | Atom) => Effect.Effect<void>
  /** Ends a freeze: held bytes go out in order. */
  readonly thaw: (a: string | Atom, b: string | Atom) => Effect.Effect<void>
  /** The links opened between two nodes so far, oldest first. */
  readonly links: (a: string | Atom, b: string | Atom) => Effect.Effect<ReadonlyArray<Link>>
  /** Waits until `count` links have been opened between two nodes (e.g. both attempts of a simultaneous connect). */
  readonly awaitLinks: (a: string | Atom, b: string | Atom, count: number) => Effect.Effect<ReadonlyArray<Link>>
}

/**
 * The cluster as a service, for `layer`.
 *
 * @since 0.1.0
 * @category tags
 */
export class MemoryCluster extends Context.Tag("@effect-otp/dist/MemoryCluster")<MemoryCluster, MemoryClusterShape>() {}

/**
 * Starts the nodes `names` (bare names get the host `memory`), each a full node with its
 * own `ProcessRuntime`, for the life of the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  names: ReadonlyArray<string>,
  options?: Options
) => Effect.Effect<MemoryClusterShape, DistNode.DistNodeError, Scope.Scope> = internal.make

/**
 * `make` as a layer, e.g. for `layer(MemoryCluster.layer(["a", "b"]))("...", (it) => ...)`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  names: ReadonlyArray<string>,
  options?: Options
): Layer.Layer<MemoryCluster, DistNode.DistNodeError> => Layer.scoped(MemoryCluster, internal.make(names, options))
