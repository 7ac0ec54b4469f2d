/**
 * Receive backpressure is event-driven: a connection held by a full mailbox reads on as
 * soon as the receiver has drained it to half, woken by the mailbox, with the test clock
 * standing still (a poll on the clock would never wake up here).
 */
import * as Process from "@effect-otp/process/Process"
import { RemoteName } from "@effect-otp/process/Signal"
import * as Term from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as MemoryCluster from "../src/MemoryCluster.js"

const { atom } = Term
const BACKLOG = 10
const SENT = 40

/** Yields until `done()` holds; fails after `limit` rounds (the condition never came). */
const until = (what: string, done: () => boolean, limit = 10_000) =>
  Effect.gen(function*() {
    for (let i = 0; i < limit && !done(); i++) yield* Effect.yieldNow()
    if (!done()) return yield* Effect.dieMessage(`never happened: ${what}`)
  })

describe("receive backpressure", () => {
  it.scoped("a full mailbox holds the connection; draining it moves the connection on, the clock standing still", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a"])
      const a = cluster.node("a")
      const b = yield* cluster.start("b", { maxMailboxBacklog: BACKLOG })
      const go = yield* Deferred.make<void>()
      const seen = yield* Queue.unbounded<{ readonly n: unknown; readonly waiting: number }>()
      const slow = yield* b.provide(Process.spawn(
        Effect.gen(function*() {
          const self = yield* Process.self
          yield* Deferred.await(go)
          for (let i = 0; i < SENT; i++) {
            const waiting = b.runtime.unsafeMailboxSize!(self)
            yield* Queue.offer(seen, { n: yield* Process.receive(), waiting })
          }
        }),
        { name: "slow" }
      ))
      const probed = yield* Queue.unbounded<unknown>()
      yield* b.provide(Process.spawn(Effect.flatMap(Process.receive(), (m) => Queue.offer(probed, m)), {
        name: "probe"
      }))
      // SENT messages to `slow`, then one to `probe` behind them on the same connection
      yield* a.provide(Process.run(Effect.gen(function*() {
        for (let i = 0; i < SENT; i++) yield* Process.send(new RemoteName({ name: atom("slow"), node: b.name }), i)
        yield* Process.send(new RemoteName({ name: atom("probe"), node: b.name }), atom("after"))
      })))
      // the reader stopped with the mailbox one over the mark, the rest waiting on the connection
      yield* until("the connection holds the rest", () => (b.kernel.connection(a.name)?.stats().pendingIn ?? 0) > 0)
      expect(b.runtime.unsafeMailboxSize!(slow)).toBe(BACKLOG + 1)
      expect(yield* Queue.size(probed)).toBe(0)
      // the receiver drains: no clock moves, yet everything arrives, in order
      yield* Deferred.succeed(go, undefined)
      expect(yield* Queue.take(probed)).toEqual(atom("after"))
      const got = yield* Queue.takeAll(seen)
      const rest = [...got]
      while (rest.length < SENT) rest.push(yield* Queue.take(seen))
      expect(rest.map((r) => r.n)).toEqual(Array.from({ length: SENT }, (_, i) => i))
      // never more than the mark (and the one message that crossed it) waited
      expect(Math.max(...rest.map((r) => r.waiting))).toBeLessThanOrEqual(BACKLOG + 1)
    }))
})
