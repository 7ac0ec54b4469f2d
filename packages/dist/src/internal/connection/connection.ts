/**
 * A connected distribution channel: framing, ticks, one writer fiber, read
 * backpressure. Mechanism only; what frames mean is the caller's business.
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
import {
  ControlError,
  type ControlMessage,
  encodeFrameEither,
  encodeFrameInto,
  notEncodable
} from "../control/codec.js"
import { Writer } from "../etf/encode.js"
import { EncodeError } from "../etf/errors.js"
import type { HandshakeResult } from "../handshake/machine.js"
import { TransportError } from "../transport/error.js"
import { FrameParser } from "./framing.js"

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
/** Outbound batch buffers are this big (a larger frame grows one). */
const BATCH_SIZE = 64 * 1024
/** A frame starts in a fresh buffer when less than this is left in the current one. */
const BATCH_RESERVE = 2 * 1024
/** Queued bytes are cut into a chunk once this many follow the last cut (no re-copy on growth). */
const BATCH_SEAL = 32 * 1024
/** Raw payloads this big are queued as their own chunk, not copied. */
const LARGE_PAYLOAD = 64 * 1024
/** Queued bytes that make a send write them at once instead of waiting for the writer fiber. */
const FLUSH_AT = 256 * 1024
/** Not zero-filled (every byte is written before it is sent); a plain Uint8Array view, not a Buffer. */
const allocBatch = (n: number): Uint8Array => {
  if (typeof Buffer !== "function") return new Uint8Array(n)
  const b = Buffer.allocUnsafeSlow(n)
  return new Uint8Array(b.buffer, b.byteOffset, n)
}
const EMPTY = new Uint8Array(0)

/** A carrier that can write from the caller's stack (TCP). */
interface DirectWriter {
  readonly unsafeWritev: (chunks: ReadonlyArray<Uint8Array>) => boolean | undefined
}
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
    const maxInbound = options.maxInboundBytes ?? DEFAULT_MAX_INBOUND
    const busyLimit = options.busyLimit ?? DEFAULT_BUSY_LIMIT
    const parser = new FrameParser(options.maxFrameSize ?? DEFAULT_MAX_FRAME)
    const runtime = yield* Effect.runtime<never>()
    const runFork = Runtime.runFork(runtime)
    const runSyncExit = Runtime.runSyncExit(runtime)
    const done = yield* Deferred.make<ConnectionClosed>()

    let closedWith: ConnectionClosed | undefined
    const fibers: Array<Fiber.RuntimeFiber<unknown, unknown>> = []

    // --- stats ---
    let bytesIn = 0
    let bytesOut = 0
    let framesIn = 0
    let framesOut = 0
    let ticksOut = 0
    let readSinceCheck = false
    let wroteSinceCheck = false

    // --- outbound: frames are written (u32 length + payload) into `out`; one writer fiber
    // hands `chunks` plus the bytes of `out` after `out.base` to the carrier. Bytes before
    // `out.base` have been handed over and are never written again.
    let chunks: Array<Uint8Array> = []
    /** Bytes of frames whose large binaries went out as their own chunks (not copied). */
    const out = new Writer(BATCH_SIZE, allocBatch)
    out.spillSize = LARGE_PAYLOAD
    out.spill = (bytes) => {
      seal()
      chunks.push(bytes)
    }
    let queuedFrames = 0
    let queuedTicks = 0
    /** bytes queued since the last batch was taken */
    let unflushed = 0
    /** the writer fiber is in a write */
    let writing = false
    /** writes started by `flushNow` and not yet complete */
    let inflight = 0
    /** a frame went out through `writeDirect` in this microtask round */
    let directThisTick = false
    // only a carrier used as it is: a wrapper that overrides `writev` (a test's proxy, say) must see every write
    const directWrite = carrier.writev === Object.getPrototypeOf(carrier)?.writev
      ? (carrier as Partial<DirectWriter>).unsafeWritev
      : undefined
    let pendingOut = 0
    let wakeWriter: (() => void) | undefined
    let busyWaiters: Array<() => void> = []

    // --- inbound: frames waiting for onFrame ---
    let inbound: Array<Uint8Array> = []
    let pendingIn = 0
    let wakeReader: (() => void) | undefined
    let readPaused = false
    /** what `onFrame` answered for a frame handled in `onData`, for the reader to run */
    let pendingHandled: Effect.Effect<void, E> | undefined

    const wake = (w: (() => void) | undefined) => {
      if (w !== undefined) w()
    }

    const closeWith = (error: ConnectionClosed): void => {
      if (closedWith !== undefined) return
      closedWith = error
      carrier.unsafeClose(error)
      chunks = []
      pendingHandled = undefined
      out.buf = new Uint8Array(16)
      out.pos = 0
      out.base = 0
      inbound = []
      const w1 = wakeWriter
      const w2 = wakeReader
      wakeWriter = undefined
      wakeReader = undefined
      wake(w1)
      wake(w2)
      const busy = busyWaiters
      busyWaiters = []
      for (const b of busy) b()
      Deferred.unsafeDone(done, Exit.succeed(error))
      const log = error.reason === "Local" || error.reason === "PeerClosed"
        ? Effect.logDebug(error.message)
        : Effect.logWarning(error.message)
      runFork(log.pipe(Effect.annotateLogs({ module: "Connection", peer: peerName, reason: error.reason })))
      for (const f of fibers) f.unsafeInterruptAsFork(FiberId.none)
    }

    const closed = (reason: ConnectionClosedReason, detail?: string, cause?: unknown) =>
      new ConnectionClosed({ reason, peer: peerName, detail, cause })

    // --- receive path (I/O callbacks, synchronous) ---
    const received: Array<Uint8Array> = []
    const onData = (chunk: Uint8Array): void => {
      if (closedWith !== undefined || chunk.length === 0) return
      bytesIn += chunk.length
      readSinceCheck = true
      const tooLarge = parser.push(chunk, received)
      for (let i = 0; i < received.length; i++) {
        const frame = received[i]!
        framesIn++
        // the reader is idle: handle the frame here (no hop through the reader fiber); an
        // effect other than Effect.void goes to the reader, and later frames queue behind it
        if (wakeReader !== undefined && tooLarge === undefined && closedWith === undefined) {
          let handled: Effect.Effect<void, E>
          try {
            handled = options.onFrame(frame)
          } catch (defect) {
            received.length = 0
            closeWith(closed("HandlerFailed", Cause.pretty(Cause.die(defect)), defect))
            return
          }
          if (handled !== Effect.void) {
            pendingHandled = handled
            const w = wakeReader
            wakeReader = undefined
            wake(w)
          }
          continue
        }
        inbound.push(frame)
        pendingIn += frame.length
      }
      received.length = 0
      if (tooLarge !== undefined) {
        closeWith(closed("FrameTooLarge", `a frame of ${tooLarge} bytes exceeds maxFrameSize ${parser.maxFrameSize}`))
        return
      }
      if (inbound.length > 0) {
        const w = wakeReader
        wakeReader = undefined
        wake(w)
      }
      if (!readPaused && pendingIn > maxInbound) {
        readPaused = true
        carrier.pause()
      }
    }

    const waitFor = (set: (resume: () => void) => void) =>
      Effect.async<void>((resume) => {
        set(() => resume(Effect.void))
      })
    /** Until `afterWrite` or `closeWith` wakes the busy waiters. */
    const untilNotBusy = waitFor((r) => {
      busyWaiters.push(r)
    })

    const reader: Effect.Effect<void, E> = Effect.gen(function*() {
      while (closedWith === undefined) {
        if (pendingHandled !== undefined) {
          const handled = pendingHandled
          pendingHandled = undefined
          yield* handled
          continue
        }
        if (inbound.length === 0) {
          yield* waitFor((r) => (wakeReader = r))
          continue
        }
        const batch = inbound
        inbound = []
        for (let i = 0; i < batch.length; i++) {
          if (closedWith !== undefined) return
          const frame = batch[i]!
          const handled = options.onFrame(frame)
          // the common answer needs no trip through the run loop
          if (handled !== Effect.void) yield* handled
          pendingIn -= frame.length
          if (readPaused && pendingIn <= maxInbound / 2 && closedWith === undefined) {
            readPaused = false
            carrier.resume()
          }
        }
      }
    })

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

    // --- send path ---
    /** Cuts the bytes queued in `out` into a chunk. */
    const seal = (): void => {
      if (out.pos > out.base) {
        chunks.push(out.buf.subarray(out.base, out.pos))
        out.base = out.pos
      }
    }

    /** Before a frame: cut a long run (so growing copies only this frame), move on from a full buffer. */
    const beginFrame = (): void => {
      if (out.pos - out.base >= BATCH_SEAL || out.buf.length - out.pos < BATCH_RESERVE) {
        seal()
        if (out.buf.length - out.pos < BATCH_RESERVE) {
          out.buf = allocBatch(BATCH_SIZE)
          out.pos = 0
          out.base = 0
        }
      }
    }

    const queued = (n: number): void => {
      if (n > 0) queuedFrames++
      else queuedTicks++
      pendingOut += n + 4
      unflushed += n + 4
      // A sender that keeps running (a process in a long send loop) keeps the writer fiber
      // from running: hand a full batch to the carrier right here, unless a write is
      // under way (then the writer fiber takes the rest when it is done).
      if (!writing && inflight === 0) {
        if (unflushed >= FLUSH_AT) flushNow()
        else if (directWrite !== undefined && !directThisTick && wakeWriter !== undefined && writeDirect()) return
      }
      const w = wakeWriter
      wakeWriter = undefined
      wake(w)
    }

    /**
     * The first frame queued while the writer is idle goes out at once, from the sender's
     * stack (one write, no hop through the writer fiber: what a ping-pong waits for);
     * frames queued after it in the same microtask round are batched by the writer.
     */
    const writeDirect = (): boolean => {
      if (carrier.isClosed()) return false
      directThisTick = true
      queueMicrotask(endDirectTick)
      const batch = takeBatch()
      if (batch === undefined) return true
      let more: boolean | undefined
      try {
        more = directWrite!.call(carrier, batch)
      } catch (cause) {
        afterWrite(batch, Either.left(new TransportError({ reason: "WriteFailed", cause })))
        return true
      }
      if (more === undefined) {
        // closed after all: the writer fiber reports it
        chunks = batch.concat(chunks)
        return false
      }
      afterWrite(batch, Either.void)
      // the socket holds bytes it could not write yet: the writer waits for "drain" on its next write
      return true
    }
    const endDirectTick = () => {
      directThisTick = false
    }

    const unsafeSend = (payload: Uint8Array): boolean => {
      if (closedWith !== undefined) return false
      const n = payload.length
      beginFrame()
      out.u32(n)
      if (n >= LARGE_PAYLOAD) {
        seal()
        chunks.push(payload)
      } else {
        out.bytes(payload)
      }
      queued(n)
      return true
    }

    const unsafeSendControl = (control: ControlMessage, message?: Term): boolean => {
      if (closedWith !== undefined) return false
      beginFrame()
      // the frame starts at `at` after `out.base`; a large binary in it is queued as its
      // own chunk (`out.spill`), and then the frame's start is in `chunks[first]`
      const first = chunks.length
      const at = out.pos - out.base
      out.u32(0)
      try {
        encodeFrameInto(out, control, message)
      } catch (e) {
        if (chunks.length > first) {
          const head = chunks[first]!.subarray(0, at)
          chunks.length = first
          if (at > 0) chunks.push(head)
          out.pos = out.base
        } else {
          out.pos = out.base + at
        }
        throw e
      }
      let n: number
      if (chunks.length > first) {
        const head = chunks[first]!
        n = head.length - at - 4 + out.pos - out.base
        for (let i = first + 1; i < chunks.length; i++) n += chunks[i]!.length
        head[at] = n >>> 24
        head[at + 1] = n >>> 16
        head[at + 2] = n >>> 8
        head[at + 3] = n
      } else {
        n = out.pos - out.base - at - 4
        out.putU32(out.base + at, n)
      }
      queued(n)
      return true
    }

    const send = (payload: Uint8Array): Effect.Effect<void, ConnectionClosed> =>
      Effect.suspend(() => {
        if (closedWith !== undefined) return Effect.fail(closedWith)
        unsafeSend(payload)
        if (pendingOut <= busyLimit) return Effect.void
        return untilNotBusy
      })

    /** Takes everything queued (as chunks), or undefined when nothing is. */
    const takeBatch = (): Array<Uint8Array> | undefined => {
      seal()
      if (chunks.length === 0) return undefined
      const batch = chunks
      chunks = []
      framesOut += queuedFrames
      ticksOut += queuedTicks
      if (queuedFrames > 0) wroteSinceCheck = true
      queuedFrames = 0
      queuedTicks = 0
      unflushed = 0
      return batch
    }

    /** After a batch was written (or failed): accounting, busy senders; false when closed. */
    const afterWrite = (batch: Array<Uint8Array>, result: Either.Either<void, TransportError>): boolean => {
      if (Either.isLeft(result)) {
        closeWith(closed("TransportError", result.left.message, result.left))
        return false
      }
      let size = 0
      for (let i = 0; i < batch.length; i++) size += batch[i]!.length
      bytesOut += size
      pendingOut -= size
      if (pendingOut <= busyLimit && busyWaiters.length > 0) {
        const busy = busyWaiters
        busyWaiters = []
        for (const b of busy) b()
      }
      return true
    }

    /** Writes what is queued now, from the caller's stack (completes in the background if the carrier is full). */
    const flushNow = (): void => {
      const batch = takeBatch()
      if (batch === undefined || closedWith !== undefined) return
      inflight++
      runSyncExit(Effect.map(Effect.either(carrier.writev(batch)), (result) => {
        inflight--
        afterWrite(batch, result)
      }))
    }

    const writer: Effect.Effect<void> = Effect.gen(function*() {
      while (closedWith === undefined) {
        const batch = takeBatch()
        if (batch === undefined) {
          yield* waitFor((r) => (wakeWriter = r))
          continue
        }
        writing = true
        const result = yield* Effect.either(carrier.writev(batch))
        writing = false
        if (!afterWrite(batch, result)) return
      }
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
        if (readSinceCheck || readPaused) {
          silent = 0
        } else if (++silent >= SILENT_INTERVALS) {
          closeWith(closed("TickTimeout", `nothing read for ${SILENT_INTERVALS} tick intervals (net_tick_timeout)`))
          return
        }
        readSinceCheck = false
        if (!wroteSinceCheck) unsafeSend(EMPTY)
        wroteSinceCheck = false
      }
    })

    // --- start ---
    onData(handshake.tail)
    carrier.unsafeOnData(onData)
    fibers.push(
      yield* Effect.forkScoped(Effect.catchAllCause(reader, onReaderFailure)),
      yield* Effect.forkScoped(writer),
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
      unsafeSend,
      unsafeSendControl,
      isBusy: () => pendingOut > busyLimit && closedWith === undefined,
      awaitNotBusy: Effect.suspend(() =>
        pendingOut <= busyLimit || closedWith !== undefined ? Effect.void : untilNotBusy
      ),
      sendControl: (control, message) =>
        Effect.suspend((): Effect.Effect<void, ConnectionClosed | ControlError> => {
          if (closedWith !== undefined) {
            // a message that cannot be encoded fails as such, even on a closed connection
            const bytes = encodeFrameEither(control, message)
            return Effect.fail(Either.isLeft(bytes) ? bytes.left : closedWith)
          }
          try {
            unsafeSendControl(control, message)
          } catch (e) {
            if (e instanceof EncodeError) return Effect.fail(notEncodable(e))
            throw e
          }
          if (pendingOut <= busyLimit) return Effect.void
          return untilNotBusy
        }),
      close: (detail) => Effect.sync(() => closeWith(closed("Local", detail))),
      closed: Deferred.await(done),
      isClosed: () => closedWith !== undefined,
      stats: () => ({
        bytesIn,
        bytesOut,
        framesIn,
        framesOut,
        ticksIn: parser.ticks,
        ticksOut,
        pendingOut,
        pendingIn,
        readPaused
      })
    }
    return connection
  })
