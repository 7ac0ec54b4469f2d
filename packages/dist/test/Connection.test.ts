import { atom, Pid } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as Connection from "../src/Connection.js"
import * as Control from "../src/Control.js"
import * as Flags from "../src/Flags.js"
import type { HandshakeResult } from "../src/Handshake.js"
import { buildBatch, FrameParser } from "../src/internal/connection/framing.js"
import type { MemoryCarrier } from "../src/internal/transport/memory.js"
import * as Transport from "../src/Transport.js"

const result = (tail: ReadonlyArray<number> = []): HandshakeResult => ({
  role: "initiator",
  thisNode: "a@box",
  thisCreation: 1,
  peer: atom("b@box"),
  peerName: "b@box",
  peerCreation: 2,
  peerFlags: Flags.RECOMMENDED,
  ourFlags: Flags.RECOMMENDED,
  flags: Flags.RECOMMENDED,
  hidden: true,
  tail: new Uint8Array(tail)
})

const frame = (...bytes: Array<number>) => [0, 0, (bytes.length >> 8) & 0xff, bytes.length & 0xff, ...bytes]
const TICK = [0, 0, 0, 0]

/** Probes `condition` once per turn of the event loop (deliveries and forked fibers run in between) until it holds. */
const until = (condition: () => boolean) =>
  Effect.promise(() => new Promise<void>((r) => setImmediate(r))).pipe(
    Effect.zipRight(Effect.yieldNow()),
    Effect.repeat({ until: condition })
  )

/** A connection on one end of a memory pair; the test drives the raw other end. */
const setup = (options: Partial<Connection.ConnectionOptions<unknown>> & { tail?: ReadonlyArray<number> } = {}) =>
  Effect.gen(function*() {
    const [ours, raw] = yield* Transport.memoryPair()
    const frames: Array<Array<number>> = []
    const conn = yield* Connection.make<unknown>({
      carrier: ours,
      handshake: result(options.tail),
      onFrame: (p) => Effect.sync(() => void frames.push(Array.from(p))),
      ...options
    })
    const received: Array<number> = []
    raw.unsafeOnData((c) => {
      for (const b of c) received.push(b)
    })
    return { conn, raw, ours: ours as MemoryCarrier, frames, received }
  })

describe("Connection", () => {
  describe("framing", () => {
    it("FrameParser gives the same frames however the stream is cut", () => {
      const stream = [...frame(1, 2, 3), ...TICK, ...frame(4), ...frame(), ...frame(5, 6, 7, 8, 9)]
      // frame() is a tick (length 0)
      for (let cut1 = 0; cut1 <= stream.length; cut1++) {
        for (let cut2 = cut1; cut2 <= stream.length; cut2++) {
          const p = new FrameParser(1000)
          const out: Array<Uint8Array> = []
          p.push(new Uint8Array(stream.slice(0, cut1)), out)
          p.push(new Uint8Array(stream.slice(cut1, cut2)), out)
          p.push(new Uint8Array(stream.slice(cut2)), out)
          expect(out.map((f) => Array.from(f))).toEqual([[1, 2, 3], [4], [5, 6, 7, 8, 9]])
          expect(p.ticks).toBe(2)
        }
      }
    })

    it("FrameParser reports a frame above the limit", () => {
      const p = new FrameParser(10)
      expect(p.push(new Uint8Array([0, 0, 0, 11, 1]), [])).toBe(11)
      expect(new FrameParser(10).push(new Uint8Array([0, 0]), [])).toBeUndefined()
    })

    it("buildBatch prefixes lengths and passes large payloads through", () => {
      const big = new Uint8Array(70_000).fill(7)
      const chunks = buildBatch([new Uint8Array([1]), new Uint8Array(0), big, new Uint8Array([2, 3])])
      expect(chunks.length).toBe(3)
      expect(Array.from(chunks[0]!)).toEqual([0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0x11, 0x70])
      expect(chunks[1]).toBe(big)
      expect(Array.from(chunks[2]!)).toEqual([0, 0, 0, 2, 2, 3])
    })

    it.scoped("the handshake tail is parsed first, then the stream, ticks skipped", () =>
      Effect.gen(function*() {
        const { frames, raw } = yield* setup({ tail: [...frame(1), ...TICK, 0, 0, 0] })
        yield* raw.write(new Uint8Array([2, 9, 9]))
        yield* raw.write(new Uint8Array([...TICK, ...frame(3, 3, 3)]))
        yield* until(() => frames.length === 3)
        expect(frames).toEqual([[1], [9, 9], [3, 3, 3]])
      }))
  })

  describe("writing", () => {
    it.scoped("a burst of sends goes out in order in one batch", () =>
      Effect.gen(function*() {
        const { conn, ours, received } = yield* setup()
        for (let i = 0; i < 1000; i++) conn.unsafeSend(new Uint8Array([i & 0xff, i >> 8]))
        yield* until(() => received.length === 1000 * 6)
        const p = new FrameParser(100)
        const out: Array<Uint8Array> = []
        p.push(new Uint8Array(received), out)
        expect(out.length).toBe(1000)
        out.forEach((f, i) => expect(Array.from(f)).toEqual([i & 0xff, i >> 8]))
        expect(ours.writes).toBe(1)
        expect(conn.stats().framesOut).toBe(1000)
      }))

    it.scoped("sendControl encodes a pass-through frame", () =>
      Effect.gen(function*() {
        const { conn, received } = yield* setup()
        const to = new Pid(atom("b@box"), 1, 0, 2)
        yield* conn.sendControl({ _tag: "Send", to }, atom("hi"))
        yield* until(() => received.length > 0)
        const out: Array<Uint8Array> = []
        new FrameParser(1000).push(new Uint8Array(received), out)
        expect(Control.decodeFrame(out[0]!)).toMatchObject({
          right: { control: { _tag: "Send", to }, message: atom("hi") }
        })
      }))

    it.scoped("send fails with ConnectionClosed after close", () =>
      Effect.gen(function*() {
        const { conn, ours } = yield* setup()
        yield* conn.close("bye")
        const e = yield* Effect.flip(conn.send(new Uint8Array([1])))
        expect([e._tag, e.reason]).toEqual(["ConnectionClosed", "Local"])
        expect(conn.unsafeSend(new Uint8Array([1]))).toBe(false)
        expect(ours.isClosed()).toBe(true)
      }))
  })

  describe("ticks", () => {
    it.scoped("sends a tick after TickTime/4 without writes, none when data was written", () =>
      Effect.gen(function*() {
        const { conn, raw, received } = yield* setup({ tickTime: "60 seconds" })
        yield* TestClock.adjust("14 seconds")
        expect(received).toEqual([])
        yield* TestClock.adjust("1 second")
        yield* until(() => received.length === TICK.length)
        expect(received).toEqual(TICK)
        // data written in the next interval: no tick
        conn.unsafeSend(new Uint8Array([5]))
        yield* raw.write(new Uint8Array(TICK))
        yield* until(() => received.length === TICK.length + frame(5).length)
        yield* TestClock.adjust("15 seconds")
        expect(received).toEqual([...TICK, ...frame(5)])
        expect(conn.stats().ticksOut).toBe(1)
      }))

    it.scoped("closes with TickTimeout after four silent intervals", () =>
      Effect.gen(function*() {
        const { conn, ours } = yield* setup({ tickTime: "60 seconds" })
        yield* TestClock.adjust("59 seconds")
        expect(conn.isClosed()).toBe(false)
        yield* TestClock.adjust("1 second")
        const reason = yield* conn.closed
        expect(reason.reason).toBe("TickTimeout")
        expect(reason.nodedownReason).toBe("net_tick_timeout")
        expect(ours.isClosed()).toBe(true)
      }))

    it.scoped("a peer that ticks stays connected", () =>
      Effect.gen(function*() {
        const { conn, raw } = yield* setup({ tickTime: "60 seconds" })
        for (let i = 0; i < 12; i++) {
          yield* raw.write(new Uint8Array(TICK))
          yield* until(() => conn.stats().ticksIn === i + 1)
          yield* TestClock.adjust("15 seconds")
        }
        expect(conn.isClosed()).toBe(false)
        expect(conn.stats().ticksIn).toBe(12)
      }))
  })

  describe("closing", () => {
    it.scoped("a frame above maxFrameSize closes only that connection", () =>
      Effect.gen(function*() {
        const one = yield* setup({ maxFrameSize: 100 })
        const two = yield* setup({ maxFrameSize: 100 })
        yield* one.raw.write(new Uint8Array([0, 0, 0, 101]))
        yield* two.raw.write(new Uint8Array(frame(1, 2)))
        yield* until(() => two.frames.length === 1)
        const reason = yield* one.conn.closed
        expect(reason.reason).toBe("FrameTooLarge")
        expect(reason.message).toContain("101")
        expect(one.raw.isClosed()).toBe(true)
        expect(two.conn.isClosed()).toBe(false)
        expect(two.frames).toEqual([[1, 2]])
      }))

    it.scoped("a malformed control message closes the connection as Malformed with a hex dump", () =>
      Effect.gen(function*() {
        const { conn, raw } = yield* setup({
          onFrame: (p) => Effect.asVoid(Control.decodeFrame(p))
        })
        yield* raw.write(new Uint8Array(frame(112, 131, 104, 1, 97, 99)))
        const reason = yield* conn.closed
        expect(reason.reason).toBe("Malformed")
        expect(reason.detail).toContain("70 83 68 01 61 63")
      }))

    it.scoped("a failing handler closes with HandlerFailed; the peer closing gives PeerClosed", () =>
      Effect.gen(function*() {
        const a = yield* setup({ onFrame: () => Effect.fail("boom") })
        yield* a.raw.write(new Uint8Array(frame(1)))
        expect((yield* a.conn.closed).reason).toBe("HandlerFailed")
        const b = yield* setup()
        yield* b.raw.close
        const r = yield* b.conn.closed
        expect([r.reason, r.nodedownReason]).toEqual(["PeerClosed", "connection_closed"])
      }))

    it.scoped("closing the scope closes the connection", () =>
      Effect.gen(function*() {
        const [ours, raw] = yield* Transport.memoryPair()
        const conn = yield* Effect.scoped(
          Connection.make({ carrier: ours, handshake: result(), onFrame: () => Effect.void })
        )
        expect((yield* conn.closed).reason).toBe("Local")
        yield* until(() => raw.isClosed())
      }))
  })

  describe("backpressure", () => {
    it.scoped("reading pauses while the handler lags and resumes when it catches up", () =>
      Effect.gen(function*() {
        const gate = yield* Deferred.make<void>()
        const handled: Array<number> = []
        const { conn, ours, raw } = yield* setup({
          maxInboundBytes: 1000,
          onFrame: (p) => Effect.zipRight(Deferred.await(gate), Effect.sync(() => void handled.push(p[0]!)))
        })
        for (let i = 0; i < 30; i++) yield* raw.write(new Uint8Array(frame(i, ...new Array(99).fill(0))))
        yield* until(() => conn.stats().readPaused)
        expect(conn.stats().readPaused).toBe(true)
        expect(ours.isPaused()).toBe(true)
        expect(handled).toEqual([])
        // bytes still in flight were not delivered while paused
        expect(conn.stats().framesIn).toBeLessThan(30)
        yield* Deferred.succeed(gate, void 0)
        yield* until(() => handled.length === 30 && !conn.stats().readPaused)
        expect(handled).toEqual(Array.from({ length: 30 }, (_, i) => i))
        expect(conn.stats().readPaused).toBe(false)
      }))

    it.scoped("send suspends the caller while more than busyLimit bytes are pending", () =>
      Effect.gen(function*() {
        const { conn } = yield* setup({ busyLimit: 10 })
        const fiber = yield* Effect.fork(conn.send(new Uint8Array(100)))
        yield* Effect.yieldNow()
        expect(fiber.unsafePoll()).toBeNull()
        yield* Fiber.join(fiber)
        expect(conn.stats().pendingOut).toBe(0)
      }))
  })
})
