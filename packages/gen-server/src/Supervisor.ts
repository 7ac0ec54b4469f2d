/**
 * OTP's `supervisor`, as a `GenServer`: `one_for_one`, `one_for_all`, `rest_for_one` and
 * `simple_one_for_one`; child specs with `permanent`/`transient`/`temporary` restarts and
 * `shutdown` timeouts or `brutal_kill`; restart intensity and period (more than `intensity`
 * restarts within `period` seconds shut the supervisor down with reason `shutdown`).
 *
 * ```ts
 * const sup = yield* Supervisor.startScoped({
 *   strategy: "one_for_one", intensity: 3, period: 5,
 *   children: [Supervisor.worker("kv", Kv, args), Supervisor.worker("log", Log, undefined, { restart: "transient" })]
 * })
 * yield* Supervisor.whichChildren(sup)
 * ```
 *
 * A child's `start` runs in the supervisor process and must link the child to it (as
 * `GenServer.startLink` does); it returns the pid, or `undefined` for OTP's `ignore`. Children
 * start in order and stop in reverse order. The supervisor traps exits; when its parent (or the
 * `Scope` of `startScoped`) stops it, it shuts its children down first.
 *
 * The requests are OTP's, over `$gen_call`: an Erlang node calls `supervisor:which_children`,
 * `count_children`, `terminate_child`, `restart_child`, `delete_child` and (with a list of extra
 * arguments, for `simple_one_for_one`) `start_child` on a TS supervisor. A child spec from
 * Erlang (a map or the old 6-tuple, as `supervisor:start_child/2` sends it) is checked as OTP's
 * `check_childspec` does (`{error, {invalid_mfa, _}}`, `missing_id`, ...), and its
 * `{M, F, A}` names a TS start function in the supervisor's `modules` table:
 *
 * ```ts
 * Supervisor.start({ children: [], modules: { kv: { start_link: (n) => Effect.map(GenServer.startLink(Kv, n), (s) => s.pid) } } })
 * // erl: supervisor:start_child(Sup, #{id => kv1, start => {kv, start_link, [1]}})
 * ```
 *
 * A child that fails to start is answered as OTP's `handle_start_child` does,
 * `{error, {Reason, ChildRecord}}` with `ChildRecord` =
 * `{child, undefined, Id, {M, F, A}, Restart, false, Shutdown, Type, Modules}` (`undefined` in
 * place of `{M, F, A}` for a TS child spec). An `{M, F, A}` the table lacks fails as OTP's
 * `catch apply(M, F, A)` of an undefined function: `Reason` = `{'EXIT', {undef, [{M, F, A, []}]}}`
 * (OTP's stack has more frames after the first).
 *
 * @since 0.1.0
 */
import type * as Process from "@effect-otp/process/Process"
import type { ProcessRuntime } from "@effect-otp/process/ProcessRuntime"
import * as T from "@effect-otp/process/Term"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as GenServer from "./GenServer.js"
import * as internal from "./internal/supervisor.js"

/**
 * @since 0.1.0
 * @category models
 */
export type Strategy = internal.Strategy

/**
 * @since 0.1.0
 * @category models
 */
export type Restart = internal.Restart

/**
 * A shutdown timeout, `"brutal_kill"` or `"infinity"` (default: 5 s for a worker, infinity
 * for a supervisor).
 *
 * @since 0.1.0
 * @category models
 */
export type Shutdown = internal.Shutdown

/**
 * A child spec. `start` is an Effect (or, for `simple_one_for_one`, a function of the extra
 * arguments of `start_child`) that runs in the supervisor, links the child and returns its pid
 * (or `undefined`: ignore). `id` is a string (an atom on the wire) or a term.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChildSpec extends internal.ChildSpec {}

/**
 * A start function an Erlang child spec names as `{M, F, A}`: called with `A`'s terms, in the
 * supervisor process, it links the child and returns its pid (or `undefined`: ignore), as a
 * `ChildSpec`'s `start`.
 *
 * @since 0.1.0
 * @category models
 */
export type StartFunction = internal.StartFunction

/**
 * The code an Erlang child spec can start: `modules[M][F](...A)` for `{M, F, A}` (a TS node
 * loads no Erlang module, so this table stands for the code path).
 *
 * @since 0.1.0
 * @category models
 */
export interface Modules extends internal.Modules {}

/**
 * The supervisor flags and children (`intensity` 1 and `period` 5 s by default, as OTP), and
 * the `modules` that `{M, F, A}` child specs from Erlang may start.
 *
 * @since 0.1.0
 * @category models
 */
export interface Flags extends internal.Flags {}

/**
 * A `{error, Reason}` answer of the supervisor (e.g. `not_found`, `running`,
 * `{already_started, Pid}`).
 *
 * @since 0.1.0
 * @category errors
 */
export class SupervisorError extends Data.TaggedError("SupervisorError")<{ readonly reason: T.Term }> {
  override get message(): string {
    return `supervisor error: ${T.format(this.reason)}`
  }
}

/**
 * The options of `worker` and `supervisor`: the restart type, the shutdown, and a name the
 * child registers.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChildOptions {
  readonly restart?: Restart | undefined
  readonly shutdown?: Shutdown | undefined
  readonly name?: GenServer.StartOptions["name"]
}

/** `GenServer.startLink`'s pid, with the child's name. */
const startLinked = <Args>(
  def: GenServer.GenServer<Args, any, any, any, any, any>,
  args: Args,
  options: ChildOptions | undefined
): ChildSpec["start"] =>
  Effect.map(
    GenServer.startLink(def, args, options?.name === undefined ? undefined : { name: options.name }),
    (s) => s.pid
  )

/**
 * A worker child running a `GenServer` (started with `GenServer.startLink`; `name` registers
 * it).
 *
 * @since 0.1.0
 * @category constructors
 */
export const worker = <Args, State, Req, Rep, Cast, R>(
  id: string | T.Term,
  def: GenServer.GenServer<Args, State, Req, Rep, Cast, R>,
  args: Args,
  options?: ChildOptions
): ChildSpec => ({
  id,
  start: startLinked(def, args, options),
  restart: options?.restart,
  shutdown: options?.shutdown,
  type: "worker",
  modules: [def.spec.name ?? "gen_server"]
})

/**
 * A child that is itself a supervisor.
 *
 * @since 0.1.0
 * @category constructors
 */
export const supervisor = (id: string | T.Term, flags: Flags, options?: ChildOptions): ChildSpec => ({
  id,
  start: startLinked(internal.definition, flags, options),
  restart: options?.restart,
  shutdown: options?.shutdown ?? "infinity",
  type: "supervisor",
  modules: ["supervisor"]
})

/**
 * A started supervisor.
 *
 * @since 0.1.0
 * @category models
 */
export type Supervisor = GenServer.Server<T.Term, T.Term, T.Term>

/**
 * Starts a supervisor (not linked), as `supervisor:start_link` without the link. A child that
 * fails to start fails it with `InitFailed({shutdown, {failed_to_start_child, Id, Reason}})`.
 *
 * @since 0.1.0
 * @category starting
 */
export const start = (
  flags: Flags,
  options?: GenServer.StartOptions
): Effect.Effect<Supervisor, GenServer.StartError, ProcessRuntime> =>
  GenServer.start(internal.definition, flags, options) as any

/**
 * Starts a supervisor linked to the calling process (its parent), as `supervisor:start_link`.
 *
 * @since 0.1.0
 * @category starting
 */
export const startLink = (
  flags: Flags,
  options?: GenServer.StartOptions
): Effect.Effect<Supervisor, GenServer.StartError, ProcessRuntime | Process.Self> =>
  GenServer.startLink(internal.definition, flags, options) as any

/**
 * Starts a supervisor owned by the current `Scope`: closing the scope stops it, and it stops its
 * children (in reverse order, each with its `shutdown`) before it exits.
 *
 * @since 0.1.0
 * @category starting
 */
export const startScoped = (
  flags: Flags,
  options?: GenServer.StartOptions & { readonly shutdownTimeout?: GenServer.Timeout | undefined }
): Effect.Effect<Supervisor, GenServer.StartError, ProcessRuntime | Scope.Scope> =>
  GenServer.startScoped(internal.definition, flags, { shutdownTimeout: "infinity" as const, ...options }) as any

type Sup = GenServer.ServerRef<any, any, any> | GenServer.Target

const callSup = (sup: Sup, request: T.Term): Effect.Effect<T.Term, GenServer.CallError, ProcessRuntime> =>
  GenServer.call(sup instanceof GenServer.ServerRef ? sup.target : sup, request, "infinity")

const okOrError = <A>(reply: T.Term, f: (v: T.Term) => A): Effect.Effect<A, SupervisorError> => {
  if (reply === T.atoms.ok) return Effect.succeed(f(reply))
  if (reply instanceof T.Tuple && reply.elements.length === 2) {
    if (reply.elements[0] === T.atoms.ok) return Effect.succeed(f(reply.elements[1]!))
    if (reply.elements[0] === T.atoms.error) return Effect.fail(new SupervisorError({ reason: reply.elements[1]! }))
  }
  return Effect.fail(new SupervisorError({ reason: reply }))
}

/**
 * A child as `which_children` shows it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChildInfo {
  readonly id: T.Term
  /** the pid, `"restarting"`, or `undefined` (not running) */
  readonly pid: T.Pid | "restarting" | undefined
  readonly type: "worker" | "supervisor"
  readonly modules: ReadonlyArray<string> | "dynamic"
}

/**
 * `supervisor:which_children/1`: as OTP lists them, the last started child first.
 *
 * @since 0.1.0
 * @category requests
 */
export const whichChildren = (sup: Sup): Effect.Effect<ReadonlyArray<ChildInfo>, GenServer.CallError, ProcessRuntime> =>
  Effect.map(callSup(sup, T.atom("which_children")), (reply) =>
    (reply as ReadonlyArray<T.Tuple>).map((t) => {
      const [id, pid, type, modules] = t.elements
      return {
        id: id!,
        pid: pid instanceof T.Pid ? pid : pid === T.atom("restarting") ? "restarting" : undefined,
        type: type === T.atom("supervisor") ? "supervisor" : "worker",
        modules: Array.isArray(modules) ? modules.map((m) => (m as T.Atom).name) : "dynamic"
      } as const
    }))

/**
 * `supervisor:count_children/1`.
 *
 * @since 0.1.0
 * @category requests
 */
export const countChildren = (sup: Sup): Effect.Effect<
  { readonly specs: number; readonly active: number; readonly supervisors: number; readonly workers: number },
  GenServer.CallError,
  ProcessRuntime
> =>
  Effect.map(callSup(sup, T.atom("count_children")), (reply) => {
    const get = (k: string) =>
      Number((reply as ReadonlyArray<T.Tuple>).find((t) => t.elements[0] === T.atom(k))?.elements[1] ?? 0)
    return { specs: get("specs"), active: get("active"), supervisors: get("supervisors"), workers: get("workers") }
  })

/** `{Tag, Arg}` to the supervisor; `ok`/`{ok, Pid}` or a `SupervisorError`. */
const request = (
  sup: Sup,
  tag: string,
  arg: unknown
): Effect.Effect<T.Pid | undefined, SupervisorError | GenServer.CallError, ProcessRuntime> =>
  Effect.flatMap(
    callSup(sup, T.tuple(T.atom(tag), arg as T.Term)),
    (reply) => okOrError(reply, (v) => v instanceof T.Pid ? v : undefined)
  )

/**
 * `supervisor:start_child/2`: a child spec (a TS `ChildSpec`, or an Erlang map or 6-tuple whose
 * `{M, F, A}` the supervisor's `modules` start), or for `simple_one_for_one` the extra
 * arguments passed to the template's `start`. The pid, or `undefined` when the child returned
 * ignore.
 *
 * @since 0.1.0
 * @category requests
 */
export const startChild = (
  sup: Sup,
  spec: ChildSpec | ReadonlyArray<unknown> | T.TermMap | T.Tuple
): Effect.Effect<T.Pid | undefined, SupervisorError | GenServer.CallError, ProcessRuntime> =>
  request(sup, "start_child", spec)

/**
 * `supervisor:terminate_child/2` (by id, or by pid for `simple_one_for_one`).
 *
 * @since 0.1.0
 * @category requests
 */
export const terminateChild = (
  sup: Sup,
  id: string | T.Term
): Effect.Effect<void, SupervisorError | GenServer.CallError, ProcessRuntime> =>
  Effect.asVoid(request(sup, "terminate_child", idOf(id)))

/**
 * `supervisor:restart_child/2` (a terminated static child).
 *
 * @since 0.1.0
 * @category requests
 */
export const restartChild = (
  sup: Sup,
  id: string | T.Term
): Effect.Effect<T.Pid | undefined, SupervisorError | GenServer.CallError, ProcessRuntime> =>
  request(sup, "restart_child", idOf(id))

/**
 * `supervisor:delete_child/2` (a terminated static child).
 *
 * @since 0.1.0
 * @category requests
 */
export const deleteChild = (
  sup: Sup,
  id: string | T.Term
): Effect.Effect<void, SupervisorError | GenServer.CallError, ProcessRuntime> =>
  Effect.asVoid(request(sup, "delete_child", idOf(id)))

const idOf = (id: string | T.Term): T.Term => typeof id === "string" ? T.Atom.make(id) : id
