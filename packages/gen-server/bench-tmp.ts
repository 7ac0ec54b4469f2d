import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import * as T from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"
import * as GenServer from "@effect-otp/gen-server/GenServer"

const Counter = GenServer.make({
  init: (n: number) => Effect.succeed({ state: n }),
  handleCall: (_req, _from, n: number) => Effect.succeed({ reply: n, state: n + 1 }),
  handleCast: (_m, n) => Effect.succeed({ state: n + 1 })
})
const get = T.atom("get")
const main = Effect.gen(function*() {
  const s = yield* GenServer.start(Counter, 0)
  for (let round = 0; round < 3; round++) {
    const N = 100_000
    const t0 = performance.now()
    yield* Process.run(Effect.gen(function*() {
      for (let i = 0; i < N; i++) yield* GenServer.call(s, get, process.env.INF ? "infinity" : undefined)
    }))
    const t1 = performance.now()
    console.log(`call: ${Math.round(N / ((t1 - t0) / 1000))}/s`)
  }
  const M = 20_000
  global.gc?.()
  const before = process.memoryUsage().heapUsed
  const servers: Array<unknown> = []
  for (let i = 0; i < M; i++) servers.push(yield* GenServer.start(Counter, i))
  global.gc?.()
  const after = process.memoryUsage().heapUsed
  console.log(`idle gen_server: ${Math.round((after - before) / M)} B`)
})
Effect.runPromise(Effect.provide(main, ProcessRuntime.layer))
