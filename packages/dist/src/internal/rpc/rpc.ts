/**
 * Remote spawn and rpc: the published-modules registry, the SPAWN_REQUEST server
 * (`erpc:execute_call/4`, `erpc:execute_cast/3`, any published `M:F/A`), the client side
 * of `spawn_request` (SPAWN_REPLY and the monitor it sets up), a group leader that
 * serves `io_request`s, a `rex` server, and the built-in `erlang` and `io` modules.
 * @internal
 */
import * as Process from "@effect-otp/process/Process"
import { ProcessRuntime, type ProcessRuntimeShape } from "@effect-otp/process/ProcessRuntime"
import * as Sig from "@effect-otp/process/Signal"
import * as T from "@effect-otp/process/Term"
import * as TermSchema from "@effect-otp/process/TermSchema"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Module from "../../Module.js"
import type { NetKernelImpl } from "../netKernel.js"
import { charsText, formatIo } from "./ioFormat.js"

// ---------------------------------------------------------------------------
// Atoms and helpers
// ---------------------------------------------------------------------------

const a = T.Atom.make
/** @internal */
export const A = {
  erpc: a("erpc"),
  execute_call: a("execute_call"),
  execute_cast: a("execute_cast"),
  erlang: a("erlang"),
  apply: a("apply"),
  return: a("return"),
  throw: a("throw"),
  exit: a("exit"),
  error: a("error"),
  undef: a("undef"),
  function_clause: a("function_clause"),
  badfun: a("badfun"),
  nocatch: a("nocatch"),
  link: a("link"),
  monitor: a("monitor"),
  spawn_reply: a("spawn_reply"),
  ok: a("ok"),
  io_request: a("io_request"),
  io_reply: a("io_reply"),
  put_chars: a("put_chars"),
  io_lib: a("io_lib"),
  format: a("format"),
  request: a("request"),
  rex: a("rex"),
  call: a("call"),
  cast: a("cast"),
  badrpc: a("badrpc"),
  EXIT: a("EXIT"),
  features_request: a("features_request"),
  features_reply: a("features_reply"),
  effect_failure: a("effect_failure"),
  bad_result: a("bad_result"),
  kill: a("kill")
} as const

/** A map key for a reference (high zero words do not count, as in erts). @internal */
export const refKey = (r: T.Ref): string => {
  let n = r.ids.length
  while (n > 1 && r.ids[n - 1] === 0) n--
  return `${r.node.name}|${r.creation}|${r.ids.slice(0, n).join(".")}`
}

/** How a call ended, with Erlang's exception classes. @internal */
export type Outcome =
  | { readonly _tag: "return"; readonly value: T.Term }
  | { readonly _tag: "throw"; readonly reason: T.Term }
  | { readonly _tag: "exit"; readonly reason: T.Term }
  | { readonly _tag: "error"; readonly reason: T.Term; readonly stack: T.Term }

const frame = (m: T.Atom, f: T.Atom, argsOrArity: T.Term): T.Tuple => T.tuple(m, f, argsOrArity, [])
const undef = (m: T.Atom, f: T.Atom, args: ReadonlyArray<T.Term>): Outcome => ({
  _tag: "error",
  reason: A.undef,
  stack: [frame(m, f, args)]
})

/** The group leader of the current process (from SPAWN_REQUEST), for `io:format`. @internal */
export class GroupLeader extends Context.Tag("@effect-otp/dist/internal/GroupLeader")<GroupLeader, T.Pid>() {}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/** @internal */
export class RpcError extends Data.TaggedError("RpcError")<{
  readonly reason: "Throw" | "Exit" | "Error" | "Timeout" | "NoConnection" | "SpawnFailed" | "BadArgument" | "BadResult"
  readonly node: T.Atom
  readonly value?: T.Term | undefined
  readonly stacktrace?: T.Term | undefined
  readonly detail?: string | undefined
}> {
  override get message(): string {
    const v = this.value === undefined ? "" : `: ${T.format(this.value)}`
    const d = this.detail === undefined ? "" : ` (${this.detail})`
    switch (this.reason) {
      case "Throw":
        return `rpc to ${this.node.name} threw${v}`
      case "Exit":
        return `rpc to ${this.node.name} exited${v}`
      case "Error":
        return `rpc to ${this.node.name} raised an error${v}`
      case "Timeout":
        return `rpc to ${this.node.name} timed out`
      case "NoConnection":
        return `no connection to ${this.node.name}${d}`
      case "SpawnFailed":
        return `spawn on ${this.node.name} failed${v}`
      case "BadArgument":
        return `arguments do not encode${d}`
      case "BadResult":
        return `the result from ${this.node.name} does not decode${v}${d}`
    }
  }
}

// ---------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------

interface Published {
  readonly module: Module.AnyModule
  readonly context: Context.Context<any>
}

/** @internal */
export interface RpcImpl {
  readonly node: T.Atom
  readonly groupLeader: T.Pid
  readonly publish: (module: Module.AnyModule, context: Context.Context<any>) => () => void
  readonly published: () => ReadonlyArray<T.Atom>
  /** Runs `M:F(Args)` here, in the current process. */
  readonly execute: (m: T.Atom, f: T.Atom, args: ReadonlyArray<T.Term>) => Effect.Effect<Outcome, never, Process.Self>
  /** What a process spawned here for `M:F(Args)` runs (its exit reason is Erlang's). */
  readonly body: (
    m: T.Atom,
    f: T.Atom,
    args: ReadonlyArray<T.Term>
  ) => Effect.Effect<void, Process.ProcessExit, Process.Self | ProcessRuntime>
  /** Sends a SPAWN_REQUEST from `from`; the reply arrives as `{spawn_reply, ReqId, ok | error, PidOrReason}`. */
  readonly spawnRequest: (
    from: T.Pid,
    node: T.Atom,
    m: T.Atom,
    f: T.Atom,
    args: ReadonlyArray<T.Term>,
    options: { readonly link: boolean; readonly monitor: boolean }
  ) => Effect.Effect<T.Ref>
}

/** Classifies how a module function failed. */
const classify = (cause: Cause.Cause<unknown>, stack: T.Term): Outcome | undefined => {
  const failure = Cause.failureOption(cause)
  const e = Option.isSome(failure) ? failure.value : Option.getOrUndefined(Cause.dieOption(cause))
  if (e instanceof Module.Throw) return { _tag: "throw", reason: e.value }
  if (e instanceof Process.ProcessExit) return { _tag: "exit", reason: e.reason }
  if (e instanceof Module.ErlangError) return { _tag: "error", reason: e.reason, stack }
  if (Option.isSome(failure) && T.isTerm(e)) return { _tag: "error", reason: e, stack }
  if (Cause.isInterruptedOnly(cause)) return undefined
  return { _tag: "error", reason: T.tuple(A.effect_failure, T.binary(Cause.pretty(cause))), stack }
}

/** The exit reason of a plain spawned process that ended with `outcome` (as erts computes it). */
const spawnExitReason = (o: Outcome): T.Term => {
  switch (o._tag) {
    case "return":
      return T.atoms.normal
    case "throw":
      return T.tuple(T.tuple(A.nocatch, o.reason), [])
    case "exit":
      return o.reason
    case "error":
      return T.tuple(o.reason, o.stack)
  }
}

/** `erpc:execute_call/4`'s exit reason. */
const erpcExitReason = (ref: T.Term, o: Outcome): T.Term => {
  switch (o._tag) {
    case "return":
      return T.tuple(ref, A.return, o.value)
    case "throw":
      return T.tuple(ref, A.throw, o.reason)
    case "exit":
      return T.tuple(ref, A.exit, o.reason)
    case "error":
      return T.tuple(ref, A.error, o.reason, o.stack)
  }
}

/** @internal */
export const make = (
  kernel: NetKernelImpl,
  runtime: ProcessRuntimeShape
): Effect.Effect<RpcImpl, never, Scope.Scope> =>
  Effect.gen(function*() {
    const thisNode = kernel.node
    const modules = new Map<T.Atom, Published>()
    /** our outgoing spawn requests: reqId → requester */
    const pending = new Map<string, { readonly from: T.Pid; readonly node: T.Atom; readonly ref: T.Ref }>()
    /** monitors set up by our spawn requests: reqId → watcher and spawned pid */
    const monitors = new Map<string, { readonly watcher: T.Pid; readonly pid: T.Pid; readonly ref: T.Ref }>()

    const provideRuntime = <X, E, R>(eff: Effect.Effect<X, E, R>) => Effect.provideService(eff, ProcessRuntime, runtime)

    // --- executing M:F(Args) ------------------------------------------------------

    const execute = (
      m: T.Atom,
      f: T.Atom,
      args: ReadonlyArray<T.Term>
    ): Effect.Effect<Outcome, never, Process.Self> =>
      Effect.suspend(() => {
        const published = modules.get(m) ?? builtins.get(m)
        const fn = published === undefined ? undefined : Module.lookup(published.module, f.name, args.length)
        if (published === undefined || fn === undefined) return Effect.succeed(undef(m, f, args))
        const decoded = Schema.decodeUnknownEither(fn.args)(args)
        if (Either.isLeft(decoded)) {
          // a published function has no clause for them; a built-in raises badarg, as erl's BIFs do
          if (modules.has(m)) {
            return Effect.succeed<Outcome>({ _tag: "error", reason: A.function_clause, stack: [frame(m, f, args)] })
          }
          const location = m === A.erlang ? [ertsErrorInfo] : []
          return Effect.succeed<Outcome>({
            _tag: "error",
            reason: T.atoms.badarg,
            stack: [T.tuple(m, f, args, location)]
          })
        }
        const stack = [frame(m, f, args.length)]
        const run = fn.run(...(decoded.right as ReadonlyArray<unknown>)) as Effect.Effect<unknown, unknown, any>
        return Effect.flatMap(
          Effect.exit(Effect.provide(run, published.context) as Effect.Effect<unknown, unknown, Process.Self>),
          (exit): Effect.Effect<Outcome> => {
            if (exit._tag === "Success") {
              const encoded = Schema.encodeUnknownEither(fn.result)(exit.value)
              if (Either.isLeft(encoded)) {
                return Effect.succeed({
                  _tag: "error",
                  reason: T.tuple(A.bad_result, T.binary(ParseResult.TreeFormatter.formatErrorSync(encoded.left))),
                  stack
                })
              }
              if (!T.isTerm(encoded.right)) {
                return Effect.succeed({
                  _tag: "error",
                  reason: T.tuple(A.bad_result, T.binary("the result has no term form")),
                  stack
                })
              }
              return Effect.succeed({ _tag: "return", value: encoded.right })
            }
            const o = classify(exit.cause, stack)
            return o === undefined ? Effect.failCause(exit.cause as Cause.Cause<never>) : Effect.succeed(o)
          }
        )
      })

    /** What a process spawned for `M:F(Args)` runs. */
    const body = (
      m: T.Atom,
      f: T.Atom,
      args: ReadonlyArray<T.Term>
    ): Effect.Effect<void, Process.ProcessExit, Process.Self> => {
      // erpc:execute_call(Ref, M, F, A)
      if (m === A.erpc && f === A.execute_call && args.length === 4) {
        const [ref, mm, ff, aa] = args
        if (mm instanceof T.Atom && ff instanceof T.Atom && Array.isArray(aa)) {
          return Effect.flatMap(
            execute(mm, ff, aa as ReadonlyArray<T.Term>),
            (o) => Process.exit(erpcExitReason(ref!, o))
          )
        }
        // erpc:call with a fun: its code cannot run here
        return Process.exit(erpcExitReason(ref!, { _tag: "error", reason: T.tuple(A.badfun, mm!), stack: [] }))
      }
      if (m === A.erpc && f === A.execute_call && args.length === 3) {
        return Process.exit(erpcExitReason(args[0]!, { _tag: "error", reason: T.tuple(A.badfun, args[1]!), stack: [] }))
      }
      // erpc:execute_cast(M, F, A)
      if (m === A.erpc && f === A.execute_cast && args.length === 3) {
        const [mm, ff, aa] = args
        if (mm instanceof T.Atom && ff instanceof T.Atom && Array.isArray(aa)) {
          return Effect.flatMap(execute(mm, ff, aa as ReadonlyArray<T.Term>), (o) =>
            o._tag === "return" ? Effect.void : Process.exit(spawnExitReason(o)))
        }
        return Effect.void
      }
      return Effect.flatMap(execute(m, f, args), (o) =>
        o._tag === "return" ? Effect.void : Process.exit(spawnExitReason(o)))
    }

    // --- the SPAWN_REQUEST server ------------------------------------------------

    yield* kernel.handlers.spawnRequest((peer, req, argList) =>
      Effect.gen(function*() {
        const args = Array.isArray(argList) ? (argList as ReadonlyArray<T.Term>) : []
        const link = req.options.some((o) =>
          o === A.link
        )
        const monitor = req.options.some((o) =>
          o === A.monitor || T.isTagged(o, A.monitor, 2)
        )
        const gate = yield* Deferred.make<void>()
        const pid = runtime.unsafeSpawn(
          Effect.zipRight(
            Deferred.await(gate),
            body(req.mfa.module, req.mfa.fun, args).pipe(
              Effect.provideService(GroupLeader, req.groupLeader),
              provideRuntime
            )
          )
        )
        if (link) runtime.unsafeDeliver(new Sig.Link({ from: req.from, to: pid }))
        if (monitor) runtime.unsafeDeliver(new Sig.Monitor({ from: req.from, to: pid, ref: req.reqId }))
        const sent = yield* Effect.either(kernel.sendControl(peer, {
          _tag: "SpawnReply",
          reqId: req.reqId,
          to: req.from,
          flags: (link ? 1 : 0) | (monitor ? 2 : 0),
          result: pid
        }))
        if (Either.isLeft(sent)) runtime.unsafeExit(pid, A.kill)
        yield* Deferred.succeed(gate, undefined)
      })
    )

    // --- the client side of spawn_request ---------------------------------------

    yield* kernel.handlers.spawnReply((c) => {
      const key = refKey(c.reqId)
      const p = pending.get(key)
      if (p === undefined) return false
      pending.delete(key)
      if (c.result instanceof T.Pid) {
        if ((c.flags & 1) !== 0) runtime.unsafeDeliver(new Sig.Link({ from: c.result, to: p.from }))
        if ((c.flags & 2) !== 0) monitors.set(key, { watcher: p.from, pid: c.result, ref: p.ref })
        runtime.unsafeSend(p.from, T.tuple(A.spawn_reply, p.ref, A.ok, c.result))
      } else {
        runtime.unsafeSend(p.from, T.tuple(A.spawn_reply, p.ref, A.error, c.result))
      }
      return true
    })

    yield* kernel.handlers.down(({ from, reason, ref, to }) => {
      const key = refKey(ref)
      const m = monitors.get(key)
      if (m === undefined || !T.equals(m.watcher, to)) return false
      monitors.delete(key)
      runtime.unsafeSend(to, T.tuple(T.atoms.DOWN, m.ref, T.atoms.process, from, reason))
      return true
    })

    // nodedown: pending requests fail with noconnection, monitors fire with noconnection
    yield* Effect.forkScoped(Stream.runForEach(kernel.nodeEvents, (event) =>
      Effect.sync(() => {
        if (event._tag !== "nodedown") return
        for (const [key, p] of [...pending]) {
          if (p.node !== event.node) continue
          pending.delete(key)
          runtime.unsafeSend(p.from, T.tuple(A.spawn_reply, p.ref, A.error, T.atoms.noconnection))
        }
        for (const [key, m] of [...monitors]) {
          if (m.pid.node !== event.node) continue
          monitors.delete(key)
          runtime.unsafeSend(m.watcher, T.tuple(T.atoms.DOWN, m.ref, T.atoms.process, m.pid, T.atoms.noconnection))
        }
      })))

    const spawnRequest: RpcImpl["spawnRequest"] = (from, node, m, f, args, options) =>
      Effect.suspend(() => {
        const ref = runtime.unsafeMakeRef()
        const key = refKey(ref)
        pending.set(key, { from, node, ref })
        const opts: Array<T.Term> = []
        if (options.link) opts.push(A.link)
        if (options.monitor) opts.push(A.monitor)
        return Effect.as(
          Effect.catchAll(
            kernel.sendControl(node, {
              _tag: "SpawnRequest",
              reqId: ref,
              from,
              groupLeader,
              mfa: { module: m, fun: f, arity: args.length },
              options: opts
            }, args as ReadonlyArray<T.Term>),
            () =>
              Effect.sync(() => {
                if (pending.delete(key)) {
                  runtime.unsafeSend(from, T.tuple(A.spawn_reply, ref, A.error, T.atoms.noconnection))
                }
              })
          ),
          ref
        )
      })

    // --- group leader: io_request from processes whose group leader we are ---------

    const ioReply = (msg: T.Tuple): Effect.Effect<void> => {
      const [, from, replyAs, req] = msg.elements
      let text: string | undefined
      if (T.isTagged(req, A.put_chars, 3)) text = charsText(req.elements[2]!)
      else if (T.isTagged(req, A.put_chars, 2)) text = charsText(req.elements[1]!)
      else if (
        T.isTagged(req, A.put_chars, 5) && req.elements[2] === A.io_lib && req.elements[3] === A.format &&
        Array.isArray(req.elements[4]) && (req.elements[4] as ReadonlyArray<T.Term>).length === 2
      ) {
        const [fmt, fargs] = req.elements[4] as ReadonlyArray<T.Term>
        text = formatIo(fmt!, fargs!, runtime.localNode)
      }
      if (text !== undefined) process.stdout.write(text)
      const reply = text !== undefined
        ? A.ok
        : T.tuple(A.error, A.request)
      if (from instanceof T.Pid) runtime.unsafeSend(from, T.tuple(A.io_reply, replyAs!, reply))
      return Effect.void
    }
    const groupLeader = yield* Process.spawnScoped(
      Effect.forever(
        Effect.flatMap(Process.receive(), (msg) => T.isTagged(msg, A.io_request, 4) ? ioReply(msg) : Effect.void)
      )
    ).pipe(provideRuntime)

    // --- rex: {From, {call, M, F, A, GL}} → {rex, Result}; features_request ----------

    const rexReply = (from: T.Pid, m: T.Atom, f: T.Atom, args: ReadonlyArray<T.Term>, gl: T.Term) =>
      Effect.asVoid(
        Process.spawn(
          Effect.flatMap(execute(m, f, args), (o) =>
            Effect.sync(() => {
              const result = o._tag === "return"
                ? o.value
                : o._tag === "throw"
                ? o.reason
                : o._tag === "exit"
                ? T.tuple(A.badrpc, T.tuple(A.EXIT, o.reason))
                : T.tuple(A.badrpc, T.tuple(A.EXIT, T.tuple(o.reason, o.stack)))
              runtime.unsafeSend(from, T.tuple(A.rex, result))
            })).pipe(Effect.provideService(GroupLeader, gl instanceof T.Pid ? gl : groupLeader))
        ).pipe(provideRuntime)
      )
    const rexLoop = Effect.forever(Effect.flatMap(Process.receive(), (msg): Effect.Effect<void> => {
      if (!(msg instanceof T.Tuple) || msg.elements.length !== 2 || !(msg.elements[0] instanceof T.Pid)) {
        return Effect.void
      }
      const from = msg.elements[0]
      const req = msg.elements[1]
      if (req === A.features_request) {
        runtime.unsafeSend(from, T.tuple(A.features_reply, thisNode, [A.erpc]))
        return Effect.void
      }
      if (T.isTagged(req, A.call, 5) || T.isTagged(req, A.call, 4)) {
        const [, m, f, args, gl] = req.elements
        if (m instanceof T.Atom && f instanceof T.Atom && Array.isArray(args)) {
          return rexReply(from, m, f, args as ReadonlyArray<T.Term>, gl ?? groupLeader)
        }
        runtime.unsafeSend(from, T.tuple(A.rex, T.tuple(A.badrpc, T.atoms.badarg)))
      }
      return Effect.void
    }))
    if (runtime.unsafeWhereis(A.rex) === undefined) {
      yield* Process.spawnScoped(rexLoop).pipe(
        Effect.tap((pid) => Process.register(A.rex, pid)),
        provideRuntime,
        Effect.ignore
      )
    }

    // --- built-in modules -------------------------------------------------------------

    const builtins = new Map<T.Atom, Published>()
    const builtin = (module: Module.AnyModule) =>
      builtins.set(module.atom, { module, context: Context.empty() as Context.Context<any> })
    builtin(erlangModule(runtime, kernel, execute))
    builtin(ioModule(groupLeader, runtime))

    return {
      node: thisNode,
      groupLeader,
      publish: (module, context) => {
        const entry = { module, context }
        modules.set(module.atom, entry)
        return () => {
          if (modules.get(module.atom) === entry) modules.delete(module.atom)
        }
      },
      published: () => [...modules.keys()],
      execute,
      body,
      spawnRequest
    } satisfies RpcImpl
  })

// ---------------------------------------------------------------------------
// Built-in modules
// ---------------------------------------------------------------------------

const S = TermSchema
const noArgs = Schema.Tuple()

/** The location erl gives a BIF's badarg: `{error_info, #{module => erl_erts_errors}}`. */
const ertsErrorInfo = T.tuple(a("error_info"), T.map([[a("module"), a("erl_erts_errors")]]))

/** `erlang:nodes/1`'s argument: a node type or a list of them (anything else is badarg). */
const NodeType = S.AtomLiteral("visible", "hidden", "connected", "this", "known")

/** `erlang:nodes/2`'s options: a map of `connection_id` and `node_type` to booleans (anything else is badarg). */
const NodesOptions = S.Term.pipe(Schema.filter((t) =>
  t instanceof T.TermMap &&
  t.entries.every(([k, v]) =>
    (k === a("connection_id") || k === a("node_type")) && (v === T.atoms.true || v === T.atoms.false)
  )
))
const nodesOptions = (t: T.Term) => ({
  connectionId: (t as T.TermMap).get(a("connection_id")) === T.atoms.true,
  nodeType: (t as T.TermMap).get(a("node_type")) === T.atoms.true
})

const erlangModule = (
  runtime: ProcessRuntimeShape,
  kernel: NetKernelImpl,
  execute: RpcImpl["execute"]
) =>
  Module.make("erlang", {
    node: Module.fn({ args: noArgs, result: S.Term }, () => Effect.succeed(kernel.node)),
    self: Module.fn({ args: noArgs, result: S.Term }, () => Process.self),
    // as erl: nodes() is the visible nodes only
    nodes: [
      Module.fn({ args: noArgs, result: S.Term }, () => Effect.succeed([...kernel.nodes()])),
      Module.fn(
        { args: Schema.Tuple(Schema.Union(NodeType, Schema.Array(NodeType))), result: S.Term },
        (kind) => Effect.succeed([...kernel.nodes(kind)])
      ),
      // erlang:nodes/2: [{Node, #{connection_id => Id, node_type => T}}] with the items asked for
      Module.fn(
        { args: Schema.Tuple(Schema.Union(NodeType, Schema.Array(NodeType)), NodesOptions), result: S.Term },
        (kind, options) =>
          Effect.succeed(
            kernel.nodesInfo(kind, nodesOptions(options)).map((i) => {
              const info: Array<readonly [T.Term, T.Term]> = []
              if ("connectionId" in i) info.push([a("connection_id"), i.connectionId ?? T.atoms.undefined])
              if ("nodeType" in i) info.push([a("node_type"), a(i.nodeType!)])
              return T.tuple(i.node, T.map(info))
            })
          )
      )
    ],
    is_alive: Module.fn({ args: noArgs, result: S.Term }, () => Effect.succeed(T.atoms.true)),
    whereis: Module.fn(
      { args: Schema.Tuple(S.AtomFromSelf), result: S.Term },
      (name) => Effect.succeed(runtime.unsafeWhereis(name) ?? T.atoms.undefined)
    ),
    processes: Module.fn(
      { args: noArgs, result: S.Term },
      () => Effect.map(Process.processes, (ps) => [...ps]).pipe(Effect.provideService(ProcessRuntime, runtime))
    ),
    registered: Module.fn(
      { args: noArgs, result: S.Term },
      () => Effect.map(Process.registered, (ns) => [...ns]).pipe(Effect.provideService(ProcessRuntime, runtime))
    ),
    is_process_alive: Module.fn(
      { args: Schema.Tuple(S.Pid), result: S.Term },
      (pid) => Effect.succeed(T.boolean(runtime.unsafeIsAlive(pid)))
    ),
    throw: Module.fn({ args: Schema.Tuple(S.Term), result: S.Term }, (v) => Module.throw_(v)),
    error: Module.fn({ args: Schema.Tuple(S.Term), result: S.Term }, (v) => Module.error(v)),
    exit: Module.fn({ args: Schema.Tuple(S.Term), result: S.Term }, (v) => Process.exit(v)),
    apply: Module.fn(
      { args: Schema.Tuple(S.AtomFromSelf, S.AtomFromSelf, Schema.Array(S.Term)), result: S.Term },
      (m, f, args) =>
        Effect.flatMap(execute(m, f, args), (o): Effect.Effect<T.Term, unknown> => {
          switch (o._tag) {
            case "return":
              return Effect.succeed(o.value)
            case "throw":
              return Module.throw_(o.reason)
            case "exit":
              return Process.exit(o.reason)
            case "error":
              return Module.error(o.reason)
          }
        })
    )
  })

/** `io:format`: to the group leader (the caller's, for a remote spawn), as Erlang does. */
const ioModule = (localGroupLeader: T.Pid, runtime: ProcessRuntimeShape) => {
  const put = (text: string): Effect.Effect<T.Term, never, Process.Self> =>
    Effect.gen(function*() {
      const gl = Option.getOrElse(yield* Effect.serviceOption(GroupLeader), () => localGroupLeader)
      if (gl === localGroupLeader) {
        process.stdout.write(text)
        return A.ok
      }
      const self = yield* Process.self
      const ref = yield* Process.makeRef
      yield* Effect.ignore(
        Process.send(gl, T.tuple(A.io_request, self, ref, T.tuple(A.put_chars, a("unicode"), T.binary(text))))
      )
      yield* Process.receive(
        (m) => T.isTagged(m, A.io_reply, 3) && T.equals(m.elements[1]!, ref) ? Option.some(m) : Option.none(),
        { after: "10 seconds" }
      )
      return A.ok
    }) as any
  const fmt = (f: T.Term, args: T.Term) =>
    Effect.suspend(() => {
      const text = formatIo(f, args, runtime.localNode)
      return text === undefined
        ? Module.error(T.tuple(A.format, T.binary("bad format or arguments")))
        : put(text)
    })
  return Module.make("io", {
    format: [
      Module.fn({ args: Schema.Tuple(S.Term), result: S.Term }, (f) => fmt(f, [])),
      Module.fn({ args: Schema.Tuple(S.Term, S.Term), result: S.Term }, fmt)
    ],
    put_chars: Module.fn({ args: Schema.Tuple(S.Term), result: S.Term }, (chars) => {
      const text = charsText(chars)
      return text === undefined ? Module.error(T.atoms.badarg) : put(text)
    })
  })
}
