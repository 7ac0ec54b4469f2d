/**
 * Starting and running the node the options describe (a `ProcessRuntime`, plus with
 * `--sname`/`--name` the default `DistNode` over TCP or TLS, serving rpc), then the
 * shell, `--eval`, or `--noshell`. The shell's modules (`node:repl` and the helpers) are
 * loaded only when a shell or `--eval` runs.
 */
import * as DistNode from "@effect-otp/dist/DistNode"
import * as Epmd from "@effect-otp/dist/Epmd"
import * as NetKernel from "@effect-otp/dist/NetKernel"
import * as Rpc from "@effect-otp/dist/Rpc"
import * as Transport from "@effect-otp/dist/Transport"
import * as GlobalRegistry from "@effect-otp/global/GlobalRegistry"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import * as Term from "@effect-otp/process/Term"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Boot from "./boot.js"
import type * as Helpers from "./helpers.js"
import type { NodeOptions } from "./options.js"

/**
 * A running node, as the shell sees it.
 *
 * @internal
 */
export interface RunningNode {
  readonly runtime: Runtime.Runtime<ProcessRuntime.ProcessRuntime>
  readonly node: Option.Option<Term.Atom>
  readonly distribution: Option.Option<Helpers.Distribution>
  /** stops the node (closes connections, unregisters from epmd, kills processes) */
  readonly dispose: () => Promise<void>
}

/** Logs (process crashes, connection warnings) go to stderr, not into the shell's output. */
const logToStderr = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))

/**
 * The node could not start (name in use, epmd unreachable, ...): one line, exit code 1.
 *
 * @internal
 */
export class StartError extends Data.TaggedError("StartError")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/**
 * Starts the node the options describe.
 *
 * @internal
 */
export const startNode = async (options: NodeOptions): Promise<RunningNode> => {
  if (Option.isNone(options.name)) {
    const managed = ManagedRuntime.make(ProcessRuntime.layer.pipe(Layer.provideMerge(logToStderr)))
    const runtime = await managed.runtime()
    return { runtime, node: Option.none(), distribution: Option.none(), dispose: () => managed.dispose() }
  }
  const { cookie, mode, node } = options.name.value
  const nodeOptions: DistNode.Options = {
    name: node,
    longNames: mode === "long",
    cookie,
    hidden: options.hidden,
    connectAll: options.connectAll,
    ...(Option.isSome(options.epmdPort) ? { epmdPort: options.epmdPort.value } : {}),
    ...(Option.isSome(options.netTicktime) ? { netTicktime: Duration.seconds(options.netTicktime.value) } : {})
  }
  const dist = Option.match(options.tls, {
    onNone: () => DistNode.layerDefault(nodeOptions),
    onSome: (tls) =>
      Rpc.layer.pipe(
        Layer.provideMerge(DistNode.layer(nodeOptions)),
        Layer.provide(Layer.merge(
          Layer.succeed(Transport.Transport, tls.transport),
          Epmd.layerAuto(Option.isSome(options.epmdPort) ? { port: options.epmdPort.value } : {})
        ))
      )
  })
  // OTP's global runs on every node, as in erl: a visible shell takes part in global's
  // protocol (global:sync() on erl nodes returns, the transitive mesh forms)
  const managed = ManagedRuntime.make(
    dist.pipe(
      Layer.provideMerge(GlobalRegistry.layer()),
      Layer.provideMerge(ProcessRuntime.layer),
      Layer.provideMerge(logToStderr)
    )
  )
  let runtime: Runtime.Runtime<ProcessRuntime.ProcessRuntime | NetKernel.NetKernel | Rpc.Rpc>
  try {
    runtime = await managed.runtime()
  } catch (e) {
    await managed.dispose().catch(() => {})
    const error = Runtime.isFiberFailure(e) ? Cause.squash(e[Runtime.FiberFailureCauseId]) : e
    throw new StartError({ reason: error instanceof Error ? error.message : String(error) })
  }
  const kernel = Context.get(runtime.context, NetKernel.NetKernel)
  const rpc = Context.get(runtime.context, Rpc.Rpc)
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    effect.pipe(Effect.provideService(NetKernel.NetKernel, kernel), Effect.provideService(Rpc.Rpc, rpc))
  const toKind = (k: unknown): unknown => Array.isArray(k) ? k.map(toKind) : k instanceof Term.Atom ? k.name : k
  return {
    runtime,
    node: Option.some(kernel.node),
    distribution: Option.some({
      ping: (n) => provide(NetKernel.ping(n)),
      nodes: (kind) => provide(NetKernel.nodes(kind === undefined ? undefined : toKind(kind) as NetKernel.NodeKind)),
      rpc: (n, m, f, args, timeout) =>
        provide(Rpc.call(n, m, f, args, Option.isSome(timeout) ? { timeout: timeout.value } : undefined)),
      spawn: (n, m, f, args, link) => provide(link ? Rpc.spawnLink(n, m, f, args) : Rpc.spawn(n, m, f, args)),
      monitorNodes: (o) => provide(NetKernel.monitorNodes(o)),
      disconnect: (n) => provide(NetKernel.disconnect(n))
    }),
    dispose: () => managed.dispose()
  }
}

/** SIGINT/SIGTERM, caught from the start (so a signal during start-up also stops cleanly). */
const signals = () => {
  let received: ((signal: string) => void) | undefined
  let caught: string | undefined
  const on = (signal: string) => () => {
    caught = signal
    received?.(signal)
  }
  const onInt = on("SIGINT")
  const onTerm = on("SIGTERM")
  process.on("SIGINT", onInt)
  process.on("SIGTERM", onTerm)
  return {
    wait: (): Promise<string> =>
      new Promise((resolve) => {
        if (caught !== undefined) return resolve(caught)
        received = resolve
      }),
    /** the shell handles SIGINT itself (Ctrl-C twice) */
    releaseInt: () => process.off("SIGINT", onInt),
    onTerm: (f: () => void) => {
      received = f
      if (caught === "SIGTERM") f()
    },
    dispose: () => {
      process.off("SIGINT", onInt)
      process.off("SIGTERM", onTerm)
    }
  }
}

/**
 * Runs the node until it stops; resolves with the exit code.
 *
 * @internal
 */
export const runNode = async (options: NodeOptions): Promise<number> => {
  const sig = signals()
  const node = await startNode(options)
  Boot.end()
  const shellModule = () => import("./shell.js")
  const print = (line: string) => process.stdout.write(`${line}\n`)
  try {
    const base = { runtime: node.runtime, node: node.node, distribution: node.distribution }
    if (Option.isSome(options.eval)) {
      const Shell = await shellModule()
      let stopRequested = false
      try {
        await Shell.evaluate({ ...base, scope: Shell.modules, onExit: () => {} }, options.eval.value, print, () => {
          stopRequested = true
        })
      } catch (e) {
        process.stderr.write(`effect-otp: --eval: ${e instanceof Error ? e.message : String(e)}\n`)
        return 1
      }
      if (options.noshell && !stopRequested) await sig.wait()
      return 0
    }
    if (options.noshell) {
      await sig.wait()
      return 0
    }
    sig.releaseInt()
    const Shell = await shellModule()
    await new Promise<void>((resolve) => {
      const server = Shell.start({ ...base, scope: Shell.modules, onExit: () => resolve() })
      sig.onTerm(() => void server.then((s) => s.close()))
    })
    return 0
  } finally {
    sig.dispose()
    await node.dispose()
  }
}
