/**
 * Control handlers as a service: any number of consumers register, scoped; a second one
 * never replaces the first, and closing a scope unregisters its handler.
 */
import * as Process from "@effect-otp/process/Process"
import * as Sig from "@effect-otp/process/Signal"
import * as Term from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import { ControlHandlers } from "../src/internal/control/handlers.js"
import * as MemoryCluster from "../src/MemoryCluster.js"

const { atom } = Term
const p1 = new Term.Pid(atom("a@box"), 40, 0, 1)
const p2 = new Term.Pid(atom("b@box"), 41, 0, 2)
const ref = (n: number) => new Term.Ref(atom("b@box"), 2, [n, 0, 0])
const down = (n: number) => new Sig.Down({ from: p2, to: p1, ref: ref(n), reason: atom("normal") })
const reply = (n: number) => ({ _tag: "SpawnReply", reqId: ref(n), to: p1, flags: 0, result: p2 }) as const

describe("ControlHandlers", () => {
  it.effect("two consumers both get called, each taking its own; a closed scope unregisters", () =>
    Effect.gen(function*() {
      const handlers = new ControlHandlers()
      const calls: Array<string> = []
      const first = yield* Scope.make()
      const second = yield* Scope.make()
      yield* Scope.extend(
        Effect.all([
          handlers.down((d) => (calls.push(`first ${d.ref.ids[0]}`), d.ref.ids[0] === 1)),
          handlers.spawnReply((r) => (calls.push(`first reply ${r.reqId.ids[0]}`), r.reqId.ids[0] === 1))
        ]),
        first
      )
      yield* Scope.extend(
        Effect.all([
          handlers.down((d) => (calls.push(`second ${d.ref.ids[0]}`), d.ref.ids[0] === 2)),
          handlers.spawnReply((r) => (calls.push(`second reply ${r.reqId.ids[0]}`), r.reqId.ids[0] === 2))
        ]),
        second
      )
      expect([handlers.offerDown(down(1)), handlers.offerDown(down(2)), handlers.offerDown(down(3))])
        .toEqual([true, true, false])
      expect([handlers.offerSpawnReply(reply(1)), handlers.offerSpawnReply(reply(2))]).toEqual([true, true])
      expect(calls).toEqual([
        "first 1",
        "first 2",
        "second 2",
        "first 3",
        "second 3",
        "first reply 1",
        "first reply 2",
        "second reply 2"
      ])
      calls.length = 0
      yield* Scope.close(first, Exit.void)
      expect([handlers.offerDown(down(1)), handlers.offerDown(down(2))]).toEqual([false, true])
      expect(calls).toEqual(["second 1", "second 2"])
      yield* Scope.close(second, Exit.void)
      expect(handlers.offerDown(down(2))).toBe(false)
      expect(handlers.offerSpawnReply(reply(2))).toBe(false)
    }))

  it.effect("a spawn request goes to the first handler that takes it; none: undefined (the node answers notsup)", () =>
    Effect.gen(function*() {
      const handlers = new ControlHandlers()
      const mfa = { module: atom("m"), fun: atom("f"), arity: 0 }
      const request = { _tag: "SpawnRequest", reqId: ref(1), from: p2, groupLeader: p2, mfa, options: [] } as const
      const served: Array<string> = []
      yield* handlers.spawnRequest((_, r) => r.mfa.module === atom("other") ? Effect.void : undefined)
      yield* handlers.spawnRequest(() => Effect.sync(() => served.push("second")))
      const effect = handlers.offerSpawnRequest(atom("b@box"), request, [])
      expect(effect).toBeDefined()
      yield* effect!
      expect(served).toEqual(["second"])
    }).pipe(Effect.scoped))

  it.scoped("on a node: an alias handler takes ALIAS_SEND from a peer while registered, then no more", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a", "b"])
      const a = cluster.node("a")
      const b = cluster.node("b")
      const inbox = yield* Queue.unbounded<unknown>()
      yield* b.provide(Process.spawn(
        Effect.forever(Effect.flatMap(Process.receive(), (m) => Queue.offer(inbox, m))),
        { name: "inbox" }
      ))
      // a ref of b that is no process's alias: only a handler takes messages sent to it
      const alias = b.runtime.unsafeMakeRef()
      const taken: Array<unknown> = []
      const registration = yield* Scope.make()
      const others: Array<unknown> = []
      yield* Scope.extend(
        Effect.all([
          b.kernel.handlers.alias((to, m) => (others.push(m), false)),
          b.kernel.handlers.alias((to, m) => Term.equals(to, alias) && (taken.push(m), true))
        ]),
        registration
      )
      const sendBoth = (n: number) =>
        a.provide(Process.run(Effect.gen(function*() {
          yield* Process.send(alias, n)
          yield* Process.send(new Sig.RemoteName({ name: atom("inbox"), node: b.name }), n)
        })))
      yield* sendBoth(1)
      expect(yield* Queue.take(inbox)).toBe(1)
      expect(taken).toEqual([1])
      expect(others).toEqual([1])
      yield* Scope.close(registration, Exit.void)
      yield* sendBoth(2)
      expect(yield* Queue.take(inbox)).toBe(2)
      expect(taken).toEqual([1])
      expect(others).toEqual([1])
    }))
})
