/**
 * The shell prints as its own node does: with two nodes in one JS process, each shell
 * shows its node's pids as `<0.N.S>` and the other's as `<M.N.S>`.
 */
import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import * as Term from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Helpers from "../src/internal/helpers.js"

const shellOf = (node: string, creation: number) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(ProcessRuntime.layer)
    const runtime = Context.get(context, ProcessRuntime.ProcessRuntime)
    yield* runtime.setNode(Term.atom(node), creation)
    const pid = runtime.unsafeSpawn(Process.receive())
    return {
      pid,
      local: Helpers.localNode(yield* Effect.runtime<ProcessRuntime.ProcessRuntime>().pipe(Effect.provide(context)))
    }
  })

describe("Helpers.show", () => {
  it.scoped("each node's shell prints its own pids as <0.N.S> and the other node's as <M.N.S>", () =>
    Effect.gen(function*() {
      const a = yield* shellOf("a@host", 1)
      const b = yield* shellOf("b@host", 2)
      const both = Term.tuple(a.pid, b.pid)
      const onA = Helpers.show(both, a.local)
      const onB = Helpers.show(both, b.local)
      expect(onA).toMatch(new RegExp(`^\\{<0\\.${a.pid.id}\\.0>,<[1-9]\\d{4}\\.${b.pid.id}\\.0>\\}$`))
      expect(onB).toMatch(new RegExp(`^\\{<[1-9]\\d{4}\\.${a.pid.id}\\.0>,<0\\.${b.pid.id}\\.0>\\}$`))
      expect(Helpers.showError(new Process.ProcessExit({ reason: a.pid }), b.local)).toBe(
        `** exception exit: ${onB.slice(1, onB.indexOf(","))}`
      )
    }))
})
