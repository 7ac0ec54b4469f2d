/**
 * `Process.sendWith` (erlang:send/3) over the distribution: `noconnect` answers
 * `noconnect` and sets up no connection to a node that is not connected; `nosuspend`
 * answers `nosuspend` instead of waiting when the connection is busy (a receiver that
 * stopped reading: its mailbox backlog limit is 1 and its process never receives).
 */
import * as Process from "@effect-otp/process/Process"
import { RemoteName } from "@effect-otp/process/Signal"
import { Atom } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as NetKernel from "../src/NetKernel.js"
import { uniqueName } from "./helpers/erl.js"
import { cluster, host } from "./helpers/tsnode.js"

describe("Process.sendWith over the distribution", () => {
  it.scopedLive(
    "noconnect does not connect; nosuspend does not wait for a busy connection",
    () =>
      Effect.gen(function*() {
        const node = yield* cluster
        const cookie = uniqueName("c")
        const a = uniqueName("ts")
        const b = uniqueName("ts")
        const ctxA = yield* node(a, cookie)
        const ctxB = yield* node(b, cookie, { maxMailboxBacklog: 1, maxInboundBytes: 64 * 1024 })
        // on B: `sink` never receives (B's reader stops once it holds more than one message)
        yield* Process.spawn(Process.receive(() => false), { name: "sink" }).pipe(Effect.provide(ctxB))
        const bNode = Atom.make(`${b}@${host}`)
        const sink = new RemoteName({ name: Atom.make("sink"), node: bNode })
        const out = yield* Process.run(Effect.gen(function*() {
          const first = yield* Process.sendWith(sink, 1, { noconnect: true })
          const connectedAfterNoconnect = (yield* NetKernel.nodes("connected")).length
          const second = yield* Process.sendWith(sink, 2, {})
          yield* NetKernel.connect(bNode)
          const third = yield* Process.sendWith(sink, 3, { noconnect: true })
          // flood until the connection is busy
          const big = new Uint8Array(256 * 1024)
          let sent = 0
          let result: Process.SendWithResult = "ok"
          while (sent < 400) {
            result = yield* Process.sendWith(sink, big, { nosuspend: true })
            if (result !== "ok") break
            sent++
          }
          return { first, connectedAfterNoconnect, second, third, result, sent }
        })).pipe(Effect.provide(ctxA))
        expect(out.first).toBe("noconnect")
        expect(out.connectedAfterNoconnect).toBe(0)
        expect(out.second).toBe("ok")
        expect(out.third).toBe("ok")
        expect(out.result).toBe("nosuspend")
        expect(out.sent).toBeGreaterThan(0)
      }),
    60_000
  )
})
