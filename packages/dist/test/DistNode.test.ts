/**
 * DistNode.layer on its own. The interop with real `erl` (ping, echo, cookies, pids,
 * epmd, volume, errors) lives in `Interop*.test.ts`.
 */
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as DistNode from "../src/DistNode.js"
import * as Epmd from "../src/Epmd.js"
import * as NetKernel from "../src/NetKernel.js"
import * as Transport from "../src/Transport.js"
import { uniqueName } from "./helpers/erl.js"
import { host } from "./helpers/tsnode.js"

const failure = <A, E>(exit: Exit.Exit<A, E>): E =>
  Option.getOrThrow(Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none())

describe("DistNode.layer", () => {
  it.scopedLive(
    "names the node (short name completed with the host) and fails typed on a bad name or a taken one",
    () =>
      Effect.gen(function*() {
        const epmd = Layer.succeedContext(Context.pick(Epmd.Epmd)(yield* Layer.build(Epmd.layerServer({ port: 0 }))))
        const node = (name: string) =>
          Layer.build(
            DistNode.layer({ hidden: true, name, cookie: "c" }).pipe(
              Layer.provide(Layer.merge(epmd, Transport.layerTcp)),
              Layer.provideMerge(ProcessRuntime.layer)
            )
          )
        const name = uniqueName("ts")
        const ctx = yield* node(name)
        expect((yield* NetKernel.node.pipe(Effect.provide(ctx))).name).toBe(`${name}@${host}`)
        const bad = failure(yield* Effect.exit(node("a@b@c")))
        expect(bad).toBeInstanceOf(DistNode.DistNodeError)
        expect(bad.reason).toBe("BadNodeName")
        const taken = failure(yield* Effect.exit(node(name)))
        expect(taken.reason).toBe("NameInUse")
        expect(taken.message).toContain(name)
      }),
    30_000
  )

  it.scopedLive(
    "a visible node (the default) starts its NameServer, a hidden one needs none; one missing fails typed",
    () =>
      Effect.gen(function*() {
        const epmd = Layer.succeedContext(Context.pick(Epmd.Epmd)(yield* Layer.build(Epmd.layerServer({ port: 0 }))))
        const parts = Layer.merge(epmd, Transport.layerTcp)
        let started: string | undefined
        const nameServer = Layer.succeed(DistNode.NameServer, {
          start: Effect.map(NetKernel.node, (n) => {
            started = n.name
          })
        })
        const visible = yield* Layer.build(
          DistNode.layer({ name: uniqueName("v"), cookie: "c" }).pipe(
            Layer.provide(Layer.merge(parts, nameServer)),
            Layer.provideMerge(ProcessRuntime.layer)
          )
        )
        expect(started).toBe((yield* NetKernel.node.pipe(Effect.provide(visible))).name)
        // the type requires a NameServer for a visible node; at run time its absence is a typed error
        const options: DistNode.Options = { name: uniqueName("v"), cookie: "c" }
        const missing = failure(
          yield* Effect.exit(Layer.build(
            (DistNode.layer(options as DistNode.Options & { hidden: true })).pipe(
              Layer.provide(parts),
              Layer.provideMerge(ProcessRuntime.layer)
            )
          ))
        )
        expect(missing.reason).toBe("NameServer")
        const hidden = yield* Layer.build(
          DistNode.layer({ name: uniqueName("h"), cookie: "c", hidden: true }).pipe(
            Layer.provide(parts),
            Layer.provideMerge(ProcessRuntime.layer)
          )
        )
        expect(yield* NetKernel.nodes("visible").pipe(Effect.provide(hidden))).toEqual([])
      }),
    30_000
  )
})
