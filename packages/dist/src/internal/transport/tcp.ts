/**
 * TCP carriers over `node:net`.
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as net from "node:net"
import * as tls from "node:tls"
import * as util from "node:util"
import type { Address, Carrier, Listener, ListenOptions, Transport } from "../../Transport.js"
import { AcceptQueue, BaseCarrier, type DefectReporter, defectText, guarded, reporterOf } from "./carrier.js"
import { CarrierClosed, TransportError } from "./error.js"

/** A dialled socket reads straight into slabs of this size ... */
const READ_SLAB = 128 * 1024
/** ... and each read gets at least this much room (a fresh slab when less is left). */
const READ_ROOM = 64 * 1024

/**
 * Where a dialled socket reads (`net.connect`'s `onread`): the unused tail of a slab. Each
 * read's bytes stay where they were read, and the next read goes after them, so a chunk
 * is a view the reader may keep (as the frames and large binaries cut from it are); a slab
 * is dropped for a fresh one once less than `READ_ROOM` is left (a view still held keeps
 * its slab alive: at most 2x for a shared binary, which is at least 64 KiB). Instead of the
 * stream path's 64 KiB allocation, shrink and `Buffer` per read, and its `push`/`emit`/`nextTick`.
 * Dialled sockets get it from `net.connect`; accepted ones through `adoptAccepted` (node 20's
 * `net.Server` takes no `onread`).
 */
class ReadSlab {
  private buf = Buffer.allocUnsafeSlow(READ_SLAB)
  private at = 0
  /** The room for the next read (node's `onread.buffer` generator). */
  readonly room = (): Uint8Array => {
    if (this.buf.length - this.at < READ_ROOM) {
      this.buf = Buffer.allocUnsafeSlow(READ_SLAB)
      this.at = 0
    }
    return new Uint8Array(this.buf.buffer, this.buf.byteOffset + this.at, this.buf.length - this.at)
  }
  /** The `n` bytes just read into `room` (which is the last `room()`), as a chunk that stays valid. */
  take(room: Uint8Array, n: number): Uint8Array {
    this.at += n
    return room.subarray(0, n)
  }
}

/** Batches up to this size are copied into one buffer; larger ones use cork/uncork ... */
const CONCAT_LIMIT = 256 * 1024
/** ... when their chunks are this small on average. */
const CONCAT_CHUNK = 16 * 1024

/**
 * A write request of node's stream binding (`WriteWrap`): the object a libuv write is
 * tied to while it is under way. Node makes one per `socket.write`; a write that the
 * kernel takes whole at once never touches it, so one is reused until a write goes async.
 */
interface WriteReq {
  oncomplete: (status: number) => void
  /** what the async write reads from, kept alive until it completes */
  buffer: unknown
}

/** The libuv stream handle of a TCP socket (`socket._handle`), as node's `writeGeneric` uses it. */
interface WritableHandle {
  writeBuffer(req: WriteReq, data: Uint8Array): number
  writev(req: WriteReq, chunks: Array<Uint8Array>, allBuffers: boolean): number
}

/** What direct writes need of `process.binding("stream_wrap")`. */
interface StreamWrap {
  readonly WriteWrap: new() => WriteReq
  /** `[kLastWriteWasAsync]`: the last write left bytes for libuv to write later */
  readonly streamBaseState: Int32Array
  readonly kLastWriteWasAsync: number
}

const pendingDeprecation = (): boolean =>
  process.execArgv.includes("--pending-deprecation") ||
  (process.env.NODE_OPTIONS ?? "").includes("--pending-deprecation") ||
  process.env.NODE_PENDING_DEPRECATION === "1"

/**
 * Node's stream binding, when this node has it in the shape `writeGeneric` uses (node 20);
 * not under `--pending-deprecation`, where `process.binding` warns (DEP0111).
 */
const streamWrap: StreamWrap | undefined = (() => {
  try {
    const binding = (process as unknown as { binding?: (name: string) => unknown }).binding
    if (typeof binding !== "function" || pendingDeprecation()) return undefined
    const b = binding("stream_wrap") as Partial<StreamWrap> | undefined
    return b !== undefined && typeof b.WriteWrap === "function" && b.streamBaseState instanceof Int32Array &&
        typeof b.kLastWriteWasAsync === "number" && b.kLastWriteWasAsync < b.streamBaseState.length
      ? b as StreamWrap
      : undefined
  } catch {
    return undefined
  }
})()

let directWrites = true

/**
 * Whether carriers made from now on write on the socket's handle (the default, where
 * node allows it) or through `socket.write`; for tests of both paths.
 * @internal
 */
export const setDirectWrites = (on: boolean): void => {
  directWrites = on
}

const isWritableHandle = (u: unknown): u is WritableHandle =>
  typeof u === "object" && u !== null && typeof (u as WritableHandle).writeBuffer === "function" &&
  typeof (u as WritableHandle).writev === "function"

/** A failed libuv write as node reports it (`errnoException`). */
const writeError = (status: number): Error => {
  let code: string
  try {
    code = util.getSystemErrorName(status)
  } catch {
    code = String(status)
  }
  return Object.assign(new Error(`write ${code}`), { errno: status, code, syscall: "write" })
}

const totalOf = (chunks: ReadonlyArray<Uint8Array>): number => {
  let total = 0
  for (const c of chunks) total += c.length
  return total
}

/** `chunks` copied into one buffer of `total` bytes */
const concat = (chunks: ReadonlyArray<Uint8Array>, total: number): Uint8Array => {
  const out = Buffer.allocUnsafe(total)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

export class TcpCarrier extends BaseCarrier {
  readonly remoteAddress: Address | undefined
  readonly framing: 2 | 4 = 2
  private error: unknown = undefined

  /** The socket's `onread` callback, for a socket read with `slab` (see `connect`, `adoptAccepted`). */
  readonly onRead: (n: number, room: Uint8Array) => void
  /** Its bytes are read into slabs (`ReadSlab`), not through "data" events. @internal */
  readonly readsIntoSlabs: boolean
  /**
   * The socket's handle, written on directly (as node's `writeGeneric` does, without the
   * Writable stream around it: no Buffer per chunk, no write request per write, no
   * `nextTick` after it); undefined for the stream path (a TLS socket, another node).
   */
  private readonly handle: WritableHandle | undefined
  /** the write request for the next direct write (see `WriteReq`) */
  private req: WriteReq | undefined = undefined
  /** direct writes that went async and have not completed */
  private asyncWrites = 0
  /** Whether writes go to the socket's handle directly. @internal */
  get writesDirect(): boolean {
    return this.handle !== undefined
  }

  /**
   * `slab`: the socket was made with `onread` reading into it (its bytes come through
   * `onRead`); without it, through "data" events.
   */
  constructor(private readonly socket: net.Socket, report?: DefectReporter, slab?: ReadSlab) {
    super()
    if (report !== undefined) this.report = report
    socket.setNoDelay(true)
    this.remoteAddress = socket.remoteAddress !== undefined && socket.remotePort !== undefined
      ? { host: socket.remoteAddress, port: socket.remotePort }
      : undefined
    this.readsIntoSlabs = slab !== undefined
    const handle = (socket as unknown as { _handle?: unknown })._handle
    // TLS sockets keep the stream path: their handle is the TLS layer's, fed by the stream
    this.handle = directWrites && streamWrap !== undefined && !(socket instanceof tls.TLSSocket) &&
        isWritableHandle(handle)
      ? handle
      : undefined
    // as `guard("data", …)`, without its rest parameters (an array per read)
    this.onRead = slab === undefined ? () => {} : (n: number, room: Uint8Array) => {
      try {
        this.deliver(slab.take(room, n))
      } catch (defect) {
        try {
          this.defectIn("data", defect)
        } catch {
          // the report itself failed: nothing more can be done from an I/O callback
        }
      }
    }
    if (slab === undefined) {
      socket.on(
        "data",
        this.guard("data", (buf: Buffer) => this.deliver(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)))
      )
    }
    socket.on("drain", this.guard("drain", () => this.drained()))
    socket.on("error", (err) => {
      this.error = err
    })
    socket.on(
      "close",
      this.guard("close", () => {
        this.finish(
          this.error !== undefined
            ? new CarrierClosed({ by: "error", cause: this.error })
            : new CarrierClosed({ by: "peer" })
        )
      })
    )
    if (socket.destroyed) this.finish(new CarrierClosed({ by: "peer" }))
  }

  protected pauseSource(): void {
    this.socket.pause()
  }

  protected resumeSource(): void {
    this.socket.resume()
  }

  protected writeChunks(chunks: ReadonlyArray<Uint8Array>): boolean {
    const socket = this.socket
    const handle = this.handle
    // the stream path also once the socket is destroyed (its handle is closed) or holds
    // bytes of its own (which go first)
    if (
      handle === undefined || socket.destroyed || socket.writableLength > 0 ||
      (socket as unknown as { _handle?: unknown })._handle !== handle
    ) return this.streamWrite(chunks)
    if (chunks.length === 1) return this.directWrite(handle, chunks[0]!)
    const total = totalOf(chunks)
    if (total <= CONCAT_LIMIT && total < chunks.length * CONCAT_CHUNK) {
      return this.directWrite(handle, concat(chunks, total))
    }
    return this.directWrite(handle, chunks as Array<Uint8Array>)
  }

  /**
   * One write on the handle: true when the kernel took it all, false when libuv writes
   * the rest later (the writer then waits for `drained`, which comes when every such
   * write is done). A failed write destroys the socket with node's error and throws it.
   */
  private directWrite(handle: WritableHandle, data: Uint8Array | Array<Uint8Array>): boolean {
    const wrap = streamWrap!
    const req = this.req ?? this.newReq(wrap)
    const err = data instanceof Uint8Array ? handle.writeBuffer(req, data) : handle.writev(req, data, true)
    if (err !== 0) {
      this.req = undefined
      const e = writeError(err)
      this.socket.destroy(e)
      throw e
    }
    if (wrap.streamBaseState[wrap.kLastWriteWasAsync] === 0) return true
    // libuv holds this request (and reads `data`) until the write completes
    req.buffer = data
    this.req = undefined
    this.asyncWrites++
    return false
  }

  private newReq(wrap: StreamWrap): WriteReq {
    const req = new wrap.WriteWrap()
    req.oncomplete = this.writeDone
    req.buffer = null
    this.req = req
    return req
  }

  /** An async direct write completed (node calls `oncomplete` with libuv's status). */
  private readonly writeDone = this.guard("write", (status: number): void => {
    this.asyncWrites--
    if (status < 0) {
      if (!this.socket.destroyed) this.socket.destroy(writeError(status))
      return
    }
    if (this.asyncWrites === 0) this.drained()
  })

  /** `socket.write`, node's stream path. */
  private streamWrite(chunks: ReadonlyArray<Uint8Array>): boolean {
    const socket = this.socket
    if (chunks.length === 1) return socket.write(chunks[0]!)
    const total = totalOf(chunks)
    // many small chunks: one copy is cheaper than a write each; big ones go out as they are
    if (total <= CONCAT_LIMIT && total < chunks.length * CONCAT_CHUNK) return socket.write(concat(chunks, total))
    socket.cork()
    let more = true
    for (const c of chunks) more = socket.write(c)
    socket.uncork()
    return more
  }

  /**
   * Writes chunks now, from the caller's stack: false when the socket asks the writer to
   * wait for "drain", undefined when the carrier is closed. Throws what `write` throws.
   * @internal
   */
  unsafeWritev(chunks: ReadonlyArray<Uint8Array>): boolean | undefined {
    if (this.isClosed()) return undefined
    return this.writeChunks(chunks)
  }

  protected destroy(cause?: unknown): void {
    this.finish(new CarrierClosed({ by: "local", cause }))
    this.socket.destroy()
  }
}

/** @internal */
export const addressText = (host: string | undefined, port: number | undefined) => `${host ?? "*"}:${port ?? 0}`

/** What `adoptAccepted` needs of an accepted socket's private libuv handle. */
interface StreamHandle {
  readStart(): number
  readStop(): number
  useUserBuffer(buffer: Uint8Array): void
}

const isStreamHandle = (u: unknown): u is StreamHandle =>
  typeof u === "object" && u !== null && typeof (u as StreamHandle).readStart === "function" &&
  typeof (u as StreamHandle).readStop === "function" && typeof (u as StreamHandle).useUserBuffer === "function"

/**
 * The carrier of an accepted socket, reading into slabs (`ReadSlab`) as a dialled one does.
 * `net.Server` (node 20) has no `onread` option, so the socket is accepted paused
 * (`pauseOnConnect`: nothing read yet) and its handle moves to a socket made with `onread`
 * (the `net.Socket` constructor takes a `handle` and `onread`, as the server's and
 * `net.connect`'s own sockets are made); the first socket is left without a handle and
 * never used again. The carrier exists before the new socket's first read can be
 * delivered (reads arrive from the event loop, after this returns). When the socket does
 * not have that shape (another node version), or the move fails, it is read through
 * "data" events instead, as before.
 */
const adoptAccepted = (socket: net.Socket, report: DefectReporter): TcpCarrier => {
  const holder = socket as unknown as { _handle?: unknown }
  const handle = holder._handle
  if (!socket.destroyed && isStreamHandle(handle)) {
    let carrier: TcpCarrier | undefined
    const slab = new ReadSlab()
    holder._handle = null
    let adopted: net.Socket | undefined
    try {
      adopted = new net.Socket({
        handle,
        readable: true,
        writable: true,
        onread: {
          buffer: slab.room,
          callback: (n: number, room: Uint8Array) => {
            if (carrier !== undefined) carrier.onRead(n, room)
            else adopted?.destroy()
            return true
          }
        }
      } as net.SocketConstructorOpts)
    } catch {
      holder._handle = handle
      adopted = undefined
    }
    if (adopted !== undefined) {
      // until the carrier listens, an error must not become an uncaught exception
      adopted.on("error", () => {})
      carrier = new TcpCarrier(adopted, report, slab)
      return carrier
    }
  }
  // accepted paused (`pauseOnConnect`): the "data" path starts it
  const carrier = new TcpCarrier(socket, report)
  socket.resume()
  return carrier
}

const connect = (address: Address): Effect.Effect<Carrier, TransportError, Scope.Scope> =>
  Effect.acquireRelease(
    // interruptible: the returned canceler destroys a socket that is still connecting
    Effect.interruptible(Effect.flatMap(Effect.runtime<never>(), (runtime) =>
      Effect.async<TcpCarrier, TransportError>((resume) => {
        // nothing is read before "connect", so the carrier exists before the first onRead
        let carrier: TcpCarrier | undefined
        const slab = new ReadSlab()
        const socket = net.connect({
          host: address.ip ?? address.host,
          port: address.port,
          noDelay: true,
          onread: {
            buffer: slab.room,
            callback: (n, room) => {
              if (carrier !== undefined) carrier.onRead(n, room)
              else socket.destroy()
              return true
            }
          }
        })
        const onError = (cause: Error) => {
          socket.destroy()
          resume(Effect.fail(
            new TransportError({ reason: "ConnectFailed", address: addressText(address.host, address.port), cause })
          ))
        }
        socket.once("error", onError)
        socket.once("connect", () => {
          socket.off("error", onError)
          carrier = new TcpCarrier(socket, reporterOf(runtime, "TcpTransport"), slab)
          resume(Effect.succeed(carrier))
        })
        return Effect.sync(() => socket.destroy())
      }))),
    (carrier) =>
      carrier.close
  )

const listen = (options: ListenOptions): Effect.Effect<Listener, TransportError, Scope.Scope> =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    const report = reporterOf(runtime, "TcpTransport")
    const queue = new AcceptQueue<net.Socket>((socket) => socket.destroy())
    const server = yield* Effect.acquireRelease(
      Effect.async<net.Server, TransportError>((resume) => {
        const server = net.createServer(
          // paused: `adoptAccepted` moves the socket's handle to one that reads into slabs
          { noDelay: true, pauseOnConnect: true },
          guarded((socket: net.Socket) => {
            // Until a carrier wraps it, an error must not become an uncaught exception.
            socket.on("error", () => {})
            queue.push(socket)
          }, (defect, socket) => {
            socket.destroy()
            report(`TCP distribution: closed a connection after a defect while accepting it: ${defectText(defect)}`)
          })
        )
        const onError = (cause: Error) => {
          server.close()
          resume(Effect.fail(
            new TransportError({ reason: "ListenFailed", address: addressText(options.host, options.port), cause })
          ))
        }
        server.once("error", onError)
        const ready = () => {
          server.off("error", onError)
          // A later error (a failed accept) must not become an uncaught exception.
          server.on("error", (cause) =>
            Runtime.runFork(runtime)(
              Effect.logWarning(`TCP distribution: listener error: ${cause.message}`).pipe(
                Effect.annotateLogs("module", "TcpTransport")
              )
            ))
          resume(Effect.succeed(server))
        }
        if (options.host !== undefined) server.listen(options.port ?? 0, options.host, ready)
        else server.listen(options.port ?? 0, ready)
      }),
      (server) =>
        Effect.sync(() => {
          queue.close(addressText(options.host, options.port))
          server.close()
        })
    )
    const bound = server.address() as net.AddressInfo
    const address = addressText(bound.address, bound.port)
    const accept: Effect.Effect<Carrier, TransportError, Scope.Scope> = Effect.acquireRelease(
      // interruptible: a pending accept must not hold up the scope that waits for it
      Effect.interruptible(Effect.map(queue.take(address), (socket) => adoptAccepted(socket, report))),
      (carrier) => carrier.close
    )
    return { host: bound.address, port: bound.port, accept }
  })

export const transport: Context.Tag.Service<Transport> = { listen, connect }
