/**
 * Resolve methods from the TS API, on the in-memory cluster under `TestClock`: a and b
 * (and c, in a's partition) register `dup` while apart, then they meet, and a, the
 * smaller node, resolves the conflict with its own partition's entry's method, as OTP's
 * `exchange_names` does (`resolve_it(Method2, Name, HisPid, Pid2)` on `node(Pid2)`):
 * - `randomNotifyName`: a's pid keeps the name, b's gets `{global_name_conflict, dup}`;
 * - `notifyAllName`: nobody keeps it, both get `{global_name_conflict, dup, OtherPid}`;
 * - a TS function: the pid it returns keeps the name (here b's, which the default would
 *   kill), nothing is killed;
 * - a TS function registered on c for c's pid: a calls it on c through rpc.
 */
import * as MemoryCluster from "@effect-otp/dist/MemoryCluster"
import * as NetKernel from "@effect-otp/dist/NetKernel"
import * as Process from "@effect-otp/process/Process"
import * as T from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as GlobalRegistry from "../src/GlobalRegistry.js"
import { globalOn, withTime } from "./helpers.js"

/** `dup` registered for `pid` on `ctx` (with `method`), as the clock moves on: it must succeed. */
const registerDup = (ctx: Context.Context<any>, pid: T.Pid, method?: GlobalRegistry.ResolveMethod) =>
  Effect.map(
    withTime(GlobalRegistry.registerName("dup", pid, method).pipe(Effect.provide(ctx))),
    (ok) => expect(ok).toBe(true)
  )

const waitExit = (pid: T.Pid) =>
  Process.run(Effect.gen(function*() {
    const ref = yield* Process.monitor(pid)
    yield* Process.receive((m) => Process.isDownMessage(m, ref))
  }))

/**
 * a (with c when `withC`) and b, apart; `register` registers `dup` on each side; then
 * they meet (a dials b). Returns the contexts, the two pids and the first message each got.
 */
const scenario = (
  register: (
    ctx: { readonly a: Context.Context<any>; readonly b: Context.Context<any>; readonly c?: Context.Context<any> }
  ) => Effect.Effect<{ readonly mine: T.Pid; readonly his: T.Pid }, never, never>,
  withC = false
) =>
  Effect.gen(function*() {
    const cluster = yield* MemoryCluster.make(withC ? ["a", "b", "c"] : ["a", "b"])
    const on = (name: string) => globalOn(cluster, name)
    const a = yield* on("a")
    const b = yield* on("b")
    const c = withC ? yield* on("c") : undefined
    const [an, bn] = [cluster.node("a").name, cluster.node("b").name]
    if (c !== undefined) {
      yield* NetKernel.connect(an).pipe(Effect.provide(c))
      yield* withTime(GlobalRegistry.sync.pipe(Effect.provide(c)))
      yield* withTime(GlobalRegistry.sync.pipe(Effect.provide(a)))
    }
    const { his, mine } = yield* register(c === undefined ? { a, b } : { a, b, c })
    yield* NetKernel.connect(bn).pipe(Effect.provide(a))
    for (const ctx of [a, b, ...(c === undefined ? [] : [c])]) {
      yield* withTime(GlobalRegistry.sync.pipe(Effect.provide(ctx)))
    }
    return { a, b, c, mine, his }
  })

/** A process that keeps the first message it gets in `got` and then waits. */
const recorder = (got: Deferred.Deferred<T.Term>) =>
  Process.spawn(Effect.gen(function*() {
    yield* Deferred.succeed(got, (yield* Process.receive()) as T.Term)
    yield* Process.receive()
  }))

describe("resolve methods (MemoryCluster, TestClock)", () => {
  it.scoped("randomNotifyName: the pid on the smaller node keeps the name, the other gets {global_name_conflict, dup}", () =>
    Effect.gen(function*() {
      const gotA = yield* Deferred.make<T.Term>()
      const gotB = yield* Deferred.make<T.Term>()
      const { a, b, his, mine } = yield* scenario(({ a, b }) =>
        Effect.gen(function*() {
          const mine = yield* recorder(gotA).pipe(Effect.provide(a))
          const his = yield* recorder(gotB).pipe(Effect.provide(b))
          yield* registerDup(a, mine, "randomNotifyName")
          yield* registerDup(b, his)
          return { mine, his }
        }) as Effect.Effect<{ mine: T.Pid; his: T.Pid }>
      )
      expect(yield* Deferred.await(gotB)).toEqual(T.tuple(T.atom("global_name_conflict"), T.atom("dup")))
      for (const ctx of [a, b]) {
        expect(yield* GlobalRegistry.whereisName("dup").pipe(Effect.provide(ctx))).toEqual(Option.some(mine))
      }
      expect(Option.isNone(yield* Deferred.poll(gotA))).toBe(true)
      expect(yield* Process.isAlive(his).pipe(Effect.provide(b))).toBe(true)
    }))

  it.scoped("notifyAllName: nobody keeps the name, both get {global_name_conflict, dup, OtherPid}", () =>
    Effect.gen(function*() {
      const gotA = yield* Deferred.make<T.Term>()
      const gotB = yield* Deferred.make<T.Term>()
      const { a, b, his, mine } = yield* scenario(({ a, b }) =>
        Effect.gen(function*() {
          const mine = yield* recorder(gotA).pipe(Effect.provide(a))
          const his = yield* recorder(gotB).pipe(Effect.provide(b))
          yield* registerDup(a, mine, "notifyAllName")
          yield* registerDup(b, his, "notifyAllName")
          return { mine, his }
        }) as Effect.Effect<{ mine: T.Pid; his: T.Pid }>
      )
      const conflict = T.atom("global_name_conflict")
      expect(yield* Deferred.await(gotA)).toEqual(T.tuple(conflict, T.atom("dup"), his))
      expect(yield* Deferred.await(gotB)).toEqual(T.tuple(conflict, T.atom("dup"), mine))
      for (const ctx of [a, b]) {
        expect(yield* GlobalRegistry.whereisName("dup").pipe(Effect.provide(ctx))).toEqual(Option.none())
      }
    }))

  it.scoped("a TS function: the pid it returns keeps the name, nothing is killed", () =>
    Effect.gen(function*() {
      const calls: Array<ReadonlyArray<T.Term>> = []
      const { a, b, his, mine } = yield* scenario(({ a, b }) =>
        Effect.gen(function*() {
          const mine = yield* Process.spawn(Process.receive()).pipe(Effect.provide(a))
          const his = yield* Process.spawn(Process.receive()).pipe(Effect.provide(b))
          // keep the pid on the larger node (the default would kill it)
          const keepLarger: GlobalRegistry.ResolveFn = (name, p1, p2) =>
            Effect.sync(() => {
              calls.push([name, p1, p2])
              return Option.some(T.compare(p1.node, p2.node) > 0 ? p1 : p2)
            })
          yield* registerDup(a, mine, keepLarger)
          yield* registerDup(b, his)
          return { mine, his }
        }) as Effect.Effect<{ mine: T.Pid; his: T.Pid }>
      )
      // resolve_it(Method2, Name, HisPid, Pid2): called once, on a, with b's pid first
      expect(calls).toEqual([[T.atom("dup"), his, mine]])
      for (const ctx of [a, b]) {
        expect(yield* GlobalRegistry.whereisName("dup").pipe(Effect.provide(ctx))).toEqual(Option.some(his))
      }
      expect(yield* Process.isAlive(mine).pipe(Effect.provide(a))).toBe(true)
      expect(yield* Process.isAlive(his).pipe(Effect.provide(b))).toBe(true)
    }))

  it.scoped("a TS function registered on c, for c's pid: a, resolving, calls it on c through rpc", () =>
    Effect.gen(function*() {
      const ranOn: Array<string> = []
      const { a, b, c, his, mine } = yield* scenario(({ b, c }) =>
        Effect.gen(function*() {
          const mine = yield* Process.spawn(Process.receive()).pipe(Effect.provide(c!))
          const his = yield* Process.spawn(Process.receive()).pipe(Effect.provide(b))
          const keepOnC: GlobalRegistry.ResolveFn = (_name, p1, p2) =>
            Effect.gen(function*() {
              ranOn.push((yield* NetKernel.node).name)
              const [keep, lose] = p1.node === mine.node ? [p1, p2] : [p2, p1]
              yield* Process.exit(lose, T.atom("kill"))
              return Option.some(keep)
            }).pipe(Effect.provide(c!)) as Effect.Effect<Option.Option<T.Pid>>
          yield* registerDup(c!, mine, keepOnC)
          yield* registerDup(b, his)
          return { mine, his }
        }) as Effect.Effect<{ mine: T.Pid; his: T.Pid }>, true)
      yield* withTime(waitExit(his).pipe(Effect.provide(b)))
      expect(ranOn).toEqual([mine.node.name])
      for (const ctx of [a, b, c!]) {
        expect(yield* GlobalRegistry.whereisName("dup").pipe(Effect.provide(ctx))).toEqual(Option.some(mine))
      }
    }))
})
