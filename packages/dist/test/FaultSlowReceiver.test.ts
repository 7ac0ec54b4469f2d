/**
 * Fault suite: a slow receiver. A TS process drains 100 msg/s while `erl` sends
 * `{seq, I, <<1 KiB>>}` as fast as it can for 3 s. With `maxMailboxBacklog` 1000 and
 * `maxInboundBytes` 1 MiB, our memory stays bounded: the mailbox never holds much more
 * than 1000 messages, the connection buffers at most ~1 MiB, reading pauses, and TCP
 * pushes back on erl (which sends far fewer messages than it could). After the drain
 * (at full speed) every message has arrived, in order.
 */
import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { RemoteName } from "@effect-otp/process/Signal"
import { Atom, atom, isTagged, tuple } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as v8 from "node:v8"
import * as nodeVm from "node:vm"
import * as DistNode from "../src/DistNode.js"
import * as NetKernel from "../src/NetKernel.js"
import { erlAvailable, startErlScoped, uniqueName } from "./helpers/erl.js"
import { host } from "./helpers/tsnode.js"

const BACKLOG = 1000
const INBOUND = 1024 * 1024
const SEND_MS = 3000

v8.setFlagsFromString("--expose-gc")
const gc = nodeVm.runInNewContext("gc") as () => void

describe.skipIf(!erlAvailable())("slow receiver", () => {
  it.scopedLive(
    "erl floods a TS process that drains 100 msg/s: bounded memory, TCP pushback, all in order",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const e = uniqueName("e")
        const peer = Atom.make(`${e}@${host}`)
        const erl = yield* startErlScoped({
          args: ["-sname", e, "-setcookie", cookie],
          eval: `register(ctl, spawn(fun() -> receive {go, Node} ->
                   B = binary:copy(<<"x">>, 1024),
                   End = erlang:monotonic_time(millisecond) + ${SEND_MS},
                   N = (fun L(I) ->
                          case erlang:monotonic_time(millisecond) < End of
                            true -> {drain, Node} ! {seq, I, B}, L(I + 1);
                            false -> I - 1
                          end
                        end)(1),
                   {drain, Node} ! {done, N},
                   io:format("sent ~p~n", [N])
                 end end)),
               io:format("ready~n").`,
          ready: "ready"
        })
        const ctx = yield* Layer.build(
          DistNode.layerDefault({
            name: uniqueName("ts"),
            cookie,
            hidden: true,
            maxMailboxBacklog: BACKLOG,
            maxInboundBytes: INBOUND
          }).pipe(
            Layer.provideMerge(ProcessRuntime.layer)
          )
        )
        const kernel = yield* NetKernel.NetKernel.pipe(Effect.provide(ctx))
        const runtime = yield* ProcessRuntime.ProcessRuntime.pipe(Effect.provide(ctx))

        let fast = false
        let received = 0
        let outOfOrder: string | undefined
        const done = yield* Deferred.make<number>()
        const drain = yield* Process.spawn(
          Effect.forever(Effect.gen(function*() {
            const m = yield* Process.receive()
            if (isTagged(m, "seq", 3)) {
              const i = Number(m.elements[1])
              if (i !== received + 1 && outOfOrder === undefined) outOfOrder = `got ${i} after ${received}`
              received = i
            } else if (isTagged(m, "done", 2)) {
              yield* Deferred.succeed(done, Number(m.elements[1]))
            }
            if (!fast) yield* Effect.sleep("10 millis")
          })),
          { name: "drain" }
        ).pipe(Effect.provide(ctx))

        gc()
        const heap0 = process.memoryUsage().heapUsed
        yield* NetKernel.connect(peer).pipe(Effect.provide(ctx))
        yield* Process.send(new RemoteName({ name: Atom.make("ctl"), node: peer }), tuple(atom("go"), kernel.node))
          .pipe(
            Effect.provide(ctx)
          )
        let maxMailbox = 0
        let maxPendingIn = 0
        let maxHeap = 0
        let paused = 0
        const t0 = Date.now()
        while (Date.now() - t0 < SEND_MS + 500) {
          yield* Effect.sleep("50 millis")
          maxMailbox = Math.max(maxMailbox, runtime.unsafeMailboxSize!(drain))
          const stats = kernel.connection(peer)?.stats()
          if (stats !== undefined) {
            maxPendingIn = Math.max(maxPendingIn, stats.pendingIn)
            if (stats.readPaused) paused++
          }
          maxHeap = Math.max(maxHeap, process.memoryUsage().heapUsed - heap0)
        }
        const drainedSlowly = received
        fast = true
        const sent = yield* Deferred.await(done).pipe(Effect.timeout("60 seconds"))
        console.log(
          `slow receiver: erl sent ${sent} msgs in ${SEND_MS} ms; drained ${drainedSlowly} slowly; max mailbox ${maxMailbox}, ` +
            `max pendingIn ${maxPendingIn} B, paused in ${paused} samples, max heap growth ${
              (maxHeap / 2 ** 20).toFixed(1)
            } MiB`
        )
        yield* Effect.promise(() => erl.waitFor(`sent ${sent}`, 5_000))
        expect(outOfOrder).toBeUndefined()
        expect(received).toBe(sent)
        // bounded: the mailbox stays at the cap (+1: the check follows the delivery), the
        // connection buffers at most the cap plus one read
        expect(maxMailbox).toBeLessThanOrEqual(BACKLOG + 1)
        expect(maxPendingIn).toBeLessThanOrEqual(INBOUND + 256 * 1024)
        expect(paused).toBeGreaterThan(0)
        expect(maxHeap).toBeLessThan(48 * 2 ** 20)
      }),
    120_000
  )
})
