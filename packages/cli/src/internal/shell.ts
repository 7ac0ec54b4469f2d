/**
 * The shell: `node:repl` with the helpers in scope, an Eshell prompt
 * (`(alice@vm)1>`, or `1>` on a non-distributed node), top-level `await`, Effects run
 * (in the shell process) with their result printed, and values printed in Erlang syntax.
 *
 * The shell is a process, like Erlang's: it has a pid and a mailbox, and `flush()`
 * drains it. When it dies (e.g. killed through a link) the shell prints the exit and
 * starts a new shell process.
 */
import * as Process from "@effect-otp/process/Process"
import type * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import * as Term from "@effect-otp/process/Term"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import * as readline from "node:readline"
import * as repl from "node:repl"
import { PassThrough } from "node:stream"
import type { Readable, Writable } from "node:stream"
import * as Helpers from "./helpers.js"

/**
 * @internal
 */
export interface ShellOptions {
  readonly runtime: Runtime.Runtime<ProcessRuntime.ProcessRuntime>
  readonly node: Option.Option<Term.Atom>
  readonly distribution: Option.Option<Helpers.Distribution>
  /** more names to put in scope (modules, later commands) */
  readonly scope?: Record<string, unknown> | undefined
  readonly input?: Readable | undefined
  readonly output?: Writable | undefined
  /** called once when the shell ends (q(), Ctrl-C twice, end of input) */
  readonly onExit: () => void
}

/**
 * The modules in the shell's scope.
 *
 * @internal
 */
export const modules: Record<string, unknown> = { Effect, Process, Term, Duration, Option, Schema }

/** A value the writer prints as is (an error line, or nothing). */
class Printed {
  constructor(readonly text: string) {}
}

/**
 * Starts a shell process: a process parked forever, whose handle the shell uses as `Self`.
 *
 * @internal
 */
export const spawnShellProcess = (
  runtime: Runtime.Runtime<ProcessRuntime.ProcessRuntime>
): Promise<Process.ProcessHandle> =>
  Runtime.runPromise(runtime)(
    Effect.gen(function*() {
      const ready = yield* Deferred.make<Process.ProcessHandle>()
      yield* Process.spawn(
        Effect.flatMap(Process.Self, (h) => Effect.zipRight(Deferred.succeed(ready, h), Effect.never))
      )
      return yield* Deferred.await(ready)
    })
  )

/**
 * Waits for the process to die and calls `onDown` with its exit reason.
 */
const watch = (
  runtime: Runtime.Runtime<ProcessRuntime.ProcessRuntime>,
  pid: Term.Pid,
  onDown: (reason: unknown) => void
): void => {
  Runtime.runFork(runtime)(
    Effect.flatMap(
      Process.spawn(Effect.gen(function*() {
        const ref = yield* Process.monitor(pid)
        const down = (yield* Process.receive((m) => Process.isDownMessage(m, ref))) as Term.Tuple
        onDown(down.elements[4])
      })),
      () => Effect.void
    )
  )
}

/**
 * The helpers as globals and the names in `scope`, for `--eval` and the REPL.
 *
 * @internal
 */
export const makeScope = (
  options: Omit<ShellOptions, "input" | "output">,
  shell: () => Process.ProcessHandle,
  print: (line: string) => void,
  stop: () => void
): Record<string, unknown> => ({
  ...options.scope,
  ...Helpers.make({
    runtime: options.runtime,
    shell,
    node: options.node._tag === "Some" ? options.node.value : Term.atoms.nonode,
    distribution: options.distribution,
    print,
    stop
  })
})

/**
 * What an evaluated value becomes: Promises are awaited, Effects run in the shell
 * process; failures become an `** exception` line.
 *
 * @internal
 */
export const settle = async (
  runtime: Runtime.Runtime<ProcessRuntime.ProcessRuntime>,
  shell: Process.ProcessHandle,
  value: unknown
): Promise<unknown> => {
  if (value !== null && typeof value === "object" && typeof (value as any).then === "function") {
    value = await (value as PromiseLike<unknown>)
  }
  if (Effect.isEffect(value)) {
    const exit = await Runtime.runPromiseExit(runtime)(
      Effect.provideService(value as Effect.Effect<unknown, unknown, any>, Process.Self, shell)
    )
    if (Exit.isFailure(exit)) throw Cause.squash(exit.cause)
    value = exit.value
  }
  return value
}

/**
 * Starts the REPL. Resolves when the shell has started; `options.onExit` is called when
 * it ends.
 *
 * @internal
 */
export const start = async (options: ShellOptions): Promise<repl.REPLServer> => {
  const output = options.output ?? process.stdout
  const input = options.input ?? process.stdin
  let shell = await spawnShellProcess(options.runtime)
  let count = 1
  const prefix = options.node._tag === "Some" ? `(${options.node.value.name})` : ""
  const prompt = () => `${prefix}${count}> `
  const print = (line: string) => output.write(`${line}\n`)
  const local = () => Helpers.localNode(options.runtime)

  const onShellDown = (reason: unknown) => {
    if (Term.isAtom(reason) && reason.name === "shutdown") return
    void spawnShellProcess(options.runtime).then((next) => {
      const old = shell
      shell = next
      watch(options.runtime, shell.pid, onShellDown)
      print(
        `\n** exception exit: ${Helpers.show(reason, local())} (shell process ${
          Term.formatWith(old.pid, local())
        } died; new shell ${Term.formatWith(shell.pid, local())})`
      )
      server.displayPrompt(true)
    })
  }
  watch(options.runtime, shell.pid, onShellDown)

  let stopped = false
  const stop = () => {
    if (stopped) return
    stopped = true
    server.close()
  }
  const scope = makeScope(options, () => shell, print, stop)

  const terminal = (output as any).isTTY === true && (input as any).isTTY === true
  // Piped input (scripts, tests): feed the REPL one line at a time, the next one only
  // when the previous has been evaluated (node:repl would evaluate them all at once).
  const feed = terminal ? undefined : new PassThrough()
  const server: repl.REPLServer = repl.start({
    prompt: prompt(),
    input: feed ?? input,
    output,
    terminal,
    useGlobal: true,
    ignoreUndefined: false,
    preview: false,
    writer: (value: unknown) => (value instanceof Printed ? value.text : Helpers.show(value, local()))
  })
  Object.assign(server.context, scope)

  // errors thrown by the evaluated code: one Erlang-style line (not "Uncaught ..." and a stack)
  const domain = (server as any)._domain as NodeJS.EventEmitter | undefined
  if (domain !== undefined) {
    domain.removeAllListeners("error")
    domain.on("error", (e: unknown) => {
      print(Helpers.showError(e, local()))
      count++
      server.setPrompt(prompt())
      server.clearBufferedCommand()
      if (Array.isArray((server as any).lines?.level)) (server as any).lines.level = []
      server.displayPrompt()
    })
  }

  if (feed !== undefined) {
    const lines: Array<string> = []
    let ready = false
    let ended = false
    const pump = () => {
      if (!ready) return
      const line = lines.shift()
      if (line !== undefined) {
        ready = false
        feed.write(`${line}\n`)
      } else if (ended) {
        ready = false
        feed.end()
      }
    }
    const displayPrompt = server.displayPrompt.bind(server)
    server.displayPrompt = (preserveCursor?: boolean) => {
      displayPrompt(preserveCursor)
      ready = true
      setImmediate(pump)
    }
    const reader = readline.createInterface({ input, crlfDelay: Infinity, terminal: false })
    reader.on("line", (line) => {
      lines.push(line)
      pump()
    })
    reader.on("close", () => {
      ended = true
      pump()
    })
    ready = true
    pump()
  }

  const defaultEval = server.eval
  const evaluate: repl.REPLEval = function(this: repl.REPLServer, code, context, file, cb) {
    defaultEval.call(this, code, context, file, (err, result) => {
      if (err instanceof repl.Recoverable) return cb(err, undefined)
      const done = (value: unknown) => {
        count++
        server.setPrompt(prompt())
        cb(null, value)
      }
      if (err) return done(new Printed(Helpers.showError(err, local())))
      Helpers.current.run(shell, () => settle(options.runtime, shell, result)).then(
        done,
        (e) => done(new Printed(Helpers.showError(e, local())))
      )
    })
  }
  ;(server as any).eval = evaluate
  server.on("exit", () => {
    stopped = true
    options.onExit()
  })
  return server
}

/**
 * Runs `--eval` code with the helpers in scope: an expression (its value is settled
 * like a shell input: Promises awaited, Effects run), else statements (top-level
 * `await` works). Throws what the code throws.
 *
 * @internal
 */
export const evaluate = async (
  options: Omit<ShellOptions, "input" | "output">,
  code: string,
  print: (line: string) => void,
  stop: () => void
): Promise<unknown> => {
  const shell = await spawnShellProcess(options.runtime)
  const scope = makeScope(options, () => shell, print, stop)
  const names = Object.keys(scope)
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new(
    ...args: Array<string>
  ) => (...values: Array<unknown>) => Promise<unknown>
  let fn: (...values: Array<unknown>) => Promise<unknown>
  try {
    fn = new AsyncFunction(...names, `return (${code}\n)`)
  } catch {
    fn = new AsyncFunction(...names, code)
  }
  return Helpers.current.run(shell, async () => settle(options.runtime, shell, await fn(...names.map((n) => scope[n]))))
}
