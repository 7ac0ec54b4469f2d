/**
 * Fault suite: pre-authentication abuse against a TS node with `maxPendingHandshakes` 16
 * and `setupTime` 500 ms (7 s, the default, for the wrong-cookie handshakes):
 * - 1000 wrong-cookie handshakes: every one is refused; sockets and heap return to the
 *   baseline;
 * - 200 half-open connections that never send a byte: at most 16 handshakes are pending
 *   (the rest are closed at once), and the setup timeout closes the others (on the
 *   TestClock, so that no timer frees a slot before the node has taken all 200);
 * - senders of 1 byte per 250 ms (and 1 byte per 100 ms): the per-step setup timeout
 *   closes them before the message is complete, although bytes keep arriving (on the
 *   TestClock as well).
 * Afterwards the node still accepts a legitimate peer.
 */
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as TestServices from "effect/TestServices"
import * as v8 from "node:v8"
import * as nodeVm from "node:vm"
import * as DistNode from "../src/DistNode.js"
import * as Handshake from "../src/Handshake.js"
import * as NetKernel from "../src/NetKernel.js"
import * as Transport from "../src/Transport.js"
import { uniqueName } from "./helpers/erl.js"
import { openFds, rawConnect } from "./helpers/hostile.js"
import { host } from "./helpers/tsnode.js"

const SETUP_MS = 500
const MAX_PENDING = 16

v8.setFlagsFromString("--expose-gc")
const gc = nodeVm.runInNewContext("gc") as () => void

const heapAfterGc = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/** Counts log lines and keeps only the ones that mention `keep` (so the log does not grow the heap). */
class Logs {
  count = 0
  readonly kept: Array<string> = []
  constructor(readonly keep: ReadonlyArray<string>) {}
  has(text: string): number {
    return this.kept.filter((l) => l.includes(text)).length
  }
  layer(): Layer.Layer<never> {
    return Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ message }) => {
        this.count++
        const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
        if (this.keep.some((k) => text.includes(k))) this.kept.push(text)
      })
    )
  }
}

const victimLayer = (name: string, cookie: string, logs: Logs, setupMs = SETUP_MS) =>
  DistNode.layerDefault({
    name,
    cookie,
    hidden: true,
    setupTime: `${setupMs} millis`,
    maxPendingHandshakes: MAX_PENDING,
    // every abuser here comes from 127.0.0.1: one address may take all the slots
    maxPendingHandshakesPerAddress: MAX_PENDING
  }).pipe(
    Layer.provideMerge(ProcessRuntime.layer),
    Layer.provide(logs.layer())
  )

/** Waits until the open fd count is back to `baseline` (+ slack), or fails with the count. */
const fdsBackTo = (baseline: number) =>
  Effect.sync(openFds).pipe(
    Effect.zipLeft(Effect.sleep("20 millis")),
    Effect.repeat({ until: (n) => n <= baseline + 2 }),
    Effect.timeout("3 seconds"),
    Effect.catchAll(() => Effect.succeed(openFds()))
  )

describe("pre-auth abuse", () => {
  it.scopedLive(
    "1000 wrong-cookie handshakes are refused; sockets and heap return to the baseline",
    () =>
      Effect.gen(function*() {
        const logs = new Logs([])
        const v = uniqueName("v")
        // the default setup time (7 s): on a busy machine a 500 ms one cuts some of these
        // handshakes off before the cookie is checked (Closed, not AuthenticationFailed)
        const ctx = yield* Layer.build(victimLayer(v, "right", logs, 7000))
        const port = (yield* NetKernel.NetKernel.pipe(Effect.provide(ctx))).port
        const attempt = (i: number) =>
          Effect.scoped(Effect.gen(function*() {
            const carrier = yield* Effect.orDie(Transport.tcpTransport.connect({ host: "127.0.0.1", port }))
            return yield* Effect.either(Handshake.initiate(carrier, {
              thisNode: `x${i}@${host}`,
              cookie: Redacted.make("wrong"),
              creation: 1,
              peer: `${v}@${host}`
            }))
          }))
        // Heap: the old space takes one step of ~9 MiB at some point in the first ~3000 attempts
        // (not at a fixed count, not released with time) and is flat otherwise (+0.1 MiB per
        // 1000). A leak grows in every round; so: warm up, then two measured rounds of 1000,
        // and at least one of them must be flat.
        yield* Effect.forEach(Array.from({ length: 1000 }, (_, i) => i), attempt, { concurrency: 8 })
        yield* Effect.sleep("100 millis")
        const fds0 = openFds()
        const heaps = [heapAfterGc()]
        for (let round = 0; round < 2; round++) {
          const results = yield* Effect.forEach(Array.from({ length: 1000 }, (_, i) => i), attempt, { concurrency: 8 })
          const reasons = new Map<string, number>()
          for (const r of results) {
            const key = Either.isLeft(r) ? r.left.reason : "connected!"
            reasons.set(key, (reasons.get(key) ?? 0) + 1)
          }
          expect(Object.fromEntries(reasons)).toEqual({ AuthenticationFailed: 1000 })
          const fds1 = yield* fdsBackTo(fds0)
          expect(fds1).toBeLessThanOrEqual(fds0 + 2)
          heaps.push(heapAfterGc())
        }
        const growth = heaps.slice(1).map((h, i) => h - heaps[i]!)
        console.log(
          `wrong cookie 2 x 1000: fds back to ${fds0}; heap ${
            heaps.map((h) => (h / 2 ** 20).toFixed(1)).join(" -> ")
          } MiB (${logs.count} log lines)`
        )
        expect(Math.min(...growth)).toBeLessThan(2 * 2 ** 20)
        expect(Math.max(...growth)).toBeLessThan(16 * 2 ** 20)
        expect(yield* NetKernel.nodes("connected").pipe(Effect.provide(ctx))).toEqual([])
      }),
    120_000
  )

  // On the TestClock: the node's setup timers wait for `TestClock.adjust`, so all 200
  // connections are accepted (or refused) before any timer can free a slot, however busy
  // the machine is. Waiting for sockets and file descriptors runs on the live clock.
  it.scoped(
    "200 half-open handshakes: pending handshakes are capped and the setup timeout closes them",
    () =>
      Effect.gen(function*() {
        const logs = new Logs(["too many pending handshakes", "net_setuptime"])
        const cookie = uniqueName("c")
        const v = uniqueName("v")
        const ctx = yield* Layer.build(victimLayer(v, cookie, logs))
        const port = (yield* NetKernel.NetKernel.pipe(Effect.provide(ctx))).port
        const fds0 = openFds()
        const conns = yield* Effect.promise(() => Promise.all(Array.from({ length: 200 }, () => rawConnect(port))))
        let closed = 0
        for (const c of conns) void c.closedAt.then(() => closed++)
        const refused = () => logs.has("too many pending handshakes")
        // the node has taken all 200: it refused (and closed) every one over the cap
        yield* TestServices.provideLive(
          Effect.sleep("10 millis").pipe(
            Effect.repeat({ until: () => refused() + MAX_PENDING >= 200 && closed === refused() }),
            Effect.timeout("20 seconds"),
            Effect.catchAll(() => Effect.void)
          )
        )
        console.log(`half-open x200: ${refused()} refused, ${200 - closed} open before the setup timeout`)
        // only the capped number is pending, none of them closed yet
        expect(refused()).toBe(200 - MAX_PENDING)
        expect(closed).toBe(200 - MAX_PENDING)
        expect(logs.has("net_setuptime")).toBe(0)
        // the setup timeout closes every pending one
        yield* TestClock.adjust(`${SETUP_MS} millis`)
        const closedAll = yield* TestServices.provideLive(
          Effect.promise(() => Promise.all(conns.map((c) => c.closedAt))).pipe(
            Effect.timeout("20 seconds"),
            Effect.option
          )
        )
        expect(closedAll._tag).toBe("Some")
        expect(logs.has("net_setuptime")).toBe(MAX_PENDING)
        expect(refused()).toBe(200 - MAX_PENDING)
        expect(yield* TestServices.provideLive(fdsBackTo(fds0))).toBeLessThanOrEqual(fds0 + 2)
        // the node still accepts a real peer
        const ctxPeer = yield* Layer.build(
          DistNode.layerDefault({ hidden: true, name: uniqueName("p"), cookie }).pipe(
            Layer.provideMerge(ProcessRuntime.layer)
          )
        )
        expect(yield* NetKernel.ping(`${v}@${host}`).pipe(Effect.provide(ctxPeer))).toBe("pong")
      }),
    60_000
  )

  // On the TestClock, as above: the dribblers send in real time, while the setup timer only
  // moves with `TestClock.adjust`. So "bytes keep arriving, yet the step's timer is not reset"
  // is shown by the clock alone, not by comparing wall-clock times on a busy machine.
  it.scoped(
    "slow senders (1 byte per 100 ms and per 250 ms) are cut off by the setup timeout",
    () =>
      Effect.gen(function*() {
        const logs = new Logs(["too many pending handshakes", "net_setuptime"])
        const v = uniqueName("v")
        const ctx = yield* Layer.build(victimLayer(v, "right", logs))
        const port = (yield* NetKernel.NetKernel.pipe(Effect.provide(ctx))).port
        const fds0 = openFds()
        // a valid send_name, dribbled: 2-byte length, 'N', flags, creation, name
        const name = Buffer.from(`slow@${host}`)
        const body = Buffer.alloc(1 + 8 + 4 + 2 + name.length)
        body[0] = 78
        body.writeBigUInt64BE(0xd074f5fbcn, 1)
        body.writeUInt32BE(1, 9)
        body.writeUInt16BE(name.length, 13)
        name.copy(body, 15)
        const message = Buffer.concat([Buffer.from([0, body.length]), body])
        const dribblers = yield* Effect.promise(() =>
          Promise.all(Array.from({ length: MAX_PENDING }, async (_, i) => {
            const conn = await rawConnect(port)
            const state = { conn, sent: 0, closed: false, bytesAt: new Set<() => void>() }
            void conn.closedAt.then(() => (state.closed = true))
            const timer = setInterval(() => {
              if (conn.socket.destroyed || state.sent >= message.length) return clearInterval(timer)
              conn.socket.write(message.subarray(state.sent, state.sent + 1))
              state.sent++
              state.bytesAt.forEach((f) => f())
            }, i % 2 === 0 ? 100 : 250)
            void conn.closedAt.then(() => clearInterval(timer))
            return state
          }))
        )
        yield* Effect.addFinalizer(() => Effect.sync(() => dribblers.forEach((d) => d.conn.socket.destroy())))
        const sentAtLeast = (n: number) =>
          Effect.promise(() =>
            Promise.all(dribblers.map((d) =>
              new Promise<void>((resolve) => {
                const check = () => {
                  if (d.sent >= n || d.closed) {
                    d.bytesAt.delete(check)
                    resolve()
                  }
                }
                d.bytesAt.add(check)
                check()
              })
            ))
          )
        // every one has started its send_name and keeps going: none is cut off yet
        yield* sentAtLeast(2)
        yield* TestClock.adjust(`${SETUP_MS - 1} millis`)
        yield* sentAtLeast(3)
        expect(dribblers.filter((d) => d.closed)).toEqual([])
        expect(logs.has("net_setuptime")).toBe(0)
        // the bytes that kept coming did not reset the step's timer: one more millisecond ends it
        yield* TestClock.adjust("1 millis")
        const closedAll = yield* TestServices.provideLive(
          Effect.promise(() => Promise.all(dribblers.map((d) => d.conn.closedAt))).pipe(
            Effect.timeout("20 seconds"),
            Effect.option
          )
        )
        console.log(`slow senders: ${dribblers.map((d) => `${d.sent}B`).join(" ")}`)
        expect(closedAll._tag).toBe("Some")
        for (const d of dribblers) expect(d.sent).toBeLessThan(message.length)
        expect(logs.has("net_setuptime")).toBe(MAX_PENDING)
        expect(logs.has("too many pending handshakes")).toBe(0)
        expect(yield* TestServices.provideLive(fdsBackTo(fds0))).toBeLessThanOrEqual(fds0 + 2)
      }),
    60_000
  )
})
