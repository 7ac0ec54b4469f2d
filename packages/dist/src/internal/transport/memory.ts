/**
 * In-memory carriers: two ends of a pipe in one process. Bytes are delivered in a
 * microtask (never re-entrantly from `write`), in order, and the end of stream after
 * the bytes written before `close`, as with TCP.
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Address, Carrier, Listener, ListenOptions, Transport } from "../../Transport.js"
import { AcceptQueue, BaseCarrier } from "./carrier.js"
import { CarrierClosed, TransportError } from "./error.js"

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

/** A transport with its own port registry. */
export const make = (): Context.Tag.Service<Transport> => {
  const listeners = new Map<number, AcceptQueue<MemoryCarrier>>()
  let nextPort = 1
  let nextEphemeral = 40000

  const listen = (options: ListenOptions): Effect.Effect<Listener, TransportError, Scope.Scope> =>
    Effect.acquireRelease(
      Effect.suspend(() => {
        let port = options.port ?? 0
        if (port === 0) {
          while (listeners.has(nextPort)) nextPort++
          port = nextPort++
        }
        if (listeners.has(port)) {
          return Effect.fail(
            new TransportError({ reason: "ListenFailed", address: `memory:${port}`, cause: new Error("EADDRINUSE") })
          )
        }
        const queue = new AcceptQueue<MemoryCarrier>((c) => c.unsafeClose())
        listeners.set(port, queue)
        const address = `memory:${port}`
        const accept: Effect.Effect<Carrier, TransportError, Scope.Scope> = Effect.acquireRelease(
          Effect.interruptible(queue.take(address)),
          (c) => c.close
        )
        return Effect.succeed({ port, queue, listener: { host: "memory", port, accept } })
      }),
      ({ port, queue }) =>
        Effect.sync(() => {
          listeners.delete(port)
          queue.close(`memory:${port}`)
        })
    ).pipe(Effect.map(({ listener }) => listener))

  const connect = (address: Address): Effect.Effect<Carrier, TransportError, Scope.Scope> =>
    Effect.acquireRelease(
      Effect.suspend(() => {
        const queue = listeners.get(address.port)
        if (queue === undefined) {
          return Effect.fail(
            new TransportError({
              reason: "ConnectFailed",
              address: `memory:${address.port}`,
              cause: new Error("ECONNREFUSED")
            })
          )
        }
        const [ours, theirs] = unsafePair(2, [nextEphemeral++, address.port])
        queue.push(theirs)
        return Effect.succeed(ours)
      }),
      (c) => c.close
    )

  return { listen, connect }
}
