/**
 * net_kernel: the node's connection table and its policy (connect on demand, the
 * simultaneous-connect rule, `allow`, visible/hidden, node events) and the `net_kernel`
 * process that answers `is_auth`.
 *
 * The other parts of the distribution each have their own module:
 * - `connection/setup.ts`: our side of a connection (`inet_tcp_dist:setup`);
 * - `connection/connection.ts`: a connected channel (frames, ticks, reader and writer);
 * - `routing.ts`: signals to other nodes (pending queues, busy waits) and receive backpressure;
 * - `control/signals.ts` and `control/dispatch.ts`: signal ↔ control message (erts `dist.c`);
 * - `control/handlers.ts`: spawn request/reply, DOWN and alias handlers of other services;
 * - `nodeEvents.ts`: nodeup/nodedown for streams, `monitor_nodes` and `monitor_node`.
 */
import * as Process from "@effect-otp/process/Process"
import { ProcessRuntime, type ProcessRuntimeShape } from "@effect-otp/process/ProcessRuntime"
import { RouteError } from "@effect-otp/process/Router"
import * as Sig from "@effect-otp/process/Signal"
import { Atom, atoms, equals, isTagged, Pid, Ref, type Term, Tuple, tuple } from "@effect-otp/process/Term"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import type * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { EpmdService } from "../Epmd.js"
import * as Flags from "../Flags.js"
import * as Handshake from "../Handshake.js"
import type { Carrier, Listener, Transport } from "../Transport.js"
import * as Conn from "./connection/connection.js"
import * as Setup from "./connection/setup.js"
import type * as Control from "./control/codec.js"
import { makeDispatch } from "./control/dispatch.js"
import { ControlHandlers } from "./control/handlers.js"
import type { HandshakeResult, PolicyDecision } from "./handshake/machine.js"
import * as HostResolver from "./hostResolver.js"
import { type NodeEvent, NodeEvents, type SubscribeOptions } from "./nodeEvents.js"
import { makeDelivery, makeRouter } from "./routing.js"
import { addressGroup, PendingLimiter, type PendingSlot } from "./transport/pending.js"

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

export { ConnectError } from "./connection/setup.js"
type ConnectError = Setup.ConnectError
const ConnectError = Setup.ConnectError

export type { NodeEvent, SubscribeOptions } from "./nodeEvents.js"

export type NodeKind = "visible" | "hidden" | "connected" | "this" | "known"

export interface NetKernelOptions {
  readonly name: Atom
  readonly creation: number
  readonly cookie: Redacted.Redacted<string>
  readonly hidden: boolean
  readonly tickTime: Duration.Duration
  readonly setupTime: Duration.Duration
  readonly allow: ReadonlyArray<string> | undefined
  /** `-connect_all`; without `global` the node never builds the transitive mesh either way */
  readonly connectAll?: boolean | undefined
  /** handshakes in progress at most, in all (beyond it the address holding the most makes room) */
  readonly maxPendingHandshakes: number
  /** handshakes in progress at most from one address (IPv6: one /64); default 8 */
  readonly maxPendingHandshakesPerAddress?: number | undefined
  /** an incoming connection must send its first handshake message within this (at most setupTime) */
  readonly firstMessageTimeout?: Duration.Duration | undefined
  readonly maxFrameSize: number | undefined
  readonly connectTimeout: Duration.Duration
  /** per connection: pause reading when this many received bytes wait to be handled */
  readonly maxInboundBytes?: number | undefined
  /**
   * receive backpressure: a connection stops reading while a local process it just
   * delivered to has more than this many messages waiting (until it is down to half)
   */
  readonly maxMailboxBacklog?: number | undefined
  /** per frame: estimated heap bytes its decoded terms may take (a bigger frame closes its connection) */
  readonly maxTermBytes?: number | undefined
  /** a frame that would add an atom when the atom table holds this many closes its connection */
  readonly maxAtoms?: number | undefined
}

interface Entry {
  state: "pending" | "up"
  /** which attempt owns the pending state (a generation counter) */
  attempt: number
  initiating: boolean
  /** we lost a simultaneous connect (`nok`): the peer's own attempt to us completes this entry */
  awaitingPeer: boolean
  readonly ready: Deferred.Deferred<Conn.Connection, ConnectError>
  conn: Conn.Connection | undefined
  hidden: boolean
  /** our own setup fiber, interrupted when we lose a simultaneous connect */
  fiber: Fiber.RuntimeFiber<void, never> | undefined
  /** the connection's scope, closed on nodedown */
  scope: Scope.CloseableScope | undefined
  /** completed once this connection's nodedown has been published (events stay ordered per node) */
  readonly down: Deferred.Deferred<void>
  /** the connection's id once up (`connection_id` in OTP 25) */
  connectionId: number
}

/** What `nodes(kind, options)` tells of a node, as the map of `erlang:nodes/2`. */
export interface NodeInfo {
  readonly node: Atom
  /** with `connectionId: true`: the connection's id; `undefined` for this node */
  readonly connectionId?: number | undefined
  /** with `nodeType: true` */
  readonly nodeType?: "visible" | "hidden" | "this" | "known" | undefined
}

/** The options of `erlang:nodes/2`. */
export interface NodesOptions {
  readonly connectionId?: boolean | undefined
  readonly nodeType?: boolean | undefined
}

export interface NetKernelImpl {
  readonly node: Atom
  readonly creation: number
  readonly port: number
  readonly hidden: boolean
  /** `-connect_all` as configured (no transitive connects happen without `global`) */
  readonly connectAll: boolean
  readonly netKernelPid: Pid
  readonly connect: (node: Atom | string) => Effect.Effect<void, ConnectError>
  readonly ping: (node: Atom | string) => Effect.Effect<"pong" | "pang">
  readonly nodes: (kind?: NodeKind | ReadonlyArray<NodeKind>) => ReadonlyArray<Atom>
  /** `erlang:nodes/2`: each node with the info asked for */
  readonly nodesInfo: (kind: NodeKind | ReadonlyArray<NodeKind>, options: NodesOptions) => ReadonlyArray<NodeInfo>
  readonly disconnect: (node: Atom | string) => Effect.Effect<boolean>
  readonly nodeEvents: Stream.Stream<NodeEvent>
  /** the node events from now on, for the scope */
  readonly subscribeEvents: Effect.Effect<Stream.Stream<NodeEvent>, never, Scope.Scope>
  readonly subscribeNodes: (pid: Pid, options?: SubscribeOptions) => () => void
  /** `erlang:monitor_node(Node, Flag)`: `false` takes one of the process's monitors of the node away */
  readonly monitorNode: (pid: Pid, node: Atom, flag?: boolean) => Effect.Effect<void>
  readonly setAllow: (nodes: ReadonlyArray<string> | undefined) => void
  readonly connection: (node: Atom) => Conn.Connection | undefined
  readonly sendControl: (node: Atom, control: Control.ControlMessage, message?: Term) => Effect.Effect<
    void,
    RouteError
  >
  /**
   * Handlers for the control messages that other services serve (spawn request and
   * reply, DOWN of monitors kept outside the process table, alias sends): register
   * scoped, any number of them.
   */
  readonly handlers: ControlHandlers
}

const A = {
  net_kernel: Atom.make("net_kernel"),
  gen_call: Atom.make("$gen_call"),
  is_auth: Atom.make("is_auth"),
  yes: Atom.make("yes")
} as const

/** handshakes in progress from one address (IPv6: one /64) at most, by default */
const DEFAULT_PENDING_PER_ADDRESS = 8
/** a peer sends send_name as soon as it is connected; a silent socket gives its slot back after this */
const DEFAULT_FIRST_MESSAGE_TIMEOUT = Duration.seconds(2)

const nodeText = (node: Atom | string): string => typeof node === "string" ? node : node.name

/** Atom order for the simultaneous-connect rule: bytewise on the UTF-8 names. */
const greaterName = (a: string, b: string): boolean => Buffer.compare(Buffer.from(a), Buffer.from(b)) > 0

// ---------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------

export const make = (
  options: NetKernelOptions,
  deps: {
    readonly runtime: ProcessRuntimeShape
    readonly transport: Context_Transport
    readonly epmd: EpmdService
    readonly listener: Listener
  }
): Effect.Effect<NetKernelImpl, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { epmd, listener, runtime, transport } = deps
    const resolver = yield* HostResolver.HostResolver
    const thisNode = options.name
    const thisName = thisNode.name
    const kernelScope = yield* Effect.scope
    const fibers = yield* FiberSet.make<void, never>()
    const runFork = yield* FiberSet.runtime(fibers)<never>()
    const fork = (effect: Effect.Effect<void>) => {
      runFork(effect)
    }
    const table = new Map<string, Entry>()
    let allow: ReadonlySet<string> | undefined = options.allow ? new Set(options.allow) : undefined
    let attempts = 0
    const pending = new PendingLimiter(
      Math.max(1, options.maxPendingHandshakesPerAddress ?? DEFAULT_PENDING_PER_ADDRESS),
      Math.max(1, options.maxPendingHandshakes)
    )
    const events = yield* NodeEvents.make(runtime)
    /** connection ids: unique per connection of this node (erts counts per dist entry) */
    let connectionIds = 0
    const nextConnectionId = () => ++connectionIds
    const handlers = new ControlHandlers()

    const flags = Flags.recommended({ hidden: options.hidden })
    const common = {
      thisNode: thisName,
      cookie: options.cookie,
      creation: options.creation,
      hidden: options.hidden,
      setupTime: options.setupTime
    }
    const setupOptions: Setup.SetupOptions = { ...common, flags, transport, epmd, resolver }
    const warn = (text: string) => fork(Effect.logWarning(text).pipe(Effect.annotateLogs("module", "NetKernel")))

    // --- frames from a peer ----------------------------------------------------

    const onFrame = makeDispatch({
      runtime,
      handlers,
      limits: { maxTermBytes: options.maxTermBytes, maxAtoms: options.maxAtoms },
      deliver: makeDelivery({ runtime, maxMailboxBacklog: options.maxMailboxBacklog ?? 100_000, fork, warn }),
      sendControl: (node, control) => sendControl(node, control)
    })

    // --- signals to other nodes ----------------------------------------------------

    const upConnection = (name: string): Conn.Connection | undefined => {
      const e = table.get(name)
      return e !== undefined && e.state === "up" ? e.conn : undefined
    }
    const router = makeRouter({
      thisNode,
      runtime,
      connection: upConnection,
      known: (name) => table.has(name),
      ensure: (node) => ensure(node),
      anonymous: () => netKernelPid,
      fork,
      warn
    })

    const sendControl = (node: Atom, control: Control.ControlMessage, message?: Term) =>
      Effect.flatMap(
        Effect.mapError(ensure(node), () => new RouteError({ reason: "NoConnection", node })),
        (conn) =>
          Effect.mapError(conn.sendControl(control, message), () => new RouteError({ reason: "NoConnection", node }))
      )

    // --- the table ---------------------------------------------------------------

    const newEntry = (initiating: boolean): Entry => ({
      state: "pending",
      attempt: ++attempts,
      initiating,
      awaitingPeer: false,
      ready: Deferred.unsafeMake<Conn.Connection, ConnectError>(FiberId.none),
      conn: undefined,
      hidden: true,
      fiber: undefined,
      scope: undefined,
      down: Deferred.unsafeMake<void>(FiberId.none),
      connectionId: 0
    })

    const failEntry = (name: string, entry: Entry, error: ConnectError) => {
      if (table.get(name) === entry) table.delete(name)
      Deferred.unsafeDone(entry.ready, Exit.fail(error))
    }

    /** A handshake finished (either role): start the connection and announce nodeup. */
    const up = (
      entry: Entry,
      result: HandshakeResult,
      carrier: Carrier,
      scope: Scope.CloseableScope
    ): Effect.Effect<void> =>
      Effect.gen(function*() {
        const name = result.peerName
        const conn = yield* Conn.make({
          carrier,
          handshake: result,
          onFrame: onFrame(result.peer),
          tickTime: options.tickTime,
          maxFrameSize: options.maxFrameSize,
          maxInboundBytes: options.maxInboundBytes
        }).pipe(Scope.extend(scope))
        entry.state = "up"
        entry.conn = conn
        entry.scope = scope
        entry.fiber = undefined
        entry.hidden = options.hidden || result.hidden
        entry.connectionId = nextConnectionId()
        table.set(name, entry)
        events.publish({ _tag: "nodeup", node: result.peer, hidden: entry.hidden, connectionId: entry.connectionId })
        yield* Effect.logDebug(`nodeup ${name}`).pipe(Effect.annotateLogs("module", "NetKernel"))
        Deferred.unsafeDone(entry.ready, Exit.succeed(conn))
        runFork(
          Effect.flatMap(conn.closed, (closed) =>
            Effect.gen(function*() {
              if (table.get(name) === entry) table.delete(name)
              yield* runtime.nodeDown(result.peer)
              events.publish({
                _tag: "nodedown",
                node: result.peer,
                hidden: entry.hidden,
                connectionId: entry.connectionId,
                reason: closed.nodedownReason
              })
              Deferred.unsafeDone(entry.down, Exit.void)
              yield* Scope.close(scope, Exit.void)
              yield* Effect.logDebug(`nodedown ${name}: ${closed.message}`).pipe(
                Effect.annotateLogs("module", "NetKernel")
              )
            }))
        )
      })

    /** Our side of a connection attempt (net_kernel:connect_node). */
    const setup = (name: string, entry: Entry): Effect.Effect<void> =>
      Effect.gen(function*() {
        const scope = yield* Scope.fork(kernelScope, ExecutionStrategy.sequential)
        const attempt = Scope.extend(Setup.setup(name, setupOptions), scope)
        const exit = yield* Effect.exit(attempt)
        if (Exit.isSuccess(exit)) {
          if (table.get(name) !== entry || entry.attempt === -1) {
            yield* Scope.close(scope, Exit.void)
            return
          }
          return yield* up(entry, exit.value.result, exit.value.carrier, scope)
        }
        yield* Scope.close(scope, Exit.void)
        if (Cause.isInterruptedOnly(exit.cause)) return
        const error = Cause.failureOption(exit.cause)
        const ce = Option.isSome(error)
          ? Setup.connectionFailed(name, error.value)
          : new ConnectError({ node: name, reason: "Handshake", detail: Cause.pretty(exit.cause) })
        if (ce.reason === "SimultaneousLost" && table.get(name) === entry) {
          // the peer's own attempt to us will finish the connection; wait for it a while
          entry.initiating = false
          entry.awaitingPeer = true
          entry.fiber = undefined
          runFork(
            Effect.sleep(options.setupTime).pipe(
              Effect.andThen(() => {
                if (entry.awaitingPeer && entry.state === "pending" && table.get(name) === entry) {
                  failEntry(name, entry, ce)
                }
              })
            )
          )
          return
        }
        yield* Effect.logDebug(`connect to ${name} failed: ${ce.message}`).pipe(
          Effect.annotateLogs("module", "NetKernel")
        )
        failEntry(name, entry, ce)
      })

    const ensure = (node: Atom | string): Effect.Effect<Conn.Connection, ConnectError> =>
      Effect.suspend(() => {
        const name = nodeText(node)
        const existing = table.get(name)
        if (existing !== undefined) {
          return existing.conn !== undefined && existing.state === "up"
            ? Effect.succeed(existing.conn)
            : Deferred.await(existing.ready)
        }
        if (name === thisName) {
          return Effect.fail(new ConnectError({ node: name, reason: "BadNodeName", detail: "this node" }))
        }
        const at = name.indexOf("@")
        if (at <= 0 || at === name.length - 1 || name.indexOf("@", at + 1) >= 0) {
          return Effect.fail(new ConnectError({ node: name, reason: "BadNodeName" }))
        }
        const entry = newEntry(true)
        table.set(name, entry)
        entry.fiber = runFork(setup(name, entry))
        return Deferred.await(entry.ready)
      })

    // --- accepting ---------------------------------------------------------------

    const policy = (carrierScope: { entry: Entry | undefined }) =>
    (
      peerName: string,
      _flags: bigint,
      _creation: number
    ): Effect.Effect<PolicyDecision> =>
      Effect.sync((): PolicyDecision => {
        if (allow !== undefined && !allow.has(peerName)) return "not_allowed"
        const existing = table.get(peerName)
        if (existing === undefined) {
          const entry = newEntry(false)
          table.set(peerName, entry)
          carrierScope.entry = entry
          return "ok"
        }
        if (existing.state === "up") return "alive"
        if (existing.awaitingPeer) {
          // our attempt got `nok`: this is the peer's attempt we wait for
          existing.awaitingPeer = false
          existing.attempt = ++attempts
          carrierScope.entry = existing
          return "ok"
        }
        if (!existing.initiating) return "nok"
        // simultaneous connect: the greater name keeps its own attempt
        if (greaterName(thisName, peerName)) return "nok"
        const fiber = existing.fiber
        existing.fiber = undefined
        existing.initiating = false
        existing.attempt = ++attempts
        if (fiber !== undefined) runFork(Fiber.interrupt(fiber).pipe(Effect.asVoid))
        carrierScope.entry = existing
        return "ok_simultaneous"
      })

    const onAliveConfirmed = (carrierScope: { entry: Entry | undefined }) => (peerName: string): Effect.Effect<void> =>
      Effect.gen(function*() {
        const old = table.get(peerName)
        if (old?.conn !== undefined) {
          yield* old.conn.close("peer reconnected")
          // wait until its nodedown has been published: never two nodeups without a nodedown
          yield* Deferred.await(old.down)
        }
        if (table.get(peerName) === old) table.delete(peerName)
        const entry = newEntry(false)
        table.set(peerName, entry)
        carrierScope.entry = entry
      })

    const acceptOne = (carrier: Carrier, scope: Scope.CloseableScope, slot: PendingSlot): Effect.Effect<void> => {
      const holder: { entry: Entry | undefined } = { entry: undefined }
      return Effect.gen(function*() {
        const exit = yield* Effect.exit(Handshake.accept(carrier, {
          ...common,
          flags,
          policy: policy(holder),
          onAliveConfirmed: onAliveConfirmed(holder),
          firstMessageTimeout: options.firstMessageTimeout ?? DEFAULT_FIRST_MESSAGE_TIMEOUT
        }))
        slot.release()
        const entry = holder.entry
        if (Exit.isSuccess(exit) && entry !== undefined && table.get(exit.value.peerName) === entry) {
          return yield* up(entry, exit.value, carrier, scope)
        }
        yield* Scope.close(scope, Exit.void)
        if (Exit.isFailure(exit)) {
          const error = Cause.failureOption(exit.cause)
          // refusing the peer's attempt in a simultaneous connect is routine (OTP logs nothing)
          const routine = Option.isSome(error) && error.value.reason === "Nok"
          yield* (routine ? Effect.logDebug : Effect.logWarning)(
            `handshake from ${carrier.remoteAddress?.host ?? "?"} failed: ${
              Option.isSome(error) ? error.value.message : Cause.pretty(exit.cause)
            }`
          ).pipe(Effect.annotateLogs("module", "NetKernel"))
          if (entry !== undefined) {
            const name = Option.isSome(error) ? error.value.peer ?? "" : ""
            const key = [...table.entries()].find(([, e]) => e === entry)?.[0] ?? name
            failEntry(key, entry, new ConnectError({ node: key, reason: "Handshake", detail: "accept failed" }))
          }
        }
      })
    }

    const acceptLoop: Effect.Effect<never> = Effect.forever(
      Effect.gen(function*() {
        const scope = yield* Scope.fork(kernelScope, ExecutionStrategy.sequential)
        const carrier = yield* listener.accept.pipe(Scope.extend(scope), Effect.orDie)
        const from = addressGroup(carrier.remoteAddress?.host)
        const slot = pending.admit(from, () => carrier.unsafeClose("evicted: too many pending handshakes"))
        if (typeof slot === "string") {
          yield* Effect.logWarning(
            slot === "AddressFull"
              ? `too many pending handshakes from ${from} (${pending.perAddress}); connection refused`
              : `too many pending handshakes (${pending.size}); connection from ${from} refused`
          ).pipe(Effect.annotateLogs("module", "NetKernel"))
          yield* Scope.close(scope, Exit.void)
          return
        }
        runFork(acceptOne(carrier, scope, slot))
      })
    )
    runFork(Effect.catchAllCause(acceptLoop, (cause) => Effect.logError("accept loop stopped", cause)))

    // --- the net_kernel process -----------------------------------------------

    // answers `gen:call`s (the reply goes to the caller's alias, as `gen:reply` does)
    const netKernelLoop = Effect.forever(
      Effect.flatMap(Process.receive(), (msg) => {
        if (isTagged(msg, A.gen_call, 3)) {
          const [, from, request] = (msg as Tuple).elements
          if (from instanceof Tuple && from.elements.length === 2 && from.elements[0] instanceof Pid) {
            if (isTagged(request, A.is_auth, 2)) return Process.reply(from, A.yes)
            return Process.reply(from, tuple(atoms.error, Atom.make("not_supported")))
          }
        }
        return Effect.void
      })
    )
    const netKernelPid = yield* Process.spawn(netKernelLoop, { name: A.net_kernel }).pipe(
      Effect.provideService(ProcessRuntime, runtime),
      Effect.orDie
    )

    // --- public operations --------------------------------------------------------

    const connect = (node: Atom | string) => Effect.asVoid(ensure(node))

    const pingVia = (node: Atom): Effect.Effect<"pong" | "pang"> =>
      Process.run(
        Effect.gen(function*() {
          const self = yield* Process.self
          const target = new Sig.RemoteName({ name: A.net_kernel, node })
          const ref = yield* Process.monitor(target)
          yield* Process.send(target, tuple(A.gen_call, tuple(self, ref), tuple(A.is_auth, thisNode)))
          const answer = yield* Process.receive(
            (m): Option.Option<"pong" | "pang"> => {
              if (m instanceof Tuple && m.elements.length === 2 && m.elements[0] instanceof Ref) {
                if (equals(m.elements[0], ref)) {
                  return Option.some(m.elements[1] === A.yes ? "pong" : "pang")
                }
              }
              if (Process.isDownMessage(m, ref)) return Option.some("pang")
              return Option.none()
            },
            { after: options.connectTimeout }
          )
          yield* Process.demonitor(ref, { flush: true })
          return Option.getOrElse(answer, () => "pang" as const)
        })
      ).pipe(Effect.provideService(ProcessRuntime, runtime), Effect.orElseSucceed(() => "pang" as const))

    const ping = (node: Atom | string): Effect.Effect<"pong" | "pang"> =>
      Effect.suspend(() => {
        const name = nodeText(node)
        if (name === thisName) return Effect.succeed("pong" as const)
        return Effect.flatMap(Effect.either(ensure(name)), (connected) => {
          if (connected._tag === "Left") return Effect.succeed("pang" as const)
          return Effect.tap(
            pingVia(Atom.make(name)),
            (answer) => answer === "pang" ? Effect.asVoid(disconnect(name)) : Effect.void
          )
        })
      })

    const nodes = (kind?: NodeKind | ReadonlyArray<NodeKind>): ReadonlyArray<Atom> => {
      const kinds = new Set<NodeKind>(kind === undefined ? ["visible"] : typeof kind === "string" ? [kind] : kind)
      const out: Array<Atom> = []
      if (kinds.has("this")) out.push(thisNode)
      for (const [name, e] of table) {
        if (e.state !== "up") continue
        if (kinds.has("connected") || kinds.has("known") || (e.hidden ? kinds.has("hidden") : kinds.has("visible"))) {
          out.push(Atom.make(name))
        }
      }
      return out
    }

    const nodesInfo = (kind: NodeKind | ReadonlyArray<NodeKind>, opts: NodesOptions): ReadonlyArray<NodeInfo> => {
      const kinds = new Set<NodeKind>(typeof kind === "string" ? [kind] : kind)
      const info = (node: Atom, connectionId: number | undefined, nodeType: NodeInfo["nodeType"]): NodeInfo => ({
        node,
        ...(opts.connectionId === true ? { connectionId } : {}),
        ...(opts.nodeType === true ? { nodeType } : {})
      })
      const out: Array<NodeInfo> = []
      if (kinds.has("this")) out.push(info(thisNode, undefined, "this"))
      for (const [name, e] of table) {
        if (e.state !== "up") continue
        if (kinds.has("connected") || kinds.has("known") || (e.hidden ? kinds.has("hidden") : kinds.has("visible"))) {
          out.push(info(Atom.make(name), e.connectionId, e.hidden ? "hidden" : "visible"))
        }
      }
      return out
    }

    const disconnect = (node: Atom | string): Effect.Effect<boolean> =>
      Effect.suspend(() => {
        const name = nodeText(node)
        const e = table.get(name)
        if (e === undefined) return Effect.succeed(false)
        if (e.state === "up" && e.conn !== undefined) {
          const conn = e.conn
          return Effect.zipRight(conn.close("disconnect"), Effect.as(Effect.ignore(conn.closed), true))
        }
        if (e.fiber !== undefined) {
          const f = e.fiber
          failEntry(name, e, new ConnectError({ node: name, reason: "Closed", detail: "disconnected" }))
          return Effect.as(Fiber.interrupt(f), true)
        }
        return Effect.succeed(false)
      })

    const monitorNode = (pid: Pid, node: Atom, flag = true): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (node === thisNode) return Effect.void
        if (!flag) {
          events.demonitorNode(pid, node)
          return Effect.void
        }
        return Effect.map(Effect.either(ensure(node)), (r) => {
          if (r._tag === "Left") events.nodedownNow(pid, node)
          else events.monitorNode(pid, node)
        })
      })

    // --- shutdown ---------------------------------------------------------------

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* runtime.setRouter(undefined)
        for (const e of table.values()) if (e.conn !== undefined) yield* e.conn.close("shutdown")
        table.clear()
      })
    )

    yield* runtime.setRouter(router)

    return {
      node: thisNode,
      creation: options.creation,
      port: listener.port,
      hidden: options.hidden,
      connectAll: options.connectAll !== false,
      netKernelPid,
      connect,
      ping,
      nodes,
      nodesInfo,
      disconnect,
      nodeEvents: Stream.fromPubSub(events.pubsub),
      subscribeEvents: Effect.map(PubSub.subscribe(events.pubsub), Stream.fromQueue),
      subscribeNodes: (pid, opts) => events.subscribe(pid, opts),
      monitorNode,
      setAllow: (list) => {
        allow = list ? new Set(list) : undefined
      },
      connection: (node) => {
        const e = table.get(node.name)
        return e?.state === "up" ? e.conn : undefined
      },
      sendControl,
      handlers
    } satisfies NetKernelImpl
  })

type Context_Transport = Transport["Type"]
