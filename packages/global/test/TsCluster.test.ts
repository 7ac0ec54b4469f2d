/**
 * `global` between TS nodes only (an embedded EPMD, real TCP): the locker's active side
 * (`select_node`) connects two TS nodes, names spread, a dead pid's name goes away on
 * every node through its own monitor, and the transitive mesh forms (c, connected to b
 * only, gets connected to a by `global`), and prevent_overlapping_partitions isolates the
 * two ends of a dropped link.
 */
import * as NetKernel from "@effect-otp/dist/NetKernel"
import * as Process from "@effect-otp/process/Process"
import * as T from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { uniqueName } from "../../dist/test/helpers/erl.js"
import * as GlobalRegistry from "../src/GlobalRegistry.js"
import { flushServer, globalCluster, waitDown } from "./helpers.js"

describe("global between TS nodes", () => {
  it.scopedLive("two nodes join, names spread both ways, a dead pid's name goes, a third node meshes in, a dropped link isolates its ends", () =>
    Effect.gen(function*() {
      const node = yield* globalCluster
      const cookie = uniqueName("c")
      const start = (name: string) =>
        Effect.gen(function*() {
          return yield* node(uniqueName(name), cookie)
        })
      const a = yield* start("a")
      const b = yield* start("b")
      const nameOf = (ctx: typeof a) => Context.get(ctx, NetKernel.NetKernel).node
      const bn = nameOf(b)

      yield* NetKernel.connect(bn).pipe(Effect.provide(a))
      yield* GlobalRegistry.sync.pipe(Effect.provide(a))
      yield* GlobalRegistry.sync.pipe(Effect.provide(b))
      expect(yield* GlobalRegistry.GlobalRegistry.pipe(Effect.flatMap((g) => g.knownNodes), Effect.provide(a)))
        .toEqual([bn])

      const pa = yield* Process.spawn(Process.receive()).pipe(Effect.provide(a))
      expect(yield* GlobalRegistry.registerName("on_a", pa).pipe(Effect.provide(a))).toBe(true)
      // registered under the lock on every known node: b has it once register_name returns
      expect(yield* GlobalRegistry.whereisName("on_a").pipe(Effect.provide(b))).toEqual(Option.some(pa))
      const pb = yield* Process.spawn(Process.receive()).pipe(Effect.provide(b))
      expect(yield* GlobalRegistry.registerName("on_b", pb).pipe(Effect.provide(b))).toBe(true)
      expect(yield* GlobalRegistry.registerName("on_b", pa).pipe(Effect.provide(a))).toBe(false)
      expect(yield* GlobalRegistry.whereisName("on_b").pipe(Effect.provide(a))).toEqual(Option.some(pb))

      // a third node that only knows b: global connects it to a, and it learns every name
      const c = yield* start("c")
      const cn = nameOf(c)
      // a watches for c's nodeup (c never dials a itself: global does it)
      const aSeesC = yield* Process.spawn(Effect.gen(function*() {
        yield* NetKernel.monitorNodes()
        yield* Process.receive((m) => T.isTagged(m, "nodeup") && m.elements[1] === cn)
      })).pipe(Effect.provide(a))
      yield* NetKernel.connect(bn).pipe(Effect.provide(c))
      yield* GlobalRegistry.sync.pipe(Effect.provide(c))
      const cNames = (yield* GlobalRegistry.registeredNames.pipe(Effect.provide(c))).map(T.format).sort()
      expect(cNames).toEqual(["on_a", "on_b"])
      // transitive connect: a is among c's visible nodes without c ever dialling it itself
      yield* waitDown(aSeesC).pipe(Effect.provide(a))
      const meshed = yield* Effect.provide(
        Effect.gen(function*() {
          yield* GlobalRegistry.sync
          return (yield* NetKernel.nodes("visible")).map((n) => n.name).sort()
        }),
        a
      )
      expect(meshed).toEqual([bn.name, cn.name].sort())

      // the holder of on_a exits: every node drops the name through its own monitor
      yield* Process.exit(pa, T.atom("kill")).pipe(Effect.provide(a))
      yield* waitDown(pa).pipe(Effect.provide(b))
      yield* waitDown(pa).pipe(Effect.provide(c))
      for (const ctx of [a, b, c]) {
        yield* flushServer.pipe(Effect.provide(ctx))
        expect(yield* GlobalRegistry.whereisName("on_a").pipe(Effect.provide(ctx))).toEqual(Option.none())
      }

      // prevent_overlapping_partitions: b drops its link to c; both report it to a, which
      // tells both to drop it: a, b and c end up isolated, as three erl nodes do
      const aLosesBoth = yield* Process.spawn(Effect.gen(function*() {
        yield* NetKernel.monitorNodes()
        const lost = new Set<T.Atom>()
        while (lost.size < 2) {
          const m = yield* Process.receive((m) => T.isTagged(m, "nodedown", 2))
          lost.add(m.elements[1] as T.Atom)
        }
      })).pipe(Effect.provide(a))
      yield* NetKernel.disconnect(cn).pipe(Effect.provide(b))
      yield* waitDown(aLosesBoth).pipe(Effect.provide(a))
      expect(yield* NetKernel.nodes("visible").pipe(Effect.provide(a))).toEqual([])
      expect(yield* GlobalRegistry.GlobalRegistry.pipe(Effect.flatMap((g) => g.knownNodes), Effect.provide(a)))
        .toEqual([])
    }))

  it.scopedLive("connectAll false: global stays local, as erl -connect_all false; explicit locks still reach the peer", () =>
    Effect.gen(function*() {
      const node = yield* globalCluster
      const cookie = uniqueName("c")
      const start = (name: string) =>
        Effect.gen(function*() {
          return yield* node(uniqueName(name), cookie, { connectAll: false })
        })
      const a = yield* start("a")
      const b = yield* start("b")
      const bn = Context.get(b, NetKernel.NetKernel).node
      const an = Context.get(a, NetKernel.NetKernel).node
      yield* NetKernel.connect(bn).pipe(Effect.provide(a))
      const pa = yield* Process.spawn(Process.receive()).pipe(Effect.provide(a))
      expect(yield* GlobalRegistry.registerName("only_a", pa).pipe(Effect.provide(a))).toBe(true)
      yield* flushServer.pipe(Effect.provide(b))
      expect(yield* GlobalRegistry.whereisName("only_a").pipe(Effect.provide(b))).toEqual(Option.none())
      expect(yield* GlobalRegistry.GlobalRegistry.pipe(Effect.flatMap((g) => g.knownNodes), Effect.provide(a)))
        .toEqual([])
      // set_lock on both nodes from a process of a; b refuses another requester meanwhile
      const locked = yield* Deferred.make<boolean>()
      const holder = yield* Process.spawn(Effect.gen(function*() {
        yield* Deferred.succeed(locked, yield* GlobalRegistry.setLock([T.atom("res"), T.atom("r1")], [an, bn], 0))
        yield* Process.receive()
      })).pipe(Effect.provide(a))
      expect(yield* Deferred.await(locked)).toBe(true)
      const tryB = (retries?: number) =>
        Process.run(GlobalRegistry.setLock([T.atom("res"), T.atom("r2")], [bn], retries)).pipe(Effect.provide(b))
      expect(yield* tryB(0)).toBe(false)
      // the holder dies: b's monitor frees the lock, and a retrying requester gets it
      yield* Process.exit(holder, T.atom("kill")).pipe(Effect.provide(a))
      expect(yield* tryB()).toBe(true)
    }))
})
