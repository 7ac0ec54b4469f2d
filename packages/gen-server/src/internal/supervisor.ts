/**
 * OTP's supervisor.erl on GenServer: the strategies, restart intensity, child shutdown, and the
 * `$gen_call` requests (`which_children`, `count_children`, `start_child`, `terminate_child`,
 * `restart_child`, `delete_child`) as erl sends them.
 * @internal
 */
import * as Process from "@effect-otp/process/Process"
import type { ProcessRuntime } from "@effect-otp/process/ProcessRuntime"
import * as T from "@effect-otp/process/Term"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as GenServer from "../GenServer.js"
import { causeReason, isNormalExit } from "./server.js"

/** @internal */
export type Strategy = "one_for_one" | "one_for_all" | "rest_for_one" | "simple_one_for_one"
/** @internal */
export type Restart = "permanent" | "transient" | "temporary"
/** @internal */
export type Shutdown = Duration.DurationInput | "brutal_kill" | "infinity"

/** @internal */
export type StartFn = (extra: ReadonlyArray<unknown>) => Effect.Effect<T.Pid | undefined, unknown, any>

/** @internal */
export interface ChildSpec {
  readonly id: string | T.Term
  readonly start: Effect.Effect<T.Pid | undefined, unknown, any> | StartFn
  readonly restart?: Restart | undefined
  readonly shutdown?: Shutdown | undefined
  readonly type?: "worker" | "supervisor" | undefined
  readonly modules?: ReadonlyArray<string> | "dynamic" | undefined
}

/** @internal */
export type StartFunction = (...args: ReadonlyArray<T.Term>) => Effect.Effect<T.Pid | undefined, unknown, any>

/** @internal */
export interface Modules {
  readonly [module: string]: { readonly [fun: string]: StartFunction } | undefined
}

/** @internal */
export interface Flags {
  readonly strategy?: Strategy | undefined
  readonly intensity?: number | undefined
  readonly period?: number | undefined
  readonly children: ReadonlyArray<ChildSpec>
  readonly modules?: Modules | undefined
}

const A = {
  whichChildren: T.Atom.make("which_children"),
  countChildren: T.Atom.make("count_children"),
  startChild: T.Atom.make("start_child"),
  terminateChild: T.Atom.make("terminate_child"),
  restartChild: T.Atom.make("restart_child"),
  deleteChild: T.Atom.make("delete_child"),
  tryAgainRestart: T.Atom.make("try_again_restart"),
  restarting: T.Atom.make("restarting"),
  running: T.Atom.make("running"),
  notFound: T.Atom.make("not_found"),
  alreadyPresent: T.Atom.make("already_present"),
  alreadyStarted: T.Atom.make("already_started"),
  worker: T.Atom.make("worker"),
  supervisor: T.Atom.make("supervisor"),
  dynamic: T.Atom.make("dynamic"),
  specs: T.Atom.make("specs"),
  active: T.Atom.make("active"),
  supervisors: T.Atom.make("supervisors"),
  workers: T.Atom.make("workers"),
  shutdown: T.Atom.make("shutdown"),
  failedToStartChild: T.Atom.make("failed_to_start_child"),
  reachedMax: T.Atom.make("reached_max_restart_intensity"),
  invalidChildSpec: T.Atom.make("invalid_child_spec"),
  id: T.Atom.make("id"),
  start: T.Atom.make("start"),
  restart: T.Atom.make("restart"),
  significant: T.Atom.make("significant"),
  type: T.Atom.make("type"),
  modules: T.Atom.make("modules"),
  permanent: T.Atom.make("permanent"),
  transient: T.Atom.make("transient"),
  temporary: T.Atom.make("temporary"),
  infinity: T.Atom.make("infinity"),
  brutalKill: T.Atom.make("brutal_kill"),
  EXIT: T.Atom.make("EXIT"),
  undef: T.Atom.make("undef"),
  simpleOneForOne: T.Atom.make("simple_one_for_one")
} as const

interface Child {
  readonly spec: ChildSpec
  readonly id: T.Term
  pid: T.Pid | undefined | "restarting"
  readonly extra: ReadonlyArray<unknown>
}

interface State {
  readonly strategy: Strategy
  readonly intensity: number
  readonly periodMs: number
  /** static children in start order; for simple_one_for_one, the dynamic ones */
  children: Array<Child>
  readonly template: ChildSpec | undefined
  restarts: Array<number>
  readonly self: T.Pid
  readonly modules: Modules | undefined
}

const idTerm = (id: string | T.Term): T.Term => typeof id === "string" ? T.Atom.make(id) : id

const startOf = (spec: ChildSpec, extra: ReadonlyArray<unknown>): Effect.Effect<T.Pid | undefined, unknown, any> =>
  Effect.isEffect(spec.start) ? spec.start : (spec.start as StartFn)(extra)

/** Starts a child in the supervisor process: its pid, `undefined` for ignore, or the error reason. */
const startChild = (
  spec: ChildSpec,
  extra: ReadonlyArray<unknown>
): Effect.Effect<{ readonly pid: T.Pid | undefined } | { readonly error: T.Term }, never, any> =>
  Effect.matchCause(startOf(spec, extra), {
    onSuccess: (pid) => ({ pid }),
    onFailure: (cause) => {
      const f = Cause.failureOption(cause)
      if (Option.isSome(f)) {
        const e = f.value as { readonly _tag?: string; readonly reason?: T.Term; readonly pid?: T.Pid }
        if (e._tag === "InitIgnored") return { pid: undefined }
        if (e._tag === "InitFailed") return { error: e.reason! }
        if (e._tag === "AlreadyStarted") return { error: new T.Tuple([A.alreadyStarted, e.pid ?? T.atoms.undefined]) }
      }
      return { error: causeReason(cause) }
    }
  })

const shutdownMs = (spec: ChildSpec): number | "brutal_kill" | undefined => {
  const s = spec.shutdown ?? (spec.type === "supervisor" ? "infinity" : 5000)
  if (s === "brutal_kill") return "brutal_kill"
  if (s === "infinity") return undefined
  const d = Duration.decode(s)
  return Duration.isFinite(d) ? Duration.toMillis(d) : undefined
}

const downOf = (mref: T.Ref) => (m: unknown) => Process.isDownMessage(m, mref)

/**
 * supervisor:shutdown/2: monitor, unlink (an 'EXIT' already there means it is dead: wait for
 * its 'DOWN'), then `shutdown` and `kill` after the timeout, or `kill` at once (brutal_kill).
 * The reason it died with.
 */
const shutdown = (pid: T.Pid, spec: ChildSpec): Effect.Effect<T.Term, never, Process.Self | ProcessRuntime> =>
  Effect.gen(function*() {
    const mref = yield* Process.monitor(pid)
    yield* Process.unlink(pid)
    const down = Effect.map(Process.receive(downOf(mref)), (m) => m.elements[4]!)
    const exited = yield* Process.receive(
      (m) => Process.isExitMessage(m) && m.elements[1] instanceof T.Pid && T.equals(m.elements[1], pid),
      { after: 0 }
    )
    if (Option.isSome(exited)) {
      yield* down
      return (exited.value as T.Tuple).elements[2]!
    }
    const ms = shutdownMs(spec)
    if (ms === "brutal_kill") {
      yield* Process.exit(pid, T.atoms.kill)
      return yield* down
    }
    yield* Process.exit(pid, A.shutdown)
    if (ms === undefined) return yield* down
    const r = yield* Process.receive(downOf(mref), { after: Duration.millis(ms) })
    if (Option.isSome(r)) return (r.value as T.Tuple).elements[4]!
    yield* Process.exit(pid, T.atoms.kill)
    return yield* down
  })

const terminateChild = (child: Child): Effect.Effect<void, never, Process.Self | ProcessRuntime> => {
  const pid = child.pid
  if (!(pid instanceof T.Pid)) return Effect.void
  return Effect.flatMap(shutdown(pid, child.spec), (reason) => {
    child.pid = undefined
    const expected = shutdownMs(child.spec) === "brutal_kill" ? T.atoms.killed : A.shutdown
    return T.equals(reason, expected) || reason === T.atoms.normal || reason === T.atoms.noproc
      ? Effect.void
      : Effect.logError(`supervisor: shutdown_error of child ${T.format(child.id)}: ${T.format(reason)}`)
  })
}

const terminateAll = (children: ReadonlyArray<Child>): Effect.Effect<void, never, Process.Self | ProcessRuntime> =>
  Effect.forEach([...children].reverse(), terminateChild, { discard: true })

/** Starts the static children in order; on a failure stops the started ones. */
const startAll = (s: State, children: ReadonlyArray<Child>) =>
  Effect.gen(function*() {
    for (let i = 0; i < children.length; i++) {
      const c = children[i]!
      const r = yield* startChild(c.spec, c.extra)
      if ("error" in r) {
        yield* terminateAll(children.slice(0, i))
        return { failed: c, reason: r.error } as const
      }
      c.pid = r.pid
      if (r.pid === undefined && (c.spec.restart ?? "permanent") === "temporary") {
        s.children = s.children.filter((x) => x !== c)
      }
    }
    return undefined
  })

/** add_restart: `false` when the restart intensity is exceeded. */
const addRestart = (s: State): Effect.Effect<boolean> =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    s.restarts = [now, ...s.restarts.filter((t) => now - t <= s.periodMs)]
    return s.restarts.length <= s.intensity
  })

const tryAgain = (s: State, child: Child) =>
  Effect.flatMap(Process.self, (self) =>
    Effect.ignore(
      Process.send(self, new T.Tuple([T.Atom.make("$gen_cast"), new T.Tuple([A.tryAgainRestart, child.id])]))
    )).pipe(Effect.tap(() => {
      child.pid = "restarting"
    }))

/** Restarts `child` (which died) by the strategy; `false` when the intensity is exceeded. */
const restart = (s: State, child: Child): Effect.Effect<boolean, never, any> =>
  Effect.gen(function*() {
    if (!(yield* addRestart(s))) return false
    const i = s.children.indexOf(child)
    if (s.strategy === "one_for_all" || s.strategy === "rest_for_one") {
      const group = s.strategy === "one_for_all" ? s.children : s.children.slice(i)
      yield* terminateAll(group.filter((c) => c !== child))
      for (const c of group) {
        if (c.pid !== undefined && c.pid !== "restarting") continue
        if (c !== child && c.pid === undefined && (c.spec.restart ?? "permanent") === "temporary") continue
        const r = yield* startChild(c.spec, c.extra)
        if ("error" in r) {
          yield* Effect.logError(`supervisor: child ${T.format(c.id)} failed to restart: ${T.format(r.error)}`)
          yield* tryAgain(s, c)
          return true
        }
        c.pid = r.pid
      }
      s.children = s.children.filter((c) => !(c.pid === undefined && (c.spec.restart ?? "permanent") === "temporary"))
      return true
    }
    const r = yield* startChild(child.spec, child.extra)
    if ("error" in r) {
      yield* Effect.logError(`supervisor: child ${T.format(child.id)} failed to restart: ${T.format(r.error)}`)
      yield* tryAgain(s, child)
      return true
    }
    child.pid = r.pid
    if (r.pid === undefined && s.strategy === "simple_one_for_one") s.children = s.children.filter((c) => c !== child)
    return true
  })

const shouldRestart = (spec: ChildSpec, reason: T.Term): boolean => {
  const restart = spec.restart ?? "permanent"
  return restart === "permanent" || (restart === "transient" && !isNormalExit(reason))
}

const childExited = (s: State, pid: T.Pid, reason: T.Term) =>
  Effect.gen(function*() {
    const child = s.children.find((c) => c.pid instanceof T.Pid && T.equals(c.pid, pid))
    if (child === undefined) return { state: s }
    if (!isNormalExit(reason)) {
      yield* Effect.logError(
        `supervisor ${T.format(s.self)}: child ${T.format(child.id)} (${T.format(pid)}) exited: ${T.format(reason)}`
      )
    }
    child.pid = undefined
    if (!shouldRestart(child.spec, reason)) {
      if ((child.spec.restart ?? "permanent") === "temporary" || s.strategy === "simple_one_for_one") {
        s.children = s.children.filter((c) => c !== child)
      }
      return { state: s }
    }
    if (yield* restart(s, child)) return { state: s }
    yield* Effect.logError(`supervisor ${T.format(s.self)}: reached_max_restart_intensity, shutting down`)
    return { stop: A.shutdown, state: s }
  })

const ok = (v: T.Term) => new T.Tuple([T.atoms.ok, v])
const error = (v: T.Term) => new T.Tuple([T.atoms.error, v])

const find = (s: State, id: unknown): Child | undefined =>
  s.strategy === "simple_one_for_one"
    ? s.children.find((c) => c.pid instanceof T.Pid && id instanceof T.Pid && T.equals(c.pid, id))
    : s.children.find((c) => T.isTerm(id) && T.equals(c.id, id))

const isChildSpec = (u: unknown): u is ChildSpec =>
  typeof u === "object" && u !== null && "id" in u && "start" in u &&
  (Effect.isEffect((u as ChildSpec).start) || typeof (u as ChildSpec).start === "function")

const restarts: ReadonlyArray<T.Atom> = [A.permanent, A.transient, A.temporary]

/** The `{M, F, A}` of the child specs that came from Erlang. */
const mfaOf = new WeakMap<ChildSpec, T.Tuple>()

/**
 * OTP's `#child{}` record as start_child's `{error, {What, Child}}` shows it:
 * `{child, undefined, Id, MFA, Restart, Significant, Shutdown, Type, Modules}` (a TS spec,
 * which has no `{M, F, A}`, shows `undefined` there).
 */
const childRecord = (spec: ChildSpec): T.Tuple => {
  const shutdown = shutdownMs(spec)
  return new T.Tuple([
    T.Atom.make("child"),
    T.atoms.undefined,
    idTerm(spec.id),
    mfaOf.get(spec) ?? T.atoms.undefined,
    T.Atom.make(spec.restart ?? "permanent"),
    T.atoms.false,
    shutdown === undefined ? A.infinity : typeof shutdown === "number" ? shutdown : A.brutalKill,
    spec.type === "supervisor" ? A.supervisor : A.worker,
    spec.modules === undefined || spec.modules === "dynamic" ? A.dynamic : spec.modules.map((m) => T.Atom.make(m))
  ])
}

/**
 * supervisor:check_childspec for a child spec from Erlang (a map or the old 6-tuple): the TS
 * child spec whose `start` applies `{M, F, A}` through `modules`, or OTP's `{error, What}`
 * reason. A function missing from `modules` fails as `catch apply(M, F, A)` does in OTP's
 * do_start_child_i: `{'EXIT', {undef, [{M, F, A, []}]}}` (with no further stack).
 */
const erlangChildSpec = (modules: Modules | undefined, spec: unknown): ChildSpec | { readonly invalid: T.Term } => {
  let get: (key: T.Atom) => T.Term | undefined
  if (spec instanceof T.TermMap) get = (k) => spec.get(k)
  else if (spec instanceof T.Tuple && spec.elements.length === 6) {
    const [id, start, restart, shutdown, type, mods] = spec.elements
    const m = new Map<T.Atom, T.Term>([
      [A.id, id!],
      [A.start, start!],
      [A.restart, restart!],
      [A.significant, T.atoms.false],
      [A.shutdown, shutdown!],
      [A.type, type!],
      [A.modules, mods!]
    ])
    get = (k) => m.get(k)
  } else return { invalid: new T.Tuple([A.invalidChildSpec, spec as T.Term]) }
  const bad = (tag: string, v: T.Term) => ({ invalid: new T.Tuple([T.Atom.make(tag), v]) })
  const id = get(A.id)
  if (id === undefined) return { invalid: T.Atom.make("missing_id") }
  const mfa = get(A.start)
  if (mfa === undefined) return { invalid: T.Atom.make("missing_start") }
  if (
    !(mfa instanceof T.Tuple) || mfa.elements.length !== 3 || !(mfa.elements[0] instanceof T.Atom) ||
    !(mfa.elements[1] instanceof T.Atom) || !Array.isArray(mfa.elements[2])
  ) return bad("invalid_mfa", mfa)
  const restart = get(A.restart) ?? A.permanent
  if (!(restart instanceof T.Atom) || !restarts.includes(restart)) return bad("invalid_restart_type", restart)
  const significant = get(A.significant) ?? T.atoms.false
  if (significant === T.atoms.true) {
    // this supervisor's auto_shutdown is `never`
    return bad(
      "bad_combination",
      [new T.Tuple([T.Atom.make("auto_shutdown"), T.Atom.make("never")]), new T.Tuple([A.significant, T.atoms.true])]
    )
  }
  if (significant !== T.atoms.false) return bad("invalid_significant", significant)
  const type = get(A.type) ?? A.worker
  if (type !== A.worker && type !== A.supervisor) return bad("invalid_child_type", type)
  const shutdown = get(A.shutdown) ?? (type === A.worker ? 5000 : A.infinity)
  if (
    !((typeof shutdown === "number" && Number.isInteger(shutdown) && shutdown >= 0) || shutdown === A.infinity ||
      shutdown === A.brutalKill)
  ) return bad("invalid_shutdown", shutdown)
  const [m, f, args] = mfa.elements as [T.Atom, T.Atom, ReadonlyArray<T.Term>]
  const mods = get(A.modules) ?? [m]
  if (mods !== A.dynamic) {
    if (!Array.isArray(mods)) return bad("invalid_modules", mods)
    const notAtom = (mods as ReadonlyArray<T.Term>).find((x) => !(x instanceof T.Atom))
    if (notAtom !== undefined) return bad("invalid_module", notAtom)
  }
  const child: ChildSpec = {
    id: id as T.Term,
    start: Effect.suspend(() => {
      const fn = modules?.[m.name]?.[f.name]
      return fn === undefined
        ? Effect.fail(new T.Tuple([A.EXIT, new T.Tuple([A.undef, [new T.Tuple([m, f, args, []])]])]))
        : fn(...args)
    }),
    restart: (restart as T.Atom).name as Restart,
    shutdown: typeof shutdown === "number" ? shutdown : (shutdown as T.Atom).name as "infinity" | "brutal_kill",
    type: type === A.supervisor ? "supervisor" : "worker",
    modules: mods === A.dynamic ? "dynamic" : (mods as ReadonlyArray<T.Atom>).map((x) => x.name)
  }
  mfaOf.set(child, mfa)
  return child
}

const handleCall = (s: State, req: unknown): Effect.Effect<T.Term, never, any> =>
  Effect.gen(function*() {
    if (req === A.whichChildren) {
      // as OTP: the last started child first
      return [...s.children].reverse().map((c) =>
        new T.Tuple([
          s.strategy === "simple_one_for_one" ? T.atoms.undefined : c.id,
          c.pid === "restarting" ? A.restarting : c.pid ?? T.atoms.undefined,
          c.spec.type === "supervisor" ? A.supervisor : A.worker,
          c.spec.modules === undefined || c.spec.modules === "dynamic"
            ? A.dynamic
            : c.spec.modules.map((m) => T.Atom.make(m))
        ])
      )
    }
    if (req === A.countChildren) {
      const active = s.children.filter((c) => c.pid instanceof T.Pid)
      const sups = s.children.filter((c) => c.spec.type === "supervisor").length
      return [
        new T.Tuple([A.specs, s.strategy === "simple_one_for_one" ? 1 : s.children.length]),
        new T.Tuple([A.active, active.length]),
        new T.Tuple([A.supervisors, sups]),
        new T.Tuple([A.workers, s.children.length - sups])
      ]
    }
    if (!(req instanceof T.Tuple) || req.elements.length !== 2) return error(T.atom("badarg"))
    const [tag, arg] = req.elements
    if (tag === A.startChild) {
      if (s.strategy === "simple_one_for_one") {
        const extra = Array.isArray(arg) ? arg : []
        const r = yield* startChild(s.template!, extra)
        if ("error" in r) return error(r.error)
        if (r.pid !== undefined) s.children.push({ spec: s.template!, id: T.atoms.undefined, pid: r.pid, extra })
        return ok(r.pid ?? T.atoms.undefined)
      }
      const spec = isChildSpec(arg) ? arg : erlangChildSpec(s.modules, arg)
      if ("invalid" in spec) return error(spec.invalid)
      const id = idTerm(spec.id)
      const existing = s.children.find((c) => T.equals(c.id, id))
      if (existing !== undefined) {
        return error(existing.pid instanceof T.Pid ? new T.Tuple([A.alreadyStarted, existing.pid]) : A.alreadyPresent)
      }
      const r = yield* startChild(spec, [])
      // supervisor:handle_start_child: the reason with the child's record
      if ("error" in r) return error(new T.Tuple([r.error, childRecord(spec)]))
      if (r.pid !== undefined || (spec.restart ?? "permanent") !== "temporary") {
        s.children.push({ spec, id, pid: r.pid, extra: [] })
      }
      return ok(r.pid ?? T.atoms.undefined)
    }
    const child = find(s, arg)
    if (tag === A.terminateChild) {
      if (child === undefined) return error(A.notFound)
      yield* terminateChild(child)
      if (s.strategy === "simple_one_for_one" || (child.spec.restart ?? "permanent") === "temporary") {
        s.children = s.children.filter((c) => c !== child)
      }
      return T.atoms.ok
    }
    if (tag === A.restartChild || tag === A.deleteChild) {
      if (s.strategy === "simple_one_for_one") return error(A.simpleOneForOne)
      if (child === undefined) return error(A.notFound)
      if (child.pid instanceof T.Pid) return error(A.running)
      if (child.pid === "restarting") return error(A.restarting)
      if (tag === A.deleteChild) {
        s.children = s.children.filter((c) => c !== child)
        return T.atoms.ok
      }
      const r = yield* startChild(child.spec, child.extra)
      if ("error" in r) return error(r.error)
      child.pid = r.pid
      return ok(r.pid ?? T.atoms.undefined)
    }
    return error(T.atom("badarg"))
  })

/** @internal the supervisor as a GenServer definition */
export const definition = GenServer.make({
  name: "supervisor",
  init: (flags: Flags) =>
    Effect.gen(function*() {
      yield* Process.trapExit(true)
      const self = yield* Process.self
      const strategy = flags.strategy ?? "one_for_one"
      const s: State = {
        strategy,
        intensity: flags.intensity ?? 1,
        periodMs: (flags.period ?? 5) * 1000,
        children: [],
        template: strategy === "simple_one_for_one" ? flags.children[0] : undefined,
        restarts: [],
        self,
        modules: flags.modules
      }
      if (strategy === "simple_one_for_one") {
        if (flags.children.length !== 1) {
          return { stop: new T.Tuple([A.shutdown, T.atom("bad_simple_one_for_one_spec")]) }
        }
        return { state: s }
      }
      const ids = new Set<string>()
      for (const spec of flags.children) {
        const key = T.format(idTerm(spec.id))
        if (ids.has(key)) {
          return { stop: new T.Tuple([A.shutdown, T.tuple(T.atom("duplicate_child_name"), idTerm(spec.id))]) }
        }
        ids.add(key)
        s.children.push({ spec, id: idTerm(spec.id), pid: undefined, extra: [] })
      }
      const failed = yield* startAll(s, s.children)
      if (failed !== undefined) {
        return { stop: new T.Tuple([A.shutdown, new T.Tuple([A.failedToStartChild, failed.failed.id, failed.reason])]) }
      }
      return { state: s }
    }),
  handleCall: (req, _from, s: State) => Effect.map(handleCall(s, req), (reply) => ({ reply, state: s })),
  handleCast: (msg, s) =>
    Effect.gen(function*() {
      if (msg instanceof T.Tuple && msg.elements.length === 2 && msg.elements[0] === A.tryAgainRestart) {
        const child = s.children.find((c) => T.equals(c.id, msg.elements[1]!) && c.pid === "restarting")
        if (child !== undefined && !(yield* restart(s, child))) return { stop: A.shutdown, state: s }
      }
      return { state: s }
    }),
  handleInfo: (msg, s) =>
    Process.isExitMessage(msg) && msg.elements[1] instanceof T.Pid
      ? childExited(s, msg.elements[1], msg.elements[2]!)
      : Effect.as(Effect.logWarning(`supervisor ${T.format(s.self)}: unexpected message ${String(msg)}`), { state: s }),
  terminate: (_reason, s) => terminateAll(s.children)
})
