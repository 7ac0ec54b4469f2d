/**
 * The hacks on effect's private shape (src/internal/effectInternals.ts): this file fails
 * loudly when effect changes shape (a fast path silently falling back would only show
 * as a slowdown), and runs every fallback, alone and under a whole process workload.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as RuntimeFlagsPatch from "effect/RuntimeFlagsPatch"
import { vi } from "vitest"
import * as internals from "../src/internal/effectInternals.js"

class Svc extends Context.Tag("test/EffectInternals/Svc")<Svc, { readonly n: number }>() {}

describe("effectInternals", () => {
  it("effect has the private shape every fast path relies on (if this fails, effect changed: see effectInternals.ts)", () => {
    expect(internals.shapes).toEqual({
      contextUnsafeMap: true,
      fiberRefsLocals: true,
      asyncOp: true,
      clockScheduler: true,
      currentFiberSlot: true,
      successProto: true,
      syncOp: true,
      maxOpsByRefs: true,
      chargeOps: true,
      ownedFiber: true,
      eagerSyncOp: true
    })
  })

  it("isSuccessExit: success exits only, by prototype and by the public test", () => {
    const yes = [Effect.succeed(1), Effect.void, Exit.succeed("x")]
    const no = [Effect.fail(1), Effect.die(1), Exit.fail(1), Effect.sync(() => 1), Effect.never, 1, null, undefined, {}]
    for (const u of yes) expect([internals.isSuccessExit(u), internals.isSuccessExitByApi(u)]).toEqual([true, true])
    for (const u of no) expect([internals.isSuccessExit(u), internals.isSuccessExitByApi(u)]).toEqual([false, false])
  })

  it.effect("currentFiber: the running fiber, through the slot and through the fallback; none outside", () =>
    Effect.gen(function*() {
      const me = yield* Effect.withFiberRuntime((fiber) => Effect.succeed(fiber))
      const seen = yield* Effect.sync(() => [internals.currentFiberBySlot(), internals.currentFiberByApi()])
      expect(seen).toEqual([me, me])
      const child = yield* Effect.fork(Effect.sync(() => internals.currentFiber()))
      expect(yield* Fiber.join(child)).toBe(child)
    }))

  it("contextGet finds a service, or undefined, through the map and through the fallback", () => {
    const ctx = Context.make(Svc, { n: 1 }) as Context.Context<never>
    for (const get of [internals.contextGetWith(true), internals.contextGetWith(false)]) {
      expect(get(ctx, Svc)?.n).toBe(1)
      expect(get(Context.empty() as Context.Context<never>, Svc)).toBeUndefined()
    }
  })

  it.effect("sameRefs: copies of unchanged FiberRefs are the same (locals); identity is the safe fallback", () =>
    Effect.gen(function*() {
      const a = yield* Effect.getFiberRefs
      const b = yield* Effect.getFiberRefs
      expect(a).not.toBe(b)
      expect(internals.sameRefsByLocals(a, b)).toBe(true)
      expect(internals.sameRefsByIdentity(a, b)).toBe(false)
      expect(internals.sameRefsByIdentity(a, a)).toBe(true)
      const c = yield* Effect.locally(Effect.getFiberRefs, FiberRef.currentLogLevel, LogLevel.Debug)
      expect(internals.sameRefsByLocals(a, c)).toBe(false)
    }))

  for (const mode of ["fast", "fallback"] as const) {
    it.effect(`makeFixedAsync (${mode}): one op suspends many fibers, each resumed with its own effect`, () =>
      Effect.gen(function*() {
        const resumes = new Map<number, (e: Effect.Effect<number>) => void>()
        const op = internals.makeFixedAsync<number>((resume) => {
          const id = Option.getOrThrow(Fiber.getCurrentFiber()).id().id
          resumes.set(id, resume)
        }, mode === "fallback" ? "fallback" : undefined)
        const waiting = (k: number) => Effect.map(op, (n) => n + k)
        const f1 = yield* Effect.fork(waiting(10))
        const f2 = yield* Effect.fork(waiting(20))
        yield* Effect.yieldNow()
        yield* Effect.yieldNow()
        expect(resumes.size).toBe(2)
        const [r1, r2] = [resumes.get(f1.id().id)!, resumes.get(f2.id().id)!]
        r2(Effect.succeed(2))
        r1(Effect.succeed(1))
        expect(yield* Fiber.join(f1)).toBe(11)
        expect(yield* Fiber.join(f2)).toBe(22)
        if (mode === "fast") expect(internals.fixedAsyncOp(() => {})).toBeDefined()
      }))
  }

  for (const mode of ["fast", "fallback"] as const) {
    it.effect(`makeSync2 (${mode}): each Effect runs f with its own arguments, each time it runs, never when built`, () =>
      Effect.gen(function*() {
        const calls: Array<readonly [string, number]> = []
        const step = internals.makeSync2((a: string, b: number) => {
          calls.push([a, b])
          return `${a}${b}`
        }, mode === "fallback" ? "fallback" : undefined)
        const x = step("x", 1)
        const y = step("y", 2)
        expect(calls).toEqual([])
        expect(yield* x).toBe("x1")
        expect(yield* Effect.map(y, (s) => s + "!")).toBe("y2!")
        expect(yield* x).toBe("x1")
        expect(calls).toEqual([["x", 1], ["y", 2], ["x", 1]])
        // a throwing body is a defect, as with Effect.sync
        const boom = internals.makeSync2((_a: number, _b: number): number => {
          throw new Error("boom")
        }, mode === "fallback" ? "fallback" : undefined)
        const exit = yield* Effect.exit(boom(1, 2))
        expect(Exit.isFailure(exit) && exit.cause._tag === "Die").toBe(true)
        if (mode === "fast") expect(internals.syncOp2((a: number, b: number) => a + b)).toBeDefined()
      }))
  }

  for (const mode of ["fast", "fallback"] as const) {
    const force = mode === "fallback" ? "fallback" as const : undefined
    it.effect(`makeEagerSync2 (${mode}): runs f with its arguments each time it runs or is yielded, never when built; a throw is a defect`, () =>
      Effect.gen(function*() {
        const calls: Array<readonly [string, number]> = []
        const step = internals.makeEagerSync2((a: string, b: number) => {
          calls.push([a, b])
        }, force)
        const x = step("x", 1)
        const y = step("y", 2)
        expect(calls).toEqual([])
        expect(Effect.isEffect(x)).toBe(true)
        expect((x as unknown as { toJSON(): unknown }).toJSON()).toMatchObject({ _id: "Effect", _op: "Sync" })
        yield* x
        yield* Effect.map(y, () => 0)
        yield* x
        yield* Effect.zipRight(Effect.void, y)
        expect(calls).toEqual([["x", 1], ["y", 2], ["x", 1], ["y", 2]])
        // in a fiber (the fast path): at once, one op counted, nothing to yield
        const [ran, charged, done] = yield* Effect.withFiberRuntime<readonly [number, number, boolean]>((fiber) =>
          Effect.sync(() => {
            const before = fiber.currentOpCount
            const i = step("w", 4)[Symbol.iterator]()
            return [calls.length, fiber.currentOpCount - before, i.next().done === true] as const
          })
        )
        expect([ran, charged, done]).toEqual(mode === "fast" ? [5, 1, true] : [4, 0, false])
        // a throwing body is a defect, yielded or not; the generator does not go on
        const boom = internals.makeEagerSync2((_a: number, _b: number): void => {
          throw new Error("boom")
        }, force)
        let after = false
        const exit = yield* Effect.exit(Effect.gen(function*() {
          yield* boom(1, 2)
          after = true
        }))
        expect(Exit.isFailure(exit) && exit.cause._tag === "Die").toBe(after === false)
        const exit2 = yield* Effect.exit(Effect.asVoid(boom(1, 2)))
        expect(Exit.isFailure(exit2) && exit2.cause._tag === "Die").toBe(true)
      }))
  }

  for (const mode of ["fast", "fallback"] as const) {
    const force = mode === "fallback" ? "fallback" as const : undefined
    it.effect(`makeEagerSync2 (${mode}): a step's result is the value of its yield*, of its Effect, and of each run`, () =>
      Effect.gen(function*() {
        let n = 0
        const step = internals.makeEagerSync2((a: string, b: number) => `${a}${b}:${++n}`, force)
        const nothing = internals.makeEagerSync2((_a: number, _b: number): string | undefined => undefined, force)
        expect(yield* step("a", 1)).toBe("a1:1")
        expect(yield* Effect.map(step("b", 2), (s) => s.toUpperCase())).toBe("B2:2")
        const c = step("c", 3)
        expect([yield* c, yield* c]).toEqual(["c3:3", "c3:4"])
        expect(yield* nothing(1, 2)).toBeUndefined()
        // in a fiber (the fast path): the iterator is done at once, with the value
        const first = yield* Effect.withFiberRuntime<IteratorResult<unknown>>(() =>
          Effect.sync(() => step("d", 4)[Symbol.iterator]().next())
        )
        expect(first).toEqual(
          mode === "fast" ? { done: true, value: "d4:5" } : { done: false, value: expect.anything() }
        )
      }))
  }

  it.effect("makeEagerSync2: a fiber yielding it in a loop lets others run at the very steps the plain op does", () =>
    Effect.gen(function*() {
      const initial = yield* FiberRef.get(FiberRef.currentMaxOpsBeforeYield)
      const turnsWith = (force: "fallback" | undefined) =>
        Effect.gen(function*() {
          let steps = 0
          const step = internals.makeEagerSync2((_a: number, _b: number) => {
            steps++
          }, force)
          const turns: Array<number> = []
          const other = yield* Effect.fork(
            Effect.forever(Effect.zipRight(Effect.sync(() => turns.push(steps)), Effect.yieldNow()))
          )
          yield* Effect.yieldNow()
          for (let i = 0; i < initial * 5; i++) yield* step(i, 0)
          yield* Fiber.interrupt(other)
          // the other fiber's turns during the loop
          return turns.filter((s) => s > 0 && s < initial * 5)
        })
      const eager = yield* turnsWith(undefined)
      const plain = yield* turnsWith("fallback")
      // it yields at the very same steps as the plain op
      expect(eager.length).toBeGreaterThanOrEqual(2)
      expect(eager).toEqual(plain)
    }))

  it.effect("makeEagerSync2: an interruption that comes during a step stops the fiber before the next one", () =>
    Effect.gen(function*() {
      let steps = 0
      const step = internals.makeEagerSync2((fiber: Fiber.RuntimeFiber<unknown, unknown>, n: number) => {
        if (++steps === n) fiber.unsafeInterruptAsFork(fiber.id())
      })
      const f = yield* Effect.fork(Effect.gen(function*() {
        const me = yield* Effect.withFiberRuntime<Fiber.RuntimeFiber<unknown, unknown>>((fiber) =>
          Effect.succeed(fiber)
        )
        for (let i = 0; i < 1000; i++) yield* step(me, 10)
      }))
      const exit = yield* Fiber.await(f)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(steps).toBe(10)
    }))

  it.effect("makeEagerSync2: with op supervision on, a yielded step is a run-loop step", () =>
    Effect.gen(function*() {
      let steps = 0
      const step = internals.makeEagerSync2((_a: number, _b: number) => {
        steps++
      })
      const atOnce = yield* Effect.withRuntimeFlagsPatch(
        Effect.withFiberRuntime<boolean>(() =>
          Effect.sync(() => {
            step(1, 2)[Symbol.iterator]()
            return steps === 1
          })
        ),
        RuntimeFlagsPatch.enable(RuntimeFlags.OpSupervision)
      )
      expect(atOnce).toBe(false)
      expect(steps).toBe(0)
    }))

  it.effect("maxOpsOf: the fiber's currentMaxOpsBeforeYield, also after it changes (by refs and by the API)", () =>
    Effect.gen(function*() {
      const read = Effect.withFiberRuntime((fiber) =>
        Effect.succeed([internals.maxOpsByRefs(fiber), internals.maxOpsByApi(fiber), internals.maxOpsOf(fiber)])
      )
      const initial = yield* FiberRef.get(FiberRef.currentMaxOpsBeforeYield)
      expect(yield* read).toEqual([initial, initial, initial])
      expect(yield* Effect.locally(read, FiberRef.currentMaxOpsBeforeYield, 5000)).toEqual([5000, 5000, 5000])
      expect(yield* read).toEqual([initial, initial, initial])
      yield* FiberRef.set(FiberRef.currentMaxOpsBeforeYield, 3000)
      expect(yield* read).toEqual([3000, 3000, 3000])
      // another fiber with other FiberRefs in between
      const other = yield* Effect.fork(Effect.locally(read, FiberRef.currentMaxOpsBeforeYield, 7000))
      expect(yield* Fiber.join(other)).toEqual([7000, 7000, 7000])
      expect(yield* read).toEqual([3000, 3000, 3000])
    }))

  it.effect("chargeOps: the running fiber's op count grows by n (a fiber yields sooner)", () =>
    Effect.gen(function*() {
      const [before, after] = yield* Effect.withFiberRuntime<readonly [number, number]>((fiber) => {
        const before = fiber.currentOpCount
        internals.chargeOps(fiber, 100)
        return Effect.succeed([before, fiber.currentOpCount] as const)
      })
      expect(after).toBe(before + 100)
      // charged past the limit: the fiber yields at its next step, and runs on after
      const initial = yield* FiberRef.get(FiberRef.currentMaxOpsBeforeYield)
      let other = 0
      yield* Effect.fork(Effect.sync(() => other++))
      yield* Effect.withFiberRuntime((fiber) => {
        internals.chargeOps(fiber, initial)
        return Effect.void
      })
      yield* Effect.sync(() => expect(other).toBe(1))
    }))

  it.effect("clockScheduler: the live clock's scheduler (fast); undefined with the fallback", () =>
    Effect.gen(function*() {
      const live = Clock.make()
      expect(yield* internals.clockScheduler(live)).toBe(internals.liveScheduler)
      expect(yield* internals.clockSchedulerWith(false)(live)).toBeUndefined()
      expect(internals.isLiveClock(live)).toBe(true)
      // the TestClock (the `it.effect` default) has no live timers
      expect(internals.isLiveClock(yield* Effect.clock)).toBe(false)
    }))

  it.effect("forkOwned: the fiber runs with the context and FiberRefs given, its owner is told its exit (both paths)", () =>
    Effect.gen(function*() {
      const refs = yield* Effect.getFiberRefs
      for (const force of [undefined, "fallback"] as const) {
        const told: Array<readonly [string, Exit.Exit<unknown, unknown>]> = []
        const fork = internals.forkOwnedWith<string>((owner, exit) => told.push([owner, exit]), force)
        const ctx = Context.make(Svc, { n: 41 }) as Context.Context<never>
        const ok = fork("a", ctx, refs, Runtime.defaultRuntimeFlags, Effect.map(Svc, (s) => s.n + 1))
        expect(ok.unsafePoll()).toBeNull() // not started at once (as runFork's `immediate: false`)
        expect(yield* Fiber.await(ok)).toEqual(Exit.succeed(42))
        const bad = fork("b", ctx, refs, Runtime.defaultRuntimeFlags, Effect.fail("boom"))
        expect(yield* Fiber.await(bad)).toEqual(Exit.fail("boom"))
        const stuck = fork("c", ctx, refs, Runtime.defaultRuntimeFlags, Effect.never)
        yield* Effect.yieldNow()
        yield* Fiber.interrupt(stuck)
        // the owner hears of each exit once, by the time an awaiter has
        yield* Effect.yieldNow()
        expect(told.map(([o, e]) => [o, e._tag])).toEqual([["a", "Success"], ["b", "Failure"], ["c", "Failure"]])
        expect(Exit.isInterrupted(told[2]![1])).toBe(true)
      }
    }))

  it("the process runtime works with every fallback forced (EFFECT_OTP_EFFECT_INTERNALS=off)", async () => {
    vi.stubEnv("EFFECT_OTP_EFFECT_INTERNALS", "off")
    vi.resetModules()
    try {
      const fresh = await import("../src/internal/effectInternals.js")
      expect(fresh.shapes).toEqual({
        contextUnsafeMap: false,
        fiberRefsLocals: false,
        asyncOp: false,
        clockScheduler: false,
        currentFiberSlot: false,
        successProto: false,
        syncOp: false,
        maxOpsByRefs: false,
        chargeOps: false,
        ownedFiber: false,
        eagerSyncOp: false
      })
      expect(fresh.isLiveClock(Clock.make())).toBe(false)
      const Process = await import("../src/Process.js")
      const ProcessRuntime = await import("../src/ProcessRuntime.js")
      const Term = await import("../src/Term.js")
      // spawn loop (processRefs), receive that parks (park), timed receive (no clock
      // scheduler: a race with a sleep), links and exit signals, context reads throughout
      const result = await Effect.runPromise(
        Process.run(Effect.gen(function*() {
          const me = yield* Process.self
          const pids = []
          for (let i = 0; i < 20; i++) {
            pids.push(
              yield* Process.spawn(Effect.gen(function*() {
                const m = yield* Process.receive()
                yield* Process.send(me, Term.tuple(Term.atom("echo"), m as number))
              }))
            )
          }
          for (const [i, pid] of pids.entries()) yield* Process.send(pid, i)
          let sum = 0
          for (let i = 0; i < pids.length; i++) {
            const m = (yield* Process.receive()) as InstanceType<typeof Term.Tuple>
            sum += m.elements[1] as number
          }
          const timedOut = yield* Process.receive(() => true, { after: "10 millis" })
          yield* Process.trapExit(true)
          const child = yield* Process.spawnLink(Process.exit(Term.atom("boom")))
          const exit = yield* Process.receive(Process.isExitMessage)
          return { sum, timedOut: Option.isNone(timedOut), exit: exit.elements, child }
        })).pipe(Effect.provide(ProcessRuntime.layer))
      )
      expect(result.sum).toBe(190)
      expect(result.timedOut).toBe(true)
      expect(result.exit[1]).toEqual(result.child)
      expect(result.exit[2]).toBe(Term.atom("boom"))
    } finally {
      vi.unstubAllEnvs()
      vi.resetModules()
    }
  })
})
