/**
 * bob: a TypeScript node in its own OS process, for the chapter-22 examples that need a
 * node that can be killed (`cluster.ts` starts it):
 *
 *     npx tsx examples/src/peer.ts <name> <cookie> <epmdPort> [node to join ...]
 *
 * - It is a visible node (so it shows in `nodes()`), serving rpc.
 * - It registers the chapter's `echo` ("Sending Messages Across Nodes"):
 *   `{From, Msg}` -> `From ! {echo, Msg}`.
 * - It registers the chapter's `worker` for `send_work` ("Location Transparency";
 *   `sendWork.ts`): `self` | `{square, N}` | `{sleep, Ms}`.
 * - It publishes the module `chapter`, so other nodes can spawn on it ("Spawning Processes
 *   on Remote Nodes"): `chapter:hello/0` prints `I'm running on <node()>!` on this node's
 *   console (its stdout), and `chapter:start_echo/0` registers a fresh `echo` and returns
 *   its pid.
 * - It starts the chapter's `dist_kv` (`distKv.ts`) and publishes `dist_kv:put/2`, `get/1`
 *   for rpc.
 * - It connects to every node named after the epmd port, as a node that comes back joins
 *   its cluster again.
 *
 * It prints `@@ready <node>` when all that is done (or `@@error <why>` and exits 2), and
 * stops when its stdin closes.
 */
import * as DistNode from "@effect-otp/dist/DistNode"
import * as Module from "@effect-otp/dist/Module"
import * as NetKernel from "@effect-otp/dist/NetKernel"
import * as Rpc from "@effect-otp/dist/Rpc"
import * as GlobalRegistry from "@effect-otp/global/GlobalRegistry"
import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { atom, Tuple, tuple } from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as readline from "node:readline"
import * as DistKv from "./distKv.js"
import { demoWork, worker } from "./sendWork.js"

/** The chapter's echo: `receive {From, Msg} -> From ! {echo, Msg}, Loop() end`. */
export const echo = Effect.forever(
  Effect.flatMap(Process.receive(), (m) =>
    m instanceof Tuple && m.elements.length === 2
      ? Effect.ignore(Process.send(m.elements[0] as Process.Target, tuple(atom("echo"), m.elements[1]!)))
      : Effect.void)
)

/** `register(echo, spawn(fun Loop() -> ... end))`; returns the pid. */
export const registerEcho = Process.spawn(echo, { name: "echo" })

/** What other nodes can spawn here. */
export const chapter = Module.make("chapter", {
  hello: Module.fn({ args: Schema.Tuple(), result: Module.Term }, () =>
    Effect.gen(function*() {
      const node = yield* NetKernel.node
      // io:format("I'm running on ~p!~n", [node()]), on this node's console
      process.stdout.write(`I'm running on ${node.name}!\n`)
      return atom("ok")
    })),
  start_echo: Module.fn({ args: Schema.Tuple(), result: Module.Pid }, () => Effect.orDie(registerEcho))
})

const main = (name: string, cookie: string, epmdPort: number, join: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    yield* registerEcho
    yield* Process.spawn(worker(demoWork), { name: "worker" })
    yield* DistKv.start
    for (const node of join) {
      if ((yield* NetKernel.ping(node)) !== "pong") return yield* Effect.fail(new Error(`cannot reach ${node}`))
    }
    process.stdout.write(`@@ready ${(yield* NetKernel.node).name}\n`)
    yield* Effect.async<void>((resume) => {
      const rl = readline.createInterface({ input: process.stdin, terminal: false })
      rl.on("close", () => resume(Effect.void))
    })
  }).pipe(
    Effect.provide(
      Layer.mergeAll(Rpc.layerPublish(chapter), Rpc.layerPublish(DistKv.module)).pipe(
        Layer.provideMerge(DistNode.layerDefault({ name, cookie, epmdPort, hidden: false })),
        Layer.provideMerge(GlobalRegistry.layer()),
        Layer.provideMerge(ProcessRuntime.layer)
      )
    ),
    // a killed predecessor's name leaves epmd when epmd sees its socket close: retry a while
    Effect.retry({
      while: (e) => e instanceof DistNode.DistNodeError && e.reason === "NameInUse",
      schedule: Schedule.spaced("100 millis").pipe(Schedule.intersect(Schedule.recurs(100)))
    })
  )

const [name, cookie, port, ...join] = process.argv.slice(2)
if (name === undefined || cookie === undefined || port === undefined) {
  console.error("usage: peer.ts <name> <cookie> <epmdPort> [node to join ...]")
  process.exit(2)
}
Effect.runPromise(
  main(name, cookie, Number(port), join).pipe(
    // stdout is the transcript: logs go to stderr
    Effect.provide(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.stringLogger)))
  )
).then(
  () => process.exit(0),
  (e: unknown) => {
    process.stdout.write(`@@error ${e instanceof Error ? e.message : String(e)}\n`)
    process.exit(2)
  }
)
