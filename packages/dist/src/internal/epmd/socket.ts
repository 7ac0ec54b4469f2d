/**
 * A tiny scoped wrapper over `node:net` sockets for EPMD exchanges: connect,
 * write, and read chunks until a pure decoder says the reply is complete.
 *
 * (internal)
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as net from "node:net"
import * as packets from "./packets.js"

/** (internal) */
export type SocketFailure =
  | { readonly _tag: "ConnectFailed"; readonly cause: unknown }
  | { readonly _tag: "Closed" }
  | { readonly _tag: "Malformed"; readonly offset: number; readonly reason: string }

/** (internal) */
export interface Conn {
  readonly socket: net.Socket
  /** Completes when the socket has closed, for whatever reason. */
  readonly closed: Deferred.Deferred<void>
  readonly write: (bytes: Uint8Array) => Effect.Effect<void, SocketFailure>
  /**
   * Read until `decode` returns `Done` (with `ended` telling it whether the
   * peer has ended the stream). Leftover bytes are kept for the next read.
   */
  readonly readUntil: <A>(
    decode: (buf: Uint8Array, ended: boolean) => packets.Decoded<A>
  ) => Effect.Effect<A, SocketFailure>
}

type Chunk = Uint8Array | "end"

/**
 * Connect to `host:port`; the socket is destroyed when the scope closes.
 *
 * (internal)
 */
export const connect = (host: string, port: number): Effect.Effect<Conn, SocketFailure, Scope.Scope> =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    const queue = yield* Effect.acquireRelease(Queue.unbounded<Chunk>(), Queue.shutdown)
    const closed = yield* Deferred.make<void>()
    const socket = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const s = net.createConnection({ host, port })
        s.setNoDelay(true)
        // a defect in a callback closes this socket (the read then fails as Closed); it never escapes
        const guard = <A extends ReadonlyArray<unknown>>(f: (...a: A) => void) => (...a: A): void => {
          try {
            f(...a)
          } catch (defect) {
            s.destroy(defect instanceof Error ? defect : new Error(String(defect)))
            Runtime.runFork(runtime)(
              Effect.logError(`epmd client socket to ${host}:${port} closed after a defect in a callback`, defect)
                .pipe(Effect.annotateLogs("module", "Epmd"))
            )
          }
        }
        s.on(
          "data",
          guard((data: Buffer) => {
            Queue.unsafeOffer(queue, new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
          })
        )
        s.on("end", guard(() => Queue.unsafeOffer(queue, "end")))
        s.on(
          "close",
          guard(() => {
            Queue.unsafeOffer(queue, "end")
            Deferred.unsafeDone(closed, Exit.void)
          })
        )
        // errors are followed by "close"; the connect wait below observes them
        s.on("error", () => {})
        return s
      }),
      (s) => Effect.sync(() => s.destroy())
    )
    yield* Effect.async<void, SocketFailure>((resume) => {
      const onConnect = () => {
        socket.off("error", onError)
        resume(Effect.void)
      }
      const onError = (cause: unknown) => {
        socket.off("connect", onConnect)
        resume(Effect.fail({ _tag: "ConnectFailed", cause }))
      }
      socket.once("connect", onConnect)
      socket.once("error", onError)
      return Effect.sync(() => {
        socket.off("connect", onConnect)
        socket.off("error", onError)
      })
    })

    let buffer: Uint8Array = new Uint8Array(0)
    let ended = false

    const write = (bytes: Uint8Array): Effect.Effect<void, SocketFailure> =>
      Effect.async<void, SocketFailure>((resume) => {
        if (socket.destroyed || !socket.writable) {
          resume(Effect.fail({ _tag: "Closed" }))
          return
        }
        socket.write(bytes, (err) => resume(err ? Effect.fail({ _tag: "Closed" }) : Effect.void))
      })

    const readUntil = <A>(
      decode: (buf: Uint8Array, ended: boolean) => packets.Decoded<A>
    ): Effect.Effect<A, SocketFailure> =>
      Effect.gen(function*() {
        while (true) {
          const r = decode(buffer, ended)
          if (r._tag === "Done") {
            buffer = r.rest
            return r.value
          }
          if (r._tag === "Malformed") {
            return yield* Effect.fail<SocketFailure>({ _tag: "Malformed", offset: r.offset, reason: r.reason })
          }
          if (ended) return yield* Effect.fail<SocketFailure>({ _tag: "Closed" })
          const chunk = yield* Queue.take(queue)
          if (chunk === "end") ended = true
          else buffer = packets.concat(buffer, chunk)
        }
      })

    return { socket, closed, write, readUntil } satisfies Conn
  })
