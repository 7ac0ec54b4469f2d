/**
 * The inbound half of a connection: bytes from the carrier are cut into frames; each
 * frame goes to `onFrame`, one at a time and in order. A frame is handled right in the
 * I/O callback when the reader is idle and the handler answers `Effect.void` (no hop
 * through the reader fiber); otherwise frames queue for the reader fiber. Reading pauses
 * while more than `maxInbound` received bytes wait to be handled (until half of it).
 *
 * Synchronous state; the connection's Effect shell runs `run` as the reader fiber.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type { Carrier } from "../../Transport.js"
import { FrameParser } from "./framing.js"

export interface InboundReaderOptions<E> {
  readonly carrier: Carrier
  readonly maxFrameSize: number
  readonly maxInbound: number
  readonly onFrame: (payload: Uint8Array) => Effect.Effect<void, E>
  /** the handler threw: the connection closes ("HandlerFailed") */
  readonly onDefect: (detail: string, defect: unknown) => void
  /** a frame over `maxFrameSize`: the connection closes ("FrameTooLarge") */
  readonly onTooLarge: (detail: string) => void
}

export class InboundReader<E> {
  private readonly carrier: Carrier
  private readonly parser: FrameParser
  private closed = false
  /** frames waiting for the reader fiber */
  private inbound: Array<Uint8Array> = []
  private readonly received: Array<Uint8Array> = []
  private wakeReader: (() => void) | undefined = undefined
  /** what `onFrame` answered for a frame handled in `onData`, for the reader fiber to run */
  private pendingHandled: Effect.Effect<void, E> | undefined = undefined

  /** bytes received and not yet handled */
  pendingIn = 0
  readPaused = false
  bytesIn = 0
  framesIn = 0
  /** bytes arrived since the ticker last looked */
  readSinceCheck = false

  constructor(private readonly options: InboundReaderOptions<E>) {
    this.carrier = options.carrier
    this.parser = new FrameParser(options.maxFrameSize)
  }

  get ticksIn(): number {
    return this.parser.ticks
  }

  /** The connection closed: drop what waits, wake the reader fiber. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.pendingHandled = undefined
    this.inbound = []
    const w = this.wakeReader
    this.wakeReader = undefined
    if (w !== undefined) w()
  }

  /** The carrier's data callback (synchronous, from the I/O callbacks). */
  readonly onData = (chunk: Uint8Array): void => {
    if (this.closed || chunk.length === 0) return
    this.bytesIn += chunk.length
    this.readSinceCheck = true
    const received = this.received
    const tooLarge = this.parser.push(chunk, received)
    for (let i = 0; i < received.length; i++) {
      const frame = received[i]!
      this.framesIn++
      // the reader is idle: handle the frame here (no hop through the reader fiber); an
      // effect other than Effect.void goes to the reader, and later frames queue behind it
      if (this.wakeReader !== undefined && tooLarge === undefined && !this.closed) {
        let handled: Effect.Effect<void, E>
        try {
          handled = this.options.onFrame(frame)
        } catch (defect) {
          received.length = 0
          this.options.onDefect(Cause.pretty(Cause.die(defect)), defect)
          return
        }
        if (handled !== Effect.void) {
          this.pendingHandled = handled
          this.wake()
        }
        continue
      }
      this.inbound.push(frame)
      this.pendingIn += frame.length
    }
    received.length = 0
    if (tooLarge !== undefined) {
      this.options.onTooLarge(`a frame of ${tooLarge} bytes exceeds maxFrameSize ${this.parser.maxFrameSize}`)
      return
    }
    if (this.inbound.length > 0) this.wake()
    if (!this.readPaused && this.pendingIn > this.options.maxInbound) {
      this.readPaused = true
      this.carrier.pause()
    }
  }

  private wake(): void {
    const w = this.wakeReader
    this.wakeReader = undefined
    if (w !== undefined) w()
  }

  /** The reader fiber: runs what `onFrame` answers, frame after frame, until closed or it fails. */
  readonly run: Effect.Effect<void, E> = Effect.gen(this, function*() {
    while (!this.closed) {
      if (this.pendingHandled !== undefined) {
        const handled = this.pendingHandled
        this.pendingHandled = undefined
        yield* handled
        continue
      }
      if (this.inbound.length === 0) {
        yield* Effect.async<void>((resume) => {
          this.wakeReader = () => resume(Effect.void)
        })
        continue
      }
      const batch = this.inbound
      this.inbound = []
      for (let i = 0; i < batch.length; i++) {
        if (this.closed) return
        const frame = batch[i]!
        const handled = this.options.onFrame(frame)
        // the common answer needs no trip through the run loop
        if (handled !== Effect.void) yield* handled
        this.pendingIn -= frame.length
        if (this.readPaused && this.pendingIn <= this.options.maxInbound / 2 && !this.closed) {
          this.readPaused = false
          this.carrier.resume()
        }
      }
    }
  })
}
