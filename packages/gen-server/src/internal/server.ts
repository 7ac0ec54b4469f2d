/**
 * The server side: gen_server's start (proc_lib's init ack), its loop, `sys`, and terminate.
 * @internal
 */
import * as Process from "@effect-otp/process/Process"
import { ProcessRuntime } from "@effect-otp/process/ProcessRuntime"
import type { ProcessRuntimeShape } from "@effect-otp/process/ProcessRuntime"
import * as T from "@effect-otp/process/Term"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { EnterLoopOptions, GenServer, StartOptions } from "../GenServer.js"
import { atoms, inProcess, toMillis } from "./client.js"
import { CodecFailure, decoder, encoder, isIdentity } from "./codec.js"
import * as prim from "./prim.js"
import { AlreadyStarted, InitFailed, InitIgnored, Server, Via } from "./types.js"

const A = {
  status: T.Atom.make("status"),
  module: T.Atom.make("module"),
  genServer: T.Atom.make("gen_server"),
  running: T.Atom.make("running"),
  suspended: T.Atom.make("suspended"),
  header: T.Atom.make("header"),
  data: T.Atom.make("data"),
  getState: T.Atom.make("get_state"),
  getStatus: T.Atom.make("get_status"),
  suspend: T.Atom.make("suspend"),
  resume: T.Atom.make("resume"),
  changeCode: T.Atom.make("change_code"),
  unknownSystemMsg: T.Atom.make("unknown_system_msg"),
  initialCall: T.Atom.make("$initial_call"),
  ancestors: T.Atom.make("$ancestors"),
  init: T.Atom.make("init"),
  badCall: T.Atom.make("bad_call"),
  badCast: T.Atom.make("bad_cast"),
  effectFailure: T.Atom.make("effect_failure"),
  callbackFailed: T.Atom.make("callback_failed"),
  systemReplaceState: T.Atom.make("system_replace_state"),
  badarity: T.Atom.make("badarity"),
  badfun: T.Atom.make("badfun"),
  undef: T.Atom.make("undef"),
  processNotRegistered: T.Atom.make("process_not_registered"),
  processNotRegisteredVia: T.Atom.make("process_not_registered_via"),
  processNotRegisteredGlobally: T.Atom.make("process_not_registered_globally"),
  global: T.Atom.make("global")
} as const

const encoderText = new TextEncoder()

/** @internal an exit reason from a `Reason` (a string is an atom) */
export const toReason = (r: T.Term | string): T.Term => typeof r === "string" ? T.Atom.make(r) : r

/** @internal the exit reason of a failed callback, as the runtime computes a process's */
export const causeReason = (cause: Cause.Cause<unknown>): T.Term => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const e = failure.value
    if (e instanceof Process.ProcessExit) return e.reason
    if (T.isTerm(e)) return e
  } else {
    const defect = Cause.dieOption(cause)
    if (Option.isSome(defect) && defect.value instanceof Process.ProcessExit) return defect.value.reason
  }
  return new T.Tuple([A.effectFailure, encoderText.encode(Cause.pretty(cause))])
}

/** @internal `normal`, `shutdown` and `{shutdown, _}`: ends that are not crashes */
export const isNormalExit = (r: T.Term): boolean =>
  r === T.atoms.normal || r === atoms.shutdown ||
  (r instanceof T.Tuple && r.elements.length === 2 && r.elements[0] === atoms.shutdown)

const show = (u: unknown): string => T.isTerm(u) ? T.format(u) : String(u)

/** `Ctx.lastMessage` of a cast taken as its request (`handleTagged`): the request is `lastCast`. */
const castPending: unique symbol = Symbol("castPending")

/**
 * The loop's state: mutable, one per server. It is also the server's `Process.Handler`
 * (no closure per server): `handle` takes each message, `handleTagged` a cast's request
 * when the cast is handled at once (`{'$gen_cast', Request}` is then never built).
 */
class Ctx implements Process.Handler<any> {
  state: any = undefined
  timeoutMs: number | undefined = undefined
  suspended = false
  terminated = false
  /** the message being handled (OTP's crash report shows it); `castPending`: a cast of `lastCast` */
  lastMessage: unknown = undefined
  lastCast: unknown = undefined
  readonly decodeRequest: (u: unknown) => unknown
  readonly decodeCast: (u: unknown) => unknown
  /** casts are raw terms (`decodeCast` is the identity, it never fails) */
  readonly castRaw: boolean
  readonly encodeReply: (u: unknown) => unknown
  readonly encodeState: ((u: unknown) => unknown) | undefined
  constructor(
    readonly def: GenServer<any, any, any, any, any, any>,
    readonly rt: ProcessRuntimeShape,
    readonly self: T.Pid,
    readonly parent: T.Pid,
    readonly name: T.Term | undefined
  ) {
    this.decodeRequest = decoder(def.request)
    this.decodeCast = decoder(def.cast)
    this.castRaw = isIdentity(this.decodeCast)
    this.encodeReply = encoder(def.reply)
    this.encodeState = def.spec.state === undefined ? undefined : encoder(def.spec.state)
  }
  get label(): string {
    return this.def.spec.name ?? "gen_server"
  }
  /** each message (see `Process.serve`) */
  handle(message: unknown): Loop {
    return handled(this, dispatch(this, message))
  }
  /** casts, `{'$gen_cast', Request}`, are taken as their request (see `Process.Handler`) */
  get tag(): T.Atom {
    return atoms.genCast
  }
  handleTagged(request: unknown): Loop {
    this.lastMessage = castPending
    this.lastCast = request
    return handled(this, handleCast(this, request))
  }
  /** the message being handled, as it came */
  message(): unknown {
    return this.lastMessage === castPending ? new T.Tuple([atoms.genCast, this.lastCast as T.Term]) : this.lastMessage
  }
  stateTerm(): T.Term {
    return this.shown(this.state)
  }
  /** a state (or what `formatStatus` made of it) as a term: by the state schema, as is, or as its text */
  shown(s: unknown): T.Term {
    if (this.encodeState !== undefined) {
      const t = this.encodeState(s)
      if (!(t instanceof CodecFailure)) return t as T.Term
    }
    if (T.isTerm(s)) return s
    let text: string
    try {
      text = JSON.stringify(s) ?? String(s)
    } catch {
      text = String(s)
    }
    return encoderText.encode(text)
  }
}

type Loop = Effect.Effect<void, unknown, any>

/**
 * A no-reply callback's result (`handleCast`, `handleInfo`, `handleContinue`) applied: at once
 * when the callback's Effect is already a success (it decided synchronously), so that the
 * whole step stays an `Exit` and the server handles the message with no fiber (see
 * `Process.serve`). No closure is made on that path.
 */
const noReply = (c: Ctx, effect: Effect.Effect<any, unknown, any>): Effect.Effect<void, unknown, any> =>
  Process.isSuccessExit(effect) ? noReplyResult(c, effect.value) : Effect.flatMap(effect, (r) => noReplyResult(c, r))

const exitWith = (reason: T.Term): Effect.Effect<never, Process.ProcessExit> =>
  Effect.fail(new Process.ProcessExit({ reason }))

/** Runs `terminate`, logs an abnormal end as OTP's error report, and exits with the reason. */
const terminate = (c: Ctx, reason: T.Term): Effect.Effect<never, unknown, any> => {
  c.terminated = true
  const term = c.def.spec.terminate
  const run: Effect.Effect<T.Term, never, any> = term === undefined
    ? Effect.succeed(reason)
    : Effect.catchAllCause(
      Effect.as(term(reason, c.state), reason),
      (cause) => Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) as any : Effect.succeed(causeReason(cause))
    )
  return Effect.flatMap(run, (final) => {
    if (isNormalExit(final)) return exitWith(final)
    // the report shows what formatStatus makes of the state, message and reason (OTP's error_info)
    const f = formatStatus(c, { state: c.state, message: c.message(), reason: final, log: [] })
    return Effect.zipRight(
      Effect.logError(
        `** Generic server ${show(c.name ?? c.self)} (${c.label}) terminating \n` +
          `** Last message in was ${show(f.status.message)}\n` +
          `** When Server state == ${f.exit ?? show(f.status.state)}\n` +
          `** Reason for termination ==\n** ${show(f.status.reason)}`
      ),
      exitWith(final)
    )
  })
}

/** The status `formatStatus` receives (OTP 25's format_status/1 map). */
interface StatusMap {
  readonly state: unknown
  readonly message?: unknown
  readonly reason?: T.Term
  readonly log: ReadonlyArray<T.Term>
}

/**
 * gen:format_status/4 with a `format_status/1`: the callback's status when it keeps every key
 * it was given, else the status as it was and OTP's `'EXIT'` text.
 */
const formatStatus = (c: Ctx, status: StatusMap): { readonly status: StatusMap; readonly exit?: string } => {
  const f = c.def.spec.formatStatus
  if (f === undefined) return { status }
  let out: unknown
  try {
    out = f(status)
  } catch {
    return { status, exit: `${c.label}:format_status/1 crashed` }
  }
  if (typeof out !== "object" || out === null || Array.isArray(out)) {
    return { status, exit: `${c.label}:format_status/1 did not return a map` }
  }
  // OTP: maps:size(maps:merge(Status, New)) =:= maps:size(New), i.e. no key given may be dropped
  for (const k of Object.keys(status)) {
    if (!(k in out)) return { status, exit: `${c.label}:format_status/1 returned a map with unknown keys` }
  }
  return { status: out as StatusMap }
}

/** Applies the action part of a result, then `continue` if asked. */
const after = (c: Ctx, r: any): Effect.Effect<void, unknown, any> => {
  c.state = r.state
  const t = r.timeout
  c.timeoutMs = t === undefined ? undefined : toMillis(t, undefined)
  if (r.continue !== undefined) {
    const cont = c.def.spec.handleContinue
    if (cont === undefined) return terminate(c, new T.Tuple([T.Atom.make("undef_handle_continue"), T.atoms.undefined]))
    return Effect.flatMap(Effect.suspend(() => cont(r.continue, c.state)), (r2) => noReplyResult(c, r2))
  }
  return Effect.void
}

const noReplyResult = (c: Ctx, r: any): Effect.Effect<void, unknown, any> =>
  "stop" in r ? (c.state = r.state, terminate(c, toReason(r.stop))) : after(c, r)

const handleCall = (c: Ctx, fromTerm: T.Tuple, request: unknown): Effect.Effect<void, unknown, any> => {
  const req = c.decodeRequest(request)
  if (req instanceof CodecFailure) {
    return prim.reply(fromTerm, new T.Tuple([atoms.badRequest, encoderText.encode(req.message)]))
  }
  const cb = c.def.spec.handleCall
  if (cb === undefined) return terminate(c, new T.Tuple([A.badCall, request as T.Term]))
  const from = { term: fromTerm, pid: fromTerm.elements[0] as T.Pid, encode: c.encodeReply }
  const e = cb(req, from, c.state)
  // at once when the callback decided synchronously (see `noReply`)
  return Process.isSuccessExit(e)
    ? callResult(c, fromTerm, e.value)
    : Effect.flatMap(e, (r) => callResult(c, fromTerm, r))
}

/** `handleCall`'s result applied: the reply sent (or not), the state and action taken. */
const callResult = (c: Ctx, fromTerm: T.Tuple, r: any): Effect.Effect<void, unknown, any> => {
  if ("stop" in r) {
    c.state = r.state
    if (!("reply" in r)) return terminate(c, toReason(r.stop))
    return Effect.onExit(
      terminate(c, toReason(r.stop)),
      () => Effect.catchAllCause(sendReply(c, fromTerm, r.reply), () => Effect.void)
    )
  }
  if ("reply" in r) {
    // the state and action first (synchronous); a `continue` still runs after the reply
    const next = after(c, r)
    const sent = sendReply(c, fromTerm, r.reply)
    return next === Effect.void ? sent : Effect.zipRight(sent, next)
  }
  return after(c, r)
}

const sendReply = (c: Ctx, from: T.Tuple, value: unknown): Effect.Effect<void, unknown, any> => {
  const wire = c.encodeReply(value)
  if (wire instanceof CodecFailure) {
    return Effect.die(new Error(`${c.label}: the reply does not encode with the reply schema: ${wire.message}`))
  }
  return Process.replyFrom(c.rt, c.self, from, wire)
}

const handleCast = (c: Ctx, request: unknown): Effect.Effect<void, unknown, any> => {
  const msg = c.castRaw ? request : c.decodeCast(request)
  if (!c.castRaw && msg instanceof CodecFailure) {
    return Effect.logWarning(
      `${c.label} ${show(c.name ?? c.self)}: dropped a cast that does not decode: ${msg.message}`
    )
  }
  const cb = c.def.spec.handleCast
  if (cb === undefined) return terminate(c, new T.Tuple([A.badCast, request as T.Term]))
  return noReply(c, cb(msg, c.state))
}

const handleInfo = (c: Ctx, msg: unknown): Effect.Effect<void, unknown, any> => {
  const cb = c.def.spec.handleInfo
  if (cb === undefined) {
    return Effect.logWarning(`${c.label} ${show(c.name ?? c.self)}: undefined handleInfo, got ${show(msg)}`)
  }
  return noReply(c, cb(msg, c.state))
}

const charlist = (s: string): ReadonlyArray<number> => T.charlist(s)

/** gen_server:format_status(normal, ...) as sys:get_status shows it. */
const statusTerm = (c: Ctx): T.Term => {
  const sys = c.suspended ? A.suspended : A.running
  // gen:format_status_header: a pid or an atom is appended to the text, any other name paired with it
  const header = c.name === undefined || c.name instanceof T.Atom
    ? charlist(`Status for generic server ${c.name === undefined ? T.format(c.self) : c.name.name}`)
    : new T.Tuple([charlist("Status for generic server"), c.name])
  const f = formatStatus(c, { state: c.state, log: [] })
  const state = f.exit !== undefined ? charlist(f.exit) : c.shown(f.status.state)
  const log = Array.isArray(f.status.log) && f.status.log.every(T.isTerm) ? f.status.log : []
  return new T.Tuple([A.status, c.self, new T.Tuple([A.module, A.genServer]), [
    [
      new T.Tuple([A.initialCall, new T.Tuple([T.Atom.make(c.label), A.init, 1])]),
      new T.Tuple([A.ancestors, [c.parent]])
    ],
    sys,
    c.parent,
    [],
    [
      new T.Tuple([A.header, header]),
      new T.Tuple([A.data, [
        new T.Tuple([charlist("Status"), sys]),
        new T.Tuple([charlist("Parent"), c.parent]),
        new T.Tuple([charlist("Logged events"), log])
      ]]),
      new T.Tuple([A.data, [new T.Tuple([charlist("State"), state])]])
    ]
  ]])
}

/** `{system, From, Msg}`: sys's requests. */
const handleSystem = (c: Ctx, from: T.Term, msg: unknown): Effect.Effect<void, unknown, any> => {
  if (msg === A.getState) return prim.reply(from, c.stateTerm())
  if (msg === A.getStatus) return prim.reply(from, statusTerm(c))
  if (msg === A.suspend) {
    c.suspended = true
    return prim.reply(from, T.atoms.ok)
  }
  if (msg === A.resume) {
    c.suspended = false
    return prim.reply(from, T.atoms.ok)
  }
  if (msg instanceof T.Tuple) {
    const e = msg.elements
    if (e.length === 2 && e[0] === atoms.replaceState) return prim.reply(from, replaceState(c, e[1]))
    // sys answers `ok` first, then the server terminates (sys:handle_system_msg)
    if (e.length === 2 && e[0] === atoms.terminate) {
      return Effect.zipRight(prim.reply(from, T.atoms.ok), terminate(c, e[1]!))
    }
    if (e.length === 4 && e[0] === A.changeCode) {
      const cc = c.def.spec.codeChange
      if (cc === undefined) return prim.reply(from, T.atoms.ok)
      return Effect.matchCauseEffect(cc(e[2]!, c.state, e[3]!), {
        onFailure: (cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.failCause(cause)
            : prim.reply(from, new T.Tuple([T.atoms.error, causeReason(cause)])),
        onSuccess: (s) => {
          c.state = s
          return prim.reply(from, T.atoms.ok)
        }
      })
    }
  }
  return prim.reply(from, new T.Tuple([T.atoms.error, new T.Tuple([A.unknownSystemMsg, msg as T.Term])]))
}

/**
 * sys's `{replace_state, StateFun}` through gen_server:system_replace_state: the new state, or
 * `{error, {callback_failed, {gen_server, system_replace_state}, {Class, Reason}}}` when the
 * fun fails. A JS function (sent by `GenServer.replaceState` from this node) runs on the state.
 * An Erlang fun cannot run here, and this node loads no Erlang module, so it fails as it does
 * on a BEAM node without the fun's module: `badarity` for a fun of another arity, else `undef`;
 * any other term is `badfun`.
 */
const replaceState = (c: Ctx, fun: unknown): unknown => {
  const failed = (reason: T.Term) =>
    new T.Tuple([
      T.atoms.error,
      new T.Tuple([
        A.callbackFailed,
        new T.Tuple([A.genServer, A.systemReplaceState]),
        new T.Tuple([T.atoms.error, reason])
      ])
    ])
  if (typeof fun === "function") {
    let next: unknown
    try {
      next = fun(c.state)
    } catch (e) {
      return failed(T.isTerm(e) ? e : causeReason(Cause.die(e)))
    }
    c.state = next
    return next
  }
  if (fun instanceof T.Fun || fun instanceof T.Export) {
    return failed(
      fun.arity === 1 ? A.undef : new T.Tuple([A.badarity, new T.Tuple([fun, [c.stateTerm()]])])
    )
  }
  return failed(new T.Tuple([A.badfun, fun as T.Term]))
}

const isFrom = (u: unknown): u is T.Tuple =>
  u instanceof T.Tuple && u.elements.length === 2 && u.elements[0] instanceof T.Pid

const dispatch = (c: Ctx, msg: unknown): Effect.Effect<void, unknown, any> => {
  c.lastMessage = msg
  if (msg instanceof T.Tuple) {
    const e = msg.elements
    const tag = e[0]
    if (e.length === 3) {
      if (tag === atoms.genCall && isFrom(e[1])) return handleCall(c, e[1], e[2])
      if (tag === atoms.system && isFrom(e[1])) return handleSystem(c, e[1], e[2])
      if (tag === T.atoms.EXIT && e[1] instanceof T.Pid && T.equals(e[1], c.parent) && !T.equals(e[1], c.self)) {
        return terminate(c, e[2]!)
      }
    } else if (e.length === 2 && tag === atoms.genCast) return handleCast(c, e[1])
  }
  return handleInfo(c, msg)
}

/** While suspended: only system messages and the parent's exit. */
const isSystemOrParentExit = (c: Ctx) => (m: unknown): boolean => {
  if (!(m instanceof T.Tuple) || m.elements.length !== 3) return false
  const tag = m.elements[0]
  return (tag === atoms.system && isFrom(m.elements[1])) ||
    (tag === T.atoms.EXIT && m.elements[1] instanceof T.Pid && T.equals(m.elements[1], c.parent))
}

const receiveAny = Process.receive()

/** One message by `receive`: while suspended (system messages only), with a timeout, or in `fiberLoop`. */
const step = (c: Ctx): Loop => {
  c.lastMessage = undefined
  if (c.suspended) return Effect.flatMap(Process.receive(isSystemOrParentExit(c)), (m) => dispatch(c, m))
  const ms = c.timeoutMs
  if (ms === undefined) return Effect.flatMap(receiveAny, (m) => dispatch(c, m))
  return Effect.flatMap(
    Process.receive(undefined, { after: Duration.millis(ms) }),
    (m) => {
      if (Option.isSome(m)) return dispatch(c, m.value)
      c.timeoutMs = undefined
      return dispatch(c, T.atoms.timeout)
    }
  )
}

/** A callback failed: the server terminates with that reason (an interruption passes through). */
const onFailure = (c: Ctx, cause: Cause.Cause<unknown>): Loop =>
  c.terminated || Cause.isInterrupted(cause) ? Effect.failCause(cause) : terminate(c, causeReason(cause))

/** A timeout pending or suspended: the server waits in `receive` (on a fiber) for now. */
const inReceive = (c: Ctx): boolean => c.timeoutMs !== undefined || c.suspended

/** `receive` steps until neither a timeout nor a suspension is pending. */
const receiveLoop = (c: Ctx): Loop =>
  Effect.suspend(() => inReceive(c) ? Effect.zipRight(step(c), receiveLoop(c)) : idle(c))

/** The message is handled: an idle server keeps nothing of it. */
const idle = (c: Ctx): Effect.Effect<void> => {
  c.lastMessage = undefined
  c.lastCast = undefined
  return Effect.void
}

/**
 * A message's Effect in the server's handler (`Ctx.handle`, see `Process.serve`): the
 * server holds no fiber while idle, and a message whose callbacks decide synchronously
 * (their Effects are `Exit`s: `Effect.succeed`) is handled with no fiber at all. Otherwise
 * the step runs on a fiber, and so do the `receive` steps of a pending timeout or a
 * suspension (`receiveLoop`).
 */
const handled = (c: Ctx, e: Loop): Loop => {
  if (Process.isSuccessExit(e)) {
    return inReceive(c) ? Effect.catchAllCause(receiveLoop(c), (cause) => onFailure(c, cause)) : idle(c)
  }
  if (Exit.isExit(e)) return onFailure(c, (e as Exit.Failure<unknown, unknown>).cause)
  return Effect.catchAllCause(Effect.zipRight(e, receiveLoop(c)), (cause) => onFailure(c, cause))
}

/** A started server after its init: `receive` first if init set a timeout, then served with no fiber. */
const serveLoop = (c: Ctx): Loop =>
  inReceive(c)
    ? Effect.zipRight(Effect.catchAllCause(receiveLoop(c), (cause) => onFailure(c, cause)), Process.serve(c))
    : Process.serve(c)

/**
 * The server loop on the process's own fiber, for enter_loop: the process is the caller's,
 * whose fiber (its scopes and finalizers) must live as long as the server.
 */
const fiberLoop = (c: Ctx): Effect.Effect<never, unknown, any> =>
  Effect.catchAllCause(Effect.forever(Effect.suspend(() => step(c))), (cause) => onFailure(c, cause)) as Effect.Effect<
    never,
    unknown,
    any
  >

type Mode = "nolink" | "link" | "monitor"

/**
 * Spawns the server and waits for its init ack (proc_lib:start/start_link): the server or
 * the start error. An init that ends any other way (killed) is `InitFailed(killed)`.
 * @internal
 */
export const start = (
  def: GenServer<any, any, any, any, any, any>,
  args: unknown,
  options: StartOptions | undefined,
  mode: Mode
): Effect.Effect<unknown, AlreadyStarted | InitFailed | InitIgnored, any> =>
  Effect.gen(function*() {
    const rt = yield* ProcessRuntime
    const name = options?.name
    const via = name instanceof Via ? name : undefined
    const local: T.Atom | undefined = name === undefined || name instanceof Via
      ? undefined
      : typeof name === "string"
      ? T.Atom.make(name)
      : name
    if (local !== undefined) {
      const existing = rt.unsafeWhereis(local)
      if (existing !== undefined) return yield* Effect.fail(new AlreadyStarted({ pid: existing }))
    }
    const ack = yield* Deferred.make<T.Pid, AlreadyStarted | InitFailed | InitIgnored>()
    const parentPid = mode === "link"
      ? Option.getOrUndefined(yield* Effect.serviceOption(Process.Self))?.pid
      : undefined
    const body = serverBody({ def, args, ack, parentPid, name: local ?? via?.name, via })
    let pid: T.Pid
    let mref: T.Ref | undefined
    if (mode === "monitor") {
      ;[pid, mref] = yield* Process.spawnMonitor(body)
      if (local !== undefined) yield* Effect.orDie(Process.register(local, pid))
    } else {
      pid = yield* Effect.orDie(Process.spawn(body, {
        link: mode === "link",
        ...(local !== undefined ? { name: local } : {})
      }))
    }
    const ms = toMillis(options?.timeout, undefined)
    const waited = ms === undefined
      ? Deferred.await(ack)
      : Effect.flatMap(Effect.timeoutOption(Deferred.await(ack), Duration.millis(ms)), (r) =>
        Option.isSome(r)
          ? Effect.succeed(r.value)
          : Effect.zipRight(
            Effect.zipRight(Process.exit(pid, T.atoms.kill), Effect.yieldNow()),
            Effect.fail(new InitFailed({ reason: T.atoms.timeout }))
          ))
    yield* waited
    const server = new Server(pid, { request: def.request, reply: def.reply, cast: def.cast })
    return mode === "monitor" ? [server, mref!] as const : server
  })

/** What a server's process needs to start: its definition, `init`'s argument, the ack and its names. */
interface Boot {
  readonly def: GenServer<any, any, any, any, any, any>
  readonly args: unknown
  readonly ack: Deferred.Deferred<T.Pid, AlreadyStarted | InitFailed | InitIgnored>
  readonly parentPid: T.Pid | undefined
  readonly name: T.Term | undefined
  readonly via: Via | undefined
}

const serverBody = (boot: Boot): Effect.Effect<void, unknown, any> =>
  Effect.flatMap(
    Effect.onInterrupt(initPhase(boot), () => Deferred.fail(boot.ack, new InitFailed({ reason: T.atoms.killed }))),
    (c) => c !== undefined ? serveLoop(c) : Effect.void
  )

/**
 * Applies the action of `init`'s (or enter_loop's) result to the loop state `c` (a failing
 * `continue` terminates the server); the loop runs next.
 */
const enter = (c: Ctx, r: unknown): Effect.Effect<void, unknown, any> =>
  Effect.catchAllCause(after(c, r), (cause) => onFailure(c, cause))

/** proc_lib's init: registers a via name, runs `init`, acks; the loop state when the server is to run. */
const initPhase = ({ ack, args, def, name, parentPid, via }: Boot): Effect.Effect<Ctx | undefined, unknown, any> =>
  Effect.gen(function*() {
    const rt = yield* ProcessRuntime
    const handle = yield* Process.Self
    const self = handle.pid
    if (via !== undefined) {
      const ok = yield* via.registry.register(via.name, self)
      if (!ok) {
        const other = yield* via.registry.whereis(via.name)
        yield* Deferred.fail(ack, new AlreadyStarted({ pid: Option.getOrUndefined(other) }))
        return undefined
      }
    }
    const c = new Ctx(def, rt, self, parentPid ?? self, name)
    const init = yield* Effect.exit(def.spec.init(args))
    const unregister = via !== undefined ? via.registry.unregister(via.name) : Effect.void
    if (init._tag === "Failure") {
      if (Cause.isInterruptedOnly(init.cause)) return yield* Effect.failCause(init.cause)
      const reason = causeReason(init.cause)
      yield* unregister
      yield* Deferred.fail(ack, new InitFailed({ reason }))
      return yield* exitWith(reason)
    }
    const r: any = init.value
    if ("ignore" in r) {
      yield* unregister
      yield* Deferred.fail(ack, new InitIgnored())
      return undefined
    }
    if ("stop" in r) {
      const reason = toReason(r.stop)
      yield* unregister
      yield* Deferred.fail(ack, new InitFailed({ reason }))
      return yield* exitWith(reason)
    }
    yield* Deferred.succeed(ack, self)
    yield* enter(c, r)
    return c
  })

/**
 * gen_server:enter_loop: the calling process becomes the server, with `state` and no `init`.
 * A name must already be the process's own (gen:get_proc_name): else it exits with
 * `process_not_registered` (a local name), `process_not_registered_globally` (a registry whose
 * `module` is `global`) or `{process_not_registered_via, Module}`.
 * @internal
 */
export const enterLoop = (
  def: GenServer<any, any, any, any, any, any>,
  state: unknown,
  options: EnterLoopOptions<any> | undefined
): Effect.Effect<never, unknown, any> =>
  Effect.gen(function*() {
    const handle = yield* Process.Self
    const self = handle.pid
    const name = options?.name
    let registered: T.Term | undefined
    if (name instanceof Via) {
      const at = yield* name.registry.whereis(name.name)
      if (Option.isNone(at) || !T.equals(at.value, self)) {
        const module = name.registry.module
        // gen:get_proc_name: {global, Name} has its own reason
        return yield* exitWith(
          module === A.global
            ? A.processNotRegisteredGlobally
            : new T.Tuple([A.processNotRegisteredVia, module ?? T.atoms.undefined])
        )
      }
      registered = name.name
    } else if (name !== undefined) {
      const atom = typeof name === "string" ? T.Atom.make(name) : name
      const at = (yield* ProcessRuntime).unsafeWhereis(atom)
      if (at === undefined || !T.equals(at, self)) return yield* exitWith(A.processNotRegistered)
      registered = atom
    }
    const c = new Ctx(def, yield* ProcessRuntime, self, options?.parent ?? self, registered)
    const { name: _n, parent: _p, ...action } = options ?? {}
    yield* enter(c, { ...action, state })
    return yield* fiberLoop(c)
  })

/**
 * Stops a process as a supervisor or `startScoped` does (supervisor:shutdown/2): with
 * `mode: "stop"` a `sys` terminate (so `terminate` runs whatever the trap flag), with
 * `"exit"` an exit signal `shutdown`; after `timeoutMs` (or at once with `brutal`) `kill`.
 * Waits for the process to be gone; runs in the calling process.
 * @internal
 */
export const shutdownProcess = (
  pid: T.Pid,
  mode: "stop" | "exit" | "brutal",
  timeoutMs: number | undefined
): Effect.Effect<T.Term, never, Process.Self | ProcessRuntime> =>
  Effect.flatMap(Process.monitor(pid), (mref) => {
    const isDown = (m: unknown) => Process.isDownMessage(m, mref)
    const down = Effect.map(Process.receive(isDown), (m) => (m as T.Tuple).elements[4]!)
    const kill = Effect.zipRight(Process.exit(pid, T.atoms.kill), down)
    if (mode === "brutal") return kill
    // a `reply` alias: sys's `ok` is dropped with it, never left in the caller's mailbox
    const ask = mode === "stop"
      ? Effect.flatMap(Process.self, (self) =>
        Effect.flatMap(Process.alias({ reply: true }), (alias) =>
          Effect.ignore(Process.send(
            pid,
            new T.Tuple([
              atoms.system,
              new T.Tuple([self, new T.ImproperList([atoms.alias], alias)]),
              new T.Tuple([atoms.terminate, atoms.shutdown])
            ])
          ))))
      : Process.exit(pid, atoms.shutdown)
    return Effect.zipRight(
      ask,
      timeoutMs === undefined
        ? down
        : Effect.flatMap(
          Process.receive(isDown, { after: Duration.millis(timeoutMs) }),
          (m) =>
            Option.isSome(m) ? Effect.succeed((m.value as T.Tuple).elements[4]!) : kill
        )
    )
  })

/** @internal */
export const startScoped = (
  def: GenServer<any, any, any, any, any, any>,
  args: unknown,
  options: (StartOptions & { readonly shutdownTimeout?: Duration.DurationInput | "infinity" | undefined }) | undefined
): Effect.Effect<unknown, AlreadyStarted | InitFailed | InitIgnored, any> =>
  Effect.flatMap(start(def, args, options, "nolink"), (server) =>
    Effect.as(
      Effect.addFinalizer(() =>
        inProcess(
          shutdownProcess(
            (server as Server<any, any, any>).pid,
            "stop",
            toMillis(options?.shutdownTimeout, 5000)
          )
        )
      ),
      server
    )) as Effect.Effect<unknown, AlreadyStarted | InitFailed | InitIgnored, Scope.Scope | any>
