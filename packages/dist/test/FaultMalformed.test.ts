/**
 * Fault suite: malformed frames from an authenticated peer. A fake peer completes a real
 * handshake (`Handshake.initiate` over TCP), links a local process to one of its pids
 * with a LINK control frame, and sends garbage: an unknown op, a wrong arity, a
 * truncated term. Only that connection closes; the linked local process gets
 * `{'EXIT', Pid, noconnection}`; another peer's connection stays up and the node lives.
 */
import * as Process from "@effect-otp/process/Process"
import { Atom, format, Pid, type Term } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Control from "../src/Control.js"
import * as Handshake from "../src/Handshake.js"
import * as NetKernel from "../src/NetKernel.js"
import * as Transport from "../src/Transport.js"
import { uniqueName } from "./helpers/erl.js"
import { host, nodeLayer } from "./helpers/tsnode.js"

const withLength = (payload: Uint8Array): Uint8Array => {
  const out = new Uint8Array(4 + payload.length)
  new DataView(out.buffer).setUint32(0, payload.length)
  out.set(payload, 4)
  return out
}

const garbage: ReadonlyArray<readonly [string, Uint8Array]> = [
  // {99, a}: no such operation
  ["an unknown op", Uint8Array.from([112, 131, 104, 2, 97, 99, 119, 1, 97])],
  // {2, ''}: SEND needs 3 elements
  ["a wrong arity", Uint8Array.from([112, 131, 104, 2, 97, 2, 119, 0])],
  // {2, '', <cut>
  ["a truncated term", Uint8Array.from([112, 131, 104, 3, 97, 2, 119, 0, 88])]
]

describe("malformed frames from an authenticated peer", () => {
  for (const [what, frame] of garbage) {
    it.scopedLive(
      `${what}: only that connection closes, links see noconnection, the node lives`,
      () =>
        Effect.gen(function*() {
          const cookie = uniqueName("c")
          const v = uniqueName("v")
          const ctx = yield* Layer.build(nodeLayer(v, cookie))
          const kernel = yield* NetKernel.NetKernel.pipe(Effect.provide(ctx))
          // a well-behaved peer, connected the whole time
          const ctxGood = yield* Layer.build(nodeLayer(uniqueName("g"), cookie))
          const good = yield* NetKernel.node.pipe(Effect.provide(ctxGood))
          expect(yield* NetKernel.ping(`${v}@${host}`).pipe(Effect.provide(ctxGood))).toBe("pong")

          // the local process that the fake peer links to
          const exitSeen = yield* Deferred.make<string>()
          const local = yield* Process.spawn(
            Effect.gen(function*() {
              const m = yield* Process.receive()
              yield* Deferred.succeed(exitSeen, format(m as Term))
            }),
            { trapExit: true }
          ).pipe(Effect.provide(ctx))

          // the fake peer: a real handshake, then raw frames
          const evilName = `${uniqueName("evil")}@${host}`
          const carrier = yield* Effect.orDie(Transport.tcpTransport.connect({ host: "127.0.0.1", port: kernel.port }))
          yield* Handshake.initiate(carrier, {
            thisNode: evilName,
            cookie: Redacted.make(cookie),
            creation: 7,
            peer: `${v}@${host}`
          })
          const fakePid = new Pid(Atom.make(evilName), 42, 0, 7)
          yield* carrier.write(withLength(Control.encodeFrame({ _tag: "Link", from: fakePid, to: local })))
          // wait until the link exists on the node
          yield* Process.processInfo(local).pipe(
            Effect.provide(ctx),
            Effect.map(Option.map((i) => i.links.some((l) => l.node.name === evilName))),
            Effect.zipLeft(Effect.sleep("5 millis")),
            Effect.repeat({ until: (linked) => Option.getOrElse(linked, () => false) }),
            Effect.timeout("5 seconds")
          )
          expect((yield* NetKernel.nodes("connected").pipe(Effect.provide(ctx))).map((n) => n.name).sort()).toEqual(
            [good.name, evilName].sort()
          )

          yield* carrier.write(withLength(frame))
          const closed = yield* carrier.closed.pipe(Effect.timeout("5 seconds"))
          expect(closed.by).toBe("peer")
          const exit = yield* Deferred.await(exitSeen).pipe(Effect.timeout("5 seconds"))
          expect(exit).toMatch(/^\{'EXIT',<[\d.]+>,noconnection\}$/)
          // only that connection closed; the node still works
          expect((yield* NetKernel.nodes("connected").pipe(Effect.provide(ctx))).map((n) => n.name)).toEqual([
            good.name
          ])
          expect(yield* NetKernel.ping(`${v}@${host}`).pipe(Effect.provide(ctxGood))).toBe("pong")
          expect(kernel.connection(good)?.isClosed()).toBe(false)
        }),
      30_000
    )
  }
})
