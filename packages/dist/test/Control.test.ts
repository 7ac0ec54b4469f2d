import { Atom, atom, Pid, Ref, type Term, Tuple, tuple } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Control from "../src/Control.js"
import * as Etf from "../src/Etf.js"
import * as Codec from "../src/internal/control/codec.js"

const node = atom("a@box")
const p1 = new Pid(node, 1, 0, 7)
const p2 = new Pid(atom("b@box"), 2, 3, 9)
const r1 = new Ref(node, 7, [1, 2, 3])
const tt = tuple(atom("token"), 1)
const reason = tuple(atom("shutdown"), atom("bye"))
const mfa = { module: atom("erpc"), fun: atom("execute_call"), arity: 4 }

const cases: ReadonlyArray<readonly [Control.ControlMessage, Term | undefined]> = [
  [{ _tag: "Link", from: p1, to: p2 }, undefined],
  [{ _tag: "Send", to: p2 }, atom("hello")],
  [{ _tag: "Exit", from: p1, to: p2, reason }, undefined],
  [{ _tag: "Unlink", from: p1, to: p2 }, undefined],
  [{ _tag: "NodeLink" }, undefined],
  [{ _tag: "RegSend", from: p1, toName: atom("net_kernel") }, tuple(atom("x"), 1)],
  [{ _tag: "GroupLeader", from: p1, to: p2 }, undefined],
  [{ _tag: "Exit2", from: p1, to: p2, reason }, undefined],
  [{ _tag: "SendTT", to: p2, traceToken: tt }, [1, 2, 3]],
  [{ _tag: "ExitTT", from: p1, to: p2, traceToken: tt, reason }, undefined],
  [{ _tag: "RegSendTT", from: p1, toName: atom("rex"), traceToken: tt }, 42],
  [{ _tag: "Exit2TT", from: p1, to: p2, traceToken: tt, reason }, undefined],
  [{ _tag: "MonitorP", from: p1, to: p2, ref: r1 }, undefined],
  [{ _tag: "MonitorP", from: p1, to: atom("net_kernel"), ref: r1 }, undefined],
  [{ _tag: "DemonitorP", from: p1, to: atom("net_kernel"), ref: r1 }, undefined],
  [{ _tag: "MonitorPExit", from: atom("net_kernel"), to: p2, ref: r1, reason: atom("noproc") }, undefined],
  [{ _tag: "SendSender", from: p1, to: p2 }, new Uint8Array([1, 2])],
  [{ _tag: "SendSenderTT", from: p1, to: p2, traceToken: tt }, atom("m")],
  [{ _tag: "PayloadExit", from: p1, to: p2 }, reason],
  [{ _tag: "PayloadExitTT", from: p1, to: p2, traceToken: tt }, reason],
  [{ _tag: "PayloadExit2", from: p1, to: p2 }, atom("kill")],
  [{ _tag: "PayloadExit2TT", from: p1, to: p2, traceToken: tt }, atom("kill")],
  [{ _tag: "PayloadMonitorPExit", from: p1, to: p2, ref: r1 }, atom("normal")],
  [{ _tag: "SpawnRequest", reqId: r1, from: p1, groupLeader: p2, mfa, options: [atom("monitor")] }, [
    r1,
    atom("m"),
    atom("f"),
    []
  ]],
  [{ _tag: "SpawnRequestTT", reqId: r1, from: p1, groupLeader: p2, mfa, options: [], traceToken: tt }, []],
  [{ _tag: "SpawnReply", reqId: r1, to: p1, flags: 2, result: p2 }, undefined],
  [{ _tag: "SpawnReplyTT", reqId: r1, to: p1, flags: 3, result: atom("badarg"), traceToken: tt }, undefined],
  [{ _tag: "AliasSend", from: p1, alias: r1 }, tuple(r1, atom("yes"))],
  [{ _tag: "AliasSendTT", from: p1, alias: r1, traceToken: tt }, atom("x")],
  [{ _tag: "UnlinkId", id: 1, from: p1, to: p2 }, undefined],
  [{ _tag: "UnlinkIdAck", id: (1n << 64n) - 1n, from: p1, to: p2 }, undefined]
]

const ctl = (...elements: Array<Term>) => new Tuple(elements)
/** A pass-through frame from raw terms (bypassing the model). */
const raw = (control: Term, message?: Term): Uint8Array => {
  const parts = [new Uint8Array([112]), Etf.encode(control), ...(message !== undefined ? [Etf.encode(message)] : [])]
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
const fail = (bytes: Uint8Array): Control.ControlError => {
  const r = Control.decodeFrame(bytes)
  if (Either.isRight(r)) throw new Error(`expected an error, got ${r.right.control._tag}`)
  return r.left
}

describe("Control", () => {
  it("every op round-trips through encodeFrame / decodeFrame", () => {
    const ops = new Set<number>()
    for (const [control, message] of cases) {
      const bytes = Control.encodeFrame(control, message)
      expect(bytes[0]).toBe(112)
      expect(bytes[1]).toBe(131)
      const decoded = Control.decodeFrame(bytes)
      expect(Either.isRight(decoded)).toBe(true)
      const frame = Either.getOrThrow(decoded)
      expect(frame.control).toEqual(control)
      expect(frame.message).toEqual(message)
      ops.add(Control.opOf(control._tag))
    }
    expect([...ops].sort((a, b) => a - b)).toEqual([
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      12,
      13,
      16,
      18,
      19,
      20,
      21,
      22,
      23,
      24,
      25,
      26,
      27,
      28,
      29,
      30,
      31,
      32,
      33,
      34,
      35,
      36
    ])
  })

  it("encodes unused fields as '' and the exact pass-through layout", () => {
    const bytes = Control.encodeFrame({ _tag: "RegSend", from: p1, toName: atom("net_kernel") }, atom("hi"))
    const expected = raw(ctl(6, p1, atom(""), atom("net_kernel")), atom("hi"))
    expect(Array.from(bytes)).toEqual(Array.from(expected))
    expect(Control.toTuple({ _tag: "Send", to: p2 })).toEqual(ctl(2, atom(""), p2))
  })

  it("ignores the unused field on receive", () => {
    const f = Either.getOrThrow(Control.decodeFrame(raw(ctl(2, atom("cookie_was_here"), p2), 1)))
    expect(f.control).toEqual({ _tag: "Send", to: p2 })
  })

  it("accepts a 131,68 header with no atom-cache refs", () => {
    const control = Etf.encode(ctl(22, p1, p2)).subarray(1)
    const message = Etf.encode(atom("hi")).subarray(1)
    const bytes = new Uint8Array([131, 68, 0, ...control, ...message])
    const f = Either.getOrThrow(Control.decodeFrame(bytes))
    expect(f.control).toEqual({ _tag: "SendSender", from: p1, to: p2 })
    expect(f.message).toBe(atom("hi"))
  })

  it("refuses atom-cache refs and fragments", () => {
    expect(fail(new Uint8Array([131, 68, 1, 0, 82, 0])).reason).toBe("Malformed")
    expect(fail(new Uint8Array([131, 69, 0, 0, 0, 0, 0, 0, 0, 1])).detail).toContain("FRAGMENTS")
    expect(fail(new Uint8Array([131, 70, 0])).detail).toContain("FRAGMENTS")
  })

  it("wrong arity is BadArity with a hex dump", () => {
    const e = fail(raw(ctl(1, p1)))
    expect(e.reason).toBe("BadArity")
    expect(e.detail).toContain("Link")
    expect(e.hex.startsWith("70 83 68 02 61 01")).toBe(true)
    expect(e.message).toContain("BadArity")
  })

  it("wrong element types are BadElement naming the field", () => {
    expect(fail(raw(ctl(1, p1, atom("x")))).detail).toContain("(to) must be a pid")
    expect(fail(raw(ctl(6, p1, atom(""), 5), 1)).detail).toContain("toName")
    expect(fail(raw(ctl(19, p1, 5, r1))).detail).toContain("a pid or an atom")
    expect(fail(raw(ctl(33, p1, p2), 1)).detail).toContain("alias")
    expect(fail(raw(ctl(35, 0, p1, p2))).reason).toBe("BadElement")
    expect(fail(raw(ctl(35, 1n << 64n, p1, p2))).reason).toBe("BadElement")
    expect(fail(raw(ctl(29, r1, p1, p2, ctl(atom("m"), atom("f")), []), [])).detail).toContain("mfa")
    expect(fail(raw(ctl(29, r1, p1, p2, ctl(atom("m"), atom("f"), 0), []), atom("x"))).detail).toContain("list")
  })

  it("payload presence is checked", () => {
    expect(fail(raw(ctl(2, atom(""), p2))).reason).toBe("MissingPayload")
    expect(fail(raw(ctl(1, p1, p2), atom("x"))).reason).toBe("UnexpectedPayload")
  })

  it("unknown ops and non-tuples are refused", () => {
    expect(fail(raw(ctl(99, p1))).reason).toBe("UnknownOp")
    expect(fail(raw(ctl(37, p1, p2, atom("x")))).reason).toBe("UnknownOp")
    expect(fail(raw(atom("x"))).reason).toBe("Malformed")
    expect(fail(raw(ctl())).reason).toBe("Malformed")
  })

  it("truncated terms, trailing bytes and bad first bytes are Malformed with an offset", () => {
    const good = raw(ctl(1, p1, p2))
    const e = fail(good.subarray(0, good.length - 3))
    expect(e.reason).toBe("Malformed")
    expect(e.offset).toBeGreaterThan(0)
    expect(fail(new Uint8Array([...raw(ctl(2, atom(""), p2), 1), 0])).reason).toBe("Malformed")
    expect(fail(new Uint8Array([0, 1, 2])).offset).toBe(0)
    expect(fail(new Uint8Array(0)).reason).toBe("Malformed")
  })

  it("the hex dump is truncated for big frames", () => {
    const big = raw(ctl(1, p1), new Uint8Array(10_000))
    const e = fail(big)
    expect(e.hex.length).toBeLessThan(250)
    expect(e.hex).toContain(`(${big.length} bytes)`)
  })

  it("encodeFrameEither reports non-terms", () => {
    const r = Control.encodeFrameEither({ _tag: "Send", to: p2 }, undefined as unknown as Term)
    expect(Either.isLeft(r) && r.left.detail).toContain("needs a message")
    expect(Either.isLeft(Control.encodeFrameEither({ _tag: "Link", from: p1, to: p2 }, 1))).toBe(true)
    const bad = Control.encodeFrameEither({ _tag: "Send", to: p2 }, { not: "a term" } as unknown as Term)
    expect(Either.isLeft(bad) && bad.left.reason).toBe("NotEncodable")
    expect(Atom.make("x")).toBe(atom("x"))
  })

  it("plain sends (their own encoder) are the bytes of the generic layout, and a non-term still fails", () => {
    const sends: ReadonlyArray<readonly [Control.ControlMessage, Term]> = [
      [{ _tag: "Send", to: p2 }, tuple(atom("seq"), 100_000, new Uint8Array(64).fill(7))],
      [{ _tag: "RegSend", from: p1, toName: atom("sink") }, [1, atom("a"), new Uint8Array(3)]],
      [{ _tag: "SendSender", from: p1, to: p2 }, 1.5]
    ]
    for (const [control, message] of sends) {
      expect(Array.from(Control.encodeFrame(control, message))).toEqual(
        Array.from(raw(Control.toTuple(control), message))
      )
    }
    // a field that is not a term fails as the generic path fails, and leaves the writer as it was
    const w = new Etf.Writer(16)
    w.u8(9)
    const notPid = { _tag: "RegSend", from: { id: 1 }, toName: atom("x") } as unknown as Control.ControlMessage
    expect(() => Control.encodeFrameInto(w, notPid, 1)).toThrow(Etf.EncodeError)
    expect(Array.from(w.view())).toEqual([9])
  })

  it("a received frame: a plain send as its destination and message, any other as decodeFrame's frame or error", () => {
    for (const [control, message] of cases) {
      const bytes = Control.encodeFrame(control, message)
      const r = Codec.decodeReceived(bytes)
      if (r instanceof Codec.ControlError) throw r
      const frame = Either.getOrThrow(Control.decodeFrame(bytes))
      const to = control._tag === "Send" || control._tag === "SendSender"
        ? control.to
        : control._tag === "RegSend"
        ? control.toName
        : control._tag === "AliasSend"
        ? control.alias
        : undefined
      expect(r.to).toEqual(to)
      if (to !== undefined) {
        expect(r.message).toEqual(message)
        expect(r.frame).toBeUndefined()
      } else expect(r.frame).toEqual(frame)
    }
    // a REG_SEND whose name is not an atom, a SEND without a message: decodeFrame's errors
    for (const bytes of [raw(ctl(6, p1, atom(""), 42), 1), raw(ctl(2, atom(""), p2)), raw(ctl(6, p1, atom("")), 1)]) {
      const r = Codec.decodeReceived(bytes)
      expect(r).toBeInstanceOf(Codec.ControlError)
      expect(r).toEqual(fail(bytes))
    }
  })
})
