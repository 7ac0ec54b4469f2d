/**
 * The README's "Test your cluster code without sockets" snippet, as a test (the body
 * between the markers is the snippet). Keep the two in step.
 */
import { MemoryCluster, NetKernel } from "@effect-otp/dist"
import { Process, Term } from "@effect-otp/process"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"

describe("README: test your cluster code without sockets", () => {
  it.scoped("a partition shows as noconnection once net_ticktime has passed", () =>
    Effect.gen(function*() {
      // --- readme: memory cluster ---
      const cluster = yield* MemoryCluster.make(["a", "b"]) // a@memory and b@memory
      const a = cluster.node("a")
      const b = cluster.node("b")
      const worker = yield* b.provide(Process.spawn(Process.receive()))
      const down = yield* a.provide(Process.run(Effect.gen(function*() {
        const ref = yield* Process.monitor(worker) // connects to b on demand
        yield* NetKernel.ping(b.name) // "pong": b has the monitor
        yield* cluster.partition("a", "b") // the wire goes silent
        yield* TestClock.adjust("75 seconds") // net_ticktime (60 s) and then some, at once
        return yield* Process.receive((m) => Process.isDownMessage(m, ref))
      })))
      const printed = Term.formatWith(down as Term.Term, a.runtime.localNode) // as a prints it:
      // {'DOWN',#Ref<0.…>,process,<12345.N.0>,noconnection}
      // --- end ---
      expect(printed).toMatch(/^\{'DOWN',#Ref<0\.[\d.]+>,process,<\d{5}\.\d+\.0>,noconnection\}$/)
    }))
})
