/**
 * An embedded EPMD server, real enough for `erl` to register with it and
 * resolve names through it: ALIVE2 (X_RESP for version 6 nodes, RESP for
 * older ones), PORT_PLEASE2, NAMES, and a refusing KILL. A name lives as long
 * as the socket that registered it.
 *
 * (internal)
 */
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as crypto from "node:crypto"
import * as net from "node:net"
import * as packets from "./packets.js"

/** (internal) */
export interface ServerOptions {
  readonly port: number
  readonly host?: string | undefined
  /** Accept ALIVE2 from non-loopback peers (epmd's `-relaxed_command_check`). */
  readonly relaxed?: boolean | undefined
  /** Close a client that has not registered and sends nothing for this long (ms; epmd: 60 s). */
  readonly idleTimeoutMs?: number | undefined
  /** Open client sockets at most; past it the longest idle unregistered one is closed. */
  readonly maxConnections?: number | undefined
}

/** epmd closes clients silent for 60 s (`CLOSE_TIMEOUT`). */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000
/** Enough for every node of a host and its lookups; far below a process's file descriptors. */
export const DEFAULT_MAX_CONNECTIONS = 256

/** (internal) */
export interface Server {
  readonly port: number
  readonly registered: Effect.Effect<ReadonlyArray<{ readonly name: string; readonly port: number }>>
  /** Client sockets open now. */
  readonly connections: Effect.Effect<number>
}

/** (internal) */
export type ListenFailure = {
  readonly _tag: "ListenFailed"
  readonly code: string | undefined
  readonly cause: unknown
}

interface Registered {
  readonly entry: packets.NodeEntry
  /** the name as registered, byte for byte */
  readonly name: Uint8Array
  readonly socket: net.Socket
  readonly creation: number
}

/** A map key for a name's bytes (one char per byte: lossless). */
const keyOf = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1")

const MIN_CREATION = 4

const wrapCreation = (c: number): number => {
  let x = c >>> 0
  while (x < MIN_CREATION) x = (x + MIN_CREATION) >>> 0
  return x
}

const randomCreation = (): number => wrapCreation(crypto.randomBytes(4).readUInt32BE(0))

const isLoopback = (address: string | undefined): boolean =>
  address !== undefined &&
  (address.startsWith("127.") || address === "::1" || address.startsWith("::ffff:127."))

/**
 * Listen on `port` (0 picks a free one) until the scope closes.
 *
 * Nothing a client sends can throw out of a socket callback: a defect closes
 * that socket and is logged. Names are kept as the bytes that were sent, and
 * checked as epmd checks them (UTF-8, 1..255 characters, no NUL). A client
 * that has not registered is closed after `idleTimeoutMs` without a byte, and
 * when `maxConnections` sockets are open the one idle the longest (never a
 * registration) makes room for a new one.
 *
 * (internal)
 */
export const serve = (options: ServerOptions): Effect.Effect<Server, ListenFailure, Scope.Scope> =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    const log = (message: string, level: "Debug" | "Warning" | "Error" = "Debug") =>
      Runtime.runFork(runtime)(
        (level === "Debug" ? Effect.logDebug : level === "Warning" ? Effect.logWarning : Effect.logError)(message)
          .pipe(Effect.annotateLogs({ package: "@effect-otp/dist", module: "Epmd" }))
      )
    const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
    const maxConnections = Math.max(1, options.maxConnections ?? DEFAULT_MAX_CONNECTIONS)

    const nodes = new Map<string, Registered>()
    // the last creation handed to a name, so a re-registration gets a new one
    const lastCreation = new Map<string, number>()
    let oldCreation = 0
    /** open client sockets, least recently active first (a Set keeps insertion order) */
    const sockets = new Set<net.Socket>()
    const registeredSockets = new WeakSet<net.Socket>()
    let boundPort = options.port
    let evicted = 0

    const touch = (socket: net.Socket) => {
      if (sockets.delete(socket)) sockets.add(socket)
    }

    /** Runs a socket callback; a defect closes that socket and is logged, never thrown. */
    const guard =
      <A extends ReadonlyArray<unknown>>(socket: net.Socket, what: string, f: (...a: A) => void) => (...a: A): void => {
        try {
          f(...a)
        } catch (defect) {
          socket.destroy()
          log(
            `closed a client (${socket.remoteAddress ?? "?"}) after a defect in its ${what} handler: ${
              defect instanceof Error ? defect.stack ?? defect.message : String(defect)
            }`,
            "Error"
          )
        }
      }

    const nextCreation = (key: string, highestVersion: number): number => {
      if (highestVersion < 6) {
        oldCreation = (oldCreation % 3) + 1
        return oldCreation
      }
      const last = lastCreation.get(key)
      const creation = last === undefined ? randomCreation() : wrapCreation(last + 1)
      lastCreation.set(key, creation)
      return creation
    }

    /** Reply and close once the bytes are handed to the kernel (epmd closes right after replying). */
    const replyAndClose = (socket: net.Socket, bytes: Uint8Array) => {
      socket.end(bytes, () => socket.destroy())
    }

    const onRequest = (socket: net.Socket, req: packets.Request): "keep" | "close" => {
      switch (req._tag) {
        case "Alive2": {
          const entry = req.entry
          const shown = packets.showName(req.name)
          const xResp = entry.highestVersion >= 6
          const refuse = () => {
            replyAndClose(
              socket,
              xResp ? packets.encodeAlive2XResp(1, 0) : packets.encodeAlive2Resp(1, 0)
            )
            return "close" as const
          }
          if (!options.relaxed && !isLoopback(socket.remoteAddress)) {
            log(`refused ALIVE2 for ${shown} from non-loopback ${socket.remoteAddress}`, "Warning")
            return refuse()
          }
          if (packets.validName(req.name) === undefined) {
            log(`refused ALIVE2: invalid node name ${shown} (${req.name.length} bytes)`, "Warning")
            return refuse()
          }
          if (entry.extra.length > packets.MAX_NAME_BYTES) {
            log(`refused ALIVE2 for ${shown}: extra data of ${entry.extra.length} bytes`, "Warning")
            return refuse()
          }
          const key = keyOf(req.name)
          if (nodes.has(key)) {
            log(`refused ALIVE2 for ${shown}: name in use`)
            return refuse()
          }
          const creation = nextCreation(key, entry.highestVersion)
          nodes.set(key, { entry, name: req.name, socket, creation })
          registeredSockets.add(socket)
          // a registration lives as long as its socket, silent or not (epmd's `keep`)
          socket.setTimeout(0)
          socket.once(
            "close",
            guard(socket, "close", () => {
              if (nodes.get(key)?.socket === socket) {
                nodes.delete(key)
                log(`unregistered ${shown}`)
              }
            })
          )
          log(`registered ${shown} at port ${entry.port} (creation ${creation})`)
          socket.write(
            xResp ? packets.encodeAlive2XResp(0, creation) : packets.encodeAlive2Resp(0, creation)
          )
          return "keep"
        }
        case "PortPlease2": {
          if (packets.validName(req.name) === undefined) {
            // epmd: "invalid node name in PORT2_REQ", and the connection is closed without a reply
            log(`PORT_PLEASE2 for an invalid name ${packets.showName(req.name)}: closed`)
            socket.destroy()
            return "close"
          }
          const found = nodes.get(keyOf(req.name))
          replyAndClose(socket, packets.encodePort2Resp(found?.entry, found?.name))
          return "close"
        }
        case "Names":
        case "Dump": {
          const list = Array.from(nodes.values(), (n) => ({ name: n.name, port: n.entry.port }))
          replyAndClose(socket, packets.encodeNamesResp(boundPort, list))
          return "close"
        }
        case "Kill": {
          // an embedded epmd lives and dies with its node: refuse
          replyAndClose(socket, new TextEncoder().encode("NO"))
          return "close"
        }
        case "Stop": {
          replyAndClose(socket, new TextEncoder().encode("NOEXIST"))
          return "close"
        }
        case "Unknown":
          socket.destroy()
          return "close"
      }
    }

    /** Room for one more socket: close the unregistered one idle the longest. */
    const makeRoom = (): boolean => {
      if (sockets.size < maxConnections) return true
      for (const s of sockets) {
        if (registeredSockets.has(s)) continue
        sockets.delete(s)
        s.destroy()
        if (evicted++ % 100 === 0) {
          log(`${maxConnections} clients connected: closed the one idle longest (${evicted} so far)`, "Warning")
        }
        return true
      }
      return false
    }

    const onConnection = (socket: net.Socket) => {
      socket.on("error", () => {})
      if (!makeRoom()) {
        log(`${maxConnections} registrations hold every connection: refused a client`, "Warning")
        socket.destroy()
        return
      }
      sockets.add(socket)
      socket.setNoDelay(true)
      if (idleTimeoutMs > 0) {
        socket.setTimeout(idleTimeoutMs)
        socket.on(
          "timeout",
          guard(socket, "timeout", () => {
            if (registeredSockets.has(socket)) return
            log(`closed a client (${socket.remoteAddress ?? "?"}) silent for ${idleTimeoutMs} ms`)
            socket.destroy()
          })
        )
      }
      let buffer: Uint8Array = new Uint8Array(0)
      let state: "request" | "alive" | "done" = "request"
      socket.on("close", guard(socket, "close", () => sockets.delete(socket)))
      socket.on(
        "data",
        guard(socket, "data", (data: Buffer) => {
          touch(socket)
          if (state !== "request") return // bytes after a request are ignored, as epmd does
          buffer = packets.concat(buffer, new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
          const r = packets.decodeRequest(buffer)
          if (r._tag === "NeedMore") return
          if (r._tag === "Malformed") {
            log(`malformed request: ${r.reason} at ${r.offset}`, "Warning")
            state = "done"
            socket.destroy()
            return
          }
          buffer = new Uint8Array(0)
          state = "done" // stays so if the request's handler fails
          state = onRequest(socket, r.value) === "keep" ? "alive" : "done"
        })
      )
    }

    const server = net.createServer({ noDelay: true }, (socket) => {
      try {
        onConnection(socket)
      } catch (defect) {
        socket.destroy()
        log(`closed a new client after a defect: ${defect instanceof Error ? defect.message : String(defect)}`, "Error")
      }
    })

    yield* Effect.acquireRelease(
      Effect.async<void, ListenFailure>((resume) => {
        const onError = (cause: NodeJS.ErrnoException) => {
          server.off("listening", onListening)
          resume(Effect.fail({ _tag: "ListenFailed", code: cause.code, cause }))
        }
        const onListening = () => {
          server.off("error", onError)
          // a later error (a failed accept, EMFILE) must not become an uncaught exception
          server.on("error", (cause) => log(`listener error: ${cause.message}`, "Warning"))
          const address = server.address()
          if (address !== null && typeof address === "object") boundPort = address.port
          resume(Effect.void)
        }
        server.once("error", onError)
        server.once("listening", onListening)
        server.listen(options.host === undefined ? { port: options.port } : { port: options.port, host: options.host })
      }),
      () =>
        Effect.async<void>((resume) => {
          for (const s of sockets) s.destroy()
          sockets.clear()
          nodes.clear()
          if (!server.listening) return resume(Effect.void)
          server.close(() => resume(Effect.void))
        })
    )
    log(`embedded epmd listening on port ${boundPort}`)

    return {
      port: boundPort,
      registered: Effect.sync(() => Array.from(nodes.values(), (n) => ({ name: n.entry.name, port: n.entry.port }))),
      connections: Effect.sync(() => sockets.size)
    } satisfies Server
  })
