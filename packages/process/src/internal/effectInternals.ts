/**
 * Every place where the process machinery relies on effect's private shape, in one room.
 *
 * Each hack reads or builds something effect does not export, for speed only: each has
 * a plain-API fallback that is correct (slower), chosen once at load time when the shape
 * is not what we expect. `shapes` says which fast paths are in use; the test of this
 * module (test/EffectInternals.test.ts) fails loudly when effect changes shape (a fast
 * path falls back) and runs every fallback.
 *
 * - `contextGet`: reads a service by its key from `Context.unsafeMap` (one `Map` lookup;
 *   `Context.unsafeGet` does two), falling back to `Context.getOption`.
 * - `sameRefs`: compares two `FiberRefs` through their private `locals` map (an unchanged
 *   FiberRef keeps its stack), falling back to identity.
 * - `makeFixedAsync`: effect's private `Async` primitive with a fixed register function,
 *   reusable by every fiber (nothing allocated to suspend), falling back to `Effect.async`.
 * - `clockScheduler` / `liveScheduler`: a clock's private timer scheduler (the live clock's
 *   `setTimeout`), falling back to `undefined` (callers then sleep on a fiber).
 * - `isSuccessExit`: a success `Exit` recognised by its prototype (that of `Effect.succeed`'s
 *   values), falling back to `Exit.isExit` + `Exit.isSuccess` for anything else.
 * - `currentFiber`: the fiber running now, read from the global slot effect keeps it in
 *   (no `Option` per read), falling back to `Fiber.getCurrentFiber`.
 * - `makeSync2`: effect's private `Sync` primitive carrying its two arguments in the op's
 *   unused slots, with one shared thunk (one object per Effect instead of an op, a closure
 *   and its context), falling back to `Effect.sync`.
 * - `maxOpsOf`: a fiber's `currentMaxOpsBeforeYield`, remembered for the fiber's private
 *   FiberRefs object (replaced whenever a FiberRef changes), falling back to a read per call.
 * - `chargeOps`: adds to the op count of a fiber's time slice (a plain field behind the
 *   public getter), falling back to nothing (the fiber then yields later).
 * - `forkOwnedWith`: a fiber of effect's private `FiberRuntime` class (found on a fiber's
 *   prototype), built and started as `Runtime.runFork(…, { immediate: false })` does, but
 *   not added to the global roots set (`Fiber.roots`, whose entry and observer closure a
 *   process's fiber does not need: the process table owns it): about 100 bytes less per
 *   waiting process. Not a subclass (one that told its owner its exit would also save the
 *   observer closure, another 100 bytes): the run loop then sees two hidden classes of
 *   fiber, and a local gen_server call measured 8% slower. Falls back to `Runtime.runFork`.
 *
 * - `makeEagerSync2`: an Effect that is effect's `Sync` primitive for the run loop (its
 *   prototype sits above the primitive's), and whose `[Symbol.iterator]` does the step's
 *   work at once when a generator on a fiber `yield*`s it and the fiber's run loop would run
 *   it as its next step (reading the fiber's private `_queue`, `currentRuntimeFlags` and
 *   `currentOpCount`, and counting the op there): no run-loop step per `yield*`. Falls back
 *   to `makeSync2` (a run-loop step each time).
 *
 * `EFFECT_OTP_EFFECT_INTERNALS=off` in the environment forces every fallback (to rule
 * these hacks out when something misbehaves after an effect upgrade).
 * @internal
 */
import * as ClockImpl from "effect/Clock"
import type * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as Supervisor from "effect/Supervisor"

/** every fallback forced (see the module doc) */
const forced = typeof process !== "undefined" && process.env?.["EFFECT_OTP_EFFECT_INTERNALS"] === "off"

// --- Context ------------------------------------------------------------------

/** @internal */
export const contextGetWith = (
  useMap: boolean
): <S>(ctx: Context.Context<never>, tag: Context.Tag<any, S>) => S | undefined =>
  useMap
    ? (ctx, tag) => ctx.unsafeMap.get(tag.key)
    : (ctx, tag) => Option.getOrUndefined(Context.getOption(ctx as Context.Context<any>, tag))

const contextShapeOk = !forced && ((): boolean => {
  const T = Context.GenericTag<{ readonly probe: true }>("@effect-otp/process/internal/effectInternals/probe")
  const value = { probe: true } as const
  const ctx = Context.make(T, value) as Context.Context<never>
  return ctx.unsafeMap instanceof Map && ctx.unsafeMap.get(T.key) === value
})()

/**
 * The service of `tag` in `ctx`, or `undefined` when it is absent.
 * @internal
 */
export const contextGet: <S>(ctx: Context.Context<never>, tag: Context.Tag<any, S>) => S | undefined = contextGetWith(
  contextShapeOk
)

// --- FiberRefs ----------------------------------------------------------------

const localsOf = (refs: FiberRefs.FiberRefs): unknown => (refs as unknown as { readonly locals?: unknown }).locals

/** `sameRefs` through the private `locals` maps. @internal */
export const sameRefsByLocals = (a: FiberRefs.FiberRefs, b: FiberRefs.FiberRefs): boolean => {
  if (a === b) return true
  const la = localsOf(a)
  const lb = localsOf(b)
  if (!(la instanceof Map) || !(lb instanceof Map) || la.size !== lb.size) return false
  for (const [ref, stack] of la) {
    if (lb.get(ref) !== stack) return false
  }
  return true
}

/** `sameRefs` with the public API only: only the same object counts. @internal */
export const sameRefsByIdentity = (a: FiberRefs.FiberRefs, b: FiberRefs.FiberRefs): boolean => a === b

const fiberRefsShapeOk = !forced && ((): boolean => {
  const refs = FiberRefs.unsafeMake(new Map([[FiberRef.currentLogLevel, [[FiberId.make(0, 0) as FiberId.Single, 1]]]]))
  const locals = localsOf(refs)
  if (!(locals instanceof Map) || locals.size !== 1 || !locals.has(FiberRef.currentLogLevel)) return false
  // an unchanged FiberRef keeps its stack in a copy; a changed one does not
  const copy = FiberRefs.updateAs(refs, {
    fiberId: FiberId.make(1, 0) as FiberId.Single,
    fiberRef: FiberRef.currentLogSpan,
    value: FiberRefs.getOrDefault(refs, FiberRef.currentLogSpan)
  })
  const changed = FiberRefs.updateAs(refs, {
    fiberId: FiberId.make(1, 0) as FiberId.Single,
    fiberRef: FiberRef.currentLogLevel,
    value: 2 as never
  })
  const lc = localsOf(copy)
  return lc instanceof Map && lc.get(FiberRef.currentLogLevel) === locals.get(FiberRef.currentLogLevel) &&
    !sameRefsByLocals(refs, changed)
})()

/**
 * Whether two FiberRefs hold the same values: `getFiberRefs()` copies the map on every
 * call, but an unchanged FiberRef keeps its stack. `false` only costs a recomputation.
 * @internal
 */
export const sameRefs: (a: FiberRefs.FiberRefs, b: FiberRefs.FiberRefs) => boolean = fiberRefsShapeOk
  ? sameRefsByLocals
  : sameRefsByIdentity

// --- Async --------------------------------------------------------------------

/**
 * One suspension op for a fixed register function: `Effect.async` allocates a proxy
 * callback, an op and a closure each time it runs; effect's own `Async` primitive with a
 * fixed register function does not, so one op serves every fiber (the register function
 * finds its fiber's state through `Fiber.getCurrentFiber`). `undefined` when the
 * primitive does not have the expected shape.
 * @internal
 */
export const fixedAsyncOp = <A>(
  register: (resume: (effect: Effect.Effect<A>) => void) => void
): Effect.Effect<A> | undefined => {
  const probe = (Effect.async<unknown>((_resume) => {}) as unknown as { commit?: () => unknown }).commit?.() as
    | { _op?: unknown; constructor: new(op: string) => Record<string, unknown> }
    | undefined
  if (probe === undefined || probe._op !== "Async" || typeof probe.constructor !== "function") return undefined
  const op = new probe.constructor("Async")
  if (
    op._op !== "Async" || !Effect.isEffect(op) || !("effect_instruction_i0" in op) || !("effect_instruction_i1" in op)
  ) {
    return undefined
  }
  op.effect_instruction_i0 = register
  op.effect_instruction_i1 = FiberId.none
  return op as unknown as Effect.Effect<A>
}

/**
 * A reusable suspension for `register` (see `fixedAsyncOp`), or `Effect.async(register)`.
 * `force: "fallback"` takes the fallback (for its test).
 * @internal
 */
export const makeFixedAsync = <A>(
  register: (resume: (effect: Effect.Effect<A>) => void) => void,
  force?: "fallback"
): Effect.Effect<A> =>
  (force === undefined && !forced ? fixedAsyncOp(register) : undefined) ?? Effect.async<A>(register)

// --- Sync ---------------------------------------------------------------------

/** `makeSync2` through the `Sync` primitive (see `makeSync2`); `undefined` if it has another shape. */
export const syncOp2 = <A, B, R>(f: (a: A, b: B) => R): ((a: A, b: B) => Effect.Effect<R>) | undefined => {
  const probe = Effect.sync(() => 0) as unknown as
    | { _op?: unknown; constructor: new(op: string) => Record<string, unknown> }
    | undefined
  if (probe === undefined || probe._op !== "Sync" || typeof probe.constructor !== "function") return undefined
  const Op = probe.constructor
  const fresh = new Op("Sync")
  if (
    fresh._op !== "Sync" || !Effect.isEffect(fresh) || !("effect_instruction_i0" in fresh) ||
    fresh.effect_instruction_i1 !== undefined || fresh.effect_instruction_i2 !== undefined
  ) {
    return undefined
  }
  // the run loop calls `op.effect_instruction_i0()`: the op is the thunk's `this`
  function thunk(this: Record<string, unknown>): R {
    return f(this.effect_instruction_i1 as A, this.effect_instruction_i2 as B)
  }
  return (a, b) => {
    const op = new Op("Sync")
    op.effect_instruction_i0 = thunk
    op.effect_instruction_i1 = a
    op.effect_instruction_i2 = b
    return op as unknown as Effect.Effect<R>
  }
}

const syncShapeOk = !forced && ((): boolean => {
  const make = syncOp2((a: number, b: number) => a * 10 + b)
  if (make === undefined) return false
  try {
    return Effect.runSync(make(4, 2)) === 42 && Effect.runSync(Effect.map(make(1, 3), (n) => n + 1)) === 14
  } catch {
    return false
  }
})()

/**
 * `(a, b) => Effect.sync(() => f(a, b))` with nothing allocated per Effect but the Effect
 * itself (see the module doc). `force: "fallback"` takes the fallback (for its test).
 * @internal
 */
export const makeSync2 = <A, B, R>(
  f: (a: A, b: B) => R,
  force?: "fallback"
): (a: A, b: B) => Effect.Effect<R> =>
  (force === undefined && syncShapeOk ? syncOp2(f) : undefined) ?? ((a, b) => Effect.sync(() => f(a, b)))

// --- Clock --------------------------------------------------------------------

/** A clock's private scheduler getter (effect's live `Clock` has one), if any. @internal */
export const clockSchedulerWith =
  (useScheduler: boolean) => (clock: Clock.Clock): Effect.Effect<Clock.ClockScheduler | undefined> => {
    const get = useScheduler ? (clock as unknown as { readonly scheduler?: unknown }).scheduler : undefined
    return typeof get === "function"
      ? (get.call(clock) as Effect.Effect<Clock.ClockScheduler>)
      : Effect.succeed(undefined)
  }

/**
 * The live clock's scheduler (effect's default `Clock`: `setTimeout`), to recognise it;
 * `undefined` when the live clock has no scheduler of the expected shape.
 * @internal
 */
export const liveScheduler: Clock.ClockScheduler | undefined = forced ? undefined : (() => {
  const scheduler = Effect.runSync(clockSchedulerWith(true)(ClockImpl.make()))
  return scheduler !== undefined && typeof scheduler.unsafeSchedule === "function" ? scheduler : undefined
})()

/**
 * The clock's own timer scheduler, when it has one (effect's live `Clock`: a `setTimeout`
 * per timer, no fiber); `undefined` for others (the `TestClock`: callers sleep on a fiber).
 * @internal
 */
export const clockScheduler: (clock: Clock.Clock) => Effect.Effect<Clock.ClockScheduler | undefined> =
  clockSchedulerWith(liveScheduler !== undefined)

const liveClocks = new WeakMap<Clock.Clock, boolean>()

/**
 * Whether `clock`'s timers are the live clock's own (`setTimeout`: see `Mailbox.waitTimed`),
 * found once per clock (its scheduler getter is an `Exit` on the live clock).
 * @internal
 */
export const isLiveClock = (clock: Clock.Clock): boolean => {
  let live = liveClocks.get(clock)
  if (live === undefined) {
    const get = liveScheduler === undefined
      ? undefined
      : (clock as unknown as { readonly scheduler?: unknown }).scheduler
    const s = typeof get === "function" ? get.call(clock) as Effect.Effect<Clock.ClockScheduler> : undefined
    live = s !== undefined && Exit.isExit(s) && Exit.isSuccess(s) && s.value === liveScheduler
    liveClocks.set(clock, live)
  }
  return live
}

// --- Success exits ----------------------------------------------------------------

/** the prototype of `Effect.succeed`'s values, when no other kind of Effect shares it */
const successProto: object | undefined = forced ? undefined : (() => {
  const proto = Object.getPrototypeOf(Effect.succeed(0))
  const others = [Effect.fail(0), Effect.die(0), Effect.sync(() => 0), Effect.suspend(() => Effect.void)]
  const ok = Exit.isExit(Effect.succeed(0)) && Object.getPrototypeOf(Effect.void) === proto &&
    others.every((e) => Object.getPrototypeOf(e) !== proto)
  return ok ? proto : undefined
})()

/** `isSuccessExit` with the public API only. @internal */
export const isSuccessExitByApi = (u: unknown): u is Exit.Success<unknown, unknown> =>
  Exit.isExit(u) && Exit.isSuccess(u)

/**
 * Whether `u` is a success `Exit` (`Effect.succeed(…)`, `Effect.void`): one prototype
 * check for those (the usual result of a handler), the public test for anything else.
 * @internal
 */
export const isSuccessExit = (u: unknown): u is Exit.Success<unknown, unknown> =>
  u === Effect.void ||
  (successProto !== undefined && typeof u === "object" && u !== null && Object.getPrototypeOf(u) === successProto) ||
  isSuccessExitByApi(u)

// --- Current fiber --------------------------------------------------------------

/** where effect keeps the fiber that is running (`Fiber.getCurrentFiber` reads it) */
const currentFiberSlot = "effect/FiberCurrent"

/** `currentFiber` through the global slot. @internal */
export const currentFiberBySlot = (): Fiber.RuntimeFiber<unknown, unknown> | undefined =>
  (globalThis as Record<string, unknown>)[currentFiberSlot] as Fiber.RuntimeFiber<unknown, unknown> | undefined

/** `currentFiber` with the public API (an `Option` per read). @internal */
export const currentFiberByApi = (): Fiber.RuntimeFiber<unknown, unknown> | undefined =>
  Option.getOrUndefined(Fiber.getCurrentFiber())

const fiberSlotOk = !forced && ((): boolean => {
  const seen = Effect.runSync(Effect.sync(() => [currentFiberBySlot(), currentFiberByApi()] as const))
  return seen[0] !== undefined && seen[0] === seen[1]
})()

/**
 * The fiber running now (inside an `Effect.sync` body, a `serve` handler…), or `undefined`.
 * @internal
 */
export const currentFiber: () => Fiber.RuntimeFiber<unknown, unknown> | undefined = fiberSlotOk
  ? currentFiberBySlot
  : currentFiberByApi

// --- Max ops before yield -------------------------------------------------------

/** the FiberRefs object `lastMaxOps` was read from */
let lastRefs: unknown = undefined
let lastMaxOps = 0

/** `maxOpsOf` through the fiber's private FiberRefs object (see `maxOpsOf`). @internal */
export const maxOpsByRefs = (fiber: Fiber.RuntimeFiber<unknown, unknown>): number => {
  const refs = (fiber as unknown as { readonly _fiberRefs?: unknown })._fiberRefs
  if (refs !== lastRefs || refs === undefined) {
    lastRefs = refs
    lastMaxOps = fiber.getFiberRef(FiberRef.currentMaxOpsBeforeYield)
  }
  return lastMaxOps
}

/** `maxOpsOf` with the public API: a FiberRef read per call. @internal */
export const maxOpsByApi = (fiber: Fiber.RuntimeFiber<unknown, unknown>): number =>
  fiber.getFiberRef(FiberRef.currentMaxOpsBeforeYield)

const maxOpsShapeOk = !forced && ((): boolean => {
  try {
    const read = Effect.withFiberRuntime<readonly [number, boolean]>((fiber) =>
      Effect.succeed([
        maxOpsByRefs(fiber),
        typeof (fiber as unknown as { readonly _fiberRefs?: unknown })._fiberRefs === "object"
      ])
    )
    const [plain, locally, again] = Effect.runSync(Effect.all([
      read,
      Effect.locally(read, FiberRef.currentMaxOpsBeforeYield, 100_000),
      read
    ]))
    // the default, as `Effect.runSync` reads it (no FiberRef set)
    const initial = Effect.runSync(FiberRef.get(FiberRef.currentMaxOpsBeforeYield))
    return plain[1] && plain[0] === initial && locally[0] === 100_000 && again[0] === initial && initial !== 100_000
  } catch {
    return false
  } finally {
    lastRefs = undefined
  }
})()

/**
 * A fiber's `currentMaxOpsBeforeYield` (what the scheduler compares its op count with at
 * every run-loop step): read again only when the fiber's FiberRefs object differs from the
 * last one asked about. Effect replaces that object whenever one of the fiber's FiberRefs
 * changes, and a fiber runs many steps in a row, so this is a field read per step instead
 * of two map lookups.
 * @internal
 */
export const maxOpsOf: (fiber: Fiber.RuntimeFiber<unknown, unknown>) => number = maxOpsShapeOk
  ? maxOpsByRefs
  : maxOpsByApi

// --- Op count -------------------------------------------------------------------

/** `chargeOps` through the fiber's op counter field. @internal */
export const chargeOpsByField = (fiber: Fiber.RuntimeFiber<unknown, unknown>, n: number): void => {
  ;(fiber as unknown as { currentOpCount: number }).currentOpCount += n
}

const chargeShapeOk = !forced && ((): boolean => {
  try {
    return Effect.runSync(Effect.withFiberRuntime<boolean>((fiber) => {
      const field = Object.getOwnPropertyDescriptor(fiber, "currentOpCount")
      if (field === undefined || field.writable !== true || typeof field.value !== "number") {
        return Effect.succeed(false)
      }
      const before = fiber.currentOpCount
      chargeOpsByField(fiber, 5)
      const after = fiber.currentOpCount
      chargeOpsByField(fiber, -5)
      return Effect.succeed(after === before + 5 && fiber.currentOpCount === before)
    }))
  } catch {
    return false
  }
})()

/**
 * Counts `n` more run-loop ops against the time slice of `fiber`, the fiber running now
 * (the scheduler makes it yield after `maxOpsOf(fiber)` ops): for a step that does the work
 * of several, so that it yields as often as those would have.
 * @internal
 */
export const chargeOps: (fiber: Fiber.RuntimeFiber<unknown, unknown>, n: number) => void = chargeShapeOk
  ? chargeOpsByField
  : () => {}

// --- Eager sync ----------------------------------------------------------------

/** what a `yield*` of an eager op that ran at once gets: an iterator that is done (shared) */
const doneResult: IteratorReturnResult<undefined> = Object.freeze({ done: true as const, value: undefined })
const doneIterator = Object.freeze({ next: (): IteratorReturnResult<undefined> => doneResult })

/** what a `yield*` of an eager op that ran at once and returned `value` gets: one object, its own iterator and result */
class DoneWith<R> implements IteratorReturnResult<R> {
  readonly done = true as const
  constructor(readonly value: R) {}
  next(): IteratorReturnResult<R> {
    return this
  }
}

/** effect's `OpSupervision` runtime flag (`RuntimeFlags.OpSupervision`: every op is told to the supervisor) */
const opSupervision = RuntimeFlags.OpSupervision as unknown as number

/** The private fields of a fiber that `makeEagerSync2` reads. */
interface FiberFields {
  readonly _queue?: { readonly length: number }
  readonly currentRuntimeFlags: number
  currentOpCount: number
}

/**
 * Whether fiber `f` may run an op's work right now, inside its generator, as its run loop
 * would run it as its next step: nothing waits in its message queue (an interruption is
 * handled before any further op), no supervisor watches each op, and its time slice has
 * room for one more op (which is counted, so that it yields as often as the run loop would
 * have made it).
 */
const runNow = (f: FiberFields, maxOps: number): boolean => {
  // (a fiber of another copy of effect, without the fields read here, never runs it now)
  if (f._queue?.length !== 0 || (f.currentRuntimeFlags & opSupervision) !== 0 || !(f.currentOpCount < maxOps)) {
    return false
  }
  f.currentOpCount++
  return true
}

/**
 * `makeEagerSync2` through effect's `Sync` primitive; `undefined` if it has another shape.
 * Each Effect is a two-field object (its arguments) whose prototype, above the `Sync`
 * primitive's, holds what every such op shares (`_op`, the thunk, the Effect type id):
 * 40 bytes instead of the primitive's 72, and a plain constructor.
 */
export const eagerSyncOp2 = <A, B, R>(f: (a: A, b: B) => R): ((a: A, b: B) => Effect.Effect<R>) | undefined => {
  const probe = Effect.sync(() => 0) as unknown as Record<PropertyKey, unknown> | undefined
  if (probe === undefined || probe._op !== "Sync" || typeof probe.constructor !== "function") return undefined
  const base = Object.getPrototypeOf(probe) as Record<PropertyKey, unknown>
  const variance = probe[Effect.EffectTypeId]
  if (typeof base[Symbol.iterator] !== "function" || variance === undefined) return undefined
  const iterate = base[Symbol.iterator] as (this: unknown) => Iterator<unknown, unknown, unknown>
  class EagerSync {
    constructor(readonly a: A, readonly b: B) {}
    [Symbol.iterator](): Iterator<unknown, unknown, unknown> {
      const fiber = currentFiberBySlot()
      if (fiber !== undefined && runNow(fiber as unknown as FiberFields, maxOpsOf(fiber))) {
        let r: R
        try {
          r = f(this.a, this.b)
        } catch (e) {
          // as the run loop would end it: a defect, the generator left where it is
          return (Exit.die(e) as unknown as Iterable<unknown>)[Symbol.iterator]()
        }
        return r === undefined ? doneIterator : new DoneWith(r)
      }
      return iterate.call(this)
    }
  }
  // the run loop calls `op.effect_instruction_i0()`: the op is the thunk's `this`
  function thunk(this: EagerSync): R {
    return f(this.a, this.b)
  }
  Object.setPrototypeOf(EagerSync.prototype, base)
  Object.defineProperties(EagerSync.prototype, {
    _op: { value: "Sync", enumerable: true },
    effect_instruction_i0: { value: thunk, enumerable: true },
    effect_instruction_i1: {
      get(this: EagerSync) {
        return this.a
      },
      enumerable: true
    },
    effect_instruction_i2: {
      get(this: EagerSync) {
        return this.b
      },
      enumerable: true
    },
    trace: { value: undefined, enumerable: true },
    [Effect.EffectTypeId]: { value: variance }
  })
  return (a, b) => new EagerSync(a, b) as unknown as Effect.Effect<R>
}

const eagerShapeOk = !forced && syncShapeOk && fiberSlotOk && maxOpsShapeOk && ((): boolean => {
  try {
    const seen: Array<number> = []
    const make = eagerSyncOp2((a: number, b: number) => {
      seen.push(a * 10 + b)
    })
    if (make === undefined) return false
    const fields = Effect.runSync(Effect.withFiberRuntime((fiber) => {
      const f = fiber as unknown as FiberFields
      return Effect.succeed(
        Array.isArray(f._queue) && typeof f.currentOpCount === "number" && typeof f.currentRuntimeFlags === "number"
      )
    }))
    if (!fields) return false
    // as an op (map), and as an iterator inside a fiber (at once, one op counted, done)
    Effect.runSync(Effect.map(make(1, 1), () => 0))
    const now = Effect.runSync(Effect.withFiberRuntime<boolean>((fiber) =>
      Effect.sync(() => {
        const before = fiber.currentOpCount
        const it = make(4, 2)[Symbol.iterator]()
        const ran = seen.length === 2 && fiber.currentOpCount === before + 1
        return ran && it.next().done === true
      })
    ))
    return now && seen[0] === 11 && seen[1] === 42
  } catch {
    return false
  }
})()

/**
 * `makeSync2` whose Effect also runs at once when a
 * generator (`Effect.gen`) `yield*`s it: its `[Symbol.iterator]` does the step's work then
 * and there, on the fiber running the generator, and the `yield*` is done, with no run-loop
 * step (as effect's generator adapter already takes a yielded `Exit` without one). Only
 * when the run loop would do the same as its next step: nothing waits in the fiber's
 * message queue (an interruption comes first), no op supervisor, room left in the fiber's
 * time slice (the op is counted: the fiber yields as often as before). Anywhere else
 * (outside a fiber, in `Effect.map`, `pipe`…) it is the plain `Sync` op. A step that throws
 * is a defect, as in the run loop. `force: "fallback"` takes the fallback (`makeSync2`).
 * @internal
 */
export const makeEagerSync2 = <A, B, R>(
  f: (a: A, b: B) => R,
  force?: "fallback"
): (a: A, b: B) => Effect.Effect<R> =>
  (force === undefined && eagerShapeOk ? eagerSyncOp2(f) : undefined) ?? makeSync2(f, force)

// --- Owned fibers ---------------------------------------------------------------

/** Starts `effect` on a fiber owned by `owner` (see `forkOwnedWith`). @internal */
export type ForkOwned<O> = (
  owner: O,
  context: Context.Context<never>,
  fiberRefs: FiberRefs.FiberRefs,
  runtimeFlags: RuntimeFlags.RuntimeFlags,
  effect: Effect.Effect<unknown, unknown, any>
) => Fiber.RuntimeFiber<unknown, unknown>

/** `forkOwnedWith` through the public API: `Runtime.runFork` and an observer closure. @internal */
export const forkOwnedByApi =
  <O>(onExit: (owner: O, exit: Exit.Exit<unknown, unknown>) => void): ForkOwned<O> =>
  (owner, context, fiberRefs, runtimeFlags, effect) => {
    const fiber = Runtime.runFork(
      Runtime.make({ context, fiberRefs, runtimeFlags }),
      effect as Effect.Effect<unknown, unknown, never>,
      { immediate: false }
    )
    fiber.addObserver((exit) => onExit(owner, exit))
    return fiber
  }

type FiberClass = new(
  id: FiberId.Runtime,
  refs: FiberRefs.FiberRefs,
  flags: RuntimeFlags.RuntimeFlags
) => Fiber.RuntimeFiber<unknown, unknown> & {
  resume(effect: Effect.Effect<unknown, unknown, any>): void
}

/** effect's `FiberRuntime` class, from a fiber's prototype; `undefined` if it has another shape. */
const fiberClass = (): FiberClass | undefined => {
  try {
    const probe = Effect.runFork(Effect.void)
    const ctor = Object.getPrototypeOf(probe)?.constructor as FiberClass | undefined
    if (typeof ctor !== "function" || ctor.length !== 3) return undefined
    const proto = ctor.prototype as Record<string, unknown>
    if (typeof proto["resume"] !== "function" || typeof proto["addObserver"] !== "function") return undefined
    const observers = (probe as unknown as { readonly _observers?: unknown })._observers
    return Array.isArray(observers) ? ctor : undefined
  } catch {
    return undefined
  }
}

/** `forkOwnedWith` with effect's fiber class `Base` (see the module doc). @internal */
export const forkOwnedDirect = <O>(
  Base: FiberClass,
  onExit: (owner: O, exit: Exit.Exit<unknown, unknown>) => void
): ForkOwned<O> =>
(owner, context, fiberRefs, runtimeFlags, effect) => {
  // what `Runtime.runFork` does, minus `Fiber.roots`
  const id = FiberId.unsafeMake()
  const refs = FiberRefs.updateManyAs(fiberRefs, {
    entries: [[FiberRef.currentContext, [[id, context]]]],
    forkAs: id
  })
  const fiber = new Base(id, refs, runtimeFlags)
  const supervisor = fiber.currentSupervisor
  if (supervisor !== Supervisor.none) {
    supervisor.onStart(context, effect as Effect.Effect<unknown, unknown, never>, Option.none(), fiber)
    fiber.addObserver((exit) => supervisor.onEnd(exit, fiber))
  }
  // added last, so told first (observers run newest first), as after `runFork`
  fiber.addObserver((exit) => onExit(owner, exit))
  fiber.resume(effect)
  return fiber
}

const fiberClassFound = forced ? undefined : fiberClass()

const forkShapeOk = fiberClassFound !== undefined && ((): boolean => {
  try {
    // a fiber forked (it runs later, and ends with nothing to tell) that has the private fields used
    const fork = forkOwnedDirect<undefined>(fiberClassFound, () => {})
    const fiber = fork(undefined, Context.empty(), FiberRefs.empty(), Runtime.defaultRuntimeFlags, Effect.void)
    return fiber instanceof fiberClassFound && fiber.unsafePoll() === null &&
      Array.isArray((fiber as unknown as { readonly _observers?: unknown })._observers)
  } catch {
    return false
  }
})()

/**
 * Starts `effect` on a fiber (with `context` and `fiberRefs`, not yet running: as
 * `Runtime.runFork(…, { immediate: false })`) whose exit is told to `onExit` with `owner`.
 * `force: "fallback"` takes the fallback (for its test).
 * @internal
 */
export const forkOwnedWith = <O>(
  onExit: (owner: O, exit: Exit.Exit<unknown, unknown>) => void,
  force?: "fallback"
): ForkOwned<O> =>
  force === undefined && forkShapeOk && fiberClassFound !== undefined
    ? forkOwnedDirect(fiberClassFound, onExit)
    : forkOwnedByApi(onExit)

// --- Report -------------------------------------------------------------------

/**
 * Which fast paths are in use (all `true` on the effect version this was written for).
 * @internal
 */
export const shapes: {
  readonly contextUnsafeMap: boolean
  readonly fiberRefsLocals: boolean
  readonly asyncOp: boolean
  readonly clockScheduler: boolean
  readonly currentFiberSlot: boolean
  readonly successProto: boolean
  readonly syncOp: boolean
  readonly maxOpsByRefs: boolean
  readonly chargeOps: boolean
  readonly ownedFiber: boolean
  readonly eagerSyncOp: boolean
} = {
  contextUnsafeMap: contextShapeOk,
  fiberRefsLocals: fiberRefsShapeOk,
  asyncOp: !forced && fixedAsyncOp(() => {}) !== undefined,
  clockScheduler: liveScheduler !== undefined,
  currentFiberSlot: fiberSlotOk,
  successProto: successProto !== undefined,
  syncOp: syncShapeOk,
  maxOpsByRefs: maxOpsShapeOk,
  chargeOps: chargeShapeOk,
  ownedFiber: forkShapeOk,
  eagerSyncOp: eagerShapeOk
}
