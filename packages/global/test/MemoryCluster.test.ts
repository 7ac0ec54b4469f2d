/**
 * `global` on the deterministic in-memory cluster under `TestClock`: the same
 * partition/heal scenario as with `erl`, fast and reproducible. a and b join, a partition
 * cuts them (nodedown at net_ticktime), both register `dup` alone, the partition heals
 * and they reconnect: the pid on the smaller node (a) keeps `dup` on both, b's is killed.
 */
import * as MemoryCluster from "@effect-otp/dist/MemoryCluster"
import * as NetKernel from "@effect-otp/dist/NetKernel"
import * as Process from "@effect-otp/process/Process"
import * as T from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as TestClock from "effect/TestClock"
import * as GlobalRegistry from "../src/GlobalRegistry.js"
import { flushServer, globalOn, waitDown, withTime as withTimeSteps } from "./helpers.js"

/** `withTime` with at most 200 steps of 100 ms */
const withTime = <X, E>(eff: Effect.Effect<X, E>) => withTimeSteps(eff, 200)

describe("global on MemoryCluster", () => {
  it.scoped("partition and heal: the smaller node's pid keeps the name, the other is killed", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a", "b"])
      const on = (name: string) => globalOn(cluster, name)
      const a = yield* on("a")
      const b = yield* on("b")
      const bn = cluster.node("b").name

      yield* NetKernel.connect(bn).pipe(Effect.provide(a))
      yield* withTime(GlobalRegistry.sync.pipe(Effect.provide(a)))
      yield* withTime(GlobalRegistry.sync.pipe(Effect.provide(b)))
      expect(yield* GlobalRegistry.GlobalRegistry.pipe(Effect.flatMap((g) => g.knownNodes), Effect.provide(a)))
        .toEqual([bn])

      // cut: both sides see the nodedown at net_ticktime
      const down = yield* Process.spawn(Effect.gen(function*() {
        yield* NetKernel.monitorNodes()
        yield* Process.receive((m) => T.isTagged(m, "nodedown", 2))
      })).pipe(Effect.provide(a))
      yield* cluster.partition("a", "b")
      yield* TestClock.adjust("75 seconds")
      yield* withTime(
        Process.run(Effect.gen(function*() {
          const ref = yield* Process.monitor(down)
          yield* Process.receive((m) => Process.isDownMessage(m, ref))
        })).pipe(Effect.provide(a))
      )

      const pa = yield* Process.spawn(Process.receive()).pipe(Effect.provide(a))
      const pb = yield* Process.spawn(Process.receive()).pipe(Effect.provide(b))
      expect(yield* withTime(GlobalRegistry.registerName("dup", pa).pipe(Effect.provide(a)))).toBe(true)
      expect(yield* withTime(GlobalRegistry.registerName("dup", pb).pipe(Effect.provide(b)))).toBe(true)

      // heal and reconnect
      yield* cluster.heal("a", "b")
      const pbDown = yield* Process.spawn(Effect.gen(function*() {
        const ref = yield* Process.monitor(pb)
        return yield* Process.receive((m) => Process.isDownMessage(m, ref))
      })).pipe(Effect.provide(b))
      yield* NetKernel.connect(bn).pipe(Effect.provide(a))
      yield* withTime(GlobalRegistry.sync.pipe(Effect.provide(a)))
      yield* withTime(GlobalRegistry.sync.pipe(Effect.provide(b)))
      yield* withTime(
        Process.run(Effect.gen(function*() {
          const ref = yield* Process.monitor(pbDown)
          yield* Process.receive((m) => Process.isDownMessage(m, ref))
        })).pipe(Effect.provide(b))
      )
      for (const ctx of [a, b]) {
        expect(yield* GlobalRegistry.whereisName("dup").pipe(Effect.provide(ctx))).toEqual(Option.some(pa))
      }
      expect(cluster.node("a").runtime.unsafeIsAlive(pa)).toBe(true)
    }))

  it.scoped("a node killed while it holds the global lock: the others' registrations go on (noconnection frees it)", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a", "b", "c"])
      const on = (name: string) => globalOn(cluster, name)
      const [a, b] = [yield* on("a"), yield* on("b")]
      yield* on("c")
      const [bn, cn] = [cluster.node("b").name, cluster.node("c").name]
      yield* NetKernel.connect(bn).pipe(Effect.provide(a))
      yield* NetKernel.connect(cn).pipe(Effect.provide(a))
      yield* withTime(GlobalRegistry.sync.pipe(Effect.provide(a)))
      yield* withTime(GlobalRegistry.sync.pipe(Effect.provide(b)))
      // a process of a takes the `global` lock on every node (a second time: the name servers
      // keep a `global` holder's monitor after its del_lock), then a dies abruptly
      const locked = yield* Deferred.make<boolean>()
      yield* Process.spawn(Effect.gen(function*() {
        const self = yield* Process.self
        const all = [cluster.node("a").name, bn, cn]
        const first = yield* GlobalRegistry.setLock([T.atom("global"), self], all, 0)
        yield* GlobalRegistry.delLock([T.atom("global"), self], all)
        yield* Deferred.succeed(locked, first && (yield* GlobalRegistry.setLock([T.atom("global"), self], all, 0)))
        yield* Process.receive()
      })).pipe(Effect.provide(a))
      expect(yield* withTime(Deferred.await(locked))).toBe(true)
      yield* cluster.kill("a")
      const pb = yield* Process.spawn(Process.receive()).pipe(Effect.provide(b))
      expect(yield* withTime(GlobalRegistry.registerName("after_kill", pb).pipe(Effect.provide(b)))).toBe(true)
      expect(yield* GlobalRegistry.whereisName("after_kill").pipe(Effect.provide(b))).toEqual(Option.some(pb))
    }))

  it.scoped("a pid with a name gets no other (register_name: false) on any node, until its names are gone", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a", "b"])
      const a = yield* globalOn(cluster, "a")
      const b = yield* globalOn(cluster, "b")
      yield* NetKernel.connect(cluster.node("b").name).pipe(Effect.provide(a))
      yield* withTime(GlobalRegistry.sync.pipe(Effect.provide(a)))
      yield* withTime(GlobalRegistry.sync.pipe(Effect.provide(b)))
      const register = (ctx: typeof a, name: string, pid: T.Pid) =>
        withTime(GlobalRegistry.registerName(name, pid).pipe(Effect.provide(ctx)))
      const where = (ctx: typeof a, name: string) => GlobalRegistry.whereisName(name).pipe(Effect.provide(ctx))
      const pa = yield* Process.spawn(Process.receive()).pipe(Effect.provide(a))
      const pk = yield* Process.spawn(Process.receive()).pipe(Effect.provide(a))
      // one lookup Effect, run at each point: it reads the table when it runs
      const lookupOne = where(a, "one")
      const viaService = GlobalRegistry.GlobalRegistry.pipe(
        Effect.flatMap((g) => Effect.succeed(g.whereisName("one"))),
        Effect.provide(a)
      )
      const serviceLookupOne = (yield* viaService).pipe(Effect.provide(a))
      expect(yield* lookupOne).toEqual(Option.none())
      expect(yield* serviceLookupOne).toEqual(Option.none())
      expect(yield* register(a, "one", pa)).toBe(true)
      expect(yield* lookupOne).toEqual(Option.some(pa))
      expect(yield* serviceLookupOne).toEqual(Option.some(pa))
      expect(yield* register(a, "kept", pk)).toBe(true)
      expect(yield* register(a, "two", pa)).toBe(false)
      expect(yield* register(b, "two", pa)).toBe(false)
      // re_register_name gives it a second name; dropping one leaves the other
      yield* withTime(GlobalRegistry.reRegisterName("two", pa).pipe(Effect.provide(a)))
      yield* withTime(GlobalRegistry.unregisterName("one").pipe(Effect.provide(b)))
      expect(yield* register(b, "three", pa)).toBe(false)
      // its death takes both names everywhere (each node's own monitor), and only its
      yield* Process.exit(pa, T.atom("kill")).pipe(Effect.provide(a))
      for (const ctx of [a, b]) {
        yield* withTime(Effect.zipRight(waitDown(pa), flushServer).pipe(Effect.provide(ctx)))
        expect(yield* where(ctx, "two")).toEqual(Option.none())
        expect(yield* where(ctx, "one")).toEqual(Option.none())
        expect(yield* where(ctx, "kept")).toEqual(Option.some(pk))
      }
      expect(yield* lookupOne).toEqual(Option.none())
      const pb = yield* Process.spawn(Process.receive()).pipe(Effect.provide(b))
      expect(yield* register(b, "three", pb)).toBe(true)
      expect(yield* register(a, "four", pk)).toBe(false)
    }))

  it.scoped("registrars of three nodes at once: each name registered once, the same table on every node", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a", "b", "c"])
      const ctxs = [yield* globalOn(cluster, "a"), yield* globalOn(cluster, "b"), yield* globalOn(cluster, "c")]
      const [a, b, c] = ctxs as [typeof ctxs[0], typeof ctxs[0], typeof ctxs[0]]
      yield* NetKernel.connect(cluster.node("b").name).pipe(Effect.provide(a))
      yield* NetKernel.connect(cluster.node("c").name).pipe(Effect.provide(a))
      for (const ctx of ctxs) yield* withTime(GlobalRegistry.sync.pipe(Effect.provide(ctx)))
      for (const ctx of ctxs) {
        expect(yield* GlobalRegistry.GlobalRegistry.pipe(Effect.flatMap((g) => g.knownNodes), Effect.provide(ctx)))
          .toHaveLength(2)
      }
      // every node registers 5 names of its own and races the others for `contended`: the
      // registrars contend for the boss's lock, the losers delete what they took, back off, retry
      const jobs = ctxs.flatMap((ctx, i) =>
        [0, 1, 2, 3, 4, 5].map((k) =>
          Effect.gen(function*() {
            const pid = yield* Process.spawn(Process.receive())
            const name = k === 5 ? "contended" : `n${i}_${k}`
            return { name, pid, ok: yield* GlobalRegistry.registerName(name, pid) }
          }).pipe(Effect.provide(ctx))
        )
      )
      const results = yield* withTimeSteps(Effect.all(jobs, { concurrency: "unbounded" }), 600)
      expect(results.filter((r) => r.name === "contended" && r.ok)).toHaveLength(1)
      expect(results.filter((r) => r.name !== "contended" && !r.ok)).toEqual([])
      const winner = results.find((r) => r.name === "contended" && r.ok)!.pid
      for (const ctx of [a, b, c]) {
        yield* withTime(flushServer.pipe(Effect.provide(ctx)))
        const names = (yield* GlobalRegistry.registeredNames.pipe(Effect.provide(ctx))).map((n) => T.format(n))
        expect(names.sort()).toEqual(
          ["contended", ...[0, 1, 2].flatMap((i) => [0, 1, 2, 3, 4].map((k) => `n${i}_${k}`))].sort()
        )
        expect(yield* GlobalRegistry.whereisName("contended").pipe(Effect.provide(ctx))).toEqual(Option.some(winner))
        for (const r of results.filter((r) => r.ok)) {
          expect(yield* GlobalRegistry.whereisName(r.name).pipe(Effect.provide(ctx))).toEqual(Option.some(r.pid))
        }
      }
    }))

  it.scoped("a registrar refused by a node behind the boss deletes the locks it took, backs off, and registers once the node is free", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a", "b", "c"])
      const [a, b] = [yield* globalOn(cluster, "a"), yield* globalOn(cluster, "b")]
      yield* globalOn(cluster, "c")
      const [an, bn, cn] = [cluster.node("a").name, cluster.node("b").name, cluster.node("c").name]
      yield* NetKernel.connect(bn).pipe(Effect.provide(a))
      yield* NetKernel.connect(cn).pipe(Effect.provide(a))
      yield* withTime(GlobalRegistry.sync.pipe(Effect.provide(a)))
      yield* withTime(GlobalRegistry.sync.pipe(Effect.provide(b)))
      // a process of a holds `global` on a alone (c, the boss, stays free)
      const locked = yield* Deferred.make<boolean>()
      const holder = yield* Process.spawn(Effect.gen(function*() {
        const self = yield* Process.self
        yield* Deferred.succeed(locked, yield* GlobalRegistry.setLock([T.atom("global"), self], [an], 0))
        yield* Process.receive()
        yield* GlobalRegistry.delLock([T.atom("global"), self], [an])
        yield* Process.receive()
      })).pipe(Effect.provide(a))
      expect(yield* withTime(Deferred.await(locked))).toBe(true)
      // b's registrar locks c, then b, is refused by a: it gives back b and c, and retries
      const pb = yield* Process.spawn(Process.receive()).pipe(Effect.provide(b))
      const reg = yield* Effect.fork(GlobalRegistry.registerName("behind_boss", pb).pipe(Effect.provide(b)))
      // while it backs off, another requester can take the `global` lock on b and c
      const probe = (id: string) =>
        Process.run(Effect.gen(function*() {
          const ok = yield* GlobalRegistry.setLock([T.atom("global"), T.atom(id)], [bn, cn], 0)
          if (ok) yield* GlobalRegistry.delLock([T.atom("global"), T.atom(id)], [bn, cn])
          return ok
        })).pipe(Effect.provide(b))
      let free = false
      for (let i = 0; i < 50 && !free; i++) {
        yield* TestClock.adjust("10 millis")
        free = yield* withTime(probe("probe"))
      }
      expect(free).toBe(true)
      yield* Process.send(holder, T.atom("release")).pipe(Effect.provide(a))
      expect(yield* withTimeSteps(Fiber.join(reg), 600)).toBe(true)
      for (const ctx of [a, b]) {
        yield* withTime(flushServer.pipe(Effect.provide(ctx)))
        expect(yield* GlobalRegistry.whereisName("behind_boss").pipe(Effect.provide(ctx))).toEqual(Option.some(pb))
      }
      // and no lock of its registrar is left anywhere
      expect(yield* withTime(probe("after"))).toBe(true)
    }))

  it.scoped("in_sync cancels our connect session with its sender: the locker no longer tries to lock with it", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a", "b"])
      const a = yield* globalOn(cluster, "a")
      const [an, bn] = [cluster.node("a").name, cluster.node("b").name]
      // b runs no global: a stand-in global_name_server there plays b's part by hand
      const got = yield* Queue.unbounded<T.Tuple>()
      const fake = yield* Process.spawn(
        Effect.forever(Effect.flatMap(Process.receive(), (m) => Queue.offer(got, m as T.Tuple))),
        { name: "global_name_server" }
      ).pipe(Effect.provide(cluster.node("b").context))
      const toA = (msg: T.Term) =>
        Process.send(T.tuple(T.atom("global_name_server"), an), msg).pipe(
          Effect.provide(cluster.node("b").context),
          Effect.orDie
        )
      const next = (pred: (m: T.Tuple) => boolean) =>
        Effect.gen(function*() {
          while (true) {
            const m = yield* Queue.take(got)
            if (pred(m)) return m
          }
        })
      const isCast = (tag: string) => (m: T.Tuple) => T.isTagged(m, "$gen_cast", 2) && T.isTagged(m.elements[1], tag)
      yield* NetKernel.connect(bn).pipe(Effect.provide(a))
      const init = (yield* withTime(next(isCast("init_connect")))).elements[1] as T.Tuple
      const aTag = (init.elements[1] as T.Tuple).elements[1]!
      const bTag = -576460752303423000n
      // b's side of the session: its init_connect (b's "locker" is the stand-in), then its ack
      yield* toA(T.tuple(
        T.atom("$gen_cast"),
        T.tuple(
          T.atom("init_connect"),
          T.tuple(8, bTag),
          bn,
          T.tuple(T.atom("locker"), T.atom("no_longer_a_pid"), T.map([]), fake)
        )
      ))
      yield* toA(T.tuple(T.atom("init_connect_ack"), bn, aTag, bTag))
      // a's ack: it has b's init_connect, and its locker has b as a peer to lock with
      yield* withTime(next((m) => T.isTagged(m, "init_connect_ack", 4)))
      // b is in sync with a through another node: a drops the session, so its locker never
      // calls set_lock on b (it would within 200 ms: no node is known yet)
      yield* toA(T.tuple(T.atom("$gen_cast"), T.tuple(T.atom("in_sync"), bn, T.atoms.true)))
      const call = yield* withTime(
        Effect.timeoutOption(next((m) => T.isTagged(m, "$gen_call", 3)), "5 seconds")
      )
      expect(Option.map(call, T.format)).toEqual(Option.none())
      yield* withTime(GlobalRegistry.sync.pipe(Effect.provide(a)))
    }))

  it.scoped("the name server answers malformed lock calls, ignores calls it cannot serve, and goes on", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster.make(["a"])
      const a = yield* globalOn(cluster, "a")
      const gns = T.atom("global_name_server")
      const genCall = T.atom("$gen_call")
      const lockId = T.tuple(T.atom("res"), T.atom("req"))
      const other = T.tuple(T.atom("res"), T.atom("other"))
      const answers = yield* Process.run(Effect.gen(function*() {
        const me = yield* Process.self
        const call = (req: T.Term) =>
          Effect.gen(function*() {
            const tag = yield* Process.makeRef
            yield* Process.send(gns, T.tuple(genCall, T.tuple(me, tag), req))
            const m = yield* Process.receive((x): x is T.Tuple =>
              x instanceof T.Tuple && x.elements.length === 2 && T.equals(x.elements[0]!, tag)
            )
            return m.elements[1]
          })
        // no answer to these (a bad From, a register without a pid): logged, and the server takes the next call
        yield* Process.send(gns, T.tuple(genCall, T.atom("junk"), T.tuple(T.atom("set_lock"), lockId)))
        yield* Process.send(gns, T.tuple(genCall, T.tuple(T.atom("junk"), 1), T.tuple(T.atom("set_lock"), lockId)))
        yield* Process.send(
          gns,
          T.tuple(genCall, T.tuple(me, T.atom("t")), T.tuple(T.atom("register"), T.atom("n"), T.atom("no_pid"), 0))
        )
        return [
          yield* call(T.tuple(T.atom("set_lock"), T.atom("not_a_lock_id"))),
          yield* call(T.tuple(T.atom("del_lock"), T.atom("not_a_lock_id"))),
          yield* call(T.tuple(T.atom("set_lock"), lockId)),
          yield* call(T.tuple(T.atom("set_lock"), other)),
          yield* call(T.tuple(T.atom("del_lock"), lockId)),
          yield* call(T.tuple(T.atom("set_lock"), other)),
          yield* call(T.tuple(T.atom("del_lock"), other))
        ]
      })).pipe(Effect.provide(a))
      const { false: no, true: yes } = T.atoms
      expect(answers).toEqual([no, yes, yes, no, yes, yes, yes])
      const p = yield* Process.spawn(Process.receive()).pipe(Effect.provide(a))
      expect(yield* withTime(GlobalRegistry.registerName("after_junk", p).pipe(Effect.provide(a)))).toBe(true)
      expect(yield* GlobalRegistry.whereisName("after_junk").pipe(Effect.provide(a))).toEqual(Option.some(p))
    }))
})
