/**
 * The outbound half of a connection: frames (u32 length + payload) are encoded into a
 * batch buffer; one writer fiber hands the queued chunks to the carrier. Large binaries
 * are spilled as their own chunks (never copied), long runs are sealed into chunks (a
 * growing buffer re-copies only the frame being written), and a sender is told the
 * connection is busy while more than `busyLimit` bytes wait to be written.
 *
 * Synchronous state; the connection's Effect shell runs `run` as the writer fiber.
 */
import type { Term } from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { Carrier } from "../../Transport.js"
import { carriesMessage, type ControlMessage, encodeFrameInto } from "../control/codec.js"
import { Writer } from "../etf/encode.js"
import { TransportError } from "../transport/error.js"

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

/**
 * A microtask through a shared resolved promise (~50 ns; `queueMicrotask` wraps each
 * callback in an AsyncResource, ~200 ns). Its callback catches its own defects.
 */
const resolved = Promise.resolve()

export interface OutboundWriterOptions {
  readonly carrier: Carrier
  /** more than this many bytes waiting to be written make the connection busy */
  readonly busyLimit: number
  /** runs an effect to its end from a synchronous caller (a write that completes later) */
  readonly runSync: (effect: Effect.Effect<void>) => void
  /** the carrier failed: the connection closes */
  readonly onWriteError: (error: TransportError) => void
}

export class OutboundWriter {
  private readonly carrier: Carrier
  private readonly busyLimit: number
  private closed = false
  /** chunks ready to be handed to the carrier (the bytes of `out` after `out.base` follow them) */
  private chunks: Array<Uint8Array> = []
  /** bytes before `out.base` have been handed over and are never written again */
  private readonly out = new Writer(BATCH_SIZE, allocBatch)
  private queuedFrames = 0
  private queuedTicks = 0
  /** bytes queued since the last batch was taken */
  private unflushed = 0
  /** the writer fiber is in a write */
  private writing = false
  /** writes started by `flushNow` and not yet complete */
  private inflight = 0
  /** a direct write is queued as a microtask: frames queued before it runs go in its write */
  private directPending = false
  /** the carrier's write from the caller's stack, if it has one */
  private readonly directWrite: Carrier["unsafeWritev"]
  private wakeWriter: (() => void) | undefined = undefined
  private busyWaiters: Array<() => void> = []

  /** bytes queued or being written */
  pendingOut = 0
  bytesOut = 0
  framesOut = 0
  ticksOut = 0
  /** a frame (not a tick) went out since the ticker last looked */
  wroteSinceCheck = false

  constructor(private readonly options: OutboundWriterOptions) {
    this.carrier = options.carrier
    this.busyLimit = options.busyLimit
    this.directWrite = options.carrier.unsafeWritev
    this.out.spillSize = LARGE_PAYLOAD
    this.out.spill = (bytes) => {
      this.seal()
      this.chunks.push(bytes)
    }
  }

  isBusy(): boolean {
    return this.pendingOut > this.busyLimit && !this.closed
  }

  /** Until at most `busyLimit` bytes wait to be written, or the connection closed. */
  readonly untilNotBusy: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (this.pendingOut <= this.busyLimit || this.closed) resume(Effect.void)
    else this.busyWaiters.push(() => resume(Effect.void))
  })

  /** The connection closed: drop what is queued, wake the writer fiber and every busy sender. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.chunks = []
    this.out.buf = new Uint8Array(16)
    this.out.pos = 0
    this.out.base = 0
    this.wake()
    this.wakeBusy()
  }

  private wakeBusy(): void {
    const busy = this.busyWaiters
    this.busyWaiters = []
    for (const b of busy) b()
  }

  /** Queue a raw frame payload (an empty one is a tick); false when closed. */
  unsafeSend(payload: Uint8Array): boolean {
    if (this.closed) return false
    const n = payload.length
    const out = this.out
    this.beginFrame()
    out.u32(n)
    if (n >= LARGE_PAYLOAD) {
      this.seal()
      this.chunks.push(payload)
    } else {
      out.bytes(payload)
    }
    this.queued(n)
    return true
  }

  /**
   * Encode a control message (and its payload term) as a frame straight into the batch;
   * false when closed. Throws `EncodeError` when a value is not a term (nothing is queued then).
   */
  unsafeSendControl(control: ControlMessage, message?: Term): boolean {
    if (this.closed) return false
    const out = this.out
    const chunks = this.chunks
    this.beginFrame()
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
    // a message that is the only frame queued on an idle connection goes out at once (a
    // ping-pong's reply waits for nothing else); anything else waits for the end of the step
    const alone = first === 0 && at === 0 && message !== undefined && carriesMessage(control._tag)
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
    this.queued(n, alone)
    return true
  }

  /** The writer fiber: hands each batch to the carrier, one write at a time, until closed. */
  readonly run: Effect.Effect<void> = Effect.gen(this, function*() {
    while (!this.closed) {
      const batch = this.takeBatch()
      if (batch === undefined) {
        yield* Effect.async<void>((resume) => {
          this.wakeWriter = () => resume(Effect.void)
        })
        continue
      }
      this.writing = true
      const result = yield* Effect.either(this.carrier.writev(batch))
      this.writing = false
      if (!this.afterWrite(batch, result)) return
    }
  })

  /** Cuts the bytes queued in `out` into a chunk. */
  private seal(): void {
    const out = this.out
    if (out.pos > out.base) {
      this.chunks.push(out.buf.subarray(out.base, out.pos))
      out.base = out.pos
    }
  }

  /** Before a frame: cut a long run (so growing copies only this frame), move on from a full buffer. */
  private beginFrame(): void {
    const out = this.out
    if (out.pos - out.base >= BATCH_SEAL || out.buf.length - out.pos < BATCH_RESERVE) {
      this.seal()
      if (out.buf.length - out.pos < BATCH_RESERVE) {
        out.buf = allocBatch(BATCH_SIZE)
        out.pos = 0
        out.base = 0
      }
    }
  }

  private queued(n: number, now = false): void {
    if (n > 0) this.queuedFrames++
    else this.queuedTicks++
    this.pendingOut += n + 4
    this.unflushed += n + 4
    // A sender that keeps running (a process in a long send loop) keeps the writer fiber
    // from running: hand a full batch to the carrier right here, unless a write is
    // under way (then the writer fiber takes the rest when it is done).
    if (!this.writing && this.inflight === 0) {
      if (this.unflushed >= FLUSH_AT) this.flushNow()
      else if (this.directPending) return
      else if (this.directWrite !== undefined && this.wakeWriter !== undefined) {
        // frames queued later in this step go out together at its end
        this.directPending = true
        void resolved.then(this.flushDirect)
        if (now && !this.writeDirect()) this.wake()
        return
      }
    }
    this.wake()
  }

  private wake(): void {
    const w = this.wakeWriter
    this.wakeWriter = undefined
    if (w !== undefined) w()
  }

  /**
   * The first frame queued while the writer is idle goes out at the end of the sender's
   * synchronous step (a microtask, no hop through the writer fiber), together with every
   * frame queued in that step: a call's DEMONITOR_P, the next call's MONITOR_P and its
   * request are one write, and the peer wakes once. A message queued alone goes out at
   * once (what a ping-pong waits for: the sender's own suspension is off the round trip),
   * and the frames after it in the step wait for this microtask.
   */
  private readonly flushDirect = (): void => {
    this.directPending = false
    if (this.closed) return
    try {
      if (this.writing || this.inflight > 0 || this.wakeWriter === undefined || !this.writeDirect()) this.wake()
    } catch (e) {
      // a defect stays an uncaught exception, as from queueMicrotask (not an unhandled rejection)
      queueMicrotask(() => {
        throw e
      })
    }
  }

  /** Writes what is queued from the current stack; false when the writer fiber must do it. */
  private writeDirect(): boolean {
    if (this.carrier.isClosed()) return false
    const batch = this.takeBatch()
    if (batch === undefined) return true
    let more: boolean | undefined
    try {
      more = this.directWrite!.call(this.carrier, batch)
    } catch (cause) {
      this.afterWrite(batch, Either.left(new TransportError({ reason: "WriteFailed", cause })))
      return true
    }
    if (more === undefined) {
      // closed after all: the writer fiber reports it
      this.chunks = batch.concat(this.chunks)
      return false
    }
    this.afterWrite(batch, Either.void)
    // the socket holds bytes it could not write yet: the writer waits for "drain" on its next write
    return true
  }
  /** Takes everything queued (as chunks), or undefined when nothing is. */
  private takeBatch(): Array<Uint8Array> | undefined {
    this.seal()
    if (this.chunks.length === 0) return undefined
    const batch = this.chunks
    this.chunks = []
    this.framesOut += this.queuedFrames
    this.ticksOut += this.queuedTicks
    if (this.queuedFrames > 0) this.wroteSinceCheck = true
    this.queuedFrames = 0
    this.queuedTicks = 0
    this.unflushed = 0
    return batch
  }

  /** After a batch was written (or failed): accounting, busy senders; false when closed. */
  private afterWrite(batch: Array<Uint8Array>, result: Either.Either<void, TransportError>): boolean {
    if (Either.isLeft(result)) {
      this.options.onWriteError(result.left)
      return false
    }
    let size = 0
    for (let i = 0; i < batch.length; i++) size += batch[i]!.length
    this.bytesOut += size
    this.pendingOut -= size
    if (this.pendingOut <= this.busyLimit && this.busyWaiters.length > 0) this.wakeBusy()
    return true
  }

  /** Writes what is queued now, from the caller's stack (completes in the background if the carrier is full). */
  private flushNow(): void {
    const batch = this.takeBatch()
    if (batch === undefined || this.closed) return
    this.inflight++
    this.options.runSync(Effect.map(Effect.either(this.carrier.writev(batch)), (result) => {
      this.inflight--
      this.afterWrite(batch, result)
    }))
  }
}
