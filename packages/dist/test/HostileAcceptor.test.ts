/**
 * Hostile input for the acceptor: raw peers send the bytes; each case
 * asserts that the offending connection alone was closed, that the node still answers a
 * real `erl` ping, and that RSS grows by less than RSS_BOUND_MIB.
 *
 * - one address holding many silent sockets cannot lock the others out of the pending
 *   handshakes (per-address cap, first-message deadline);
 * - a peer that claims our own node name is refused before authentication;
 * - a peer that answers `alive` for a connected node, without the cookie, leaves the live
 *   connection alone; a genuine restart (right cookie) replaces it;
 * - a defect in a carrier's data callback closes that carrier alone and is logged.
 */
import { Atom } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as net from "node:net"
import * as Handshake from "../src/Handshake.js"
import * as NetKernel from "../src/NetKernel.js"
import * as Transport from "../src/Transport.js"
import { erlAvailable, uniqueName } from "./helpers/erl.js"
import { buildVictim, erlPing, otherLoopback, rawConnectScoped, rssMiB } from "./helpers/hostile.js"
import { opensslAvailable, pkiScoped } from "./helpers/tls.js"
import { collectLogs, host, startPeer } from "./helpers/tsnode.js"

/** RSS may grow by less than this during one case. */
const RSS_BOUND_MIB = 64

/**
 * `count` silent connections from `localAddress`, each reopened 50 ms after the node
 * closes it (as an attacker keeping the slots taken would); all closed with the scope.
 */
const silentFlood = (port: number, localAddress: string, count: number) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      let running = true
      let closed = 0
      const open = new Set<net.Socket>()
      const waiters = new Set<() => void>()
      const one = () => {
        if (!running) return
        const s = net.connect({ host: "127.0.0.1", port, localAddress })
        open.add(s)
        s.on("error", () => {})
        s.on("close", () => {
          open.delete(s)
          if (!running) return
          closed++
          waiters.forEach((w) => w())
          setTimeout(one, 50)
        })
      }
      for (let i = 0; i < count; i++) one()
      const closedAtLeast = (n: number) =>
        new Promise<void>((r) => {
          const check = () => {
            if (closed >= n) {
              waiters.delete(check)
              r()
            }
          }
          waiters.add(check)
          check()
        })
      const stop = () => {
        running = false
        for (const s of open) s.destroy()
      }
      return { closedAtLeast, stop }
    }),
    (flood) => Effect.sync(flood.stop)
  )

const portOf = (ctx: Context.Context<NetKernel.NetKernel>) =>
  Effect.map(Effect.provide(NetKernel.NetKernel, ctx), (k) => k.port)

describe.skipIf(!erlAvailable())("hostile peers at the acceptor", () => {
  it.scopedLive(
    "one address holding silent sockets cannot lock out the others: a real erl still connects",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        // per address: 8 (the default); in all: 16, which the abuser alone could fill
        const v = yield* buildVictim({ cookie, node: { maxPendingHandshakes: 16 } })
        const port = yield* portOf(v.ctx)
        const abuser = yield* otherLoopback()
        const rss0 = rssMiB()
        const flood = yield* silentFlood(port, abuser, 40)
        // those over the per-address cap are closed at once, the others after the first-message deadline
        yield* Effect.promise(() => flood.closedAtLeast(40))
        expect(yield* erlPing(v.node, cookie, v.epmdPort)).toBe("pong")
        expect(v.logs.some((l) => l.includes(`too many pending handshakes from ${abuser}`))).toBe(true)
        expect(v.logs.filter((l) => l.includes("too many pending handshakes") && !l.includes(abuser))).toEqual([])
        expect(rssMiB() - rss0).toBeLessThan(RSS_BOUND_MIB)
      }),
    90_000
  )

  it.scopedLive(
    "a silent connection is closed by the first-message deadline, long before net_setuptime",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const v = yield* buildVictim({ cookie, node: { firstMessageTimeout: "300 millis", setupTime: "60 seconds" } })
        const silent = yield* rawConnectScoped(yield* portOf(v.ctx))
        const at = yield* Effect.promise(() => silent.closedAt)
        expect(at).toBeGreaterThanOrEqual(250)
        expect(at).toBeLessThan(30_000)
        expect(v.logs.some((l) => l.includes("no send_name within") && l.includes("firstMessageTimeout"))).toBe(true)
        expect(yield* erlPing(v.node, cookie, v.epmdPort)).toBe("pong")
      }),
    60_000
  )

  it.scopedLive(
    "a peer that claims our own node name is refused before authentication",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const v = yield* buildVictim({ cookie })
        const rss0 = rssMiB()
        const carrier = yield* Transport.tcpTransport.connect({ host: "127.0.0.1", port: yield* portOf(v.ctx) })
        // even with the right cookie
        const e = yield* Effect.flip(Handshake.initiate(carrier, {
          thisNode: v.node,
          cookie: Redacted.make(cookie),
          creation: 7,
          peer: v.node
        }))
        expect([e.step, e.reason]).toEqual(["recvStatus", "NotAllowed"])
        expect(v.logs.some((l) => l.includes("claims our own node name"))).toBe(true)
        expect(yield* NetKernel.nodes("connected").pipe(Effect.provide(v.ctx))).toEqual([])
        expect(yield* erlPing(v.node, cookie, v.epmdPort)).toBe("pong")
        expect(rssMiB() - rss0).toBeLessThan(RSS_BOUND_MIB)
      }),
    60_000
  )

  it.scopedLive(
    "alive: an impostor without the cookie leaves the live connection alone; a genuine restart replaces it",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const v = yield* buildVictim({ cookie })
        const port = yield* portOf(v.ctx)
        const rss0 = rssMiB()
        const erlName = uniqueName("e")
        const erlNode = `${erlName}@${host}`
        yield* startPeer(erlName, cookie, { env: { ERL_EPMD_PORT: String(v.epmdPort) } })
        expect(yield* NetKernel.ping(erlNode).pipe(Effect.provide(v.ctx))).toBe("pong")
        const kernel = yield* Effect.provide(NetKernel.NetKernel, v.ctx)
        const live = kernel.connection(Atom.make(erlNode))!
        expect(live).toBeDefined()

        // the impostor says "my old connection is dead" but cannot answer the challenge
        const fake = yield* Transport.tcpTransport.connect({ host: "127.0.0.1", port })
        let askedAlive = false
        const e = yield* Effect.flip(Handshake.initiate(fake, {
          thisNode: erlNode,
          cookie: Redacted.make("not the cookie"),
          creation: 99,
          peer: v.node,
          onAlive: () => Effect.sync(() => (askedAlive = true))
        }))
        expect(askedAlive).toBe(true)
        expect(e.reason).toBe("AuthenticationFailed")
        expect(live.isClosed()).toBe(false)
        expect(kernel.connection(Atom.make(erlNode))).toBe(live)
        expect(yield* NetKernel.ping(erlNode).pipe(Effect.provide(v.ctx))).toBe("pong")

        // a genuine restart of that node (it has the cookie) replaces the old connection
        const real = yield* Transport.tcpTransport.connect({ host: "127.0.0.1", port })
        const result = yield* Handshake.initiate(real, {
          thisNode: erlNode,
          cookie: Redacted.make(cookie),
          creation: 100,
          peer: v.node,
          onAlive: () => Effect.succeed(true)
        })
        expect(result.peerName).toBe(v.node)
        // the old connection went down before the ack; the new one comes up from this handshake
        const closed = yield* live.closed
        expect(closed.reason).toBe("Local")
        yield* NetKernel.connect(erlNode).pipe(Effect.provide(v.ctx))
        expect(kernel.connection(Atom.make(erlNode))?.handshake.peerCreation).toBe(100)
        expect(yield* erlPing(v.node, cookie, v.epmdPort)).toBe("pong")
        expect(rssMiB() - rss0).toBeLessThan(RSS_BOUND_MIB)
      }),
    90_000
  )

  it.scopedLive("a defect in a carrier's data callback closes that carrier alone, and is logged", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const listener = yield* Transport.tcpTransport.listen({ host: "127.0.0.1" }).pipe(
        Effect.provide(collectLogs(logs))
      )
      const a = yield* rawConnectScoped(listener.port)
      const carrierA = yield* listener.accept
      const b = yield* rawConnectScoped(listener.port)
      const carrierB = yield* listener.accept
      carrierA.unsafeOnData(() => {
        throw new Error("boom in a handler")
      })
      a.socket.write(Uint8Array.of(1, 2, 3))
      const why = yield* carrierA.closed
      expect((why.cause as Error).message).toBe("boom in a handler")
      yield* Effect.promise(() => a.closedAt)
      // the other connection is untouched
      b.socket.write(Uint8Array.of(4))
      expect(Array.from(yield* carrierB.read)).toEqual([4])
      expect(carrierB.isClosed()).toBe(false)
      expect(logs.some((l) => l.includes("defect in its data callback") && l.includes("boom in a handler"))).toBe(
        true
      )
    }))
})

describe.skipIf(!opensslAvailable())("hostile peers at the TLS listener", () => {
  it.scopedLive(
    "one address holding raw sockets in the TLS handshake cannot lock out the others",
    () =>
      Effect.gen(function*() {
        const pki = yield* pkiScoped
        const logs: Array<string> = []
        const transport = yield* Transport.makeTls({
          server: { ...pki.node },
          maxPendingHandshakes: 8,
          maxPendingHandshakesPerAddress: 4
        })
        const listener = yield* transport.listen({ host: "127.0.0.1" }).pipe(Effect.provide(collectLogs(logs)))
        const abuser = yield* otherLoopback()
        const flood = yield* silentFlood(listener.port, abuser, 20)
        // the 16 over the per-address cap are refused at once; 4 sit in their TLS handshake
        yield* Effect.promise(() => flood.closedAtLeast(16))
        const [client] = yield* Effect.all([
          transport.connect({ host: "127.0.0.1", port: listener.port }),
          listener.accept
        ], {
          concurrency: 2
        })
        expect(client.isClosed()).toBe(false)
        expect(logs.some((l) => l.includes(`too many pending TLS handshakes from ${abuser}`))).toBe(true)
      }),
    30_000
  )
})
