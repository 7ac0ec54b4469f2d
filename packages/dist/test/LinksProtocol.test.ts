/**
 * The link protocol of erl_dist_protocol ("Link Protocol", OTP 23.3+, mandatory in 26),
 * checked signal by signal with a recording router: the runtime's remote-link state is
 * an active flag plus a pending unlink id.
 */
import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { Router, type RouterShape } from "@effect-otp/process/Router"
import * as Sig from "@effect-otp/process/Signal"
import { atom, format, Pid, type Term } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

const remoteNode = atom("peer@box")
const remote = new Pid(remoteNode, 77, 0, 5)

const setup = Effect.gen(function*() {
  const sent: Array<Sig.Signal> = []
  const router: RouterShape = { route: (s) => Effect.sync(() => void sent.push(s)) }
  const ctx = yield* Layer.build(ProcessRuntime.layerRouter.pipe(Layer.provide(Layer.succeed(Router, router))))
  const rt = ctx.unsafeMap.get(ProcessRuntime.ProcessRuntime.key) as ProcessRuntime.ProcessRuntimeShape
  yield* rt.setNode(atom("me@box"), 3)
  return { sent, rt, ctx }
})

const describeSignal = (s: Sig.Signal): string => {
  switch (s._tag) {
    case "Unlink":
    case "UnlinkAck":
      return `${s._tag}:${s.id}`
    case "Exit":
      return `Exit:${s.kind}:${format(s.reason)}`
    case "Message":
      return `Message:${format(s.message as Term)}`
    default:
      return s._tag
  }
}

/** A trapping process that runs `body` and then reports its mailbox and links. */
const trapper = (body: (self: Pid) => Effect.Effect<void, never, Process.Self | ProcessRuntime.ProcessRuntime>) =>
  Process.run(Effect.gen(function*() {
    yield* Process.trapExit(true)
    const self = yield* Process.self
    // the runtime applies delivered signals synchronously: the mailbox and links are final here
    yield* body(self)
    const info = Option.getOrThrow(yield* Process.processInfo(self))
    return { mailbox: info.messages.map((m) => format(m as Term)), links: info.links.map(format) }
  }))

describe("remote link protocol (UNLINK_ID / UNLINK_ID_ACK)", () => {
  it.scopedLive("unlink sends UNLINK_ID once; an exit over the unlinking link is ignored; the ack drops it", () =>
    Effect.gen(function*() {
      const { ctx, rt, sent } = yield* setup
      const out = yield* trapper((self) =>
        Effect.gen(function*() {
          yield* Process.link(remote)
          yield* Process.link(remote) // already active: no second LINK
          yield* Process.unlink(remote)
          yield* Process.unlink(remote) // not active any more: no second UNLINK_ID
          // a LINK from the peer while we unlink is ignored (our UNLINK_ID reaches it after its LINK)
          rt.unsafeDeliver(new Sig.Link({ from: remote, to: self }))
          // the peer died before it saw our UNLINK_ID: its EXIT is ignored, and drops the link info
          rt.unsafeDeliver(new Sig.Exit({ from: remote, to: self, reason: atom("boom"), kind: "link" }))
        })
      ).pipe(Effect.provide(ctx))
      expect(sent.map(describeSignal)).toEqual(["Link", "Unlink:1"])
      expect(out.mailbox).toEqual([])
      expect(out.links).toEqual([])
    }))

  it.scopedLive("an ack with the pending id removes the link info; linking again while unlinking re-activates", () =>
    Effect.gen(function*() {
      const { ctx, rt, sent } = yield* setup
      const out = yield* trapper((self) =>
        Effect.gen(function*() {
          yield* Process.link(remote)
          yield* Process.unlink(remote)
          yield* Process.link(remote) // LINK sent: active again, the pending unlink's outcome is ignored
          rt.unsafeDeliver(new Sig.UnlinkAck({ from: remote, to: self, id: 1n }))
          rt.unsafeDeliver(new Sig.Exit({ from: remote, to: self, reason: atom("after_relink"), kind: "link" }))
          // second round: unlink, wrong-id ack is ignored, right-id ack removes the info
          yield* Process.link(remote)
          yield* Process.unlink(remote)
          rt.unsafeDeliver(new Sig.UnlinkAck({ from: remote, to: self, id: 99n }))
          rt.unsafeDeliver(new Sig.UnlinkAck({ from: remote, to: self, id: 2n }))
          // a LINK from the peer now creates a fresh active link
          rt.unsafeDeliver(new Sig.Link({ from: remote, to: self }))
        })
      ).pipe(Effect.provide(ctx))
      // the peer's LINK made an active link again, so the process's death is sent over it
      expect(sent.map(describeSignal)).toEqual(["Link", "Unlink:1", "Link", "Link", "Unlink:2", "Exit:link:normal"])
      expect(out.mailbox).toEqual([`{'EXIT',${format(remote)},after_relink}`])
      expect(out.links).toEqual([format(remote)])
    }))

  it.scopedLive("a received UNLINK_ID removes an active link and the ack leaves before any later signal", () =>
    Effect.gen(function*() {
      const { ctx, rt, sent } = yield* setup
      const out = yield* trapper((self) =>
        Effect.gen(function*() {
          rt.unsafeDeliver(new Sig.Link({ from: remote, to: self }))
          rt.unsafeDeliver(new Sig.Unlink({ from: remote, to: self, id: 41n }))
          yield* Effect.orDie(Process.send(remote, atom("after_ack")))
          rt.unsafeDeliver(new Sig.Exit({ from: remote, to: self, reason: atom("ignored"), kind: "link" }))
        })
      ).pipe(Effect.provide(ctx))
      expect(sent.map(describeSignal)).toEqual(["UnlinkAck:41", "Message:after_ack"])
      expect(out.mailbox).toEqual([])
      expect(out.links).toEqual([])
    }))

  it.scopedLive("an UNLINK_ID received while we unlink ourselves keeps our info until our own ack", () =>
    Effect.gen(function*() {
      const { ctx, rt, sent } = yield* setup
      const out = yield* trapper((self) =>
        Effect.gen(function*() {
          yield* Process.link(remote)
          yield* Process.unlink(remote)
          rt.unsafeDeliver(new Sig.Unlink({ from: remote, to: self, id: 8n }))
          rt.unsafeDeliver(new Sig.Exit({ from: remote, to: self, reason: atom("late"), kind: "link" }))
        })
      ).pipe(Effect.provide(ctx))
      expect(sent.map(describeSignal)).toEqual(["Link", "Unlink:1", "UnlinkAck:8"])
      expect(out.mailbox).toEqual([])
    }))

  it.scopedLive("a dying process sends EXIT over active links only; node down gives noconnection to active ones", () =>
    Effect.gen(function*() {
      const { ctx, rt, sent } = yield* setup
      const other = new Pid(remoteNode, 78, 0, 5)
      yield* Process.run(Effect.gen(function*() {
        yield* Process.link(remote)
        yield* Process.link(other)
        yield* Process.unlink(other)
        return yield* Process.exit(atom("bye"))
      })).pipe(Effect.provide(ctx), Effect.ignore)
      expect(sent.map(describeSignal)).toEqual(["Link", "Link", "Unlink:1", "Exit:link:bye"])
      const out = yield* trapper(() =>
        Effect.gen(function*() {
          yield* Process.link(remote)
          yield* Process.link(other)
          yield* Process.unlink(other)
          yield* rt.nodeDown(remoteNode)
        })
      ).pipe(Effect.provide(ctx))
      expect(out.mailbox).toEqual([`{'EXIT',${format(remote)},noconnection}`])
      expect(out.links).toEqual([])
    }))
})
