/**
 * The client side: gen:do_call (OTP 25), casts, multi_call/abcast, stop and sys calls.
 * @internal
 */
import * as Process from "@effect-otp/process/Process"
import { ProcessRuntime } from "@effect-otp/process/ProcessRuntime"
import type { ProcessRuntimeShape } from "@effect-otp/process/ProcessRuntime"
import { RemoteName } from "@effect-otp/process/Signal"
import * as T from "@effect-otp/process/Term"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import type { Codec } from "./codec.js"
import { CodecFailure, decoder, encoder, isIdentity } from "./codec.js"
import * as prim from "./prim.js"
import type { Protocol, Target } from "./types.js"
import { BadReply, BadRequest, CallTimeout, NoConnection, NoProc, ServerExited, SysError, Via } from "./types.js"

/** @internal */
export const atoms = {
  genCall: T.Atom.make("$gen_call"),
  genCast: T.Atom.make("$gen_cast"),
  system: T.Atom.make("system"),
  alias: T.Atom.make("alias"),
  badRequest: T.Atom.make("$gen_bad_request"),
  terminate: T.Atom.make("terminate"),
  shutdown: T.Atom.make("shutdown"),
  callTimeout: T.Atom.make("$gen_call_timeout"),
  callingSelf: T.Atom.make("calling_self"),
  replaceState: T.Atom.make("replace_state")
} as const

type Timeout = Duration.DurationInput | "infinity"

/** @internal milliseconds, or `undefined` for infinity */
export const toMillis = (timeout: Timeout | undefined, otherwise: number | undefined): number | undefined => {
  if (timeout === undefined) return otherwise
  if (timeout === "infinity") return undefined
  const d = Duration.decode(timeout)
  return Duration.isFinite(d) ? Math.max(0, Duration.toMillis(d)) : undefined
}

/**
 * Runs `effect` in the current process, or in a short-lived one outside a process (its typed
 * failure is carried out as a value, so the process itself ends `normal`).
 */
export const inProcess = <A, E>(
  effect: Effect.Effect<A, E, Process.Self | ProcessRuntime>
): Effect.Effect<A, E, ProcessRuntime> =>
  Effect.withFiberRuntime((fiber) =>
    Option.isSome(Context.getOption(fiber.currentContext, Process.Self))
      ? effect as Effect.Effect<A, E, ProcessRuntime>
      : Effect.flatMap(Effect.orDie(Process.run(Effect.either(effect))), (r) => r)
  )

/** What a call monitors and sends to. */
type Dest = T.Pid | RemoteName

const asRemoteName = (t: T.Tuple): RemoteName | undefined => {
  const [name, node] = t.elements
  return t.elements.length === 2 && name instanceof T.Atom && node instanceof T.Atom
    ? new RemoteName({ name, node })
    : undefined
}

/**
 * Where a call goes (gen:do_call's target resolution), when it is known at once: a local
 * name must be registered (else `noproc`), `{Name, Node}` on another node needs a live local
 * node (else `noconnection`); `undefined` for a via name (its registry answers in an Effect).
 */
const resolveNow = (rt: ProcessRuntimeShape, target: Target): Dest | NoProc | NoConnection | undefined => {
  if (target instanceof T.Pid) return target
  if (target instanceof Via) return undefined
  let name: T.Atom
  if (typeof target === "string") name = T.Atom.make(target)
  else if (target instanceof T.Atom) name = target
  else {
    const rn = target instanceof RemoteName ? target : asRemoteName(target)
    if (rn === undefined) throw new TypeError(`not a gen_server target: ${String(target)}`)
    if (rn.node !== rt.node) return rt.node === T.atoms.nonode ? new NoConnection({ target }) : rn
    name = rn.name
  }
  return rt.unsafeWhereis(name) ?? new NoProc({ target })
}

const resolved = (
  r: Dest | NoProc | NoConnection
): Effect.Effect<Dest, NoProc | NoConnection> =>
  r instanceof NoProc || r instanceof NoConnection ? Effect.fail(r) : Effect.succeed(r)

/** Where a call goes (`resolveNow`, or a via registry's `whereis`). */
export const resolve = (target: Target): Effect.Effect<Dest, NoProc | NoConnection, ProcessRuntime> =>
  Effect.flatMap(ProcessRuntime, (rt): Effect.Effect<Dest, NoProc | NoConnection, ProcessRuntime> => {
    if (target instanceof Via) {
      return Effect.flatMap(
        target.registry.whereis(target.name),
        Option.match({
          onNone: () => Effect.fail(new NoProc({ target })),
          onSome: (pid) => Effect.succeed(pid)
        })
      )
    }
    try {
      return resolved(resolveNow(rt, target)!)
    } catch (e) {
      return Effect.die(e)
    }
  })

const sameRef = (a: unknown, b: T.Ref): boolean => a === b || (a instanceof T.Ref && T.equals(a, b))

const downError = (target: unknown, reason: T.Term): NoProc | NoConnection | ServerExited =>
  reason === T.atoms.noproc
    ? new NoProc({ target })
    : reason === T.atoms.noconnection
    ? new NoConnection({ target })
    : new ServerExited({ target, reason })

type CallFailure = CallTimeout | NoProc | NoConnection | ServerExited | BadRequest

/** `{Label, {Self, [alias|Mref]}, Request}` */
const callMessage = (label: T.Atom, self: T.Pid, mref: T.Ref, request: unknown): T.Tuple =>
  new T.Tuple([label, new T.Tuple([self, new T.ImproperList([atoms.alias], mref)]), request as T.Term])

/**
 * What a call ended with: the reply (decoded by `decodeReply`, with gen_server's
 * `$gen_bad_request` answer as `BadRequest`, when given), or the error of a local call's
 * `'DOWN'` or timeout (`Process.unsafeCallLocal`'s result).
 */
const settled = (
  target: unknown,
  m: T.Tuple | undefined,
  decodeReply: Codec | undefined
): Effect.Effect<unknown, CallFailure | BadReply> => {
  if (m === undefined) return Effect.fail(new CallTimeout({ target }))
  const e = m.elements
  if (e.length === 5 && Process.isDownMessage(m)) return Effect.fail(downError(target, e[4]!))
  return decodeReply === undefined ? Effect.succeed(e[1]) : onReply(decodeReply, e[1])
}

/**
 * `doCall` in the current step of the fiber of process `self` (the Effect to run next),
 * with the reply decoded by `decodeReply` when given: a local call is done already when its
 * server answered at once (the Effect is then an `Exit`).
 */
const doCallIn = (
  self: Process.ProcessHandle,
  rt: ProcessRuntimeShape,
  target: unknown,
  dest: Dest,
  label: T.Atom,
  request: unknown,
  timeoutMs: number | undefined,
  decodeReply: Codec | undefined
): Effect.Effect<unknown, CallFailure | BadReply, Process.Self | ProcessRuntime> => {
  const me = self.pid
  if (dest instanceof T.Pid && rt.isLocal(dest)) {
    // gen:do_call: a process calling itself exits with calling_self
    if (dest.id === me.id && T.equals(dest, me)) {
      return Effect.die(new Process.ProcessExit({ reason: atoms.callingSelf }))
    }
    // one step in the process runtime: alias monitor, send, reply or 'DOWN' or timeout
    const r = Process.unsafeCallLocal(self, dest, (mref) => callMessage(label, me, mref, request), timeoutMs)
    return Exit.isExit(r) && Exit.isSuccess(r)
      ? settled(target, r.value as T.Tuple | undefined, decodeReply)
      : Effect.flatMap(r, (m) => settled(target, m, decodeReply))
  }
  // one step too: MONITOR_P and the request written at once, then the reply or the 'DOWN'
  // (a request with no term form for another node ends the call at once)
  const r = Process.unsafeCallRemote(self, dest, (mref) => callMessage(label, me, mref, request), timeoutMs)
  // one frame for both outcomes (not `mapError` then `flatMap`: two frames, and a `succeed` between them)
  return Effect.matchCauseEffect(r, remoteOutcome((m) => settled(target, m, decodeReply)))
}

/**
 * The handlers of a remote call's frame. `onSuccess` comes in as an argument: a function
 * written in an object literal gets the property's name, which a build that keeps names
 * (tsx, esbuild's `keepNames`) sets with `Object.defineProperty` each time one is made.
 */
const remoteOutcome = <A>(onSuccess: A) => ({ onFailure: badRequestOf, onSuccess })

/**
 * A request with no term form for another node fails the call with `BadRequest`; any
 * other cause (an interruption) passes as it is (`mapError`'s handling, with no closure per call).
 */
const badRequestOf = (cause: Cause.Cause<{ readonly message: string }>): Effect.Effect<never, BadRequest> => {
  const e = Cause.failureOrCause(cause)
  return Either.isLeft(e) ? Effect.fail(new BadRequest({ message: e.left.message })) : Effect.failCause(e.right)
}

/**
 * gen:do_call: an alias monitor, `{Label, {self(), [alias|Mref]}, Request}` sent with
 * `noconnect`, then the reply or the 'DOWN'; on timeout the monitor (and so the alias) is
 * removed, and a reply that arrived just before is still taken. Must run in a process.
 * @internal
 */
export const doCall = (
  target: unknown,
  dest: Dest,
  label: T.Atom,
  request: unknown,
  timeoutMs: number | undefined
): Effect.Effect<unknown, CallFailure, Process.Self | ProcessRuntime> =>
  Effect.withFiberRuntime((fiber) => {
    const services = fiber.currentContext as Context.Context<Process.Self | ProcessRuntime>
    return doCallIn(
      Context.unsafeGet(services, Process.Self),
      Context.unsafeGet(services, ProcessRuntime),
      target,
      dest,
      label,
      request,
      timeoutMs,
      undefined
    ) as Effect.Effect<unknown, CallFailure, Process.Self | ProcessRuntime>
  })

const isBadRequestReply = (u: unknown): u is T.Tuple =>
  u instanceof T.Tuple && u.elements.length === 2 && u.elements[0] === atoms.badRequest

const textOf = (u: unknown): string => {
  const t = T.isTerm(u) ? T.toText(u) : undefined
  return t ?? String(u)
}

const noSelf = (): undefined => undefined

/**
 * gen_server:call. In a process, with a target known at once (a pid, a local name), the
 * whole call is one step of the caller's fiber, and it is over in that step when the
 * server answers at once (a local idle server whose callback decides synchronously).
 * @internal
 */
export const call = <Req, Rep>(
  target: Target,
  protocol: Protocol<Req, Rep, any>,
  request: Req,
  timeout: Timeout | undefined
): Effect.Effect<Rep, CallTimeout | NoProc | NoConnection | ServerExited | BadRequest | BadReply, ProcessRuntime> => {
  const wire = encoder(protocol.request)(request)
  if (wire instanceof CodecFailure) return Effect.fail(new BadRequest({ message: wire.message }))
  const decodeReply = decoder(protocol.reply)
  const ms = toMillis(timeout, 5000)
  return Effect.withFiberRuntime<unknown, CallFailure | BadReply, ProcessRuntime>((fiber) => {
    const services = fiber.currentContext as Context.Context<ProcessRuntime>
    const self = Context.getOrElse(services, Process.Self, noSelf)
    const rt = Context.unsafeGet(services, ProcessRuntime)
    const dest = resolveNow(rt, target)
    if (self === undefined || dest === undefined) {
      return inProcess(Effect.flatMap(
        resolve(target),
        (dest) =>
          Effect.withFiberRuntime((fiber) =>
            doCallIn(
              Context.unsafeGet(fiber.currentContext as Context.Context<Process.Self>, Process.Self),
              rt,
              target,
              dest,
              atoms.genCall,
              wire,
              ms,
              decodeReply
            )
          )
      ))
    }
    if (dest instanceof NoProc || dest instanceof NoConnection) return Effect.fail(dest)
    return doCallIn(self, rt, target, dest, atoms.genCall, wire, ms, decodeReply) as Effect.Effect<
      unknown,
      CallFailure | BadReply
    >
  }) as Effect.Effect<Rep, CallFailure | BadReply, ProcessRuntime>
}

const onReply = <Rep>(decodeReply: Codec, reply: unknown): Effect.Effect<Rep, BadRequest | BadReply> => {
  if (isBadRequestReply(reply)) return Effect.fail(new BadRequest({ message: textOf(reply.elements[1]) }))
  const value = decodeReply(reply)
  return value instanceof CodecFailure
    ? Effect.fail(new BadReply({ message: value.message, reply }))
    : Effect.succeed(value as Rep)
}

/** @internal */
export const send = (target: Target, message: unknown): Effect.Effect<void, never, ProcessRuntime> => {
  if (target instanceof T.Pid) return sendPid(target, message)
  if (target instanceof Via) return target.registry.send(target.name, message)
  return Effect.ignore(Process.send(target, message))
}

/** `send` to a pid. @internal */
export const sendPid = (target: T.Pid, message: unknown): Effect.Effect<void, never, ProcessRuntime> => {
  // Built in a fiber whose runtime has the pid (the usual cast): one synchronous step that
  // pushes the message. Were it run by a fiber of another runtime (another node in this
  // JavaScript process), that runtime's `unsafeSend` routes it (a cast never fails).
  const built = Process.unsafeCurrentRuntime()
  if (built !== undefined && built.isLocal(target)) return Process.unsafeSendLocal(target, message)
  // a local pid: pushed at once (what `Process.send` does too, minus its error channel)
  return Effect.withFiberRuntime((fiber) => {
    const rt: ProcessRuntimeShape = Context.unsafeGet(
      fiber.currentContext as Context.Context<ProcessRuntime>,
      ProcessRuntime
    )
    if (!rt.isLocal(target)) return Effect.ignore(Process.send(target, message))
    rt.unsafeSend(target, message)
    return Effect.void
  })
}

/** @internal gen_server:cast: `{'$gen_cast', Request}`, the request encoded by `schema` */
export const cast = <Cast>(
  target: Target,
  schema: Schema.Schema<Cast, any, never>,
  request: Cast
): Effect.Effect<void, BadRequest, ProcessRuntime> => {
  const encode = encoder(schema)
  if (isIdentity(encode)) return castRaw(target, request as T.Term)
  const wire = encode(request)
  if (wire instanceof CodecFailure) return Effect.fail(new BadRequest({ message: wire.message }))
  return castRaw(target, wire as T.Term)
}

/** `{'$gen_cast', Request}` to a local pid, the tuple built only if needed (see `Process.unsafeTaggedSender`) */
const castStep = Process.unsafeTaggedSender(atoms.genCast)

/**
 * gen_server:cast of a raw term (nothing to encode, so it never fails). A pid is checked
 * first: each `instanceof` costs several ns on a path of a few hundred (issue 11's cast row).
 * @internal
 */
export const castRaw = (target: Target, request: T.Term): Effect.Effect<void, never, ProcessRuntime> => {
  if (target instanceof T.Pid) {
    // built in a fiber whose runtime has the pid (the usual cast): as `sendPid`, and an idle
    // server takes the request as it comes (`Ctx.handleTagged`)
    const built = Process.unsafeCurrentRuntime()
    if (built !== undefined && built.isLocal(target)) return castStep(target, request)
    return sendPid(target, new T.Tuple([atoms.genCast, request]))
  }
  return send(target, new T.Tuple([atoms.genCast, request]))
}

/** @internal */
export const reply = <Rep>(
  from: { readonly term: T.Tuple; readonly encode: (reply: Rep) => unknown },
  value: Rep
): Effect.Effect<void, BadReply, ProcessRuntime> => {
  const wire = from.encode(value)
  if (wire instanceof CodecFailure) return Effect.fail(new BadReply({ message: wire.message, reply: value }))
  return prim.reply(from.term, wire)
}

const nodeAtom = (n: string | T.Atom): T.Atom => typeof n === "string" ? T.Atom.make(n) : n

/**
 * gen_server:multi_call as OTP 25 does it: a middleman process monitors `{Name, Node}` on each
 * node, sends `{'$gen_call', {Self, {Tag, Node}}, Req}` and collects `{{Tag, Node}, Reply}` or
 * the 'DOWN' until the deadline; late replies die with it.
 * @internal
 */
export const multiCall = <Req, Rep>(
  protocol: Protocol<Req, Rep, any>,
  nodes: ReadonlyArray<string | T.Atom>,
  name: string | T.Atom,
  request: Req,
  timeout: Timeout | undefined
): Effect.Effect<
  { readonly replies: ReadonlyArray<readonly [T.Atom, Rep]>; readonly badNodes: ReadonlyArray<T.Atom> },
  BadRequest,
  ProcessRuntime
> => {
  const wire = encoder(protocol.request)(request)
  if (wire instanceof CodecFailure) return Effect.fail(new BadRequest({ message: wire.message }))
  const decodeReply = decoder(protocol.reply)
  const ms = toMillis(timeout, undefined)
  const nameAtom = nodeAtom(name)
  const body = Effect.gen(function*() {
    const rt = yield* ProcessRuntime
    const self = yield* Process.self
    const tag = rt.unsafeMakeRef()
    const pending = new Map<T.Atom, T.Ref>()
    const badNodes: Array<T.Atom> = []
    const replies: Array<readonly [T.Atom, Rep]> = []
    for (const n of nodes) {
      const node = nodeAtom(n)
      if (pending.has(node)) continue
      const dest = node === rt.node ? nameAtom : new RemoteName({ name: nameAtom, node })
      if (node !== rt.node && rt.node === T.atoms.nonode) {
        badNodes.push(node)
        continue
      }
      const mref = yield* Process.monitor(dest)
      pending.set(node, mref)
      yield* prim.sendNoconnect(
        dest,
        new T.Tuple([atoms.genCall, new T.Tuple([self, new T.Tuple([tag, node])]), wire as T.Term])
      )
    }
    const deadline = ms === undefined ? undefined : (yield* Effect.clockWith((c) => c.currentTimeMillis)) + ms
    const nodeOfReply = (m: unknown): T.Atom | undefined => {
      if (!(m instanceof T.Tuple) || m.elements.length !== 2) return undefined
      const t = m.elements[0]
      if (!(t instanceof T.Tuple) || t.elements.length !== 2 || !sameRef(t.elements[0], tag)) return undefined
      const node = t.elements[1]
      return node instanceof T.Atom && pending.has(node) ? node : undefined
    }
    const nodeOfDown = (m: unknown): T.Atom | undefined => {
      if (!Process.isDownMessage(m)) return undefined
      for (const [node, mref] of pending) if (sameRef(m.elements[1], mref)) return node
      return undefined
    }
    while (pending.size > 0) {
      const match = (m: unknown) => nodeOfReply(m) !== undefined || nodeOfDown(m) !== undefined
      let msg: Option.Option<unknown>
      if (deadline === undefined) msg = Option.some(yield* Process.receive(match))
      else {
        const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
        msg = yield* Process.receive(match, { after: Duration.millis(Math.max(0, deadline - now)) })
      }
      if (Option.isNone(msg)) break
      const m = msg.value
      const replied = nodeOfReply(m)
      if (replied !== undefined) {
        yield* Process.demonitor(pending.get(replied)!, { flush: true })
        pending.delete(replied)
        const value = decodeReply((m as T.Tuple).elements[1])
        if (value instanceof CodecFailure) badNodes.push(replied)
        else replies.push([replied, value as Rep])
      } else {
        const down = nodeOfDown(m)!
        pending.delete(down)
        badNodes.push(down)
      }
    }
    for (const [node, mref] of pending) {
      yield* Process.demonitor(mref, { flush: true })
      badNodes.push(node)
    }
    return { replies, badNodes }
  })
  return Effect.orDie(Process.run(body))
}

/** @internal gen_server:abcast */
export const abcast = <Cast>(
  protocol: Protocol<any, any, Cast>,
  nodes: ReadonlyArray<string | T.Atom>,
  name: string | T.Atom,
  request: Cast
): Effect.Effect<void, BadRequest, ProcessRuntime> => {
  const wire = encoder(protocol.cast)(request)
  if (wire instanceof CodecFailure) return Effect.fail(new BadRequest({ message: wire.message }))
  const msg = new T.Tuple([atoms.genCast, wire as T.Term])
  const nameAtom = nodeAtom(name)
  return Effect.flatMap(ProcessRuntime, (rt) =>
    Effect.forEach(nodes, (n) => {
      const node = nodeAtom(n)
      return Effect.ignore(Process.send(node === rt.node ? nameAtom : new RemoteName({ name: nameAtom, node }), msg))
    }, { discard: true }))
}

/** @internal a `system` call (sys:get_state and friends) returning the raw reply */
export const system = (
  target: Target,
  request: T.Term,
  timeout: Timeout | undefined
): Effect.Effect<T.Term, CallTimeout | NoProc | NoConnection | ServerExited, ProcessRuntime> =>
  inProcess(
    Effect.flatMap(
      resolve(target),
      (dest) => doCall(target, dest, atoms.system, request, toMillis(timeout, 5000)) as Effect.Effect<T.Term, any, any>
    )
  )

/**
 * sys:replace_state with a JS function: the new state, or `SysError` for an `{error, Reason}`
 * answer (as sys raises `error(Reason)`).
 * @internal
 */
export const replaceState = (
  target: Target,
  f: (state: any) => unknown,
  timeout: Timeout | undefined
): Effect.Effect<unknown, CallTimeout | NoProc | NoConnection | ServerExited | SysError, ProcessRuntime> =>
  Effect.flatMap(
    system(target, new T.Tuple([atoms.replaceState, f as unknown as T.Term]), timeout),
    (r) =>
      r instanceof T.Tuple && r.elements.length === 2 && r.elements[0] === T.atoms.error
        ? Effect.fail(new SysError({ reason: r.elements[1]! }))
        : Effect.succeed(r)
  )

const toReason = (r: T.Term | string | undefined): T.Term =>
  r === undefined ? T.atoms.normal : typeof r === "string" ? T.Atom.make(r) : r

/**
 * proc_lib:stop: monitor, `sys:terminate` (a `system` call answered `ok` before the server
 * terminates), then wait for the 'DOWN' with that reason.
 * @internal
 */
export const stop = (
  target: Target,
  reason: T.Term | string | undefined,
  timeout: Timeout | undefined
): Effect.Effect<void, NoProc | NoConnection | CallTimeout | ServerExited, ProcessRuntime> => {
  const why = toReason(reason)
  const ms = toMillis(timeout, undefined)
  const check = (r: T.Term): Effect.Effect<void, NoProc | NoConnection | ServerExited | CallTimeout> =>
    T.equals(r, why) ? Effect.void : Effect.fail(downError(target, r))
  return inProcess(
    Effect.flatMap(resolve(target), (dest) =>
      Effect.flatMap(Process.monitor(dest), (mref) =>
        Effect.zipRight(
          Effect.catchIf(
            Effect.catchTag(
              doCall(target, dest, atoms.system, new T.Tuple([atoms.terminate, why]), ms),
              "BadRequest",
              (e) => Effect.die(e)
            ),
            (e): e is ServerExited => e._tag === "ServerExited" && T.equals(e.reason, why),
            () => Effect.void
          ),
          Effect.flatMap(
            ms === undefined
              ? Effect.map(Process.receive((m) => Process.isDownMessage(m, mref)), Option.some)
              : Process.receive((m) => Process.isDownMessage(m, mref), { after: Duration.millis(ms) }),
            Option.match({
              onNone: () =>
                Effect.zipRight(Process.demonitor(mref, { flush: true }), Effect.fail(new CallTimeout({ target }))),
              onSome: (m) => check((m as T.Tuple).elements[4]!)
            })
          )
        )))
  )
}
