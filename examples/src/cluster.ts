/**
 * What the chapter-22 examples share: their configuration, a TypeScript node in this OS
 * process (alice), and TypeScript nodes in other OS processes (bob, run from `peer.ts`)
 * that can be killed by pid and started again, as the chapter's "if bob disconnects" needs.
 *
 * Environment (every example): `EXAMPLE_EPMD_PORT` (default `ERL_EPMD_PORT` or 4369; when
 * no epmd listens there, the example hosts an embedded one for its lifetime),
 * `EXAMPLE_SUFFIX` (appended to the node names, default none), `EXAMPLE_COOKIE` (default
 * `secret`), `EXAMPLE_VERBOSE=1` (show the peers' logs), `EXAMPLE_NO_ERL=1` (leave the Erlang
 * node out even when `erl` is installed).
 */
import * as DistNode from "@effect-otp/dist/DistNode"
import * as Epmd from "@effect-otp/dist/Epmd"
import type * as NetKernel from "@effect-otp/dist/NetKernel"
import type * as Rpc from "@effect-otp/dist/Rpc"
import * as GlobalRegistry from "@effect-otp/global/GlobalRegistry"
import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { RemoteName } from "@effect-otp/process/Signal"
import { Atom, charlist, equals, format, isTagged, type Term, tuple } from "@effect-otp/process/Term"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as readline from "node:readline"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const env = process.env

/** The examples' settings, read from the environment. */
export const config = {
  epmdPort: Number(env.EXAMPLE_EPMD_PORT ?? env.ERL_EPMD_PORT ?? Epmd.DEFAULT_PORT),
  suffix: env.EXAMPLE_SUFFIX ?? "",
  cookie: env.EXAMPLE_COOKIE ?? "secret",
  verbose: env.EXAMPLE_VERBOSE === "1",
  noErl: env.EXAMPLE_NO_ERL === "1"
}

/** A node name with the configured suffix: `nameOf("bob")` is `bob` or `bob_x1`. */
export const nameOf = (name: string): string => `${name}${config.suffix}`

/** An example stopped: a message for a human. */
export class ExampleError extends Data.TaggedError("ExampleError")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

/** Prints one line of the transcript. */
export const print = (line: string): void => {
  process.stdout.write(line + "\n")
}

/** Where a node lives: its cookie and epmd port (default: `config`'s). */
export interface NodeOptions {
  readonly cookie?: string | undefined
  readonly epmdPort?: number | undefined
}

/**
 * A visible TS node in this OS process, with rpc served (so peers can spawn on it), on the
 * configured epmd port: the embedded epmd is started here when none runs.
 */
export const localNode = (
  name: string,
  options: NodeOptions = {}
): Layer.Layer<NetKernel.NetKernel | Rpc.Rpc | ProcessRuntime.ProcessRuntime, ExampleError> =>
  DistNode.layerDefault({
    name,
    cookie: options.cookie ?? config.cookie,
    hidden: false,
    epmdPort: options.epmdPort ?? config.epmdPort
  }).pipe(
    Layer.provide(GlobalRegistry.layer()),
    Layer.provideMerge(ProcessRuntime.layer),
    Layer.mapError((e) => new ExampleError({ detail: `cannot start node ${name}: ${e.message}` }))
  )

/** A node in another OS process (`peer.ts`). */
export interface Peer {
  /** its full node name, e.g. `bob@host` */
  readonly node: string
  /** the OS pid */
  readonly pid: number
  /** resolves when the OS process has exited */
  readonly exited: Promise<void>
  /** SIGKILL, as `kill -9`: no goodbye on any connection. Waits for the exit. */
  readonly kill: Effect.Effect<void>
  /** Waits (up to 20 s) for a line matching `pattern` that no earlier `waitFor` returned; returns it. */
  readonly waitFor: (pattern: RegExp) => Effect.Effect<string, ExampleError>
}

export interface PeerOptions {
  /** nodes to connect to at start (the peer pings each, as a restarted node rejoins its cluster) */
  readonly join?: ReadonlyArray<string>
  /** label of the peer's output lines in the transcript (default: the short name) */
  readonly label?: string
}

/**
 * Starts `peer.ts <name>` in its own OS process and waits for its `@@ready <node>` line.
 * Its other stdout lines are printed as `[label] line`. The scope kills it (by pid).
 */
export const startPeer = (
  name: string,
  options: PeerOptions = {}
): Effect.Effect<Peer, ExampleError, Scope.Scope> => {
  const loader = process.execArgv.length > 0 ? process.execArgv : ["--import", "tsx"]
  return startChild(options.label ?? name, process.execPath, [
    ...loader,
    path.join(here, "peer.ts"),
    name,
    config.cookie,
    String(config.epmdPort),
    ...(options.join ?? [])
  ])
}

/** Whether `erl` and `erlc` run here (and `EXAMPLE_NO_ERL` is not set). */
export const erlAvailable = (): boolean =>
  !config.noErl && spawnSync("erl", ["-noshell", "-eval", "halt()."], { timeout: 30_000 }).status === 0 &&
  spawnSync("erlc", ["-help"], { timeout: 30_000 }).error === undefined

/** Compiles `examples/erlang/<module>.erl` into a temporary directory that lives as long as the scope. */
export const compileErlang = (
  modules: ReadonlyArray<string>
): Effect.Effect<string, ExampleError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "effect-otp-examples-"))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  ).pipe(Effect.tap((dir) =>
    Effect.forEach(modules, (m) => {
      const r = spawnSync("erlc", ["-o", dir, path.join(here, "..", "erlang", `${m}.erl`)], { encoding: "utf8" })
      return r.status === 0
        ? Effect.void
        : Effect.fail(new ExampleError({ detail: `erlc ${m}.erl failed: ${r.stderr}${r.stdout}` }))
    })
  ))

/**
 * The code of an Erlang node that serves `{eval, From, Text, Bindings}`: it evaluates the
 * expressions in `Text` with `erl_eval` (the shell's evaluator) and the bindings, a list
 * of `{'Name', Value}`, and answers `From ! {eval_result, {ok, Value} | {error, {Class, Reason}}}`.
 */
const evalServer = `
Eval = fun Loop() ->
  receive
    {eval, From, Text, Bindings} ->
      R = try
        {ok, Toks, _} = erl_scan:string(Text),
        {ok, Exprs} = erl_parse:parse_exprs(Toks),
        B = lists:foldl(fun({K, V}, Acc) -> erl_eval:add_binding(K, V, Acc) end, erl_eval:new_bindings(), Bindings),
        {value, V, _} = erl_eval:exprs(Exprs, B),
        {ok, V}
      catch C:E -> {error, {C, E}}
      end,
      From ! {eval_result, R},
      Loop()
  end
end,
true = register(eval, spawn(Eval)),
io:format("@@ready ~s~n", [node()]).`

/**
 * Starts a visible Erlang node (`erl -sname <name>`) with the modules of
 * `examples/erlang/` given here on its code path and an `eval` server (see `erlEval`),
 * on the configured epmd port; waits for it. The scope kills it (by pid).
 */
export const startErl = (
  name: string,
  modules: ReadonlyArray<string>,
  options: NodeOptions = {}
): Effect.Effect<Peer, ExampleError, Scope.Scope> =>
  Effect.flatMap(compileErlang(modules), (dir) =>
    startChild(name, "erl", [
      "-sname",
      name,
      "-setcookie",
      options.cookie ?? config.cookie,
      "-noshell",
      "-start_epmd",
      "false",
      "-pa",
      dir,
      "-eval",
      evalServer
    ], { ERL_EPMD_PORT: String(options.epmdPort ?? config.epmdPort) }))

const startChild = (
  label: string,
  command: string,
  args: ReadonlyArray<string>,
  extraEnv: Record<string, string> = {}
): Effect.Effect<Peer, ExampleError, Scope.Scope> =>
  Effect.gen(function*() {
    const ready = yield* Deferred.make<string, ExampleError>()
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(command, args as Array<string>, {
          stdio: ["pipe", "pipe", "pipe"],
          env: { ...process.env, ...extraEnv }
        })
      ),
      (child) =>
        Effect.promise(async () => {
          if (child.exitCode !== null || child.signalCode !== null) return
          const gone = new Promise((resolve) => child.once("exit", resolve))
          child.kill("SIGKILL")
          await gone
        })
    )
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve()
      else child.once("exit", () => resolve())
    })
    const printed: Array<string> = []
    const waiters = new Set<() => void>()
    let stderr = ""
    child.on("error", (e) => {
      stderr += String(e)
    })
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      stderr = (stderr + d).slice(-4000)
      if (config.verbose) process.stderr.write(d.replace(/^(?=.)/gm, `[${label}] `))
    })
    readline.createInterface({ input: child.stdout!, terminal: false }).on("line", (line) => {
      if (line.startsWith("@@ready ")) Deferred.unsafeDone(ready, Exit.succeed(line.slice(8).trim()))
      else if (line.startsWith("@@error ")) {
        Deferred.unsafeDone(ready, Exit.fail(new ExampleError({ detail: `${label}: ${line.slice(8)}` })))
      } else {
        print(`[${label}] ${line}`)
        printed.push(line)
        for (const w of waiters) w()
      }
    })
    void exited.then(() =>
      Deferred.unsafeDone(
        ready,
        Exit.fail(new ExampleError({ detail: `${label} exited before it was ready; its stderr:\n${stderr}` }))
      )
    )
    const node = yield* Deferred.await(ready).pipe(
      Effect.timeoutFail({
        duration: "60 seconds",
        onTimeout: () => new ExampleError({ detail: `${label} was not ready within 60 s` })
      })
    )
    return {
      node,
      pid: child.pid!,
      exited,
      kill: Effect.promise(async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
        await exited
      }),
      waitFor: (pattern) =>
        Effect.async<string>((resume) => {
          const check = () => {
            const i = printed.findIndex((l) => pattern.test(l))
            if (i >= 0) {
              waiters.delete(check)
              resume(Effect.succeed(printed.splice(i, 1)[0]!))
            }
          }
          waiters.add(check)
          check()
          return Effect.sync(() => waiters.delete(check))
        }).pipe(
          Effect.timeoutFail({
            duration: "20 seconds",
            onTimeout: () => new ExampleError({ detail: `${label} did not print ${pattern} within 20 s` })
          })
        )
    }
  })

/**
 * Evaluates Erlang expressions on a node started by `startErl` (as if typed in its shell)
 * and returns the value; `bindings` binds shell variables, e.g. `{ Pid: somePid }`. An
 * Erlang exception fails with `ExampleError`. Must run in a process.
 */
export const erlEval = (
  node: string,
  text: string,
  bindings: Readonly<Record<string, Term>> = {}
): Effect.Effect<Term, ExampleError | Process.SendError, Process.Self | ProcessRuntime.ProcessRuntime> =>
  Effect.gen(function*() {
    const self = yield* Process.self
    const binds = Object.entries(bindings).map(([k, v]) => tuple(Atom.make(k), v))
    yield* Process.send(
      new RemoteName({ name: Atom.make("eval"), node: Atom.make(node) }),
      tuple(Atom.make("eval"), self, charlist(text), binds)
    )
    const answer = yield* Process.receive(
      (m): Option.Option<Term> => isTagged(m, "eval_result", 2) ? Option.some(m.elements[1]!) : Option.none(),
      { after: "30 seconds" }
    )
    if (Option.isNone(answer)) {
      return yield* new ExampleError({ detail: `${node} did not evaluate ${text} within 30 s` })
    }
    const r = answer.value
    if (isTagged(r, "ok", 2)) return r.elements[1]!
    return yield* new ExampleError({ detail: `${node}: ${text} raised ${format(r)}` })
  })

/**
 * Reads until the value equals `expected` (waiting 10 ms between reads, up to `within`,
 * 5 s by default), then returns the last value read: for an eventually consistent read, such
 * as one on a node that a write reaches over another connection.
 */
export const eventually = <E, R>(
  read: Effect.Effect<Term, E, R>,
  expected: Term,
  within = 5000
): Effect.Effect<Term, E, R> =>
  Effect.gen(function*() {
    const deadline = Date.now() + within
    for (;;) {
      const value = yield* read
      if (equals(value, expected) || Date.now() > deadline) return value
      yield* Effect.sleep("10 millis")
    }
  })

/**
 * Runs an example's program: exit code 0 on success, 1 (with the reason on stderr) on
 * failure; Ctrl-C interrupts it, and its finalizers stop every peer.
 */
export const main = <E>(program: Effect.Effect<void, E, Scope.Scope>): void => {
  const fiber = Effect.runFork(Effect.scoped(program))
  const onSignal = () => fiber.unsafeInterruptAsFork(fiber.id())
  process.once("SIGINT", onSignal)
  process.once("SIGTERM", onSignal)
  fiber.addObserver((exit) => {
    if (Exit.isSuccess(exit)) process.exit(0)
    const failure = Cause.failureOption(exit.cause)
    process.stderr.write(
      failure._tag === "Some" && failure.value instanceof ExampleError
        ? `\nexample failed: ${failure.value.message}\n`
        : `\nexample failed:\n${Cause.pretty(exit.cause)}\n`
    )
    process.exit(1)
  })
}
