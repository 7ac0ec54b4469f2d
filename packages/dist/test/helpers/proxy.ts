/**
 * Test helper: a TCP proxy on loopback that can simulate a network partition.
 *
 * - Forwarding: every accepted connection is paired with a new connection to the
 *   target, and bytes are copied both ways.
 * - `blackhole()`: bytes read from either side are dropped (both ways), and a side
 *   that closes is not told to the other one. Sockets stay open, as in a real partition
 *   where nothing arrives and nothing fails. Connections accepted while blackholed are
 *   held in the same state.
 * - `heal()`: forwarding resumes for new connections. A pair that lost data or a side
 *   while blackholed is torn down (as a real peer would eventually see a reset), so a
 *   corrupted stream never reaches a node.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as net from "node:net"

export interface Proxy {
  readonly port: number
  /** Stop forwarding both ways; keep every socket open. */
  readonly blackhole: () => void
  /** Forward again; pairs damaged while blackholed are closed. */
  readonly heal: () => void
  /** Connections accepted so far. */
  readonly accepted: () => number
  /** Pairs currently open. */
  readonly open: () => number
  /** Bytes dropped while blackholed. */
  readonly dropped: () => number
  readonly close: () => Promise<void>
}

interface Pair {
  readonly client: net.Socket
  readonly upstream: net.Socket
  damaged: boolean
  closed: boolean
}

export const startProxy = (target: { readonly host?: string; readonly port: number }): Promise<Proxy> =>
  new Promise((resolve, reject) => {
    const pairs = new Set<Pair>()
    let holed = false
    let accepted = 0
    let dropped = 0
    const destroyPair = (p: Pair) => {
      if (p.closed) return
      p.closed = true
      pairs.delete(p)
      p.client.destroy()
      p.upstream.destroy()
    }
    const server = net.createServer((client) => {
      accepted++
      client.setNoDelay(true)
      const upstream = net.connect({ host: target.host ?? "127.0.0.1", port: target.port, noDelay: true })
      const pair: Pair = { client, upstream, damaged: holed, closed: false }
      pairs.add(pair)
      const wire = (from: net.Socket, to: net.Socket) => {
        from.on("data", (chunk: Buffer) => {
          if (holed || pair.damaged) {
            dropped += chunk.length
            pair.damaged = true
            return
          }
          to.write(chunk)
        })
        const gone = () => {
          if (holed) {
            pair.damaged = true
            return
          }
          destroyPair(pair)
        }
        from.on("end", gone)
        from.on("close", gone)
        from.on("error", () => gone())
      }
      wire(client, upstream)
      wire(upstream, client)
    })
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as net.AddressInfo
      resolve({
        port: address.port,
        blackhole: () => {
          holed = true
        },
        heal: () => {
          holed = false
          for (const p of [...pairs]) if (p.damaged) destroyPair(p)
        },
        accepted: () => accepted,
        open: () => pairs.size,
        dropped: () => dropped,
        close: () =>
          new Promise<void>((done) => {
            for (const p of [...pairs]) destroyPair(p)
            server.close(() => done())
          })
      })
    })
  })

/** `startProxy` for the current scope: closed (with every socket) when the scope closes. */
export const proxyScoped = (
  target: { readonly host?: string; readonly port: number }
): Effect.Effect<Proxy, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.promise(() => startProxy(target)), (p) => Effect.promise(() => p.close()))
