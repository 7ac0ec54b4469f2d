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
}

/** (internal) */
export interface Server {
  readonly port: number
  readonly registered: Effect.Effect<ReadonlyArray<{ readonly name: string; readonly port: number }>>
}

/** (internal) */
export type ListenFailure = {
  readonly _tag: "ListenFailed"
  readonly code: string | undefined
  readonly cause: unknown
}

interface Registered {
  readonly entry: packets.NodeEntry
  readonly socket: net.Socket
  readonly creation: number
}

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
 * (internal)
 */
export const serve = (options: ServerOptions): Effect.Effect<Server, ListenFailure, Scope.Scope> =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    const log = (message: string, level: "Debug" | "Warning" = "Debug") =>
      Runtime.runFork(runtime)(
        (level === "Debug" ? Effect.logDebug(message) : Effect.logWarning(message)).pipe(
          Effect.annotateLogs({ package: "@effect-otp/dist", module: "Epmd" })
        )
      )

    const nodes = new Map<string, Registered>()
    // the last creation handed to a name, so a re-registration gets a new one
    const lastCreation = new Map<string, number>()
    let oldCreation = 0
    const sockets = new Set<net.Socket>()
    let boundPort = options.port

    const nextCreation = (name: string, highestVersion: number): number => {
      if (highestVersion < 6) {
        oldCreation = (oldCreation % 3) + 1
        return oldCreation
      }
      const last = lastCreation.get(name)
      const creation = last === undefined ? randomCreation() : wrapCreation(last + 1)
      lastCreation.set(name, creation)
      return creation
    }

    const onRequest = (socket: net.Socket, req: packets.Request): "keep" | "close" => {
      switch (req._tag) {
        case "Alive2": {
          const entry = req.entry
          const xResp = entry.highestVersion >= 6
          const reply = (result: number, creation: number) =>
            socket.write(
              xResp ? packets.encodeAlive2XResp(result, creation) : packets.encodeAlive2Resp(result, creation)
            )
          if (!options.relaxed && !isLoopback(socket.remoteAddress)) {
            log(`refused ALIVE2 for ${entry.name} from non-loopback ${socket.remoteAddress}`, "Warning")
            reply(1, 0)
            return "close"
          }
          if (nodes.has(entry.name)) {
            log(`refused ALIVE2 for ${entry.name}: name in use`)
            reply(1, 0)
            return "close"
          }
          const creation = nextCreation(entry.name, entry.highestVersion)
          nodes.set(entry.name, { entry, socket, creation })
          socket.once("close", () => {
            if (nodes.get(entry.name)?.socket === socket) {
              nodes.delete(entry.name)
              log(`unregistered ${entry.name}`)
            }
          })
          log(`registered ${entry.name} at port ${entry.port} (creation ${creation})`)
          reply(0, creation)
          return "keep"
        }
        case "PortPlease2": {
          socket.end(packets.encodePort2Resp(nodes.get(req.name)?.entry))
          return "close"
        }
        case "Names":
        case "Dump": {
          const list = Array.from(nodes.values(), (n) => ({ name: n.entry.name, port: n.entry.port }))
          socket.end(packets.encodeNamesResp(boundPort, list))
          return "close"
        }
        case "Kill": {
          // an embedded epmd lives and dies with its node: refuse
          socket.end(new TextEncoder().encode("NO"))
          return "close"
        }
        case "Stop": {
          socket.end(new TextEncoder().encode("NOEXIST"))
          return "close"
        }
        case "Unknown":
          socket.destroy()
          return "close"
      }
    }

    const onConnection = (socket: net.Socket) => {
      sockets.add(socket)
      socket.setNoDelay(true)
      let buffer: Uint8Array = new Uint8Array(0)
      let state: "request" | "alive" | "done" = "request"
      socket.on("error", () => {})
      socket.on("close", () => sockets.delete(socket))
      socket.on("data", (data: Buffer) => {
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
        state = onRequest(socket, r.value) === "keep" ? "alive" : "done"
      })
    }

    const server = net.createServer({ noDelay: true }, onConnection)
    server.on("error", () => {})

    yield* Effect.acquireRelease(
      Effect.async<void, ListenFailure>((resume) => {
        const onError = (cause: NodeJS.ErrnoException) => {
          server.off("listening", onListening)
          resume(Effect.fail({ _tag: "ListenFailed", code: cause.code, cause }))
        }
        const onListening = () => {
          server.off("error", onError)
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
      registered: Effect.sync(() => Array.from(nodes.values(), (n) => ({ name: n.entry.name, port: n.entry.port })))
    } satisfies Server
  })
