/**
 * TS nodes as a user makes them: `DistNode`'s default (visible) configuration, with OTP's
 * `global` (`GlobalRegistry.layer()`, the `NameServer` a visible node requires).
 */
import * as DistNode from "@effect-otp/dist/DistNode"
import * as Epmd from "@effect-otp/dist/Epmd"
import * as Transport from "@effect-otp/dist/Transport"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
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
