/**
 * Routing between this node and its connections:
 * - outbound: the `Router` the process runtime hands every signal for another node to.
 *   A signal for a node with an up connection is encoded into it at once; otherwise it
 *   waits in that node's pending queue (kept in order) while the connection is set up on
 *   demand, and is then written, or gets Erlang's local consequences (`noconnection`).
 *   A sender waits while its connection is busy, as at a busy distribution port in OTP.
 * - inbound: delivery of messages from a peer to local processes, with receive
 *   backpressure (the connection waits while the receiver's mailbox is over its mark,
 *   woken by the mailbox when it drains: no polling).
 */
import type { ProcessRuntimeShape } from "@effect-otp/process/ProcessRuntime"
import { RouteError, type RouterShape, type SendOptions, type SendResult } from "@effect-otp/process/Router"
import * as Sig from "@effect-otp/process/Signal"
import { type Atom, atoms, isTerm, Pid, Ref, type Term } from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Conn from "./connection/connection.js"
import type { ConnectError } from "./connection/setup.js"
import type { ControlMessage } from "./control/codec.js"
import * as Signals from "./control/signals.js"

export interface RoutingDeps {
  readonly thisNode: Atom
  readonly runtime: ProcessRuntimeShape
  /** the up connection to a node, if there is one */
  readonly connection: (node: string) => Conn.Connection | undefined
  /** a connection to `node` is up or being set up */
  readonly known: (node: string) => boolean
  /** a connection to `node`, set up on demand */
  readonly ensure: (node: Atom) => Effect.Effect<Conn.Connection, ConnectError>
  /** the sender put in control messages that need one when a signal has none (`net_kernel`) */
  readonly anonymous: () => Pid
  readonly fork: (effect: Effect.Effect<void>) => void
  readonly warn: (text: string) => void
}

const notEncodable = (node: Atom, detail: string): RouteError =>
  new RouteError({ reason: "NotEncodable", node, detail })

/** The router of a node: signals to other nodes go out through `deps`' connections. */
export const makeRouter = (deps: RoutingDeps): RouterShape => {
  const { runtime, thisNode } = deps
  /** signals for nodes whose connection is being set up, in order */
  const pendingOut = new Map<string, Array<Sig.Signal>>()

  /** The connection to write to now: up, and with no older signals still pending. */
  const ready = (node: Atom): Conn.Connection | undefined =>
    pendingOut.has(node.name) ? undefined : deps.connection(node.name)

  /** Encode straight into the connection's outbound batch; a term that cannot be encoded is an error. */
  const enqueue = (conn: Conn.Connection, control: ControlMessage, message: Term | undefined) => {
    try {
      conn.unsafeSendControl(control, message)
    } catch (e) {
      return notEncodable(conn.peer, e instanceof Error ? e.message : String(e))
    }
    return undefined
  }

  /** Encode and queue on an up connection, synchronously (keeps signal order). */
  const write = (signal: Sig.Signal, conn: Conn.Connection): RouteError | undefined => {
    const [control, message] = Signals.fromSignal(signal, conn.flags, deps.anonymous())
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
          if (err !== undefined) deps.warn(err.message)
        } else unreachable(s)
      }
    })

  /** As a busy distribution port in OTP: the sender waits until the connection has written enough. */
  const afterWrite = (conn: Conn.Connection, err: RouteError | undefined): Effect.Effect<void, RouteError> =>
    err !== undefined ? Effect.fail(err) : conn.isBusy() ? conn.awaitNotBusy : Effect.void

  const route = (signal: Sig.Signal): Effect.Effect<void, RouteError> =>
    Effect.suspend(() => {
      const node = Sig.targetNode(signal)
      if (node === undefined || node === thisNode) {
        runtime.unsafeDeliver(signal)
        return Effect.void
      }
      const conn = ready(node)
      if (conn !== undefined) return afterWrite(conn, write(signal, conn))
      if (signal._tag === "Message" && !isTerm(signal.message)) {
        return Effect.fail(notEncodable(node, "the message has no term form"))
      }
      // connect on demand; keep order with a per-node queue until the connection is up
      const queue = pendingOut.get(node.name)
      if (queue !== undefined) {
        queue.push(signal)
        return Effect.void
      }
      pendingOut.set(node.name, [signal])
      deps.fork(Effect.flatMap(Effect.exit(deps.ensure(node)), flushPending(node.name)))
      return Effect.void
    })

  /** `route(new Message(...))` without the signal: encoded straight away on an up connection. */
  const routeSend = (
    from: Pid | undefined,
    to: Pid | Sig.RemoteName | Ref,
    message: unknown
  ): Effect.Effect<void, RouteError> => {
    const conn = to.node === thisNode ? undefined : ready(to.node)
    if (conn === undefined) return route(new Sig.Message({ from, to, message }))
    const control = Signals.messageControl(from, to, conn.flags, deps.anonymous())
    if (control === undefined) return Effect.void
    return afterWrite(conn, enqueue(conn, control, message as Term))
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
    if (opts.noconnect === true && !deps.known(node.name)) return Effect.succeed("noconnect" as const)
    const conn = ready(node)
    if (conn === undefined) return Effect.as(route(new Sig.Message({ from, to, message })), "ok" as const)
    if (opts.nosuspend === true && conn.isBusy()) return Effect.succeed("nosuspend" as const)
    const control = Signals.messageControl(from, to, conn.flags, deps.anonymous())
    if (control === undefined) return Effect.succeed("ok" as const)
    const err = enqueue(conn, control, message as Term)
    if (err !== undefined) return Effect.fail(err)
    return opts.nosuspend !== true && conn.isBusy()
      ? Effect.as(conn.awaitNotBusy, "ok" as const)
      : Effect.succeed("ok" as const)
  }

  /** `route` at once on an up connection that is not busy, else not taken (`false`). */
  const unsafeRoute = (signal: Sig.Signal): RouteError | false | undefined => {
    const node = Sig.targetNode(signal)
    if (node === undefined || node === thisNode) return false
    const conn = ready(node)
    return conn === undefined || conn.isBusy() ? false : write(signal, conn)
  }

  return { route, routeSend, routeSendWith, unsafeRoute }
}

// ---------------------------------------------------------------------------
// Inbound delivery
// ---------------------------------------------------------------------------

/** OTP's own services talk to every visible node; a TS node may not run them. */
const otpServices = new Set(["global_name_server", "global_group", "logger_proxy", "pg", "global_group_check", "rex"])

export interface DeliveryOptions {
  readonly runtime: ProcessRuntimeShape
  /**
   * receive backpressure: a connection stops reading while a local process it just
   * delivered to has more than this many messages waiting (until it is down to half)
   */
  readonly maxMailboxBacklog: number
  readonly fork: (effect: Effect.Effect<void>) => void
  readonly warn: (text: string) => void
}

/**
 * Delivers a message from `peer` to a local pid, registered name or alias as erts does
 * (a pid of another node, or of an old incarnation of this one, is dropped, never
 * relayed; a send to an inactive alias is dropped), then applies receive backpressure:
 * when the receiver has more than `maxMailboxBacklog` messages waiting, the returned
 * effect waits (and so the connection's reader stops, and TCP pushes back on the sender)
 * until the mailbox is down to half. Head-of-line: the whole connection waits. The
 * mailbox wakes the waiter when it drains (or its process exits).
 */
export const makeDelivery = (options: DeliveryOptions) => {
  const { runtime } = options
  const cap = options.maxMailboxBacklog
  const low = Math.floor(cap / 2)
  const mailboxSize = runtime.unsafeMailboxSize
  const onDrained = runtime.unsafeOnMailboxDrained
  const deliverCounted = runtime.unsafeDeliverCounted
  const waitDrained = (to: Pid | Atom | Ref): Effect.Effect<void> =>
    Effect.async<void>((resume) => {
      onDrained!(to, low, () => resume(Effect.void))
    })
  const backlogWait = (to: Pid | Atom | Ref): Effect.Effect<void> =>
    mailboxSize === undefined || onDrained === undefined || cap <= 0 || mailboxSize(to) <= cap
      ? Effect.void
      : waitDrained(to)
  const unregistered = (to: Atom, peer: string): Effect.Effect<void> => {
    const text = `message to unregistered name ${String(to)} from ${peer} dropped`
    if (otpServices.has(to.name)) {
      options.fork(Effect.logDebug(text).pipe(Effect.annotateLogs("module", "NetKernel")))
    } else options.warn(text)
    return Effect.void
  }
  return (to: Pid | Atom | Ref, message: Term | undefined, peer: string): Effect.Effect<void> => {
    if (deliverCounted !== undefined && !(to instanceof Ref)) {
      // one lookup for the delivery and the mailbox's size
      const size = deliverCounted(to, message)
      if (size > cap && cap > 0 && onDrained !== undefined) return waitDrained(to)
      return size >= 0 || to instanceof Pid ? Effect.void : unregistered(to, peer)
    }
    if (to instanceof Ref) {
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
    return unregistered(to, peer)
  }
}
