/**
 * TS nodes as a user makes them: `DistNode`'s default (visible) configuration, with OTP's
 * `global` (`GlobalRegistry.layer()`, the `NameServer` a visible node requires).
 */
import * as DistNode from "@effect-otp/dist/DistNode"
import * as Epmd from "@effect-otp/dist/Epmd"
import type * as MemoryCluster from "@effect-otp/dist/MemoryCluster"
import * as Transport from "@effect-otp/dist/Transport"
import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import * as T from "@effect-otp/process/Term"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as GlobalRegistry from "../src/GlobalRegistry.js"

/** A default node (`DistNode.layerDefault`, visible) running `global`, over its own ProcessRuntime. */
export const globalNode = (name: string, cookie: string, extra: Partial<DistNode.Options> = {}) =>
  DistNode.layerDefault({ name, cookie, ...extra }).pipe(
    Layer.provideMerge(GlobalRegistry.layer()),
    Layer.provideMerge(ProcessRuntime.layer)
  )

/** An embedded EPMD on a free port for the scope; returns a builder of default nodes running `global` that use it. */
export const globalCluster = Effect.gen(function*() {
  const epmd = yield* Layer.build(Epmd.layerServer({ port: 0 }))
  const parts = Layer.merge(Transport.layerTcp, Layer.succeedContext(Context.pick(Epmd.Epmd)(epmd)))
  return (name: string, cookie: string, extra: Partial<DistNode.Options> = {}) =>
    Layer.build(
      DistNode.layer({ name, cookie, ...extra }).pipe(
        Layer.provideMerge(GlobalRegistry.layer()),
        Layer.provideMerge(parts),
        Layer.provideMerge(ProcessRuntime.layer)
      )
    )
})

/** Node `name` of an in-memory cluster, running `global` (`GlobalRegistry.layerOnNode()`) in the scope. */
export const globalOn = (cluster: MemoryCluster.MemoryClusterShape, name: string) =>
  Effect.gen(function*() {
    const n = cluster.node(name)
    const g = yield* Layer.build(GlobalRegistry.layerOnNode()).pipe(Effect.provide(n.context))
    return Context.merge(n.context, g)
  })

/**
 * Runs `eff` while the `TestClock` moves on in steps of 100 ms (at most `steps` of them), so
 * that lockers, ticks and retries fire.
 */
export const withTime = <X, E>(eff: Effect.Effect<X, E>, steps = 300) =>
  Effect.gen(function*() {
    const f = yield* Effect.fork(eff)
    for (let i = 0; i < steps; i++) {
      if (Option.isSome(yield* Fiber.poll(f))) break
      yield* TestClock.adjust("100 millis")
    }
    return yield* Fiber.join(f)
  })

/** Waits until `pid` is gone (a monitor's DOWN, from a process of the provided node). */
export const waitDown = (pid: T.Pid) =>
  Process.run(Effect.gen(function*() {
    const ref = yield* Process.monitor(pid)
    yield* Process.receive((m) => Process.isDownMessage(m, ref))
  }))

/** A round trip through the local global_name_server: everything queued before it has been handled. */
export const flushServer = Process.run(Effect.gen(function*() {
  const self = yield* Process.self
  const tag = yield* Process.makeRef
  const req = T.tuple(T.atom("del_lock"), T.tuple(T.atom("nothing"), T.atom("nobody")))
  yield* Process.send(T.atom("global_name_server"), T.tuple(T.atom("$gen_call"), T.tuple(self, tag), req))
  yield* Process.receive((m) => m instanceof T.Tuple && m.elements.length === 2 && T.equals(m.elements[0]!, tag))
}))
