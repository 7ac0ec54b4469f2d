/**
 * Location transparency with real `erl` and between TS nodes: a pid handed across in a
 * message is usable from the other side (TS pid to erl, erl pid to TS, pids of a third
 * node both ways), and the chapter's `send_work/2`, written once in TS, works for a local
 * pid, a pid on another TS node and a pid on an Erlang node, and times out with
 * `{error, timeout}` when nobody answers.
 */
import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { Atom, format, Pid, type Term, tuple } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { sendWorkErlang as sendWork, worker } from "../../../examples/src/sendWork.js"
import * as NetKernel from "../src/NetKernel.js"
import { erlAvailable, uniqueName } from "./helpers/erl.js"
import { buildNode, expectCleanErlLog, expectTagged, host, printedNode, startPeer } from "./helpers/tsnode.js"

const peer = (node: string) => tuple(Atom.make("peer"), Atom.make(node))
const a = Atom.make

/** The TS worker: `{result, N * 2}` for a number (as `interop_peer:worker/0`), `{result, {done, W}}` otherwise. */
const double = (n: Term) =>
  Effect.succeed<Term>(typeof n === "number" ? n * 2 : typeof n === "bigint" ? n * 2n : tuple(a("done"), n))
const tsWorker = worker(double)

describe("send_work without distribution", () => {
  it.scoped("returns {error, timeout} after the chapter's 5000 ms when nobody answers (TestClock)", () =>
    Effect.gen(function*() {
      const got = yield* Deferred.make<void>()
      const silent = yield* Process.spawn(
        Effect.forever(Effect.zipRight(Process.receive(), Deferred.succeed(got, void 0)))
      )
      const fiber = yield* Effect.fork(Process.run(sendWork(silent, 21)))
      yield* Deferred.await(got)
      for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
      yield* TestClock.adjust("4999 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 millis")
      const result = yield* Fiber.join(fiber)
      expect(format(result)).toBe("{error,timeout}")
    }).pipe(Effect.provide(ProcessRuntime.layer)))

  it.scoped("a local worker answers {result, Work * 2}", () =>
    Effect.gen(function*() {
      const w = yield* Process.spawn(tsWorker)
      expect(yield* Process.run(sendWork(w, 21))).toBe(42)
    }).pipe(Effect.provide(ProcessRuntime.layer)))
})

describe.skipIf(!erlAvailable())("Interop with real erl: pids across nodes and send_work", () => {
  it.scopedLive(
    "a TS pid sent to erl is usable there, and an erl pid sent to TS is usable here",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const e = uniqueName("e")
        const t = uniqueName("ts")
        const erl = yield* startPeer(e, cookie)
        const ctx = yield* buildNode(t, cookie)
        const out = yield* Effect.gen(function*() {
          // another TS process whose pid erl gets in a message and sends to directly
          const inbox = yield* Deferred.make<unknown>()
          const other = yield* Process.spawn(Effect.flatMap(Process.receive(), (m) => Deferred.succeed(inbox, m)))
          return yield* Process.run(Effect.gen(function*() {
            const self = yield* Process.self
            yield* Process.send(peer(`${e}@${host}`), tuple(a("is_pid"), self, other))
            const isPid = yield* expectTagged("is_pid", 3)
            yield* Process.send(peer(`${e}@${host}`), tuple(a("send_to"), other, tuple(a("hello"), other)))
            const delivered = yield* Deferred.await(inbox).pipe(Effect.timeout("5 seconds"))
            // erl's pid, handed to us in a message
            yield* Process.send(peer(`${e}@${host}`), tuple(a("give_worker"), self))
            const [, w] = (yield* expectTagged("worker_pid", 2)).elements
            const direct = yield* Process.send(w as Pid, tuple(a("work"), self, 5)).pipe(
              Effect.zipRight(expectTagged("result", 2))
            )
            return { isPid, other, delivered, w, direct, self }
          }))
        }).pipe(Effect.provide(ctx))
        expect(format(out.isPid)).toBe(`{is_pid,true,${printedNode(t)}}`)
        expect(format(out.delivered as Term)).toBe(format(tuple(a("hello"), out.other)))
        expect(out.w).toBeInstanceOf(Pid)
        expect((out.w as Pid).node.name).toBe(`${e}@${host}`)
        expect(format(out.direct)).toBe("{result,10}")
        expectCleanErlLog(erl)
      }),
    30_000
  )

  it.scopedLive(
    "pids of a third node: erl hands TS a pid on another erl; TS hands erl a pid on another TS node",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const e = uniqueName("e")
        const f = uniqueName("f")
        const t1 = uniqueName("ts")
        const t2 = uniqueName("ts")
        const erlE = yield* startPeer(e, cookie)
        const erlF = yield* startPeer(f, cookie)
        const ctx1 = yield* buildNode(t1, cookie)
        const ctx2 = yield* buildNode(t2, cookie)
        // a process on the second TS node; only its pid travels, via erl
        const inbox = yield* Deferred.make<unknown>()
        const onT2 = yield* Process.spawn(Effect.flatMap(Process.receive(), (m) => Deferred.succeed(inbox, m))).pipe(
          Effect.provide(ctx2)
        )
        expect(onT2.node.name).toBe(`${t2}@${host}`)
        const out = yield* Process.run(Effect.gen(function*() {
          const self = yield* Process.self
          // F's worker pid, fetched by E with rpc and handed to us
          yield* Process.send(peer(`${e}@${host}`), tuple(a("remote_worker"), a(`${f}@${host}`), self))
          const [, w] = (yield* expectTagged("worker_pid", 2)).elements
          // send_work to it: we connect to F on demand
          const result = yield* sendWork(w as Pid, 100)
          // E sends to a pid of T2 that it only got in a message (E connects to T2)
          yield* Process.send(peer(`${e}@${host}`), tuple(a("send_to"), onT2, tuple(a("via"), a(`${e}@${host}`))))
          return { w, result }
        })).pipe(Effect.provide(ctx1))
        const delivered = yield* Deferred.await(inbox).pipe(Effect.timeout("5 seconds"))
        expect((out.w as Pid).node.name).toBe(`${f}@${host}`)
        expect(out.result).toBe(200)
        expect(format(delivered as Term)).toBe(`{via,${printedNode(e)}}`)
        const n1 = (yield* NetKernel.nodes("connected").pipe(Effect.provide(ctx1))).map((n) => n.name).sort()
        const n2 = (yield* NetKernel.nodes("connected").pipe(Effect.provide(ctx2))).map((n) => n.name)
        expect(n1).toEqual([`${e}@${host}`, `${f}@${host}`].sort())
        expect(n2).toEqual([`${e}@${host}`])
        expectCleanErlLog(erlE)
        expectCleanErlLog(erlF)
      }),
    30_000
  )

  it.scopedLive(
    "send_work, written once, works for a local pid, a TS-remote pid and an erl-remote pid",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const e = uniqueName("e")
        const erl = yield* startPeer(e, cookie)
        const ctx1 = yield* buildNode(uniqueName("ts"), cookie)
        const ctx2 = yield* buildNode(uniqueName("ts"), cookie)
        const local = yield* Process.spawn(tsWorker).pipe(Effect.provide(ctx1))
        const tsRemote = yield* Process.spawn(tsWorker).pipe(Effect.provide(ctx2))
        const results = yield* Process.run(Effect.gen(function*() {
          const self = yield* Process.self
          yield* Process.send(peer(`${e}@${host}`), tuple(a("give_worker"), self))
          const [, erlRemote] = (yield* expectTagged("worker_pid", 2)).elements
          return [
            yield* sendWork(local, 21),
            yield* sendWork(tsRemote, 21),
            yield* sendWork(erlRemote as Pid, 21),
            // a registered name on the erl node works the same way
            yield* sendWork(tuple(a("worker"), a(`${e}@${host}`)), 21),
            yield* sendWork(erlRemote as Pid, a("job"))
          ]
        })).pipe(Effect.provide(ctx1))
        expect(results.map(format)).toEqual(["42", "42", "42", "42", "{done,job}"])
        expect(tsRemote.node).not.toBe(local.node)
        expectCleanErlLog(erl)
      }),
    30_000
  )

  it.scopedLive("send_work to an erl pid that never answers returns {error, timeout}", () =>
    Effect.gen(function*() {
      const cookie = uniqueName("c")
      const e = uniqueName("e")
      yield* startPeer(e, cookie)
      const ctx = yield* buildNode(uniqueName("ts"), cookie)
      const result = yield* Process.run(sendWork(tuple(a("silent"), a(`${e}@${host}`)), 1, { after: "300 millis" }))
        .pipe(Effect.provide(ctx))
      expect(format(result)).toBe("{error,timeout}")
    }), 30_000)
})
