/**
 * Node identity belongs to a runtime: two runtimes in one JS process, each with its own
 * node name, print their own pids as `<0.N.S>` and each other's as `<M.N.S>`, and an
 * `exit/2` from outside a process comes from the node's own system pid.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Process from "../src/Process.js"
import * as ProcessRuntime from "../src/ProcessRuntime.js"
import * as Term from "../src/Term.js"

const A = Term.atom("a@host")
const B = Term.atom("b@host")

/** A runtime named `node` (as `DistNode` names it), with its context. */
const namedRuntime = (node: Term.Atom, creation: number) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(ProcessRuntime.layer)
    const runtime = Context.get(context, ProcessRuntime.ProcessRuntime)
    yield* runtime.setNode(node, creation)
    return { context, runtime }
  })

/** Spawns a process on that runtime that waits for `go`, then reports how it prints its own pid and `other`. */
const printer = (other: Term.Pid) =>
  Effect.gen(function*() {
    const self = yield* Process.self
    return { self: String(self), other: Term.format(other), both: `${Term.tuple(self, other)}` }
  })

const numberOf = (printed: string): number => Number(/^<(\d+)\./.exec(printed)![1])

describe("LocalNode", () => {
  it.scoped("two runtimes print their own pids as <0.N.S> and each other's as <M.N.S>", () =>
    Effect.gen(function*() {
      const a = yield* namedRuntime(A, 1)
      const b = yield* namedRuntime(B, 2)
      const pa = a.runtime.unsafeSpawn(Process.receive())
      const pb = b.runtime.unsafeSpawn(Process.receive())
      expect(pa.node).toBe(A)
      expect(pb.node).toBe(B)

      // explicitly, with the runtime's node
      expect(Term.formatWith(pa, a.runtime.localNode)).toBe(`<0.${pa.id}.0>`)
      expect(Term.formatWith(pb, b.runtime.localNode)).toBe(`<0.${pb.id}.0>`)
      const bOnA = Term.formatWith(pb, a.runtime.localNode)
      const aOnB = Term.formatWith(pa, b.runtime.localNode)
      expect(bOnA).toMatch(new RegExp(`^<[1-9]\\d{4}\\.${pb.id}\\.0>$`))
      expect(aOnB).toMatch(new RegExp(`^<[1-9]\\d{4}\\.${pa.id}\\.0>$`))
      // a node keeps its number, and the data-last form prints alike
      expect([pb, pb].map(Term.formatWith(a.runtime.localNode))).toEqual([bOnA, bOnA])

      // implicitly, inside each node's processes (and `${pid}`)
      const onA = yield* Process.run(printer(pb)).pipe(Effect.provide(a.context))
      const onB = yield* Process.run(printer(pa)).pipe(Effect.provide(b.context))
      expect(onA.self).toMatch(/^<0\.\d+\.0>$/)
      expect(onA.other).toBe(bOnA)
      expect(onA.both).toBe(`{${onA.self},${bOnA}}`)
      expect(onB.self).toMatch(/^<0\.\d+\.0>$/)
      expect(onB.other).toBe(aOnB)

      // outside any node the names are kept apart too: nonode@nohost is 0, the others a number
      expect(Term.format(new Term.Pid(Term.atoms.nonode, 7, 0, 0))).toBe("<0.7.0>")
      expect(numberOf(Term.format(pa))).toBeGreaterThanOrEqual(10000)
      expect(Term.format(pa)).not.toBe(Term.format(pb))
    }))

  it.scoped("a later creation of the same name is another node; refs print against the runtime too", () =>
    Effect.gen(function*() {
      const a = yield* namedRuntime(A, 1)
      const old = new Term.Pid(A, 5, 0, 7)
      expect(Term.formatWith(old, a.runtime.localNode)).toMatch(/^<[1-9]\d{4}\.5\.0>$/)
      const ref = a.runtime.unsafeMakeRef()
      expect(Term.formatWith(ref, a.runtime.localNode)).toMatch(/^#Ref<0\.[\d.]+>$/)
      expect(Term.formatWith(ref, Term.makeLocalNode(B, 1))).toMatch(/^#Ref<[1-9]\d{4}\.[\d.]+>$/)
    }))

  it("two nodes whose numbers collide get distinct numbers on one node", () => {
    // find two node names whose printed numbers collide outside any node (a 5-digit hash)
    const seen = new Map<number, Term.Atom>()
    let pair: [Term.Atom, Term.Atom] | undefined
    for (let i = 0; pair === undefined; i++) {
      const node = Term.atom(`n${i}@host`)
      const n = numberOf(Term.format(new Term.Pid(node, 1, 0, 1)))
      const before = seen.get(n)
      if (before !== undefined) pair = [before, node]
      else seen.set(n, node)
    }
    const local = Term.makeLocalNode(A, 1)
    const [x, y] = pair.map((node) => numberOf(Term.formatWith(new Term.Pid(node, 1, 0, 1), local)))
    expect(x).not.toBe(y)
    expect(local.nodeNumber(pair[0], 1)).toBe(x)
    expect(local.nodeNumber(A, 1)).toBe(0)
  })

  it("pids of ever new creations of a node all get a five-digit number (the table is bounded, never full)", () => {
    const local = Term.makeLocalNode(A, 1)
    const all = Array.from({ length: 30_000 }, (_, i) => local.nodeNumber(B, i + 2))
    expect(all.every((n) => n >= 10000 && n <= 99999)).toBe(true)
    const numbers = new Set(all)
    // the first ones remembered are distinct; the rest reuse the range
    expect(numbers.size).toBeGreaterThan(10000)
    expect(local.nodeNumber(B, 2)).toBe(local.nodeNumber(B, 2))
  })

  it.scoped("exit(pid, reason) from outside a process comes from <0.0.0> of the named node", () =>
    Effect.gen(function*() {
      const a = yield* namedRuntime(A, 3)
      const trapping = yield* Deferred.make<void>()
      const got = yield* Deferred.make<unknown>()
      const target = yield* Process.spawn(Effect.gen(function*() {
        yield* Process.trapExit(true)
        yield* Deferred.succeed(trapping, undefined)
        yield* Deferred.succeed(got, yield* Process.receive(Process.isExitMessage))
      })).pipe(Effect.provide(a.context))
      yield* Deferred.await(trapping)
      yield* Process.exit(target, Term.atom("bye")).pipe(Effect.provide(a.context))
      const [, from, reason] = ((yield* Deferred.await(got)) as Term.Tuple).elements
      expect(reason).toBe(Term.atom("bye"))
      expect(from).toBeInstanceOf(Term.Pid)
      const pid = from as Term.Pid
      expect([pid.node, pid.creation, pid.id, pid.serial]).toEqual([A, 3, 0, 0])
      expect(Term.formatWith(pid, a.runtime.localNode)).toBe("<0.0.0>")
    }))
})
