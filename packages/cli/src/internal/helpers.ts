/**
 * The shell's helpers, named after the Erlang shell's: `self()`, `send(dest, msg)`,
 * `flush()`, `register`, `whereis`, `spawn`, `link`, `monitor`, `exit`, `i()`, `q()`,
 * `node()`, `nodes()`, `ping(node)`, `receive()`, and for distribution `rpc(node, m, f, args)`
 * (`rpc:call`), `spawn(node, m, f, args)`, `monitorNodes(true | false)`
 * (`net_kernel:monitor_nodes`) and `disconnect(node)` (`erlang:disconnect_node`).
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
 */
import type * as Rpc from "@effect-otp/dist/Rpc"
import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { RemoteName } from "@effect-otp/process/Signal"
import * as Term from "@effect-otp/process/Term"
import { fromJs, t } from "@effect-otp/process/TermLiteral"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import { AsyncLocalStorage } from "node:async_hooks"
import * as util from "node:util"

/**
 * What distribution offers the shell (absent on a non-distributed node).
 *
 * @internal
 */
export interface Distribution {
  readonly ping: (node: Term.Atom) => Effect.Effect<"pong" | "pang">
  /** `nodes()`, or `nodes(kind)` with `visible`, `hidden`, `connected`, `this`, `known` (or a list of them) */
  readonly nodes: (kind?: unknown) => Effect.Effect<ReadonlyArray<Term.Atom>>
  /** `erpc:call(Node, M, F, Args)` (the shell maps its failures as `rpc:call` does, see `rpcResult`) */
  readonly rpc: (
    node: Term.Atom,
    module: Term.Atom,
    fun: Term.Atom,
    args: ReadonlyArray<Term.Term>,
    timeout: Option.Option<Duration.Duration>
  ) => Effect.Effect<Term.Term, Rpc.RpcError, ProcessRuntime.ProcessRuntime>
  /** `spawn(Node, M, F, Args)` / `spawn_link(Node, M, F, Args)` from the current process */
  readonly spawn: (
    node: Term.Atom,
    module: Term.Atom,
    fun: Term.Atom,
    args: ReadonlyArray<Term.Term>,
    link: boolean
  ) => Effect.Effect<Term.Pid, Rpc.RpcError, ProcessRuntime.ProcessRuntime | Process.Self>
  /** `net_kernel:monitor_nodes(true, Options)` for the current process; returns the unsubscribe */
  readonly monitorNodes: (
    options: { readonly hidden: boolean; readonly nodedownReason: boolean }
  ) => Effect.Effect<() => void, never, Process.Self>
  /** `erlang:disconnect_node/1` */
  readonly disconnect: (node: Term.Atom) => Effect.Effect<boolean>
}

/**
 * What the helpers need from the shell.
 *
 * @internal
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
 * @internal
 */
export const current = new AsyncLocalStorage<Process.ProcessHandle>()

const ok = Term.atoms.ok

/**
 * How the node of `runtime` prints pids, refs and ports (its own as `<0.N.S>`).
 *
 * @internal
 */
export const localNode = (runtime: Runtime.Runtime<ProcessRuntime.ProcessRuntime>): Term.LocalNode =>
  Context.get(runtime.context, ProcessRuntime.ProcessRuntime).localNode

/**
 * Prints a value as the Erlang shell of `local` would: terms in Erlang syntax, other
 * JS values with `util.inspect`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const show = (value: unknown, local?: Term.LocalNode): string => {
  if (typeof value !== "string" && typeof value !== "undefined" && Term.isTerm(value)) {
    return Term.formatWith(value, local)
  }
  return util.inspect(value, { depth: 6 })
}

/**
 * The text of an error for the shell: `** exception error: ...` / `** exception exit: ...`.
 *
 * @internal
 */
export const showError = (error: unknown, local?: Term.LocalNode): string => {
  if (error instanceof Process.ProcessExit) return `** exception exit: ${show(error.reason, local)}`
  if (error instanceof Error) return `** exception error: ${error.message}`
  return `** exception error: ${show(error, local)}`
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
 * @internal
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

/** A Promise where a value was expected (e.g. `const p = spawn(node, m, f, a)` without `await`). */
const notAwaited = (value: unknown): void => {
  if (value instanceof Promise) {
    throw new TypeError("badarg: got a Promise: add await (e.g. const p = await spawn(node, m, f, args))")
  }
}

const toTarget = (dest: unknown): Process.Target => {
  notAwaited(dest)
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
  notAwaited(pid)
  throw new TypeError(`badarg: not a pid: ${show(pid)}`)
}

/**
 * What `rpc:call` returns for a failed call, as OTP's `rpc` maps `erpc`'s exceptions:
 * a throw is returned as the value, an exit is `{badrpc, {'EXIT', Reason}}`, an error
 * `{badrpc, {'EXIT', {Reason, Stack}}}`, a lost or missing connection
 * `{badrpc, nodedown}`, a timeout `{badrpc, timeout}`.
 *
 * @internal
 */
export const rpcResult = (error: Rpc.RpcError): Term.Term => {
  const badrpc = (reason: Term.Term) => Term.tuple(Term.atom("badrpc"), reason)
  const EXIT = (reason: Term.Term) => badrpc(Term.tuple(Term.atom("EXIT"), reason))
  const value = error.value ?? Term.atoms.undefined
  switch (error.reason) {
    case "Throw":
      return Term.isTagged(value, "EXIT", 2) ? badrpc(value) : value
    case "Exit":
      return EXIT(value)
    case "Error":
      return EXIT(Term.tuple(value, error.stacktrace ?? []))
    case "NoConnection":
      return badrpc(Term.atom("nodedown"))
    case "Timeout":
      return badrpc(Term.atoms.timeout)
    case "SpawnFailed":
      return EXIT(value)
    case "BadArgument":
    case "BadResult":
      return EXIT(Term.atoms.badarg)
  }
}

const toTerms = (args: unknown, what: string): ReadonlyArray<Term.Term> => {
  if (!Array.isArray(args)) throw new TypeError(`badarg: ${what} must be a list of arguments, got ${show(args)}`)
  return args.map(fromJs)
}

const badTimeout = (timeout: unknown): never => {
  throw new TypeError(`badarg: the timeout must be milliseconds or infinity, got ${show(timeout)}`)
}

const toBool = (flag: unknown, what: string): boolean => {
  if (flag === true || flag === Term.atoms.true) return true
  if (flag === false || flag === Term.atoms.false) return false
  throw new TypeError(`badarg: ${what} must be true or false, got ${show(flag)}`)
}

/**
 * `monitor_nodes` options: `{ hidden, nodedownReason }`, or Erlang's list
 * (t`[{node_type, all}, nodedown_reason]`).
 */
const toMonitorNodesOptions = (options: unknown): { hidden: boolean; nodedownReason: boolean } => {
  if (options === undefined) return { hidden: false, nodedownReason: false }
  if (Array.isArray(options)) {
    let hidden = false
    let nodedownReason = false
    for (const o of options) {
      if (o === Term.atom("nodedown_reason") || o === "nodedown_reason") nodedownReason = true
      else if (Term.isTagged(o, "node_type", 2) && (o as Term.Tuple).elements[1] === Term.atom("all")) hidden = true
      else if (Term.isTagged(o, "node_type", 2) && (o as Term.Tuple).elements[1] === Term.atom("visible")) {
        hidden = false
      } else throw new TypeError(`badarg: unsupported monitor_nodes option ${show(o)}`)
    }
    return { hidden, nodedownReason }
  }
  if (typeof options === "object" && options !== null) {
    const o = options as { hidden?: unknown; nodedownReason?: unknown }
    return { hidden: o.hidden === true, nodedownReason: o.nodedownReason === true }
  }
  throw new TypeError(
    `badarg: monitor_nodes options must be a list or { hidden, nodedownReason }, got ${show(options)}`
  )
}

const isGeneratorFunction = (f: unknown): boolean =>
  typeof f === "function" && (f.constructor?.name === "GeneratorFunction")

/**
 * The helper table.
 *
 * @internal
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

  /** spawn(body), or spawn(node, module, function, args) on another node */
  const spawnHelper = (link: boolean) => (...xs: ReadonlyArray<unknown>) => {
    const name = link ? "spawn_link" : "spawn"
    if (xs.length === 1) return run(link ? Process.spawnLink(spawnBody(xs[0])) : Process.spawn(spawnBody(xs[0])))
    if (xs.length === 4) {
      const [node, m, f, args] = xs
      const n = toAtom(node, "a node name")
      const call = [toAtom(m, "a module name"), toAtom(f, "a function name"), toTerms(args, `${name}'s args`)] as const
      return Option.match(env.distribution, {
        onNone: () => {
          throw new TypeError(`notalive: ${name}(${show(n)}, ...) needs a distributed node (--sname or --name)`)
        },
        onSome: (d) => run(d.spawn(n, ...call, link))
      })
    }
    if (xs.length === 2) {
      throw new TypeError(
        `badarg: a function cannot be sent to another node; use ${name}(node, module, function, args)`
      )
    }
    throw new TypeError(`badarg: ${name}(fn) or ${name}(node, module, function, args)`)
  }

  /** monitor_nodes subscriptions of each process, per options (Erlang counts them) */
  const nodeSubscriptions = new Map<string, Array<() => void>>()

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
        env.print(`Shell got ${show(m.value, localNode(env.runtime))}`)
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
    /**
     * spawn(async () => {...}), spawn(function*() {...}) or spawn(effect); on another node,
     * spawn(node, module, function, args)
     */
    spawn: spawnHelper(false),
    spawn_link: spawnHelper(true),
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
        rows.push([
          Term.formatWith(pid, localNode(env.runtime)),
          name,
          String(info.value.messageQueueLen),
          info.value.status
        ])
      }
      // a reduce, not Math.max(...): a spread of ~120k processes would overflow the stack
      const widths = [0, 1, 2, 3].map((c) => rows.reduce((w, r) => Math.max(w, r[c]!.length), 0))
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
    /** node() is this node; node(pidOrRef) the node it belongs to */
    node: (of?: unknown) => {
      if (of === undefined) return env.node
      notAwaited(of)
      if (of instanceof Term.Pid || of instanceof Term.Ref || of instanceof Term.Port) return of.node
      throw new TypeError(`badarg: node() takes a pid, a reference or a port, got ${show(of)}`)
    },
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
    },
    /**
     * rpc:call(Node, M, F, Args[, TimeoutMs]): the value, or what `rpc:call` returns on a
     * failure (`{badrpc, {'EXIT', Reason}}`, `{badrpc, nodedown}`, `{badrpc, timeout}`)
     */
    rpc: (node: unknown, m: unknown, f: unknown, args: unknown, timeoutMs?: unknown) => {
      const n = toAtom(node, "a node name")
      const mm = toAtom(m, "a module name")
      const ff = toAtom(f, "a function name")
      const terms = toTerms(args, "rpc's args")
      const timeout = timeoutMs === undefined || timeoutMs === "infinity" || timeoutMs === Term.atom("infinity")
        ? Option.none()
        : typeof timeoutMs === "number" && Number.isInteger(timeoutMs) && timeoutMs >= 0
        ? Option.some(Duration.millis(timeoutMs))
        : badTimeout(timeoutMs)
      return Option.match(env.distribution, {
        onNone: (): Term.Term => Term.tuple(Term.atom("badrpc"), Term.atom("nodedown")),
        onSome: (d) => run(Effect.catchAll(d.rpc(n, mm, ff, terms, timeout), (e) => Effect.succeed(rpcResult(e))))
      })
    },
    /**
     * net_kernel:monitor_nodes(true | false[, Options]): the current process receives
     * `{nodeup, Node}` / `{nodedown, Node}` (flush() shows them). Options:
     * `{ hidden: true, nodedownReason: true }` or t`[{node_type, all}, nodedown_reason]`.
     */
    monitorNodes: (flag: unknown, options?: unknown) => {
      const on = toBool(flag, "monitorNodes' flag")
      const o = toMonitorNodesOptions(options)
      if (Option.isNone(env.distribution)) return ok
      const key = `${me().pid.toString()} ${o.hidden} ${o.nodedownReason}`
      const subs = nodeSubscriptions.get(key) ?? []
      if (on) {
        const r = run(env.distribution.value.monitorNodes(o))
        const add = (unsubscribe: () => void) => {
          subs.push(unsubscribe)
          nodeSubscriptions.set(key, subs)
          return ok
        }
        return r instanceof Promise ? r.then(add) : add(r)
      }
      subs.pop()?.()
      if (subs.length === 0) nodeSubscriptions.delete(key)
      return ok
    },
    /** erlang:disconnect_node(Node): true, false, or ignored on a non-distributed node */
    disconnect: (node: unknown) => {
      const n = toAtom(node, "a node name")
      return Option.match(env.distribution, {
        onNone: (): Term.Term => Term.atom("ignored"),
        onSome: (d) => {
          const r = run(d.disconnect(n))
          return r instanceof Promise ? r.then(Term.boolean) : Term.boolean(r)
        }
      })
    }
  }
  helpers.halt = helpers.q
  helpers.monitor_nodes = helpers.monitorNodes
  helpers.disconnect_node = helpers.disconnect
  return helpers
}
