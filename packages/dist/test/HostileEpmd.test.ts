/**
 * Hostile input for the embedded EPMD: raw EPMD clients send the
 * bytes; each case asserts that the offending connection alone was closed, that the
 * node still answers a real `erl` ping (which registers with, and resolves through, this
 * very epmd), and that RSS grows by less than RSS_BOUND_MIB.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import * as Epmd from "../src/Epmd.js"
import { erlAvailable, uniqueName } from "./helpers/erl.js"
import { buildVictim, erlPing, openFds, rawConnectScoped, rssMiB } from "./helpers/hostile.js"

/** RSS may grow by less than this during one case (the attacker's sockets included). */
const RSS_BOUND_MIB = 64

const u16 = (n: number) => [n >> 8, n & 0xff]

/** ALIVE2_REQ for a name given as raw bytes (a normal node, version 6). */
const alive2Raw = (name: Uint8Array, port: number): Uint8Array => {
  const body = [120, ...u16(port), 77, 0, ...u16(6), ...u16(6), ...u16(name.length), ...name, ...u16(0)]
  return Uint8Array.from([...u16(body.length), ...body])
}

/** PORT_PLEASE2_REQ for a name given as raw bytes. */
const portPlease2Raw = (name: Uint8Array): Uint8Array => Uint8Array.from([...u16(1 + name.length), 122, ...name])

/** A child process that holds `count` idle connections to the port and prints `@@closed N` as the server closes them. */
const abuser = (port: number, count: number) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const script = `
        const net = require("net")
        const [port, count] = process.argv.slice(1).map(Number)
        let closed = 0
        for (let i = 0; i < count; i++) {
          const s = net.connect({ host: "127.0.0.1", port })
          s.on("error", () => {})
          s.on("close", () => process.stdout.write("@@closed " + ++closed + "\\n"))
        }
        process.stdin.on("end", () => process.exit(0))
        process.stdin.resume()
      `
      const child = spawn(process.execPath, ["-e", script, String(port), String(count)], {
        stdio: ["pipe", "pipe", "inherit"]
      })
      let closed = 0
      const waiters = new Set<() => void>()
      child.stdout!.setEncoding("utf8").on("data", (d: string) => {
        for (const m of d.matchAll(/@@closed (\d+)/g)) closed = Math.max(closed, Number(m[1]))
        waiters.forEach((w) => w())
      })
      const exited = new Promise<void>((r) => child.on("exit", () => r()))
      /** Resolves once the server has closed at least `n` of the connections. */
      const closedAtLeast = (n: number) =>
        new Promise<number>((r) => {
          const check = () => {
            if (closed >= n) {
              waiters.delete(check)
              r(closed)
            }
          }
          waiters.add(check)
          check()
        })
      return { child, exited, closedAtLeast }
    }),
    ({ child, exited }) =>
      Effect.promise(() => {
        if (child.pid !== undefined && child.exitCode === null) {
          try {
            process.kill(child.pid, "SIGKILL")
          } catch {
            // gone
          }
        }
        return exited
      })
  )

describe.skipIf(!erlAvailable())("hostile EPMD clients", () => {
  it.scopedLive(
    "names are bytes: ALIVE2 of 400 x 0xFF is refused, PORT_PLEASE2 for them closes that socket alone",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const v = yield* buildVictim({ cookie })
        const rss0 = rssMiB()
        const bystander = yield* rawConnectScoped(v.epmdPort)
        const ff = new Uint8Array(400).fill(0xff)

        // as epmd: a name that is not UTF-8 is refused (ALIVE2_X_RESP, result 1) and the socket closed
        const alive = yield* rawConnectScoped(v.epmdPort)
        alive.socket.write(alive2Raw(ff, 40400))
        yield* Effect.promise(() => alive.closedAt)
        expect(Array.from(alive.received())).toEqual([118, 1, 0, 0, 0, 0])

        // as epmd: PORT_PLEASE2 for such a name gets no answer, only a close
        const port = yield* rawConnectScoped(v.epmdPort)
        port.socket.write(portPlease2Raw(ff))
        yield* Effect.promise(() => port.closedAt)
        expect(port.received().length).toBe(0)

        // 400 bytes of UTF-8 (100 characters) are a fine name, stored and answered byte for byte
        const smile = new TextEncoder().encode("\u{1F600}".repeat(100))
        const reg = yield* rawConnectScoped(v.epmdPort)
        reg.socket.write(alive2Raw(smile, 40401))
        expect((yield* Effect.promise(() => reg.receivedAtLeast(6)))[1]).toBe(0)
        const ask = yield* rawConnectScoped(v.epmdPort)
        ask.socket.write(portPlease2Raw(smile))
        yield* Effect.promise(() => ask.closedAt)
        const reply = ask.received()
        expect(Array.from(reply.subarray(0, 12))).toEqual([119, 0, ...u16(40401), 77, 0, 0, 6, 0, 6, ...u16(400)])
        expect(Buffer.from(reply.subarray(12, 412)).equals(Buffer.from(smile))).toBe(true)
        const names = yield* Epmd.names("127.0.0.1", v.epmdPort)
        expect(names).toContainEqual({ name: "\u{1F600}".repeat(100), port: 40401 })

        // only the offending sockets were closed
        expect(bystander.socket.destroyed).toBe(false)
        expect(reg.socket.destroyed).toBe(false)
        expect((yield* v.server.registered).map((n) => n.name)).toContain(v.alive)
        expect(v.logs.some((l) => l.includes("invalid node name"))).toBe(true)
        expect(yield* erlPing(v.node, cookie, v.epmdPort)).toBe("pong")
        expect(rssMiB() - rss0).toBeLessThan(RSS_BOUND_MIB)
      }),
    60_000
  )

  it.scopedLive(
    "a client that stays silent (or stops mid-request) is closed after idleTimeout; registrations stay",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const v = yield* buildVictim({ cookie, epmd: { idleTimeout: "300 millis" } })
        const rss0 = rssMiB()
        // registered first: if registrations timed out too, this one would go before the others
        const name = uniqueName("r")
        const registration = yield* Epmd.register({ name, port: 40500, epmdPort: v.epmdPort })
        const silent = yield* rawConnectScoped(v.epmdPort)
        const partial = yield* rawConnectScoped(v.epmdPort)
        partial.socket.write(Uint8Array.of(0, 5, 122)) // a PORT_PLEASE2 that never ends
        const [t1, t2] = yield* Effect.promise(() => Promise.all([silent.closedAt, partial.closedAt]))
        expect(Math.min(t1, t2)).toBeGreaterThanOrEqual(250)
        expect(silent.received().length + partial.received().length).toBe(0)
        const registered = (yield* v.server.registered).map((n) => n.name)
        expect(registered).toContain(name)
        expect(registered).toContain(v.alive)
        expect(registration.creation).toBeGreaterThan(0)
        expect(yield* erlPing(v.node, cookie, v.epmdPort)).toBe("pong")
        expect(rssMiB() - rss0).toBeLessThan(RSS_BOUND_MIB)
      }),
    60_000
  )

  it.scopedLive(
    "1000 idle clients: at most maxConnections stay open (the longest idle make room), the node still answers",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const cap = 64
        const v = yield* buildVictim({ cookie, epmd: { maxConnections: cap } })
        const fds0 = openFds()
        const rss0 = rssMiB()
        const attack = yield* abuser(v.epmdPort, 1000)
        // every client beyond the cap is closed (the victim's own registration holds one slot)
        yield* Effect.promise(() => attack.closedAtLeast(1000 - cap + 1))
        expect(yield* v.server.connections).toBeLessThanOrEqual(cap)
        expect(openFds() - fds0).toBeLessThanOrEqual(cap + 8)
        expect((yield* v.server.registered).map((n) => n.name)).toContain(v.alive)
        expect(v.logs.some((l) => l.includes("closed the one idle longest"))).toBe(true)
        // erl registers with this epmd, resolves the victim through it, and the dist listener answers
        expect(yield* erlPing(v.node, cookie, v.epmdPort)).toBe("pong")
        expect(rssMiB() - rss0).toBeLessThan(RSS_BOUND_MIB)
      }),
    90_000
  )
})
