/**
 * net_kernel: the node's connection table and policy (connect on demand, the
 * simultaneous-connect rule, allow, visible/hidden, nodeup/nodedown), the Router that
 * carries signals to other nodes, the frame dispatcher that turns control messages
 * into local signals, and the `net_kernel` process that answers `is_auth`.
 *
 * Mechanism lives elsewhere: `Transport` (bytes), `Handshake` (dist_util),
 * `Connection` (frames, ticks, the writer fiber).
 */
import * as Process from "@effect-otp/process/Process"
import { ProcessRuntime, type ProcessRuntimeShape } from "@effect-otp/process/ProcessRuntime"
import { RouteError, type RouterShape, type SendOptions, type SendResult } from "@effect-otp/process/Router"
import * as Sig from "@effect-otp/process/Signal"
import { Atom, atoms, equals, isTagged, isTerm, Pid, Ref, type Term, Tuple, tuple } from "@effect-otp/process/Term"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
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
import * as Control from "./control/codec.js"
import type { HandshakeError, HandshakeResult, PolicyDecision } from "./handshake/machine.js"
import * as HostResolver from "./hostResolver.js"
import { addressGroup, PendingLimiter, type PendingSlot } from "./transport/pending.js"

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

/** Why `connect` failed. */
export class ConnectError extends Data.TaggedError("ConnectError")<{
  readonly node: string
  readonly reason:
    | "PeerUnreachable"
    | "Handshake"
    | "NotAllowed"
    | "Timeout"
    | "SimultaneousLost"
    | "Closed"
    | "BadNodeName"
  readonly detail?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    return `cannot connect to ${this.node}: ${this.reason}${this.detail ? ` (${this.detail})` : ""}`
  }
}

export type NodeKind = "visible" | "hidden" | "connected" | "this" | "known"

export interface NodeEvent {
  readonly _tag: "nodeup" | "nodedown"
  readonly node: Atom
  readonly hidden: boolean
  readonly reason?: string | undefined
}

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
  readonly disconnect: (node: Atom | string) => Effect.Effect<boolean>
  readonly nodeEvents: Stream.Stream<NodeEvent>
  /** the node events from now on, for the scope */
  readonly subscribeEvents: Effect.Effect<Stream.Stream<NodeEvent>, never, Scope.Scope>
  readonly subscribeNodes: (
    pid: Pid,
    options?: { readonly hidden?: boolean; readonly nodedownReason?: boolean }
  ) => () => void
  readonly monitorNode: (pid: Pid, node: Atom) => Effect.Effect<void>
  readonly setAllow: (nodes: ReadonlyArray<string> | undefined) => void
  readonly connection: (node: Atom) => Conn.Connection | undefined
  readonly sendControl: (node: Atom, control: Control.ControlMessage, message?: Term) => Effect.Effect<
    void,
    RouteError
  >
  readonly onSpawnRequest: (
    handler: (
      node: Atom,
      req: Extract<Control.ControlMessage, { _tag: "SpawnRequest" | "SpawnRequestTT" }>,
      args: Term | undefined
    ) => Effect.Effect<void>
  ) => void
  readonly onSpawnReply: (
    handler: (req: Extract<Control.ControlMessage, { _tag: "SpawnReply" | "SpawnReplyTT" }>) => void
  ) => void
  /**
   * A MONITOR_P_EXIT from a peer is first offered to this handler (the monitors that
   * `spawn_request` sets up live outside the process table); `true` means it was handled.
   */
  readonly onDown: (handler: (from: Pid | Atom, to: Pid, ref: Ref, reason: Term) => boolean) => void
}

const A = {
  net_kernel: Atom.make("net_kernel"),
  gen_call: Atom.make("$gen_call"),
  is_auth: Atom.make("is_auth"),
  yes: Atom.make("yes"),
  no: Atom.make("no"),
  nodeup: Atom.make("nodeup"),
  nodedown: Atom.make("nodedown"),
  nodedown_reason: Atom.make("nodedown_reason"),
  node_type: Atom.make("node_type"),
  visible: Atom.make("visible"),
  hidden: Atom.make("hidden"),
  notsup: Atom.make("notsup"),
  empty: Atom.make("")
} as const

/** Names OTP nodes send to on a visible connection or from remote group leaders. */
const otpServices = new Set(["global_name_server", "global_group", "logger_proxy", "pg", "global_group_check", "rex"])

/** handshakes in progress from one address (IPv6: one /64) at most, by default */
const DEFAULT_PENDING_PER_ADDRESS = 8
/** a peer sends send_name as soon as it is connected; a silent socket gives its slot back after this */
const DEFAULT_FIRST_MESSAGE_TIMEOUT = Duration.seconds(2)

/** how often a connection waiting on a full mailbox looks again */
const BACKLOG_POLL = Duration.millis(5)

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
    const table = new Map<string, Entry>()
    let allow: ReadonlySet<string> | undefined = options.allow ? new Set(options.allow) : undefined
    let attempts = 0
    const pending = new PendingLimiter(
      Math.max(1, options.maxPendingHandshakesPerAddress ?? DEFAULT_PENDING_PER_ADDRESS),
      Math.max(1, options.maxPendingHandshakes)
    )
    const events = yield* PubSub.unbounded<NodeEvent>()
    const subscribers = new Map<Pid, { hidden: boolean; reason: boolean }>()
    /** a subscription or node monitor ends with its process */
    const gone = (pid: Pid) => runtime.isLocal(pid) && !runtime.unsafeIsAlive(pid)
    const nodeMonitors = new Map<string, Array<Pid>>()
    let spawnRequestHandler: Parameters<NetKernelImpl["onSpawnRequest"]>[0] | undefined
    let spawnReplyHandler: Parameters<NetKernelImpl["onSpawnReply"]>[0] | undefined
    let downHandler: Parameters<NetKernelImpl["onDown"]>[0] | undefined

    const flags = Flags.recommended({ hidden: options.hidden })
    const common = {
      thisNode: thisName,
      cookie: options.cookie,
      creation: options.creation,
      hidden: options.hidden,
      setupTime: options.setupTime
    }

    // --- node events -----------------------------------------------------------

    const publish = (event: NodeEvent) => {
      Effect.runSync(PubSub.publish(events, event))
      for (const [pid, sub] of subscribers) {
        if (gone(pid)) {
          subscribers.delete(pid)
          continue
        }
        if (event.hidden && !sub.hidden) continue
        // OTP's order: [{nodedown_reason, R}, {node_type, T}]
        const info: Array<Term> = []
        if (sub.reason && event._tag === "nodedown") {
          info.push(tuple(A.nodedown_reason, Atom.make(event.reason ?? "connection_closed")))
        }
        if (sub.hidden) info.push(tuple(A.node_type, event.hidden ? A.hidden : A.visible))
        const tag = event._tag === "nodeup" ? A.nodeup : A.nodedown
        runtime.unsafeSend(pid, sub.hidden || sub.reason ? tuple(tag, event.node, info) : tuple(tag, event.node))
      }
      if (event._tag === "nodedown") {
        const watchers = nodeMonitors.get(event.node.name)
        if (watchers !== undefined) {
          nodeMonitors.delete(event.node.name)
          for (const pid of watchers) if (!gone(pid)) runtime.unsafeSend(pid, tuple(A.nodedown, event.node))
        }
      }
    }

    // --- frames from a peer ----------------------------------------------------

    /**
     * Receive backpressure: when the process a frame was delivered to has more than
     * `maxMailboxBacklog` messages waiting, the connection's reader waits (and so stops
     * reading once `maxInboundBytes` are buffered; TCP then pushes back on the sender)
     * until the mailbox is down to half. Head-of-line: the whole connection waits.
     */
    const backlogCap = options.maxMailboxBacklog ?? 100_000
    const mailboxSize = runtime.unsafeMailboxSize
    const backlogWait = (to: Pid | Atom | Ref): Effect.Effect<void> => {
      if (mailboxSize === undefined || backlogCap <= 0 || mailboxSize(to) <= backlogCap) return Effect.void
      const low = Math.floor(backlogCap / 2)
      return Effect.repeat(Effect.sleep(BACKLOG_POLL), { until: () => mailboxSize(to) <= low })
    }

    const deliverMessage = (to: Pid | Atom | Ref, message: Term | undefined, peer: string): Effect.Effect<void> => {
      // as erts: only local pids receive; a pid of another node (or of an old incarnation
      // of this one) is dropped, never relayed
      if (to instanceof Ref) {
        // ALIAS_SEND: delivered while the alias is active, silently dropped otherwise (erts)
        if (runtime.isLocal(new Pid(to.node, 0, 0, to.creation))) {
          runtime.unsafeSend(to, message)
          return backlogWait(to)
        }
        return Effect.void
      }
      if (to instanceof Pid) {
        if (runtime.isLocal(to)) {
          runtime.unsafeSend(to, message)
          return backlogWait(to)
        }
        return Effect.void
      }
      if (runtime.unsafeSend(to, message)) return backlogWait(to)
      const text = `message to unregistered name ${String(to)} from ${peer} dropped`
      // OTP's own services talk to every visible node; a TS node does not run them (yet)
      if (otpServices.has(to.name)) runFork(Effect.logDebug(text).pipe(Effect.annotateLogs("module", "NetKernel")))
      else yieldLog(text)
      return Effect.void
    }
    const yieldLog = (text: string) => runFork(Effect.logWarning(text).pipe(Effect.annotateLogs("module", "NetKernel")))

    const frameLimits: Control.FrameLimits = { maxTermBytes: options.maxTermBytes, maxAtoms: options.maxAtoms }
    const onFrame = (peer: Atom) => (payload: Uint8Array): Effect.Effect<void, Control.ControlError> => {
      const decoded = Control.decodeFrameSharing(payload, frameLimits)
      if (decoded._tag === "Left") return Effect.fail(decoded.left)
      const { control: c, message } = decoded.right
      switch (c._tag) {
        case "Send":
        case "SendTT":
        case "SendSender":
        case "SendSenderTT":
          return deliverMessage(c.to, message, peer.name)
        case "RegSend":
        case "RegSendTT":
          return deliverMessage(c.toName, message, peer.name)
        case "AliasSend":
        case "AliasSendTT":
          return deliverMessage(c.alias, message, peer.name)
        case "Link":
          runtime.unsafeDeliver(new Sig.Link({ from: c.from, to: c.to }))
          break
        case "Unlink":
          runtime.unsafeDeliver(new Sig.Unlink({ from: c.from, to: c.to, id: 0n }))
          break
        case "UnlinkId":
          runtime.unsafeDeliver(new Sig.Unlink({ from: c.from, to: c.to, id: BigInt(c.id) }))
          break
        case "UnlinkIdAck":
          runtime.unsafeDeliver(new Sig.UnlinkAck({ from: c.from, to: c.to, id: BigInt(c.id) }))
          break
        case "Exit":
        case "ExitTT":
          runtime.unsafeDeliver(new Sig.Exit({ from: c.from, to: c.to, reason: c.reason, kind: "link" }))
          break
        case "PayloadExit":
        case "PayloadExitTT":
          runtime.unsafeDeliver(new Sig.Exit({ from: c.from, to: c.to, reason: message!, kind: "link" }))
          break
        case "Exit2":
        case "Exit2TT":
          runtime.unsafeDeliver(new Sig.Exit({ from: c.from, to: c.to, reason: c.reason, kind: "exit2" }))
          break
        case "PayloadExit2":
        case "PayloadExit2TT":
          runtime.unsafeDeliver(new Sig.Exit({ from: c.from, to: c.to, reason: message!, kind: "exit2" }))
          break
        case "MonitorP":
          runtime.unsafeDeliver(new Sig.Monitor({ from: c.from, to: c.to, ref: c.ref }))
          break
        case "DemonitorP":
          runtime.unsafeDeliver(new Sig.Demonitor({ from: c.from, to: c.to, ref: c.ref }))
          break
        case "MonitorPExit":
          if (downHandler !== undefined && downHandler(c.from, c.to, c.ref, c.reason)) break
          runtime.unsafeDeliver(new Sig.Down({ from: c.from, to: c.to, ref: c.ref, reason: c.reason }))
          break
        case "PayloadMonitorPExit":
          if (downHandler !== undefined && downHandler(c.from, c.to, c.ref, message!)) break
          runtime.unsafeDeliver(new Sig.Down({ from: c.from, to: c.to, ref: c.ref, reason: message! }))
          break
        case "SpawnRequest":
        case "SpawnRequestTT":
          if (spawnRequestHandler !== undefined) return spawnRequestHandler(peer, c, message)
          return sendControl(peer, {
            _tag: "SpawnReply",
            reqId: c.reqId,
            to: c.from,
            flags: 0,
            result: A.notsup
          }).pipe(Effect.ignore)
        case "SpawnReply":
        case "SpawnReplyTT":
          if (spawnReplyHandler !== undefined) spawnReplyHandler(c)
          break
        case "GroupLeader":
        case "NodeLink":
          break
      }
      return Effect.void
    }

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
      down: Deferred.unsafeMake<void>(FiberId.none)
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
        table.set(name, entry)
        publish({ _tag: "nodeup", node: result.peer, hidden: entry.hidden })
        yield* Effect.logDebug(`nodeup ${name}`).pipe(Effect.annotateLogs("module", "NetKernel"))
        Deferred.unsafeDone(entry.ready, Exit.succeed(conn))
        runFork(
          Effect.flatMap(conn.closed, (closed) =>
            Effect.gen(function*() {
              if (table.get(name) === entry) table.delete(name)
              yield* runtime.nodeDown(result.peer)
              publish({ _tag: "nodedown", node: result.peer, hidden: entry.hidden, reason: closed.nodedownReason })
              Deferred.unsafeDone(entry.down, Exit.void)
              yield* Scope.close(scope, Exit.void)
              yield* Effect.logDebug(`nodedown ${name}: ${closed.message}`).pipe(
                Effect.annotateLogs("module", "NetKernel")
              )
            }))
        )
      })

    const connectionFailed = (node: string, e: HandshakeError | ConnectError): ConnectError =>
      e._tag === "ConnectError" ? e : new ConnectError({
        node,
        reason: e.reason === "NotAllowed" || e.reason === "MissingFlags"
          ? "NotAllowed"
          : e.reason === "Nok"
          ? "SimultaneousLost"
          : e.reason === "HandshakeTimeout"
          ? "Timeout"
          : "Handshake",
        detail: e.message,
        cause: e
      })

    /** Our side of a connection attempt (net_kernel:connect_node). */
    const setup = (name: string, entry: Entry): Effect.Effect<void> => {
      const at = name.indexOf("@")
      const alive = name.slice(0, at)
      const host = name.slice(at + 1)
      return Effect.gen(function*() {
        const scope = yield* Scope.fork(kernelScope, ExecutionStrategy.sequential)
        const attempt = Effect.gen(function*() {
          // inet_tcp_dist: erl_epmd:address_please/3 (inet:getaddr), then port_please and connect on that address
          const ip = yield* HostResolver.getaddr(host, resolver).pipe(
            Effect.mapError((e) => new ConnectError({ node: name, reason: "PeerUnreachable", detail: e.message }))
          )
          const info = yield* epmd.portPlease(ip, alive).pipe(
            Effect.mapError((e) => new ConnectError({ node: name, reason: "PeerUnreachable", detail: e.message }))
          )
          if (info.highestVersion < 6) {
            return yield* new ConnectError({ node: name, reason: "NotAllowed", detail: "peer lacks protocol 6" })
          }
          const carrier = yield* transport.connect({ host, ip, port: info.port }).pipe(
            Scope.extend(scope),
            Effect.mapError((e) => new ConnectError({ node: name, reason: "PeerUnreachable", detail: e.message }))
          )
          const result = yield* Handshake.initiate(carrier, {
            ...common,
            flags,
            peer: name,
            onAlive: () => Effect.succeed(true)
          })
          return { carrier, result }
        })
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
          ? connectionFailed(name, error.value)
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
    }

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

    // --- the Router -------------------------------------------------------------

    const pendingOut = new Map<string, Array<Sig.Signal>>()

    /**
     * The control message of a plain send (SEND_SENDER when the peer takes it), or of a
     * send to an alias (ALIAS_SEND; `undefined` when the peer has no DFLAG_ALIAS: erts
     * then drops the message).
     */
    const messageControl = (
      from: Pid | undefined,
      to: Sig.Destination,
      f: bigint
    ): Control.ControlMessage | undefined =>
      to._tag === "Pid"
        ? from !== undefined && (f & Flags.DFLAG_SEND_SENDER) !== 0n
          ? { _tag: "SendSender", from, to }
          : { _tag: "Send", to }
        : to._tag === "Ref"
        ? (f & Flags.DFLAG_ALIAS) !== 0n ? { _tag: "AliasSend", from: from ?? netKernelPid, alias: to } : undefined
        : { _tag: "RegSend", from: from ?? netKernelPid, toName: to._tag === "RemoteName" ? to.name : to }

    /** Encode straight into the connection's outbound batch; a term that cannot be encoded is an error. */
    const enqueue = (conn: Conn.Connection, control: Control.ControlMessage, message: Term | undefined) => {
      try {
        conn.unsafeSendControl(control, message)
      } catch (e) {
        return notEncodable(conn.peer, e instanceof Error ? e.message : String(e))
      }
      return undefined
    }

    const encodeSignal = (
      signal: Sig.Signal,
      conn: Conn.Connection
    ): [Control.ControlMessage | undefined, Term | undefined] => {
      const f = conn.flags
      switch (signal._tag) {
        case "Message":
          return [messageControl(signal.from, signal.to, f), signal.message as Term]
        case "Link":
          return [{ _tag: "Link", from: signal.from, to: signal.to }, undefined]
        case "Unlink":
          return (f & Flags.DFLAG_UNLINK_ID) !== 0n
            ? [{ _tag: "UnlinkId", id: signal.id, from: signal.from, to: signal.to }, undefined]
            : [{ _tag: "Unlink", from: signal.from, to: signal.to }, undefined]
        case "UnlinkAck":
          return [{ _tag: "UnlinkIdAck", id: signal.id, from: signal.from, to: signal.to }, undefined]
        case "Exit":
          if (signal.kind === "link") {
            return (f & Flags.DFLAG_EXIT_PAYLOAD) !== 0n
              ? [{ _tag: "PayloadExit", from: signal.from, to: signal.to }, signal.reason]
              : [{ _tag: "Exit", from: signal.from, to: signal.to, reason: signal.reason }, undefined]
          }
          return (f & Flags.DFLAG_EXIT_PAYLOAD) !== 0n
            ? [{ _tag: "PayloadExit2", from: signal.from, to: signal.to }, signal.reason]
            : [{ _tag: "Exit2", from: signal.from, to: signal.to, reason: signal.reason }, undefined]
        case "Monitor":
          return [{
            _tag: "MonitorP",
            from: signal.from,
            to: signal.to._tag === "RemoteName" ? signal.to.name : signal.to,
            ref: signal.ref
          }, undefined]
        case "Demonitor":
          return [{
            _tag: "DemonitorP",
            from: signal.from,
            to: signal.to._tag === "RemoteName" ? signal.to.name : signal.to,
            ref: signal.ref
          }, undefined]
        case "Down":
          return (f & Flags.DFLAG_EXIT_PAYLOAD) !== 0n
            ? [{ _tag: "PayloadMonitorPExit", from: signal.from, to: signal.to, ref: signal.ref }, signal.reason]
            : [
              { _tag: "MonitorPExit", from: signal.from, to: signal.to, ref: signal.ref, reason: signal.reason },
              undefined
            ]
      }
    }

    /** Encode and queue on an up connection, synchronously (keeps signal order). */
    const write = (signal: Sig.Signal, conn: Conn.Connection): RouteError | undefined => {
      if (signal._tag === "UnlinkAck" && signal.id === 0n) return undefined
      const [control, message] = encodeSignal(signal, conn)
      return control === undefined ? undefined : enqueue(conn, control, message)
    }

    /** The signal could not reach its node: apply Erlang's local consequences. */
    const unreachable = (signal: Sig.Signal) => {
      switch (signal._tag) {
        case "Link":
          runtime.unsafeDeliver(
            new Sig.Exit({ from: signal.to, to: signal.from, reason: atoms.noconnection, kind: "link" })
          )
          break
        case "Monitor":
          runtime.unsafeDeliver(
            new Sig.Down({
              from: signal.to._tag === "RemoteName" ? signal.to.name : signal.to,
              to: signal.from,
              ref: signal.ref,
              reason: atoms.noconnection
            })
          )
          break
        default:
          break
      }
    }

    const flushPending = (name: string) => (result: Exit.Exit<Conn.Connection, ConnectError>) =>
      Effect.sync(() => {
        const queued = pendingOut.get(name)
        pendingOut.delete(name)
        if (queued === undefined) return
        for (const s of queued) {
          if (Exit.isSuccess(result)) {
            const err = write(s, result.value)
            if (err !== undefined) yieldLog(err.message)
          } else unreachable(s)
        }
      })

    const route = (signal: Sig.Signal): Effect.Effect<void, RouteError> =>
      Effect.suspend(() => {
        const node = Sig.targetNode(signal)
        if (node === undefined || node === thisNode) {
          runtime.unsafeDeliver(signal)
          return Effect.void
        }
        const name = node.name
        const entry = table.get(name)
        if (entry !== undefined && entry.state === "up" && entry.conn !== undefined && !pendingOut.has(name)) {
          const conn = entry.conn
          const err = write(signal, conn)
          // as a busy distribution port in OTP: the sender waits (its signal is queued) until
          // the connection has written enough; this also lets the writer and the socket run
          return err !== undefined ? Effect.fail(err) : conn.isBusy() ? conn.awaitNotBusy : Effect.void
        }
        if (signal._tag === "Message" && !isTerm(signal.message)) {
          return Effect.fail(notEncodable(node, "the message has no term form"))
        }
        // connect on demand; keep order with a per-node queue until the connection is up
        const queue = pendingOut.get(name)
        if (queue !== undefined) {
          queue.push(signal)
          return Effect.void
        }
        pendingOut.set(name, [signal])
        runFork(Effect.flatMap(Effect.exit(ensure(node)), flushPending(name)))
        return Effect.void
      })

    /** `route(new Message(...))` without the signal: encoded straight away on an up connection. */
    const routeSend = (
      from: Pid | undefined,
      to: Pid | Sig.RemoteName | Ref,
      message: unknown
    ): Effect.Effect<void, RouteError> => {
      const node = to.node
      const entry = node === thisNode ? undefined : table.get(node.name)
      const conn = entry !== undefined && entry.state === "up" ? entry.conn : undefined
      if (conn === undefined || pendingOut.has(node.name)) return route(new Sig.Message({ from, to, message }))
      const control = messageControl(from, to, conn.flags)
      if (control === undefined) return Effect.void
      const err = enqueue(conn, control, message as Term)
      return err !== undefined ? Effect.fail(err) : conn.isBusy() ? conn.awaitNotBusy : Effect.void
    }

    /**
     * `erlang:send/3`: `noconnect` answers `noconnect` (nothing sent, no connection set
     * up) when the node is neither connected nor being connected; `nosuspend` answers
     * `nosuspend` (nothing sent) when the connection is busy, where `send` would wait.
     */
    const routeSendWith = (
      from: Pid | undefined,
      to: Pid | Sig.RemoteName | Ref,
      message: unknown,
      opts: SendOptions
    ): Effect.Effect<SendResult, RouteError> => {
      const node = to.node
      if (node === thisNode) return Effect.as(route(new Sig.Message({ from, to, message })), "ok" as const)
      const entry = table.get(node.name)
      if (entry === undefined && opts.noconnect === true) return Effect.succeed("noconnect" as const)
      const conn = entry !== undefined && entry.state === "up" ? entry.conn : undefined
      if (conn === undefined || pendingOut.has(node.name)) {
        return Effect.as(route(new Sig.Message({ from, to, message })), "ok" as const)
      }
      if (opts.nosuspend === true && conn.isBusy()) return Effect.succeed("nosuspend" as const)
      const control = messageControl(from, to, conn.flags)
      if (control === undefined) return Effect.succeed("ok" as const)
      const err = enqueue(conn, control, message as Term)
      if (err !== undefined) return Effect.fail(err)
      return opts.nosuspend !== true && conn.isBusy()
        ? Effect.as(conn.awaitNotBusy, "ok" as const)
        : Effect.succeed("ok" as const)
    }

    const router: RouterShape = { route, routeSend, routeSendWith }

    const sendControl = (node: Atom, control: Control.ControlMessage, message?: Term) =>
      Effect.flatMap(
        Effect.mapError(ensure(node), () => new RouteError({ reason: "NoConnection", node })),
        (conn) =>
          Effect.mapError(conn.sendControl(control, message), () => new RouteError({ reason: "NoConnection", node }))
      )

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

    const subscribeNodes = (
      pid: Pid,
      opts?: { readonly hidden?: boolean; readonly nodedownReason?: boolean }
    ) => {
      subscribers.set(pid, { hidden: opts?.hidden === true, reason: opts?.nodedownReason === true })
      return () => {
        subscribers.delete(pid)
      }
    }

    const monitorNode = (pid: Pid, node: Atom): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (node === thisNode) return Effect.void
        return Effect.flatMap(Effect.either(ensure(node)), (r) => {
          if (r._tag === "Left") {
            runtime.unsafeSend(pid, tuple(A.nodedown, node))
          } else {
            // watchers that died since are dropped here, so the list of a long-lived node stays bounded
            const list = (nodeMonitors.get(node.name) ?? []).filter((w) => !gone(w))
            list.push(pid)
            nodeMonitors.set(node.name, list)
          }
          return Effect.void
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
      disconnect,
      nodeEvents: Stream.fromPubSub(events),
      subscribeEvents: Effect.map(PubSub.subscribe(events), Stream.fromQueue),
      subscribeNodes,
      monitorNode,
      setAllow: (list) => {
        allow = list ? new Set(list) : undefined
      },
      connection: (node) => {
        const e = table.get(node.name)
        return e?.state === "up" ? e.conn : undefined
      },
      sendControl,
      onSpawnRequest: (h) => {
        spawnRequestHandler = h
      },
      onSpawnReply: (h) => {
        spawnReplyHandler = h
      },
      onDown: (h) => {
        downHandler = h
      }
    } satisfies NetKernelImpl
  })

type Context_Transport = Transport["Type"]

const notEncodable = (node: Atom, detail: string): RouteError =>
  new RouteError({ reason: "NotEncodable", node, detail })
