import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import * as Effect from "effect/Effect"
import * as GenServer from "@effect-otp/gen-server/GenServer"
const Counter = GenServer.make({
  init: (n: number) => Effect.succeed({ state: n }),
  handleCall: (_req, _from, n: number) => Effect.succeed({ reply: n, state: n + 1 })
})
const main = Effect.gen(function*() {
  const M = 20_000
  const ps: Array<unknown> = []
  global.gc!()
  let before = process.memoryUsage().heapUsed
  for (let i = 0; i < M; i++) ps.push(yield* Process.spawn(Process.receive()))
  yield* Effect.sleep(50)
  global.gc!()
  let after = process.memoryUsage().heapUsed
  console.log(`idle process: ${Math.round((after - before) / M)} B`)
  before = after
  for (let i = 0; i < M; i++) ps.push(yield* GenServer.start(Counter, i))
  yield* Effect.sleep(50)
  global.gc!()
  after = process.memoryUsage().heapUsed
  console.log(`idle gen_server: ${Math.round((after - before) / M)} B`)
})
Effect.runPromise(Effect.provide(main, ProcessRuntime.layer))
