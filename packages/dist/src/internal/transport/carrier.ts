/**
 * The part of a carrier shared by TCP and memory: pull/push reading with a buffer,
 * pause/resume, the close reason, and write completion.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Runtime from "effect/Runtime"
import type { Address, Carrier } from "../../Transport.js"
import type { CarrierClosed } from "./error.js"
import { TransportError } from "./error.js"

/** Pull mode pauses the source when this many bytes wait unread. */
const PULL_HIGH_WATER = 1 << 20

/** How a carrier reports a defect caught in an I/O callback (a log line). */
export type DefectReporter = (message: string) => void

/** Without a runtime at hand: the default logger. */
export const defaultReporter: DefectReporter = (message) => {
  Effect.runFork(Effect.logError(message).pipe(Effect.annotateLogs("module", "Transport")))
}

/** A reporter that logs through `runtime` (its logger and annotations). */
export const reporterOf = (runtime: Runtime.Runtime<never>, module: string): DefectReporter => (message) => {
  Runtime.runFork(runtime)(Effect.logError(message).pipe(Effect.annotateLogs("module", module)))
}

/** `message` and the stack of a caught defect, for a log line. */
export const defectText = (defect: unknown): string =>
  defect instanceof Error ? defect.stack ?? `${defect.name}: ${defect.message}` : String(defect)

/**
 * Wraps a callback of a socket or server: a defect thrown in it goes to `onDefect`
 * (which closes what it concerns) instead of becoming an uncaught exception that
 * would end the process.
 */
export const guarded = <A extends ReadonlyArray<unknown>>(
  f: (...a: A) => void,
  onDefect: (defect: unknown, ...a: A) => void
) =>
(...a: A): void => {
  try {
    f(...a)
  } catch (defect) {
    try {
      onDefect(defect, ...a)
    } catch {
      // the report itself failed: nothing more can be done from an I/O callback
    }
  }
}

export abstract class BaseCarrier implements Carrier {
  abstract readonly remoteAddress: Address | undefined
  abstract readonly framing: 2 | 4

  /** Stop / restart the byte source (socket.pause / resume). */
  protected abstract pauseSource(): void
  protected abstract resumeSource(): void
  /**
   * Write chunks as one batch. Returns true when more can be written at once, false
   * when the caller should wait for `onDrain`.
   */
  protected abstract writeChunks(chunks: ReadonlyArray<Uint8Array>): boolean
  /** Destroy the underlying resource; must end in `finish`. */
  protected abstract destroy(cause?: unknown): void

  private chunks: Array<Uint8Array> = []
  private chunkBytes = 0
  private handler: ((chunk: Uint8Array) => void) | undefined = undefined
  private readWaiter: ((exit: Exit.Exit<Uint8Array, TransportError>) => void) | undefined = undefined
  private drainWaiters: Array<(exit: Exit.Exit<void, TransportError>) => void> = []
  private userPaused = false
  private pullPaused = false
  private reason: CarrierClosed | undefined = undefined
  private readonly done = Deferred.unsafeMake<CarrierClosed>(FiberId.none)
  /** Where defects caught in I/O callbacks are logged; transports set it to their runtime's logger. */
  report: DefectReporter = defaultReporter

  /**
   * Wraps an I/O callback of this carrier: a defect in it (in the handler that reads
   * our bytes, say) closes this carrier alone and is logged; it never escapes.
   */
  protected guard<A extends ReadonlyArray<unknown>>(what: string, f: (...a: A) => void): (...a: A) => void {
    return guarded(f, (defect: unknown, ..._: A) => this.defectIn(what, defect))
  }

  /** A defect caught in this carrier's `what` callback: logged, and this carrier closes (see `guard`). */
  protected defectIn(what: string, defect: unknown): void {
    const where = this.remoteAddress ? ` with ${this.remoteAddress.host}:${this.remoteAddress.port}` : ""
    this.report(`the connection${where} closed after a defect in its ${what} callback: ${defectText(defect)}`)
    this.destroy(defect)
  }

  // --- called by implementations -------------------------------------------

  /** Bytes arrived from the source. */
  protected deliver(chunk: Uint8Array): void {
    if (this.reason !== undefined || chunk.length === 0) return
    if (this.handler !== undefined) {
      this.handler(chunk)
      return
    }
    const waiter = this.readWaiter
    if (waiter !== undefined) {
      this.readWaiter = undefined
      waiter(Exit.succeed(chunk))
      return
    }
    this.chunks.push(chunk)
    this.chunkBytes += chunk.length
    if (this.chunkBytes >= PULL_HIGH_WATER && !this.pullPaused) {
      this.pullPaused = true
      this.pauseSource()
    }
  }

  /** The writable side drained. */
  protected drained(): void {
    const waiters = this.drainWaiters
    this.drainWaiters = []
    for (const w of waiters) w(Exit.void)
  }

  /** The source ended or failed, or we destroyed it. Idempotent. */
  protected finish(reason: CarrierClosed): void {
    if (this.reason !== undefined) return
    this.reason = reason
    const waiter = this.readWaiter
    this.readWaiter = undefined
    // Buffered chunks stay readable in pull mode; a waiting reader had none.
    if (waiter !== undefined) waiter(Exit.fail(this.closedError()))
    const drains = this.drainWaiters
    this.drainWaiters = []
    for (const w of drains) w(Exit.fail(this.closedError()))
    Deferred.unsafeDone(this.done, Exit.succeed(reason))
  }

  private closedError(): TransportError {
    return new TransportError({
      reason: "Closed",
      address: this.remoteAddress ? `${this.remoteAddress.host}:${this.remoteAddress.port}` : undefined,
      cause: this.reason?.cause
    })
  }

  // --- Carrier ---------------------------------------------------------------

  readonly read: Effect.Effect<Uint8Array, TransportError> = Effect.suspend(() => {
    const chunk = this.chunks.shift()
    if (chunk !== undefined) {
      this.chunkBytes -= chunk.length
      if (this.pullPaused && this.chunkBytes < PULL_HIGH_WATER / 2) {
        this.pullPaused = false
        if (!this.userPaused) this.resumeSource()
      }
      return Effect.succeed(chunk)
    }
    if (this.reason !== undefined) return Effect.fail(this.closedError())
    return Effect.async<Uint8Array, TransportError>((resume) => {
      this.readWaiter = resume
      return Effect.sync(() => {
        if (this.readWaiter === resume) this.readWaiter = undefined
      })
    })
  })

  unsafeOnData(handler: (chunk: Uint8Array) => void): void {
    this.handler = handler
    const buffered = this.chunks
    this.chunks = []
    this.chunkBytes = 0
    for (const chunk of buffered) {
      if (this.handler === undefined) break
      handler(chunk)
    }
    if (this.pullPaused) {
      this.pullPaused = false
      if (!this.userPaused && this.reason === undefined) this.resumeSource()
    }
  }

  write(chunk: Uint8Array): Effect.Effect<void, TransportError> {
    return this.writev([chunk])
  }

  writev(chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, TransportError> {
    return Effect.suspend(() => {
      if (this.reason !== undefined) return Effect.fail(this.closedError())
      let more: boolean
      try {
        more = this.writeChunks(chunks)
      } catch (cause) {
        return Effect.fail(new TransportError({ reason: "WriteFailed", cause }))
      }
      if (more) return Effect.void
      return Effect.async<void, TransportError>((resume) => {
        if (this.reason !== undefined) return resume(Effect.fail(this.closedError()))
        this.drainWaiters.push(resume)
      })
    })
  }

  pause(): void {
    if (this.userPaused) return
    this.userPaused = true
    if (!this.pullPaused && this.reason === undefined) this.pauseSource()
  }

  resume(): void {
    if (!this.userPaused) return
    this.userPaused = false
    if (!this.pullPaused && this.reason === undefined) this.resumeSource()
  }

  isPaused(): boolean {
    return this.userPaused || this.pullPaused
  }

  readonly close: Effect.Effect<void> = Effect.sync(() => this.unsafeClose())

  unsafeClose(cause?: unknown): void {
    if (this.reason !== undefined) return
    this.destroy(cause)
  }

  readonly closed: Effect.Effect<CarrierClosed> = Deferred.await(this.done)

  isClosed(): boolean {
    return this.reason !== undefined
  }
}

/** Items waiting for `take`, and `take`s waiting for items. */
export class AcceptQueue<A> {
  private items: Array<A> = []
  private waiters: Array<(exit: Exit.Exit<A, TransportError>) => void> = []
  private closed = false

  constructor(private readonly dispose: (a: A) => void) {}

  push(item: A): void {
    if (this.closed) {
      this.dispose(item)
      return
    }
    const w = this.waiters.shift()
    if (w) w(Exit.succeed(item))
    else this.items.push(item)
  }

  close(address: string): void {
    this.closed = true
    for (const item of this.items) this.dispose(item)
    this.items = []
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w(Exit.fail(new TransportError({ reason: "Closed", address })))
  }

  take(address: string): Effect.Effect<A, TransportError> {
    return Effect.suspend(() => {
      if (this.items.length > 0) return Effect.succeed(this.items.shift()!)
      if (this.closed) return Effect.fail(new TransportError({ reason: "Closed", address }))
      return Effect.async<A, TransportError>((resume) => {
        this.waiters.push(resume)
        return Effect.sync(() => {
          const i = this.waiters.indexOf(resume)
          if (i >= 0) this.waiters.splice(i, 1)
        })
      })
    })
  }
}
