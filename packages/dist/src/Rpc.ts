/**
 * Remote spawn and rpc, between TS nodes and with Erlang nodes.
 *
 * - **Serving.** `Rpc.layer` makes this node answer SPAWN_REQUEST: `rpc:call`, `erpc:call`,
 *   `erpc:cast`, `spawn(Node, M, F, A)` and `erlang:spawn_request` from Erlang (or from
 *   another TS node) run the functions of the modules published here (`publish`,
 *   `layerPublish`; see `Module`). Results come back exactly as OTP's would: a return, a
 *   throw, an exit, an error with a stacktrace, and `undef` for an unknown module or
 *   function (stack `[{M,F,Args,[]}]`). Built in: `erlang:node/0`, `self/0`, `nodes/0`,
 *   `whereis/1`, `processes/0`, `registered/0`, `is_process_alive/1`, `apply/3`,
 *   `throw/1`, `error/1`, `exit/1`, and `io:format/1,2`, `io:put_chars/1` (written to the
 *   caller's group leader, as Erlang does: a remote caller sees the output). A `rex`
 *   process answers `{From, {call, M, F, A, GL}}` (hidden C-node style) and
 *   `features_request`.
 * - **Calling.** `call` runs `M:F(Args)` on another node as `erpc:call` does (a
 *   SPAWN_REQUEST of `erpc:execute_call/4` with a monitor); `invoke` is the typed form for
 *   a `Module`. `spawn`, `spawnLink` and `spawnMonitor` start a process on another node
 *   (the pid carries that node; the `'DOWN'` of `spawnMonitor` is
 *   `{'DOWN', Ref, process, Pid, Reason}` with Erlang's exit reason).
 *
 * @since 0.1.0
 */
import * as Process from "@effect-otp/process/Process"
import { ProcessRuntime } from "@effect-otp/process/ProcessRuntime"
import * as T from "@effect-otp/process/Term"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as internal from "./internal/rpc/rpc.js"
import type * as Module from "./Module.js"
import { NetKernel } from "./NetKernel.js"

/**
 * Why a remote call or spawn failed:
 * - `Throw`, `Exit`, `Error`: the function raised (`value` is the reason, `stack` the
 *   stacktrace of an error); `undef` is an `Error` with value `undef`;
 * - `Timeout`, `NoConnection`;
 * - `SpawnFailed`: the node refused the spawn (`value` is the error atom, e.g. `notsup`);
 * - `BadArgument` / `BadResult`: the typed forms could not encode the arguments or
 *   decode the result.
 *
 * @since 0.1.0
 * @category errors
 */
export const RpcError: typeof internal.RpcError = internal.RpcError

/**
 * @since 0.1.0
 * @category errors
 */
export type RpcError = internal.RpcError

/**
 * The service.
 *
 * @since 0.1.0
 * @category models
 */
export interface RpcShape extends internal.RpcImpl {}

/**
 * @since 0.1.0
 * @category tags
 */
export class Rpc extends Context.Tag("@effect-otp/dist/Rpc")<Rpc, RpcShape>() {}

/** The server of each node and how many `layer`s use it: a node has one SPAWN_REQUEST server. */
const served = new WeakMap<object, { readonly rpc: RpcShape; users: number; readonly scope: Scope.CloseableScope }>()

/**
 * Serves remote spawn and rpc on this node (needs `DistNode.layer`'s `NetKernel`;
 * `DistNode.layerDefault` includes it). A node has one server: building this layer again
 * for the same node (e.g. `global`'s name server, which publishes the module `global`,
 * and the application's own `Rpc.layer`) shares it, so modules published through either
 * are served; it stops when the last of them is released.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Rpc, never, NetKernel | ProcessRuntime> = Layer.scoped(
  Rpc,
  Effect.flatMap(
    Effect.all([NetKernel, ProcessRuntime]),
    ([kernel, runtime]) =>
      Effect.gen(function*() {
        const release = Effect.suspend(() => {
          const shared = served.get(kernel)
          if (shared === undefined || --shared.users > 0) return Effect.void
          served.delete(kernel)
          return Scope.close(shared.scope, Exit.void)
        })
        const shared = served.get(kernel)
        if (shared !== undefined) {
          shared.users += 1
          yield* Effect.addFinalizer(() => release)
          return shared.rpc
        }
        // built outside an uninterruptible region: its fibers must stay interruptible
        const scope = yield* Scope.make()
        const rpc: RpcShape = yield* Scope.extend(internal.make(kernel, runtime), scope)
        served.set(kernel, { rpc, users: 1, scope })
        yield* Effect.addFinalizer(() => release)
        return rpc
      })
  )
)

/**
 * Publishes a module on this node for the lifetime of the scope (a module of the same
 * name is replaced, as loading new code does). Its functions run with the services of
 * the context `publish` ran in.
 *
 * @since 0.1.0
 * @category publishing
 */
export const publish = <M extends Module.AnyModule>(
  module: M
): Effect.Effect<void, never, Rpc | Scope.Scope | Module.ModuleContext<M>> =>
  Effect.flatMap(
    Effect.all([Rpc, Effect.context<Module.ModuleContext<M>>()]),
    ([rpc, context]) =>
      Effect.acquireRelease(Effect.sync(() => rpc.publish(module, context)), (unpublish) => Effect.sync(unpublish))
  ).pipe(Effect.asVoid)

/**
 * `publish` as a layer.
 *
 * @since 0.1.0
 * @category publishing
 */
export const layerPublish = <M extends Module.AnyModule>(
  module: M
): Layer.Layer<never, never, Rpc | Module.ModuleContext<M>> => Layer.scopedDiscard(publish(module))

/**
 * The modules published on this node.
 *
 * @since 0.1.0
 * @category getters
 */
export const published: Effect.Effect<ReadonlyArray<T.Atom>, never, Rpc> = Effect.map(Rpc, (r) => r.published())

const atom = (x: string | T.Atom | Module.AnyModule): T.Atom =>
  typeof x === "string" ? T.Atom.make(x) : x instanceof T.Atom ? x : x.atom

/**
 * Options of `call`: `timeout` (default: none, as `erpc:call` with `infinity`).
 *
 * @since 0.1.0
 * @category models
 */
export interface CallOptions {
  readonly timeout?: Duration.DurationInput | undefined
}

const outcomeToEffect = (node: T.Atom, o: internal.Outcome): Effect.Effect<T.Term, RpcError> => {
  switch (o._tag) {
    case "return":
      return Effect.succeed(o.value)
    case "throw":
      return Effect.fail(new internal.RpcError({ reason: "Throw", node, value: o.reason }))
    case "exit":
      return Effect.fail(new internal.RpcError({ reason: "Exit", node, value: o.reason }))
    case "error":
      return Effect.fail(new internal.RpcError({ reason: "Error", node, value: o.reason, stacktrace: o.stack }))
  }
}

/**
 * `erpc:call(Node, M, F, Args)`: runs `M:F(Args)` on `node` and returns its value. A
 * throw, exit or error fails with `RpcError` (`Throw`/`Exit`/`Error`); a lost connection
 * with `NoConnection`; no answer within `timeout` with `Timeout` (the remote process is
 * then killed, as erpc does).
 *
 * @since 0.1.0
 * @category calling
 */
export const call = (
  node: string | T.Atom,
  module: string | T.Atom | Module.AnyModule,
  fun: string | T.Atom,
  args: ReadonlyArray<T.Term>,
  options?: CallOptions
): Effect.Effect<T.Term, RpcError, Rpc | ProcessRuntime> =>
  Effect.flatMap(Rpc, (rpc) => {
    const n = atom(node)
    const m = atom(module)
    const f = atom(fun)
    if (n === rpc.node) {
      return Effect.flatMap(
        Process.run(rpc.execute(m, f, args)).pipe(
          Effect.catchAll((e) =>
            Effect.succeed<internal.Outcome>({ _tag: "exit", reason: e instanceof Process.ProcessExit ? e.reason : e })
          )
        ),
        (o) => outcomeToEffect(n, o)
      )
    }
    const timeout = options?.timeout === undefined ? undefined : Duration.decode(options.timeout)
    return Process.run(Effect.gen(function*() {
      const self = yield* Process.self
      const resRef = yield* Process.makeRef
      const reqId = yield* rpc.spawnRequest(self, n, internal.A.erpc, internal.A.execute_call, [resRef, m, f, args], {
        link: false,
        monitor: true
      })
      let pid: T.Pid | undefined
      const match = (msg: unknown): Option.Option<Either.Either<T.Term, RpcError>> => {
        if (T.isTagged(msg, internal.A.spawn_reply, 4) && T.equals(msg.elements[1]!, reqId)) {
          if (msg.elements[2] === internal.A.ok) {
            pid = msg.elements[3] as T.Pid
            return Option.none()
          }
          return Option.some(Either.left(spawnFailed(n, msg.elements[3]!)))
        }
        if (T.isTagged(msg, T.atoms.DOWN, 5) && T.equals(msg.elements[1]!, reqId)) {
          return Option.some(downResult(n, resRef, msg.elements[4]!))
        }
        return Option.none()
      }
      const loop: Effect.Effect<Either.Either<T.Term, RpcError>, never, Process.Self> = Effect.flatMap(
        timeout === undefined
          ? Effect.map(Process.receive((msg) => isAnswer(msg, reqId) ? Option.some(msg) : Option.none()), Option.some)
          : Process.receive((msg) => isAnswer(msg, reqId) ? Option.some(msg) : Option.none(), { after: timeout }),
        (msg) => {
          if (Option.isNone(msg)) {
            return Effect.succeed(Either.left(new internal.RpcError({ reason: "Timeout", node: n })))
          }
          const r = match(msg.value)
          return Option.isSome(r) ? Effect.succeed(r.value) : loop
        }
      )
      const result = yield* loop
      if (Either.isLeft(result) && result.left.reason === "Timeout" && pid !== undefined) {
        yield* Process.exit(pid, internal.A.kill)
      }
      return result
    })).pipe(
      Effect.flatten,
      Effect.catchIf((e): e is Process.ProcessExit => e instanceof Process.ProcessExit, (e) =>
        Effect.fail(new internal.RpcError({ reason: "Exit", node: n, value: e.reason })))
    )
  })

/** The error of a failed `spawn_reply`: `noconnection`, or why the peer could not spawn. */
const spawnFailed = (node: T.Atom, why: T.Term): RpcError =>
  why === T.atoms.noconnection
    ? new internal.RpcError({ reason: "NoConnection", node })
    : new internal.RpcError({ reason: "SpawnFailed", node, value: why })

const isAnswer = (msg: unknown, reqId: T.Ref): boolean =>
  (T.isTagged(msg, internal.A.spawn_reply, 4) || T.isTagged(msg, T.atoms.DOWN, 5)) &&
  T.equals((msg as T.Tuple).elements[1]!, reqId)

/** erpc's `result/4` for the `'DOWN'` reason. */
const downResult = (node: T.Atom, resRef: T.Ref, reason: T.Term): Either.Either<T.Term, RpcError> => {
  if (reason instanceof T.Tuple && reason.elements.length >= 3 && T.equals(reason.elements[0]!, resRef)) {
    const [, cls, value, stack] = reason.elements
    if (cls === internal.A.return) return Either.right(value!)
    if (cls === internal.A.throw) return Either.left(new internal.RpcError({ reason: "Throw", node, value: value! }))
    if (cls === internal.A.exit) return Either.left(new internal.RpcError({ reason: "Exit", node, value: value! }))
    if (cls === internal.A.error) {
      return Either.left(new internal.RpcError({ reason: "Error", node, value: value!, stacktrace: stack }))
    }
  }
  if (reason === T.atoms.noconnection) return Either.left(new internal.RpcError({ reason: "NoConnection", node }))
  // the process died some other way (killed, ...): erpc raises exit:{exception, Reason}
  return Either.left(new internal.RpcError({ reason: "Exit", node, value: reason }))
}

/**
 * A typed `call` of a function of a `Module` published on `node`: the arguments are
 * encoded with the function's `args` schema and the result decoded with `result`.
 *
 * @since 0.1.0
 * @category calling
 */
export const invoke = <
  Fns extends Record<string, Module.AnyFn | ReadonlyArray<Module.AnyFn>>,
  K extends { [N in keyof Fns]: Fns[N] extends Module.AnyFn ? N : never }[keyof Fns] & string
>(
  node: string | T.Atom,
  module: Module.Module<string, Fns>,
  fun: K,
  ...args: Fns[K] extends Module.Fn<infer Args, any, any, any> ? Args : never
): Effect.Effect<
  Fns[K] extends Module.Fn<any, infer A, any, any> ? A : never,
  RpcError,
  Rpc | ProcessRuntime
> => {
  const fn = module.functions[fun] as Module.AnyFn
  const n = atom(node)
  return Effect.flatMap(
    encodeArgs(n, fn, args),
    (terms) =>
      Effect.flatMap(call(n, module, fun, terms), (result) =>
        Effect.mapError(
          Schema.decodeUnknown(fn.result)(result),
          (e) =>
            new internal.RpcError({
              reason: "BadResult",
              node: n,
              value: result,
              detail: ParseResult.TreeFormatter.formatErrorSync(e)
            })
        ))
  )
}

const encodeArgs = (node: T.Atom, fn: Module.AnyFn, args: ReadonlyArray<unknown>) =>
  Effect.flatMap(
    Effect.mapError(
      Schema.encodeUnknown(fn.args)(args),
      (e) =>
        new internal.RpcError({ reason: "BadArgument", node, detail: ParseResult.TreeFormatter.formatErrorSync(e) })
    ),
    (encoded) =>
      Array.isArray(encoded) && encoded.every(T.isTerm)
        ? Effect.succeed(encoded as ReadonlyArray<T.Term>)
        : Effect.fail(new internal.RpcError({ reason: "BadArgument", node, detail: "the arguments have no term form" }))
  )

/**
 * The arguments of a `Module` function encoded as terms, for `spawn` and friends.
 *
 * @since 0.1.0
 * @category calling
 */
export const args = <
  Fns extends Record<string, Module.AnyFn | ReadonlyArray<Module.AnyFn>>,
  K extends { [N in keyof Fns]: Fns[N] extends Module.AnyFn ? N : never }[keyof Fns] & string
>(
  module: Module.Module<string, Fns>,
  fun: K,
  ...args: Fns[K] extends Module.Fn<infer Args, any, any, any> ? Args : never
): Effect.Effect<ReadonlyArray<T.Term>, RpcError> =>
  encodeArgs(module.atom, module.functions[fun] as Module.AnyFn, args)

const spawnWith = (
  node: string | T.Atom,
  module: string | T.Atom | Module.AnyModule,
  fun: string | T.Atom,
  args: ReadonlyArray<T.Term>,
  options: { readonly link: boolean; readonly monitor: boolean }
): Effect.Effect<readonly [T.Pid, T.Ref], RpcError, Rpc | Process.Self | ProcessRuntime> =>
  Effect.flatMap(Rpc, (rpc) => {
    const n = atom(node)
    const m = atom(module)
    const f = atom(fun)
    if (n === rpc.node) {
      const body = rpc.body(m, f, args)
      return options.link
        ? Effect.map(Process.spawnLink(body), (pid) => [pid, rpc.node as any] as const)
        : options.monitor
        ? Process.spawnMonitor(body)
        : Effect.map(Process.spawn(body), (pid) => [pid, rpc.node as any] as const)
    }
    return Effect.gen(function*() {
      const self = yield* Process.self
      const reqId = yield* rpc.spawnRequest(self, n, m, f, args, options)
      const reply = yield* Process.receive((msg) =>
        T.isTagged(msg, internal.A.spawn_reply, 4) && T.equals(msg.elements[1]!, reqId)
          ? Option.some(msg)
          : Option.none()
      )
      const [, , status, value] = reply.elements
      if (status === internal.A.ok) return [value as T.Pid, reqId] as const
      return yield* Effect.fail(spawnFailed(n, value!))
    })
  })

/**
 * `spawn(Node, M, F, Args)`: starts `M:F(Args)` on `node` (SPAWN_REQUEST) and returns its
 * pid once the node answered. Must run in a process.
 *
 * @since 0.1.0
 * @category spawning
 */
export const spawn = (
  node: string | T.Atom,
  module: string | T.Atom | Module.AnyModule,
  fun: string | T.Atom,
  args: ReadonlyArray<T.Term>
): Effect.Effect<T.Pid, RpcError, Rpc | Process.Self | ProcessRuntime> =>
  Effect.map(spawnWith(node, module, fun, args, { link: false, monitor: false }), ([pid]) => pid)

/**
 * `spawn_link(Node, M, F, Args)`: as `spawn`, linked to the calling process.
 *
 * @since 0.1.0
 * @category spawning
 */
export const spawnLink = (
  node: string | T.Atom,
  module: string | T.Atom | Module.AnyModule,
  fun: string | T.Atom,
  args: ReadonlyArray<T.Term>
): Effect.Effect<T.Pid, RpcError, Rpc | Process.Self | ProcessRuntime> =>
  Effect.map(spawnWith(node, module, fun, args, { link: true, monitor: false }), ([pid]) => pid)

/**
 * `spawn_monitor(Node, M, F, Args)`: as `spawn`, monitored by the calling process;
 * returns `[pid, ref]` and the process's end arrives as `{'DOWN', Ref, process, Pid, Reason}`.
 *
 * @since 0.1.0
 * @category spawning
 */
export const spawnMonitor = (
  node: string | T.Atom,
  module: string | T.Atom | Module.AnyModule,
  fun: string | T.Atom,
  args: ReadonlyArray<T.Term>
): Effect.Effect<readonly [T.Pid, T.Ref], RpcError, Rpc | Process.Self | ProcessRuntime> =>
  spawnWith(node, module, fun, args, { link: false, monitor: true })
