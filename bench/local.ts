/**
 * Local (one node) workloads on the public process API, one case per fresh `node`:
 *
 *   node --expose-gc --max-old-space-size=12000 --import tsx bench/local.ts <case> <n>
 *
 * Cases (each prints one `RESULT <name> key=value ...` line, as bench_local.erl does):
 * - `spawn N`: N processes parked in `Process.receive()`; time until all are waiting and
 *   bytes per process (`heapUsed` after 2x `gc()`, the pid array excluded);
 * - `pingpong N`: two processes, `{Self, ping}` / `pong`, N round trips;
 * - `oneway N`: `{msg, I}` from a sender process to a receiver process, until the receiver
 *   took the last one;
 * - `spawn_unsafe N`, `oneway_unsafe N`: the same through `ProcessRuntime.unsafeSpawn` /
 *   `unsafeSend` called from plain synchronous code (labelled "unsafe" in the tables).
 */
import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { Atom, Tuple } from "@effect-otp/process/Term"
import type { Pid } from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import { heapUsed, now } from "./harness.js"

const ping = Atom.make("ping")
const pong = Atom.make("pong")
const msg = Atom.make("msg")
const done = Atom.make("done")
const stop = Atom.make("stop")

const isWaiting = (pid: Pid) =>
  Effect.map(Process.processInfo(pid), (o) => Option.isSome(o) && o.value.status === "waiting")

/** Polls (yielding to the scheduler) until every process is parked in `receive`; returns µs. */
const awaitAllWaiting = (pids: ReadonlyArray<Pid>, t0: number) =>
  Effect.gen(function*() {
    let t2 = 0
    let first = 0
    for (;;) {
      // the scheduler is FIFO: the last one parked means (almost surely) all have
      while (!(yield* isWaiting(pids[pids.length - 1]!))) yield* Effect.yieldNow()
      t2 = now()
      // verify every one (not timed unless some were not waiting yet)
      while (first < pids.length && (yield* isWaiting(pids[first]!))) first++
      if (first === pids.length) return (t2 - t0) * 1000
      yield* Effect.yieldNow()
    }
  })

const spawnCase = (n: number, unsafe: boolean) =>
  Effect.gen(function*() {
    const rt = yield* ProcessRuntime.ProcessRuntime
    const pids: Array<Pid> = new Array<Pid>(n).fill(undefined as unknown as Pid)
    const h0 = heapUsed()
    const waiter = Process.receive()
    const t0 = now()
    if (unsafe) {
      for (let i = 0; i < n; i++) pids[i] = rt.unsafeSpawn(waiter)
    } else {
      for (let i = 0; i < n; i++) pids[i] = yield* Process.spawn(waiter)
    }
    const t1 = now()
    const readyUs = yield* awaitAllWaiting(pids, t0)
    const h1 = heapUsed()
    const perProc = (h1 - h0) / n
    const count = rt.unsafeProcessCount()
    console.log(
      `RESULT spawn${unsafe ? "_unsafe" : ""} n=${n} spawn_us=${Math.round((t1 - t0) * 1000)} ` +
        `ready_us=${Math.round(readyUs)} per_spawn_us=${(readyUs / n).toFixed(3)} ` +
        `bytes_per_proc=${perProc.toFixed(1)} heap_delta=${h1 - h0} processes=${count} ` +
        `rss_mb=${(process.memoryUsage().rss / 1e6).toFixed(0)}`
    )
    for (const p of pids) rt.unsafeSend(p, stop)
  })

const pingpongCase = (n: number) =>
  Effect.gen(function*() {
    const self = yield* Process.self
    const isPing = (m: unknown): boolean => m instanceof Tuple && m.elements.length === 2 && m.elements[1] === ping
    const isPong = (m: unknown): boolean => m === pong
    const ponger = yield* Process.spawn(Effect.forever(
      Effect.flatMap(Process.receive(isPing), (m) => Process.send((m as Tuple).elements[0] as Pid, pong))
    ))
    const t0 = now()
    yield* Process.spawn(Effect.gen(function*() {
      const me = yield* Process.self
      const req = new Tuple([me, ping])
      for (let i = 0; i < n; i++) {
        yield* Process.send(ponger, req)
        yield* Process.receive(isPong)
      }
      yield* Process.send(self, done)
    }))
    yield* Process.receive((m) => m === done)
    const us = (now() - t0) * 1000
    console.log(
      `RESULT pingpong n=${n} us=${Math.round(us)} rt_per_s=${(n * 1e6 / us).toFixed(1)} ` +
        `us_per_rt=${(us / n).toFixed(3)}`
    )
    yield* Process.exit(ponger, Atom.make("kill"))
  })

const isMsg = (m: unknown): boolean => m instanceof Tuple && m.elements.length === 2 && m.elements[0] === msg

const onewayCase = (n: number, unsafe: boolean) =>
  Effect.gen(function*() {
    const self = yield* Process.self
    const rt = yield* ProcessRuntime.ProcessRuntime
    const receiver = yield* Process.spawn(Effect.gen(function*() {
      for (let i = 0; i < n; i++) yield* Process.receive(isMsg)
      yield* Process.send(self, done)
    }))
    const t0 = now()
    if (unsafe) {
      // plain synchronous sender: n pushes, then the receiver drains
      for (let i = n; i > 0; i--) rt.unsafeSend(receiver, new Tuple([msg, i]))
    } else {
      yield* Process.spawn(Effect.gen(function*() {
        for (let i = n; i > 0; i--) yield* Process.send(receiver, new Tuple([msg, i]))
      }))
    }
    yield* Process.receive((m) => m === done)
    const us = (now() - t0) * 1000
    console.log(
      `RESULT oneway${unsafe ? "_unsafe" : ""} n=${n} us=${Math.round(us)} msgs_per_s=${(n * 1e6 / us).toFixed(1)}`
    )
  })

const main = async () => {
  const [name, nStr] = process.argv.slice(2)
  const n = Number(nStr)
  if (name === undefined || !Number.isSafeInteger(n) || n <= 0) {
    console.error("usage: local.ts spawn|spawn_unsafe|pingpong|oneway|oneway_unsafe <n>")
    process.exit(2)
  }
  const program = name === "spawn"
    ? spawnCase(n, false)
    : name === "spawn_unsafe"
    ? spawnCase(n, true)
    : name === "pingpong"
    ? pingpongCase(n)
    : name === "oneway"
    ? onewayCase(n, false)
    : name === "oneway_unsafe"
    ? onewayCase(n, true)
    : undefined
  if (program === undefined) throw new Error(`unknown case ${name}`)
  const runtime = ManagedRuntime.make(ProcessRuntime.layer)
  await runtime.runPromise(Process.run(program))
  // the layer's finalizer would kill (and await) every process: skip it, just exit
  process.exit(0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
