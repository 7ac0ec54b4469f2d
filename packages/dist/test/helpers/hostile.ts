/**
 * Shared pieces of the hostile-input suites (and the pre-auth abuse suite): raw TCP
 * clients (from a chosen source address), the process's open file descriptors and RSS,
 * a victim node with its own embedded epmd, and a real `erl` that pings it.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { readdirSync } from "node:fs"
import * as net from "node:net"
import type * as DistNode from "../../src/DistNode.js"
import * as Epmd from "../../src/Epmd.js"
import * as HostResolver from "../../src/HostResolver.js"
import * as Transport from "../../src/Transport.js"
import { runErl, uniqueName } from "./erl.js"
import { collectLogs, host, nodeLayerWith } from "./tsnode.js"

/** File descriptors this process has open now. */
export const openFds = (): number => readdirSync("/proc/self/fd").length

/** This process's resident set size, in MiB. */
export const rssMiB = (): number => process.memoryUsage().rss / 2 ** 20

export interface RawConnection {
  readonly socket: net.Socket
  /** Resolves (ms after the connection opened) when the other side closes it. */
  readonly closedAt: Promise<number>
  /** Everything received so far. */
  readonly received: () => Uint8Array
  /** Resolves with what was received once at least `n` bytes came, or the connection closed. */
  readonly receivedAtLeast: (n: number) => Promise<Uint8Array>
}

/** Opens a raw TCP connection to 127.0.0.1:`port`, from `localAddress` if given. */
export const rawConnect = (port: number, localAddress?: string): Promise<RawConnection> =>
  new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, ...(localAddress !== undefined ? { localAddress } : {}) })
    const t0 = performance.now()
    const chunks: Array<Buffer> = []
    let size = 0
    const waiters = new Set<() => void>()
    const wake = () => waiters.forEach((w) => w())
    socket.on("data", (d: Buffer) => {
      chunks.push(d)
      size += d.length
      wake()
    })
    const closedAt = new Promise<number>((r) =>
      socket.on("close", () => {
        r(performance.now() - t0)
        wake()
      })
    )
    socket.on("error", () => {})
    const received = () => new Uint8Array(Buffer.concat(chunks))
    const receivedAtLeast = (n: number) =>
      new Promise<Uint8Array>((r) => {
        const check = () => {
          if (size >= n || socket.destroyed) {
            waiters.delete(check)
            r(received())
          }
        }
        waiters.add(check)
        check()
      })
    socket.once("connect", () => resolve({ socket, closedAt, received, receivedAtLeast }))
    socket.once("error", reject)
  })

/** `rawConnect` whose socket is destroyed when the scope closes. */
export const rawConnectScoped = (port: number, localAddress?: string) =>
  Effect.acquireRelease(
    Effect.promise(() => rawConnect(port, localAddress)),
    (c) => Effect.sync(() => c.socket.destroy())
  )

/**
 * A loopback address other than the one this host's name resolves to (127.0.0.2, or
 * 127.0.0.3 when the name resolves to 127.0.0.2), for an abuser distinct from `erl`.
 */
export const otherLoopback = (): Effect.Effect<string> =>
  // resolved as the node resolves it (an unresolvable own name is 127.0.0.1)
  HostResolver.getaddr(host).pipe(
    Effect.orElseSucceed(() => "127.0.0.1"),
    Effect.map((own) => (own === "127.0.0.2" ? "127.0.0.3" : "127.0.0.2"))
  )

/** A victim: a TS node with its own embedded epmd (on a free port), logs collected. */
export const buildVictim = (
  options: {
    readonly cookie: string
    readonly node?: Partial<DistNode.Options>
    readonly epmd?: Epmd.ServeOptions
  }
) =>
  Effect.gen(function*() {
    const logs: Array<string> = []
    const epmdCtx = yield* Layer.build(
      Epmd.layerServer({ ...options.epmd, port: 0 }).pipe(Layer.provide(collectLogs(logs)))
    )
    const server = Context.get(epmdCtx, Epmd.EpmdServer)
    const name = uniqueName("victim")
    const ctx = yield* Layer.build(
      nodeLayerWith(
        name,
        options.cookie,
        Layer.merge(Transport.layerTcp, Layer.succeedContext(Context.pick(Epmd.Epmd)(epmdCtx))),
        options.node
      ).pipe(Layer.provide(collectLogs(logs)))
    )
    return { ctx, server, epmdPort: server.port, node: `${name}@${host}`, alive: name, logs }
  })

/** A real `erl` on the epmd at `epmdPort` runs `net_adm:ping(node)`; its answer. */
export const erlPing = (node: string, cookie: string, epmdPort: number): Effect.Effect<string, Error> =>
  Effect.tryPromise({
    try: () =>
      runErl(`io:format("@@~p~n", [net_adm:ping('${node}')]), halt().`, {
        args: ["-sname", uniqueName("erl"), "-setcookie", cookie],
        env: { ERL_EPMD_PORT: String(epmdPort) },
        timeoutMs: 60_000
      }),
    catch: (e) => e instanceof Error ? e : new Error(String(e))
  }).pipe(Effect.map((r) => /@@(\w+)/.exec(r.stdout)?.[1] ?? r.stdout))
