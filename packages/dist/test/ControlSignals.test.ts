/**
 * Signal ↔ control message (erts dist.c's job), pure: which control message carries a
 * signal for the flags a peer negotiated, and which signal a control message becomes.
 */
import * as Sig from "@effect-otp/process/Signal"
import { Atom, atom, equals, Pid, Ref, type Term, tuple } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Control from "../src/Control.js"
import * as Flags from "../src/Flags.js"
import * as Signals from "../src/internal/control/signals.js"
import { pidArb, refArb, termArb } from "./helpers/arbitraries.js"

const ALL = Flags.DFLAG_SEND_SENDER | Flags.DFLAG_EXIT_PAYLOAD | Flags.DFLAG_UNLINK_ID | Flags.DFLAG_ALIAS
const NONE = 0n
const kernel = new Pid(atom("a@box"), 0, 0, 1)
const p1 = new Pid(atom("a@box"), 40, 0, 1)
const p2 = new Pid(atom("b@box"), 41, 0, 2)
const r1 = new Ref(atom("b@box"), 2, [5, 6, 7])

/** every signal that travels between nodes, from `from` to `to` */
const signalArb = fc.tuple(pidArb, pidArb, refArb, termArb(2), fc.bigInt({ min: 1n, max: 2n ** 64n - 1n })).chain(
  ([from, to, ref, reason, id]) =>
    fc.constantFrom<ReadonlyArray<Sig.Signal>>(
      [new Sig.Link({ from, to })],
      [new Sig.Unlink({ from, to, id })],
      [new Sig.UnlinkAck({ from, to, id })],
      [new Sig.Exit({ from, to, reason, kind: "link" })],
      [new Sig.Exit({ from, to, reason, kind: "exit2" })],
      [new Sig.Monitor({ from, to, ref })],
      [new Sig.Demonitor({ from, to, ref })],
      [new Sig.Down({ from, to, ref, reason })]
    ).map((s) => s[0]!)
)

/** field by field, terms as terms (a decoded binary is a new array) */
const same = (a: Sig.Signal | undefined, b: Sig.Signal): boolean =>
  a !== undefined && a._tag === b._tag &&
  Object.keys(b).every((k) => {
    const x = (a as unknown as Record<string, unknown>)[k]
    const y = (b as unknown as Record<string, unknown>)[k]
    return typeof y === "string" || typeof y === "bigint" ? x === y : equals(x as Term, y as Term)
  })

/** through the wire: encoded as a frame and decoded again */
const overTheWire = (control: Control.ControlMessage, message: ReturnType<typeof Signals.fromSignal>[1]) => {
  const frame = Either.getOrThrow(Control.decodeFrame(Control.encodeFrame(control, message)))
  return Signals.toInbound(frame.control, frame.message)
}

describe("control/signals", () => {
  it.prop("a signal sent to a peer with every flag comes back as the same signal", [signalArb], ([signal]) => {
    const [control, message] = Signals.fromSignal(signal, ALL, kernel)
    const inbound = overTheWire(control!, message)
    const back = inbound._tag === "Signal" || inbound._tag === "Down" ? inbound.signal : undefined
    expect(same(back, signal)).toBe(true)
  })

  it.prop("without DFLAG_EXIT_PAYLOAD exits and DOWNs carry the reason in the control tuple", [signalArb], ([s]) => {
    const [withPayload, payload] = Signals.fromSignal(s, ALL, kernel)
    const [plain, none] = Signals.fromSignal(s, NONE, kernel)
    if (s._tag === "Exit" || s._tag === "Down") {
      expect(Control.hasPayload(withPayload!._tag)).toBe(true)
      expect(payload).toBe(s.reason)
      expect(plain!._tag).toBe(
        { link: "Exit", exit2: "Exit2", down: "MonitorPExit" }[
          s._tag === "Down" ? "down" : s.kind
        ]
      )
      expect(none).toBeUndefined()
      const inbound = overTheWire(plain!, none)
      expect(inbound._tag === "Signal" || inbound._tag === "Down" ? same(inbound.signal, s) : false)
        .toBe(true)
    }
  })

  it("an unlink is UNLINK_ID with DFLAG_UNLINK_ID, the old UNLINK without; an ack of id 0 sends nothing", () => {
    expect(Signals.fromSignal(new Sig.Unlink({ from: p1, to: p2, id: 7n }), ALL, kernel)[0])
      .toEqual({ _tag: "UnlinkId", id: 7n, from: p1, to: p2 })
    expect(Signals.fromSignal(new Sig.Unlink({ from: p1, to: p2, id: 7n }), NONE, kernel)[0])
      .toEqual({ _tag: "Unlink", from: p1, to: p2 })
    expect(Signals.fromSignal(new Sig.UnlinkAck({ from: p1, to: p2, id: 0n }), ALL, kernel)[0]).toBeUndefined()
  })

  it("messages: SEND_SENDER when the peer takes it, REG_SEND and ALIAS_SEND from net_kernel when anonymous", () => {
    const hi = atom("hi")
    expect(Signals.messageControl(p1, p2, ALL, kernel)).toEqual({ _tag: "SendSender", from: p1, to: p2 })
    expect(Signals.messageControl(p1, p2, NONE, kernel)).toEqual({ _tag: "Send", to: p2 })
    expect(Signals.messageControl(undefined, p2, ALL, kernel)).toEqual({ _tag: "Send", to: p2 })
    const name = new Sig.RemoteName({ name: atom("rex"), node: atom("b@box") })
    expect(Signals.messageControl(undefined, name, NONE, kernel))
      .toEqual({ _tag: "RegSend", from: kernel, toName: atom("rex") })
    expect(Signals.messageControl(p1, r1, ALL, kernel)).toEqual({ _tag: "AliasSend", from: p1, alias: r1 })
    // erts drops a send to an alias when the peer lacks DFLAG_ALIAS
    expect(Signals.messageControl(p1, r1, NONE, kernel)).toBeUndefined()
    const [control, message] = Signals.fromSignal(new Sig.Message({ from: p1, to: name, message: hi }), ALL, kernel)
    expect(overTheWire(control!, message)).toEqual({ _tag: "Deliver", to: atom("rex"), message: hi })
  })

  it("a monitor of {Name, Node} goes out as MONITOR_P to the name; DOWN from a name comes back as one", () => {
    const name = new Sig.RemoteName({ name: atom("rex"), node: atom("b@box") })
    const [control] = Signals.fromSignal(new Sig.Monitor({ from: p1, to: name, ref: r1 }), ALL, kernel)
    expect(control).toEqual({ _tag: "MonitorP", from: p1, to: atom("rex"), ref: r1 })
    const down = Signals.toInbound(
      { _tag: "MonitorPExit", from: atom("rex"), to: p1, ref: r1, reason: atom("noproc") },
      undefined
    )
    expect(down._tag).toBe("Down")
    expect(down._tag === "Down" && down.signal.from instanceof Atom).toBe(true)
  })

  it("spawn request and reply go to the handlers; GROUP_LEADER and NODE_LINK ask nothing", () => {
    const mfa = { module: atom("erlang"), fun: atom("node"), arity: 0 }
    const request = { _tag: "SpawnRequest", reqId: r1, from: p2, groupLeader: p2, mfa, options: [] } as const
    expect(Signals.toInbound(request, [])).toEqual({ _tag: "SpawnRequest", request, args: [] })
    const reply = { _tag: "SpawnReply", reqId: r1, to: p1, flags: 0, result: p2 } as const
    expect(Signals.toInbound(reply, undefined)).toEqual({ _tag: "SpawnReply", reply })
    expect(Signals.toInbound({ _tag: "GroupLeader", from: p1, to: p2 }, undefined)._tag).toBe("Ignore")
    expect(Signals.toInbound({ _tag: "NodeLink" }, undefined)._tag).toBe("Ignore")
    expect(Signals.toInbound({ _tag: "SendTT", to: p1, traceToken: tuple(atom("t")) }, 1))
      .toEqual({ _tag: "Deliver", to: p1, message: 1 })
  })
})
