/**
 * The shell's helpers, named after the Erlang shell's: `self()`, `send(dest, msg)`,
 * `flush()`, `register`, `whereis`, `spawn`, `link`, `monitor`, `exit`, `i()`, `q()`,
 * `node()`, `nodes()`, `ping(node)`, and `receive()`.
 *
 * They are a table built from the node's services (`make(env)`), so a command that
 * needs a service the node does not run (e.g. `ping` without distribution) answers as
 * Erlang does on such a node, and later services add entries.
 *
 * Helpers run synchronously when they can (a local `send` returns the message at
 * once, `self()` returns a pid, so ``t`{${self()}, hi}` `` works); the ones that wait
 * (`ping`, `receive`) return a Promise, which the shell awaits.
 *
 * Inside `spawn(async () => ...)` the helpers act for the spawned process: `self()`
 * is its pid and `receive()` reads its mailbox.
 *
 * @since 0.1.0
 */
import * as Process from "@effect-otp/process/Process"
import type * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { RemoteName } from "@effect-otp/process/Signal"
import * as Term from "@effect-otp/process/Term"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import { AsyncLocalStorage } from "node:async_hooks"
import * as util from "node:util"
import { fromJs, t } from "./TermLiteral.js"

/**
 * What distribution offers the shell (absent on a non-distributed node).
 *
 * @since 0.1.0
 * @category models
 */
export interface Distribution {
  readonly ping: (node: Term.Atom) => Effect.Effect<"pong" | "pang">
  /** `nodes()`, or `nodes(kind)` with `visible`, `hidden`, `connected`, `this`, `known` (or a list of them) */
  readonly nodes: (kind?: unknown) => Effect.Effect<ReadonlyArray<Term.Atom>>
}

/**
 * What the helpers need from the shell.
 *
 * @since 0.1.0
 * @category models
 */
export interface Env {
  readonly runtime: Runtime.Runtime<ProcessRuntime.ProcessRuntime>
  /** the current shell process (it is replaced when it dies) */
  readonly shell: () => Process.ProcessHandle
  readonly node: Term.Atom
  readonly distribution: Option.Option<Distribution>
  /** writes a line to the shell's output */
  readonly print: (line: string) => void
  /** stops the node cleanly and exits */
  readonly stop: () => void
}

/**
 * The process the helpers act for: the one running a `spawn`ed function, else the shell.
 *
 * @since 0.1.0
 * @category models
 */
export const current = new AsyncLocalStorage<Process.ProcessHandle>()

const ok = Term.atoms.ok

/**
 * Prints a value as the Erlang shell would: terms in Erlang syntax, other JS values
 * with `util.inspect`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const show = (value: unknown): string => {
  if (typeof value !== "string" && typeof value !== "undefined" && Term.isTerm(value)) return Term.format(value)
  return util.inspect(value, { depth: 6 })
}

/**
 * The text of an error for the shell: `** exception error: ...` / `** exception exit: ...`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const showError = (error: unknown): string => {
  if (error instanceof Process.ProcessExit) return `** exception exit: ${show(error.reason)}`
  if (error instanceof Error) return `** exception error: ${error.message}`
  return `** exception error: ${show(error)}`
}

/** A failed Effect as a thrown error with a clear message. */
const squash = (cause: Cause.Cause<unknown>): unknown => {
  const e = Cause.squash(cause)
  return e
}

/**
 * Runs an effect in the current process: synchronously when it completes without
 * waiting, else as a Promise. Failures are thrown (or rejected).
 *
 * @since 0.1.0
 * @category running
 */
export const runIn = <A, E>(
  env: Pick<Env, "runtime" | "shell">,
  effect: Effect.Effect<A, E, ProcessRuntime.ProcessRuntime | Process.Self>
): A | Promise<A> => {
  const handle = current.getStore() ?? env.shell()
  const provided = Effect.provideService(effect, Process.Self, handle)
  const exit = Runtime.runSyncExit(env.runtime)(provided)
  if (Exit.isSuccess(exit)) return exit.value
  const defect = Cause.isDie(exit.cause) ? Cause.squash(exit.cause) : undefined
  if (Runtime.isAsyncFiberException(defect)) {
    return Runtime.runPromiseExit(env.runtime)(Fiber.join(defect.fiber as Fiber.Fiber<A, E>)).then((e) => {
      if (Exit.isSuccess(e)) return e.value
      throw squash(e.cause)
    })
  }
  throw squash(exit.cause)
}

const toTarget = (dest: unknown): Process.Target => {
  if (typeof dest === "string") return dest
  if (dest instanceof Term.Pid || dest instanceof Term.Atom || dest instanceof RemoteName) return dest
  if (dest instanceof Term.Tuple) return dest
  if (Array.isArray(dest) && dest.length === 2) {
    const [name, node] = dest.map((x) => (typeof x === "string" ? Term.atom(x) : x))
    if (name instanceof Term.Atom && node instanceof Term.Atom) return new RemoteName({ name, node })
  }
  throw new TypeError(`badarg: not a process: ${show(dest)}`)
}

const toAtom = (name: unknown, what: string): Term.Atom => {
  if (typeof name === "string") return Term.atom(name)
  if (name instanceof Term.Atom) return name
  throw new TypeError(`badarg: ${what} must be an atom or a string, got ${show(name)}`)
}

const toPid = (pid: unknown): Term.Pid => {
  if (pid instanceof Term.Pid) return pid
  throw new TypeError(`badarg: not a pid: ${show(pid)}`)
}

const isGeneratorFunction = (f: unknown): boolean =>
  typeof f === "function" && (f.constructor?.name === "GeneratorFunction")

/**
 * The helper table.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (env: Env): Record<string, unknown> => {
  const run = <A, E>(effect: Effect.Effect<A, E, ProcessRuntime.ProcessRuntime | Process.Self>) => runIn(env, effect)
  const me = () => current.getStore() ?? env.shell()

  const spawnBody = (body: unknown): Effect.Effect<unknown, unknown, any> => {
    if (Effect.isEffect(body)) return body
    if (isGeneratorFunction(body)) return Effect.gen(body as any)
    if (typeof body === "function") {
      return Effect.flatMap(Process.Self, (h) =>
        Effect.tryPromise({
          try: () => current.run(h, async () => (body as () => unknown)()),
          catch: (e) => e
        }))
    }
    throw new TypeError(`badarg: spawn takes a function or an Effect, got ${show(body)}`)
  }

  const helpers: Record<string, unknown> = {
    /** Erlang term literals: t`{echo, <<"hi">>}` */
    t,
    /** a JS value as a term */
    term: fromJs,
    /** the current process's pid */
    self: () => me().pid,
    /** `dest ! msg`; returns msg. dest: pid, name, t`{name, node}` or [name, node] */
    send: (dest: unknown, msg: unknown) => {
      const r = run(Process.send(toTarget(dest), msg))
      return r instanceof Promise ? r.then(() => msg) : msg
    },
    /** prints and removes every message of the current process's mailbox */
    flush: () => {
      for (;;) {
        const m = run(Process.receive(undefined, { after: Duration.zero })) as Option.Option<unknown>
        if (Option.isNone(m)) return ok
        env.print(`Shell got ${show(m.value)}`)
      }
    },
    /**
     * the next message (matching `match`, if given) of the current process; with
     * `timeoutMs`, the atom `timeout` when nothing came
     */
    receive: (match?: (m: unknown) => boolean, timeoutMs?: number) => {
      if (typeof match === "number") {
        timeoutMs = match
        match = undefined
      }
      if (timeoutMs === undefined) return run(Process.receive(match as any))
      const r = run(Process.receive(match as any, { after: Duration.millis(timeoutMs) }))
      const unwrap = (o: unknown) => Option.getOrElse(o as Option.Option<unknown>, () => Term.atoms.timeout)
      return r instanceof Promise ? r.then(unwrap) : unwrap(r)
    },
    register: (name: unknown, pid: unknown) => {
      run(Process.register(toAtom(name, "a registered name"), toPid(pid)))
      return Term.atoms.true
    },
    unregister: (name: unknown) => {
      run(Process.unregister(toAtom(name, "a registered name")))
      return Term.atoms.true
    },
    whereis: (name: unknown) =>
      Option.getOrElse(
        run(Process.whereis(toAtom(name, "a registered name"))) as Option.Option<Term.Pid>,
        (): Term.Term => Term.atoms.undefined
      ),
    registered: () => run(Process.registered),
    /** spawn(async () => {...}), spawn(function*() {...}) or spawn(effect) */
    spawn: (body: unknown) => run(Process.spawn(spawnBody(body))),
    spawn_link: (body: unknown) => run(Process.spawnLink(spawnBody(body))),
    link: (pid: unknown) => {
      run(Process.link(toPid(pid)))
      return Term.atoms.true
    },
    unlink: (pid: unknown) => {
      run(Process.unlink(toPid(pid)))
      return Term.atoms.true
    },
    monitor: (target: unknown) => run(Process.monitor(toTarget(target))),
    demonitor: (ref: unknown) => {
      if (!(ref instanceof Term.Ref)) throw new TypeError(`badarg: not a reference: ${show(ref)}`)
      return Term.boolean(run(Process.demonitor(ref)) as boolean)
    },
    exit: (pid: unknown, reason: unknown) => {
      if (reason === undefined) throw new Process.ProcessExit({ reason: fromJs(pid) })
      run(Process.exit(toPid(pid), fromJs(reason)))
      return Term.atoms.true
    },
    is_process_alive: (pid: unknown) => Term.boolean(run(Process.isAlive(toPid(pid))) as boolean),
    /** the process list: pid, registered name, message queue length, status */
    i: () => {
      const pids = run(Process.processes) as ReadonlyArray<Term.Pid>
      const rows: Array<[string, string, string, string]> = [["Pid", "Name", "Msgs", "Status"]]
      for (const pid of pids) {
        const info = run(Process.processInfo(pid)) as Option.Option<Process.ProcessInfo>
        if (Option.isNone(info)) continue
        const name = Option.match(info.value.registeredName, {
          onNone: () => (pid === env.shell().pid ? "(shell)" : ""),
          onSome: (a) => a.toString()
        })
        rows.push([pid.toString(), name, String(info.value.messageQueueLen), info.value.status])
      }
      const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c]!.length)))
      for (const r of rows) {
        env.print(
          `${r[0].padEnd(widths[0]!)}  ${r[1].padEnd(widths[1]!)}  ${r[2].padStart(widths[2]!)}  ${r[3]}`.trimEnd()
        )
      }
      return ok
    },
    /** stops the node (its epmd name goes away) and exits */
    q: () => {
      env.stop()
      return ok
    },
    node: () => env.node,
    nodes: (kind?: unknown) =>
      Option.match(env.distribution, {
        onNone: (): ReadonlyArray<Term.Atom> =>
          kind !== undefined && (kind === "this" || kind === Term.atom("this") ||
              (Array.isArray(kind) && kind.some((k) => k === "this" || k === Term.atom("this"))))
            ? [env.node]
            : [],
        onSome: (d) => run(d.nodes(kind))
      }),
    /** net_adm:ping(Node): pong or pang */
    ping: (node: unknown) => {
      const n = toAtom(node, "a node name")
      return Option.match(env.distribution, {
        onNone: () => Term.atom("pang"),
        onSome: (d) => {
          const r = run(d.ping(n))
          return r instanceof Promise ? r.then(Term.atom) : Term.atom(r)
        }
      })
    }
  }
  helpers.halt = helpers.q
  return helpers
}
