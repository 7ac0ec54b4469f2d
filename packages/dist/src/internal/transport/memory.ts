/**
 * In-memory carriers: two ends of a pipe in one process. Bytes are delivered in a
 * microtask (never re-entrantly from `write`), in order, and the end of stream after
 * the bytes written before `close`, as with TCP.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Address, Carrier } from "../../Transport.js"
import { BaseCarrier } from "./carrier.js"
import { CarrierClosed } from "./error.js"

/** The end of stream, queued after the last bytes. */
export const END = Symbol("END")

export class MemoryCarrier extends BaseCarrier {
  peer!: MemoryCarrier
  private inflight: Array<Uint8Array | typeof END> = []
  private scheduled = false
  private sourcePaused = false
  /** Total bytes written by this end (for tests). */
  bytesWritten = 0
  /** Number of write batches (`write`/`writev` calls) by this end (for tests). */
  writes = 0

  constructor(readonly remoteAddress: Address | undefined, readonly framing: 2 | 4) {
    super()
  }

  /** Called by the peer's write and close. */
  enqueue(item: Uint8Array | typeof END): void {
    this.inflight.push(item)
    this.schedule()
  }

  private schedule(): void {
    if (this.scheduled || this.sourcePaused) return
    this.scheduled = true
    queueMicrotask(this.guard("data", () => {
      this.scheduled = false
      this.flush()
    }))
  }

  private flush(): void {
    while (!this.sourcePaused && this.inflight.length > 0) {
      const item = this.inflight.shift()!
      if (item === END) this.finish(new CarrierClosed({ by: "peer" }))
      else this.deliver(item)
    }
  }

  protected pauseSource(): void {
    this.sourcePaused = true
  }

  protected resumeSource(): void {
    this.sourcePaused = false
    this.schedule()
  }

  protected writeChunks(chunks: ReadonlyArray<Uint8Array>): boolean {
    this.writes++
    for (const c of chunks) {
      if (c.length === 0) continue
      this.bytesWritten += c.length
      this.peer.enqueue(c.slice())
    }
    return true
  }

  protected destroy(cause?: unknown): void {
    this.finish(new CarrierClosed({ by: "local", cause }))
    this.inflight = []
    this.peer.enqueue(END)
  }
}

/** A connected pair, not scoped. */
export const unsafePair = (framing: 2 | 4 = 2, ports: readonly [number, number] = [0, 0]): readonly [
  MemoryCarrier,
  MemoryCarrier
] => {
  const a = new MemoryCarrier({ host: "memory", port: ports[1] }, framing)
  const b = new MemoryCarrier({ host: "memory", port: ports[0] }, framing)
  a.peer = b
  b.peer = a
  return [a, b]
}

export const pair = (options?: { readonly framing?: 2 | 4 }): Effect.Effect<
  readonly [Carrier, Carrier],
  never,
  Scope.Scope
> =>
  Effect.acquireRelease(
    Effect.sync(() => unsafePair(options?.framing ?? 2)),
    ([a, b]) => Effect.zipRight(a.close, b.close)
  )
