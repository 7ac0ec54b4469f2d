import { atom, Pid, Ref, Tuple } from "@effect-otp/process/Term"
import type { Term } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Connection from "../src/Connection.js"
import * as Control from "../src/Control.js"
import * as Flags from "../src/Flags.js"
import type { HandshakeResult } from "../src/Handshake.js"
import { FrameParser } from "../src/internal/connection/framing.js"
import * as Transport from "../src/Transport.js"

const handshake: HandshakeResult = {
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
  tail: new Uint8Array(0)
}

const settle = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) {
    yield* Effect.promise(() => new Promise<void>((r) => setImmediate(r)))
    yield* Effect.yieldNow()
  }
})

describe("Connection outbound batch", () => {
  it.scoped("unsafeSendControl writes the frames encodeFrame would, in order; a failed encode queues nothing", () =>
    Effect.gen(function*() {
      const [ours, raw] = yield* Transport.memoryPair()
      const conn = yield* Connection.make({ carrier: ours, handshake, onFrame: () => Effect.void })
      const parser = new FrameParser(1 << 30)
      const got: Array<Uint8Array> = []
      raw.unsafeOnData((c) => void parser.push(c.slice(), got))
      const to = new Pid(atom("b@box"), 1, 0, 2)
      const big = (n: number, v: number) => new Uint8Array(n).fill(v)
      const messages: Array<Term> = [
        atom("small"),
        new Tuple([atom("seq"), 1, big(64, 1)]),
        new Tuple([atom("seq"), 2, big(70_000, 2), big(100, 3), big(200_000, 4)]),
        big(65_536, 5),
        ...Array.from({ length: 2000 }, (_, i) => new Tuple([atom("seq"), i, big(i % 300, i & 0xff)])),
        new Tuple([atom("tail"), big(1 << 20, 6)])
      ]
      const expected: Array<Uint8Array> = []
      let i = 0
      for (const m of messages) {
        conn.unsafeSendControl({ _tag: "Send", to }, m)
        expected.push(Control.encodeFrame({ _tag: "Send", to }, m))
        // not terms, after a large binary (its chunk was already cut) and after small ones
        if (i++ % 500 === 2) {
          const bad = [big(80_000, 9), (() => 1) as unknown as Term]
          expect(() => conn.unsafeSendControl({ _tag: "Send", to }, bad)).toThrow(/not a term/)
          expect(() => conn.unsafeSendControl({ _tag: "Send", to }, [1, null as unknown as Term])).toThrow()
        }
      }
      conn.unsafeSend(new Uint8Array([1, 2, 3]))
      expected.push(new Uint8Array([1, 2, 3]))
      yield* settle
      expect(got.length).toBe(expected.length)
      for (let k = 0; k < expected.length; k++) expect(Buffer.compare(got[k]!, expected[k]!)).toBe(0)
      expect(got.every((f) => Object.getPrototypeOf(f) === Uint8Array.prototype)).toBe(true)
      expect(conn.stats().framesOut).toBe(expected.length)
      expect(conn.stats().pendingOut).toBe(0)
    }))

  it.scoped("a lone message on an idle connection is written at once; other frames of a step go out together at its end", () =>
    Effect.gen(function*() {
      const [ours, raw] = yield* Transport.memoryPair()
      // the memory carrier with a direct write (as TCP's), recording the frames of each write
      const writes: Array<ReadonlyArray<Uint8Array>> = []
      const carrier: Transport.Carrier = {
        remoteAddress: ours.remoteAddress,
        framing: ours.framing,
        read: ours.read,
        unsafeOnData: (h) => ours.unsafeOnData(h),
        write: (c) => ours.write(c),
        writev: (cs) => ours.writev(cs),
        unsafeWritev: (cs) => {
          const frames: Array<Uint8Array> = []
          const parser = new FrameParser(1 << 30)
          for (const c of cs) parser.push(c.slice(), frames)
          writes.push(frames)
          Effect.runSync(ours.writev(cs))
          return true
        },
        pause: () => ours.pause(),
        resume: () => ours.resume(),
        close: ours.close,
        unsafeClose: (cause) => ours.unsafeClose(cause),
        closed: ours.closed,
        isClosed: () => ours.isClosed()
      }
      const conn = yield* Connection.make({ carrier, handshake, onFrame: () => Effect.void })
      const parser = new FrameParser(1 << 30)
      const got: Array<Uint8Array> = []
      raw.unsafeOnData((c) => void parser.push(c.slice(), got))
      yield* settle
      const from = new Pid(atom("a@box"), 7, 0, 1)
      const to = new Pid(atom("b@box"), 1, 0, 2)
      const ref = (n: number) => new Ref(atom("a@box"), 1, [n, 0, 0])
      const frames: Array<readonly [Control.ControlMessage, Term | undefined]> = []
      const send = (control: Control.ControlMessage, message?: Term) => {
        conn.unsafeSendControl(control, message)
        frames.push([control, message])
      }
      // a ping-pong's send: written before the sender's step goes on
      send({ _tag: "RegSend", from, toName: atom("echo") }, new Tuple([from, atom("ping")]))
      expect(writes.map((w) => w.length)).toEqual([1])
      // later frames of the same step: one write at its end
      send({ _tag: "MonitorP", from, to, ref: ref(1) })
      send({ _tag: "Send", to }, atom("a"))
      expect(writes.map((w) => w.length)).toEqual([1])
      yield* settle
      expect(writes.map((w) => w.length)).toEqual([1, 2])
      // a call after a call: DEMONITOR_P, MONITOR_P and the request in one write at the end of the step
      send({ _tag: "DemonitorP", from, to, ref: ref(1) })
      send({ _tag: "MonitorP", from, to, ref: ref(2) })
      send({ _tag: "Send", to }, new Tuple([atom("$gen_call"), atom("req")]))
      expect(writes.map((w) => w.length)).toEqual([1, 2])
      yield* settle
      expect(writes.map((w) => w.length)).toEqual([1, 2, 3])
      // the same frames, in order, on the wire
      const expected = frames.map(([c, m]) => Control.encodeFrame(c, m))
      expect(writes.flat().map((f) => Buffer.from(f).toString("hex"))).toEqual(
        expected.map((f) => Buffer.from(f).toString("hex"))
      )
      expect(got.map((f) => Buffer.from(f).toString("hex"))).toEqual(
        expected.map((f) => Buffer.from(f).toString("hex"))
      )
    }))
})
