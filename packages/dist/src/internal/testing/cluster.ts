/**
 * `MemoryCluster`: full nodes (ProcessRuntime + DistNode: handshake, ticks, net_kernel)
 * in one JS process, over the in-memory network of `network.ts`. Each node lives in
 * its own scope under the cluster's, so it can be killed and started again.
 */
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { Atom } from "@effect-otp/process/Term"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as DistNode from "../../DistNode.js"
import * as Epmd from "../../Epmd.js"
import type { ClusterNode, Link, MemoryClusterShape, NodeOptions, Options } from "../../MemoryCluster.js"
import { NetKernel } from "../../NetKernel.js"
import * as Transport from "../../Transport.js"
import * as HostResolver from "../hostResolver.js"
import { type Interface, type Link as NetLink, NetworkImpl } from "./network.js"

/** The host of a bare node name. */
const DEFAULT_HOST = "memory"
const DEFAULT_COOKIE = "memory-cluster"

interface Incarnation {
  readonly handle: ClusterNode
  readonly iface: Interface
  readonly scope: Scope.CloseableScope
  readonly options: NodeOptions
}

/** (internal) */
export const make = (
  names: ReadonlyArray<string>,
  options: Options = {}
): Effect.Effect<MemoryClusterShape, DistNode.DistNodeError, Scope.Scope> =>
  Effect.gen(function*() {
    const clusterScope = yield* Effect.scope
    const network = new NetworkImpl()
    const nodes = new Map<string, Incarnation>()
    const host = options.host ?? DEFAULT_HOST

    const fullName = (name: string | Atom): string => {
      const text = typeof name === "string" ? name : name.name
      return text.includes("@") ? text : `${text}@${host}`
    }

    const incarnation = (name: string | Atom): Incarnation => {
      const found = nodes.get(fullName(name))
      if (found === undefined) throw new Error(`MemoryCluster: no node ${fullName(name)}`)
      return found
    }

    const noNameServer = Layer.succeed(DistNode.NameServer, { start: Effect.void })

    const start = (
      name: string | Atom,
      nodeOptions: NodeOptions = {}
    ): Effect.Effect<ClusterNode, DistNode.DistNodeError> =>
      Effect.gen(function*() {
        const full = fullName(name)
        const previous = nodes.get(full)
        if (previous !== undefined && previous.iface.alive) yield* kill(full)
        const at = full.indexOf("@")
        const { iface, transport } = network.attach(full, full.slice(at + 1))
        const services = Context.make(Transport.Transport, transport).pipe(
          Context.add(Epmd.Epmd, network.epmd.client(iface.host)),
          // host names are the addresses of the in-memory network: resolve each to itself
          Context.add(HostResolver.HostResolver, { hostname: () => iface.host, lookup: Effect.succeed })
        )
        const layer = DistNode.layer({
          cookie: options.cookie ?? DEFAULT_COOKIE,
          ...(options.netTicktime !== undefined ? { netTicktime: options.netTicktime } : {}),
          ...(options.setupTime !== undefined ? { setupTime: options.setupTime } : {}),
          hidden: options.hidden ?? false,
          ...nodeOptions,
          name: full
        }).pipe(
          // no OTP global of its own (see `Options.hidden`): only the cluster's own nodes can connect here
          Layer.provide(noNameServer),
          Layer.provideMerge(ProcessRuntime.layer),
          Layer.provide(Layer.succeedContext(services))
        )
        const scope = yield* Scope.fork(clusterScope, ExecutionStrategy.sequential)
        const context = yield* Layer.buildWithScope(layer, scope).pipe(
          Effect.tapErrorCause(() => Scope.close(scope, Exit.void))
        )
        const kernel = Context.get(context, NetKernel)
        const runtime = Context.get(context, ProcessRuntime.ProcessRuntime)
        const handle: ClusterNode = {
          name: kernel.node,
          creation: kernel.creation,
          context,
          runtime,
          kernel,
          isAlive: () => iface.alive,
          provide: (effect) => Effect.provide(effect, context)
        }
        nodes.set(full, { handle, iface, scope, options: nodeOptions })
        return handle
      })

    const kill = (name: string | Atom): Effect.Effect<void> =>
      Effect.suspend(() => {
        const node = incarnation(name)
        if (!node.iface.alive) return Effect.void
        // first the network (nothing more leaves the node, its peers see the links close),
        // then the node itself: its processes die with it
        network.kill(node.iface, node.handle.name.name.slice(0, node.handle.name.name.indexOf("@")))
        return Scope.close(node.scope, Exit.void)
      })

    const restart = (name: string | Atom, nodeOptions?: NodeOptions) =>
      Effect.suspend(() => start(name, nodeOptions ?? incarnation(name).options))

    const pair = (f: (a: string, b: string) => void) => (a: string | Atom, b: string | Atom): Effect.Effect<void> =>
      Effect.sync(() => f(fullName(a), fullName(b)))

    for (const name of names) yield* start(name)

    return {
      node: (name) => incarnation(name).handle,
      nodes: () => [...nodes.values()].filter((n) => n.iface.alive).map((n) => n.handle),
      start,
      kill,
      restart,
      partition: pair((a, b) => network.partition(a, b)),
      heal: pair((a, b) => network.heal(a, b)),
      freeze: pair((a, b) => network.freeze(a, b)),
      thaw: pair((a, b) => network.thaw(a, b)),
      links: (a, b) => Effect.sync(() => network.linksBetween(fullName(a), fullName(b)).map(toLink)),
      awaitLinks: (a, b, count) =>
        Effect.map(network.awaitLinks(fullName(a), fullName(b), count), (links) => links.map(toLink))
    } satisfies MemoryClusterShape
  })

const toLink = (l: NetLink): Link => ({
  dialer: Atom.make(l.dialer.node),
  acceptor: Atom.make(l.acceptor.node),
  isOpen: () => l.isOpen(),
  closed: l.closed
})
