/**
 * A connected distribution channel: a small Effect shell (the reader, writer, ticker and
 * carrier-watch fibers, closing) around two state objects, the `OutboundWriter`
 * (batching, seal/spill, busy state) and the `InboundReader` (framing, pause, handling).
 * Mechanism only; what frames mean is the caller's business.
 */
import type { Atom, Term } from "@effect-otp/process/Term"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import type { Carrier } from "../../Transport.js"
import { ControlError, type ControlMessage, encodeFrameEither, notEncodable } from "../control/codec.js"
import { EncodeError } from "../etf/errors.js"
import type { HandshakeResult } from "../handshake/machine.js"
import { InboundReader } from "./reader.js"
import { OutboundWriter } from "./writer.js"

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

export type ConnectionClosedReason =
  | "Local"
  | "PeerClosed"
  | "TransportError"
  | "TickTimeout"
  | "FrameTooLarge"
  | "Malformed"
  | "AtomLimit"
  | "TermBytes"
  | "HandlerFailed"

/** Why a connection closed; also the error of `send` on a closed connection. */
export class ConnectionClosed extends Data.TaggedError("ConnectionClosed")<{
  readonly reason: ConnectionClosedReason
  readonly peer: string
  readonly detail?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    return `connection to ${this.peer} closed: ${this.reason}${this.detail ? ` (${this.detail})` : ""}`
  }
  /** The reason OTP would give in `{nodedown, Node, [{nodedown_reason, R}]}`. */
  get nodedownReason(): string {
    switch (this.reason) {
      case "Local":
        return "disconnect"
      case "TickTimeout":
        return "net_tick_timeout"
      default:
        return "connection_closed"
    }
  }
}

export interface ConnectionOptions<E = never> {
  readonly carrier: Carrier
  readonly handshake: HandshakeResult
  /**
   * Called for each frame payload (ticks excluded), one at a time and in order, from
   * the connection's reader fiber. A failure closes the connection: a `ControlError`
   * as "Malformed" (logged with a hex dump), anything else as "HandlerFailed".
   */
  readonly onFrame: (payload: Uint8Array) => Effect.Effect<void, E>
  /** net_ticktime (default 60 s): tick after TickTime/4 without writes, drop after ~TickTime of silence. */
  readonly tickTime?: Duration.DurationInput | undefined
  /** Largest accepted frame (default 128 MiB); a bigger one closes the connection. */
  readonly maxFrameSize?: number | undefined
  /** Pause reading when this many received bytes wait for `onFrame` (default 16 MiB). */
  readonly maxInboundBytes?: number | undefined
  /** `send` suspends while more than this many bytes wait to be written (default 4 MiB). */
  readonly busyLimit?: number | undefined
}

export interface ConnectionStats {
  readonly bytesIn: number
  readonly bytesOut: number
  readonly framesIn: number
  readonly framesOut: number
  readonly ticksIn: number
  readonly ticksOut: number
  /** Bytes queued or being written. */
  readonly pendingOut: number
  /** Bytes received and not yet handled. */
  readonly pendingIn: number
  readonly readPaused: boolean
}

export interface Connection {
  readonly peer: Atom
  readonly peerName: string
  /** Negotiated flags. */
  readonly flags: bigint
  readonly handshake: HandshakeResult
  /**
   * Queue a frame payload (without its length) for the writer fiber. Fails when the
   * connection is closed; suspends after queueing while more than `busyLimit` bytes
   * are pending (the caller is slowed down, the frame is kept).
   */
  readonly send: (payload: Uint8Array) => Effect.Effect<void, ConnectionClosed>
  /** Queue a frame payload without ever blocking; false when the connection is closed. */
  readonly unsafeSend: (payload: Uint8Array) => boolean
  /**
   * Encode a control message (and its second term) straight into the outbound batch,
   * without ever blocking; false when the connection is closed. Throws `EncodeError`
   * when a value is not a term (nothing is queued then).
   */
  readonly unsafeSendControl: (control: ControlMessage, message?: Term) => boolean
  /** More than `busyLimit` bytes wait to be written (OTP: the distribution port is busy). */
  readonly isBusy: () => boolean
  /** Completes once at most `busyLimit` bytes wait to be written, or the connection closed. */
  readonly awaitNotBusy: Effect.Effect<void>
  /** Encode a control message (and its second term) and `send` it. */
  readonly sendControl: (
    control: ControlMessage,
    message?: Term
  ) => Effect.Effect<void, ConnectionClosed | ControlError>
  /** Close now with reason "Local". */
  readonly close: (detail?: string) => Effect.Effect<void>
  /** Completes with the reason when the connection has closed. */
  readonly closed: Effect.Effect<ConnectionClosed>
  readonly isClosed: () => boolean
  readonly stats: () => ConnectionStats
}

const DEFAULT_TICK_TIME = Duration.seconds(60)
const DEFAULT_MAX_FRAME = 128 * 1024 * 1024
const DEFAULT_MAX_INBOUND = 16 * 1024 * 1024
const DEFAULT_BUSY_LIMIT = 4 * 1024 * 1024
const EMPTY = new Uint8Array(0)
/** OTP declares the peer dead after this many tick intervals without reads. */
const SILENT_INTERVALS = 4

// ---------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------

export const make = <E>(options: ConnectionOptions<E>): Effect.Effect<Connection, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { carrier, handshake } = options
    const peerName = handshake.peerName
    const tickInterval = Duration.unsafeDivide(Duration.decode(options.tickTime ?? DEFAULT_TICK_TIME), 4)
    const busyLimit = options.busyLimit ?? DEFAULT_BUSY_LIMIT
    const runtime = yield* Effect.runtime<never>()
    const runFork = Runtime.runFork(runtime)
    const runSyncExit = Runtime.runSyncExit(runtime)
    const done = yield* Deferred.make<ConnectionClosed>()

    let closedWith: ConnectionClosed | undefined
    const fibers: Array<Fiber.RuntimeFiber<unknown, unknown>> = []

    const closed = (reason: ConnectionClosedReason, detail?: string, cause?: unknown) =>
      new ConnectionClosed({ reason, peer: peerName, detail, cause })

    const writer = new OutboundWriter({
      carrier,
      busyLimit,
      runSync: (effect) => {
        runSyncExit(effect)
      },
      onWriteError: (e) => closeWith(closed("TransportError", e.message, e))
    })
    const reader = new InboundReader<E>({
      carrier,
      maxFrameSize: options.maxFrameSize ?? DEFAULT_MAX_FRAME,
      maxInbound: options.maxInboundBytes ?? DEFAULT_MAX_INBOUND,
      onFrame: options.onFrame,
      onDefect: (detail, defect) => closeWith(closed("HandlerFailed", detail, defect)),
      onTooLarge: (detail) => closeWith(closed("FrameTooLarge", detail))
    })

    const closeWith = (error: ConnectionClosed): void => {
      if (closedWith !== undefined) return
      closedWith = error
      carrier.unsafeClose(error)
      writer.close()
      reader.close()
      Deferred.unsafeDone(done, Exit.succeed(error))
      const log = error.reason === "Local" || error.reason === "PeerClosed"
        ? Effect.logDebug(error.message)
        : Effect.logWarning(error.message)
      runFork(log.pipe(Effect.annotateLogs({ module: "Connection", peer: peerName, reason: error.reason })))
      for (const f of fibers) f.unsafeInterruptAsFork(FiberId.none)
    }

    const onReaderFailure = (cause: Cause.Cause<E>): Effect.Effect<void> =>
      Effect.sync(() => {
        if (Cause.isInterruptedOnly(cause)) return
        const failure = Cause.failureOption(cause)
        if (failure._tag === "Some" && failure.value instanceof ControlError) {
          const r = failure.value.reason
          closeWith(
            closed(r === "AtomLimit" || r === "TermBytes" ? r : "Malformed", failure.value.message, failure.value)
          )
        } else {
          closeWith(closed("HandlerFailed", Cause.pretty(cause), Cause.squash(cause)))
        }
      })

    const send = (payload: Uint8Array): Effect.Effect<void, ConnectionClosed> =>
      Effect.suspend(() => {
        if (closedWith !== undefined) return Effect.fail(closedWith)
        writer.unsafeSend(payload)
        return writer.pendingOut <= busyLimit ? Effect.void : writer.untilNotBusy
      })

    // --- ticks ---
    const ticker: Effect.Effect<void> = Effect.gen(function*() {
      let silent = 0
      // checks on a fixed schedule (no drift from timer lateness), so detection stays within
      // OTP's window T - T/4 .. T + T/4; after a long stall the schedule restarts from now
      const intervalMs = Duration.toMillis(tickInterval)
      let next = (yield* Clock.currentTimeMillis) + intervalMs
      while (closedWith === undefined) {
        const now = yield* Clock.currentTimeMillis
        if (now > next + intervalMs) next = now + intervalMs
        yield* Effect.sleep(Duration.millis(Math.max(0, next - now)))
        next += intervalMs
        if (reader.readSinceCheck || reader.readPaused) {
          silent = 0
        } else if (++silent >= SILENT_INTERVALS) {
          closeWith(closed("TickTimeout", `nothing read for ${SILENT_INTERVALS} tick intervals (net_tick_timeout)`))
          return
        }
        reader.readSinceCheck = false
        if (!writer.wroteSinceCheck) writer.unsafeSend(EMPTY)
        writer.wroteSinceCheck = false
      }
    })

    // --- start ---
    reader.onData(handshake.tail)
    carrier.unsafeOnData(reader.onData)
    fibers.push(
      yield* Effect.forkScoped(Effect.catchAllCause(reader.run, onReaderFailure)),
      yield* Effect.forkScoped(writer.run),
      yield* Effect.forkScoped(ticker),
      yield* Effect.forkScoped(Effect.flatMap(carrier.closed, (c) =>
        Effect.sync(() =>
          closeWith(
            c.by === "error"
              ? closed("TransportError", c.cause instanceof Error ? c.cause.message : undefined, c.cause)
              : c.by === "peer"
              ? closed("PeerClosed")
              : closed("Local", "carrier closed")
          )
        )))
    )
    yield* Effect.addFinalizer(() => Effect.sync(() => closeWith(closed("Local", "scope closed"))))
    if (closedWith !== undefined) { for (const f of fibers) f.unsafeInterruptAsFork(FiberId.none) }

    const connection: Connection = {
      peer: handshake.peer,
      peerName,
      flags: handshake.flags,
      handshake,
      send,
      unsafeSend: (payload) => writer.unsafeSend(payload),
      unsafeSendControl: (control, message) => writer.unsafeSendControl(control, message),
      isBusy: () => writer.isBusy(),
      awaitNotBusy: writer.untilNotBusy,
      sendControl: (control, message) =>
        Effect.suspend((): Effect.Effect<void, ConnectionClosed | ControlError> => {
          if (closedWith !== undefined) {
            // a message that cannot be encoded fails as such, even on a closed connection
            const bytes = encodeFrameEither(control, message)
            return Effect.fail(Either.isLeft(bytes) ? bytes.left : closedWith)
          }
          try {
            writer.unsafeSendControl(control, message)
          } catch (e) {
            if (e instanceof EncodeError) return Effect.fail(notEncodable(e))
            throw e
          }
          return writer.pendingOut <= busyLimit ? Effect.void : writer.untilNotBusy
        }),
      close: (detail) => Effect.sync(() => closeWith(closed("Local", detail))),
      closed: Deferred.await(done),
      isClosed: () => closedWith !== undefined,
      stats: () => ({
        bytesIn: reader.bytesIn,
        bytesOut: writer.bytesOut,
        framesIn: reader.framesIn,
        framesOut: writer.framesOut,
        ticksIn: reader.ticksIn,
        ticksOut: writer.ticksOut,
        pendingOut: writer.pendingOut,
        pendingIn: reader.pendingIn,
        readPaused: reader.readPaused
      })
    }
    return connection
  })
