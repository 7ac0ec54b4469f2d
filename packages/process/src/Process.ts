/**
 * Erlang processes on Effect fibers.
 *
 * A process is a fiber with a mailbox, a set of links and monitors, and flags. Inside a
 * process the current process is the `Self` service, so `receive`, `link`, `monitor`,
 * `trapExit`… require `Self`; `spawn`, `send`, `register`… require the `ProcessRuntime`.
 *
 * Exit reasons (what links and monitors see):
 * - the effect succeeds → `normal`;
 * - it fails with `ProcessExit` (see `exit(reason)`) → that reason;
 * - it fails with a value that is a `Term` → that term;
 * - any other failure or a defect → `{effect_failure, <<"Cause.pretty text">>}`, and the
 *   cause is logged at Error level ("Error in process <0.N.0> with exit value: …"),
 *   as Erlang logs a crashed process;
 * - an exit signal that kills it → that signal's reason (`kill` becomes `killed`);
 * - interruption for any other reason (a closing `Scope` with `spawnScoped`, the
 *   `ProcessRuntime` layer being released, the fiber interrupted directly) → `shutdown`.
 *
 * Killing is interruption: finalizers run, and an uninterruptible region delays death.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Predicate from "effect/Predicate"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import {
  chargeOps,
  contextGet,
  currentFiber,
  isLiveClock,
  isSuccessExit as fastIsSuccessExit,
  makeEagerSync2,
  makeFixedAsync,
  makeSync2
} from "./internal/effectInternals.js"
import * as exits from "./internal/exits.js"
import * as handler from "./internal/handler.js"
import * as links from "./internal/links.js"
import * as monitors from "./internal/monitors.js"
import * as table from "./internal/processTable.js"
import type { ProcessImpl } from "./internal/processTable.js"
import * as internal from "./internal/runtime.js"
import { equals } from "./internal/term.js"
import { MAX_TIMER_MILLIS } from "./internal/timers.js"
import type { Matcher } from "./Mailbox.js"
import { RouteError } from "./Router.js"
import type { SendOptions, SendResult } from "./Router.js"
import { Message as MessageSignal, Monitor as MonitorSignal, RemoteName } from "./Signal.js"
import type { Destination } from "./Signal.js"
import { Atom, atoms, ImproperList, Pid, Ref, Tuple } from "./Term.js"
import type { Term } from "./Term.js"

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

/**
 * The current process (a Context service present inside every process).
 *
 * @since 0.1.0
 * @category tags
 */
export const Self: typeof table.Self = table.Self

/**
 * @since 0.1.0
 * @category tags
 */
export type Self = table.Self

/**
 * @since 0.1.0
 * @category models
 */
export interface ProcessHandle extends table.ProcessHandle {}

/**
 * Options of `spawn`.
 *
 * - `link`: link to the calling process (requires `Self`; see `spawnLink`).
 * - `name`: register the new process under this name before it runs; a taken name fails
 *   with `RegisterError` and nothing is spawned.
 * - `trapExit`: start trapping exits.
 * - `schema`: messages are decoded with it when they arrive (`receive` then sees the
 *   decoded values). A message that does not decode is logged at Warning level and
 *   dropped (`onDecodeError: "drop"`, the default) or kept as is (`"keep"`); it never
 *   crashes the process or the sender.
 *
 * @since 0.1.0
 * @category models
 */
export interface SpawnOptions extends internal.SpawnOptions {}

/**
 * What `processInfo` returns. `monitors` lists what the process monitors (a pid, or
 * `{Name, Node}` for a monitor by name); `status` is `waiting` when parked in `receive`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProcessInfo extends internal.ProcessInfo {}

/**
 * Sending to a name that is not registered (Erlang's `badarg`), to `{Name, Node}` while
 * the local node is not alive, or a message with no term form to another node.
 *
 * @since 0.1.0
 * @category errors
 */
export const SendError: typeof internal.SendError = internal.SendError

/**
 * @since 0.1.0
 * @category errors
 */
export type SendError = internal.SendError

/**
 * `register`/`unregister` failures (Erlang's `badarg`): `NameTaken`, `AlreadyRegistered`
 * (the process has a name), `NoProcess`, `NotRegistered`, `BadName` (`undefined`).
 *
 * @since 0.1.0
 * @category errors
 */
export const RegisterError: typeof table.RegisterError = table.RegisterError

/**
 * @since 0.1.0
 * @category errors
 */
export type RegisterError = table.RegisterError

/**
 * A process exit with an Erlang reason: fail with it (`exit(reason)`) to end the
 * current process with that reason; `run` fails with it when its process is killed.
 *
 * @since 0.1.0
 * @category errors
 */
export const ProcessExit: typeof exits.ProcessExit = exits.ProcessExit

/**
 * @since 0.1.0
 * @category errors
 */
export type ProcessExit = exits.ProcessExit

/**
 * What `send`, `monitor`… accept as a target: a pid, a local name (string or atom),
 * `RemoteName` or the Erlang tuple `{Name, Node}`.
 *
 * @since 0.1.0
 * @category models
 */
export type Target = Pid | Atom | string | RemoteName | Tuple

/**
 * What `send` accepts: a `Target`, or a process alias (a `Ref` from `alias` or
 * `monitor(target, { alias })`, of this node or another).
 *
 * @since 0.1.0
 * @category models
 */
export type SendTarget = Target | Ref

/** the last `{Name, Node}` tuple sent to, and its `RemoteName` (a loop sending to one name builds it once) */
let lastTuple: Tuple | undefined = undefined
let lastRemote: RemoteName | undefined = undefined

function toDestination(to: Target): Pid | Atom | RemoteName
function toDestination(to: SendTarget): Destination
function toDestination(to: SendTarget): Destination {
  if (typeof to === "string") return Atom.make(to)
  if (to instanceof Ref) return to
  if (to instanceof Tuple) {
    const [name, node] = to.elements
    if (to === lastTuple && to.elements.length === 2 && lastRemote!.name === name && lastRemote!.node === node) {
      return lastRemote!
    }
    if (to.elements.length === 2 && name instanceof Atom && node instanceof Atom) {
      lastTuple = to
      return lastRemote = new RemoteName({ name, node })
    }
    throw new TypeError(`not a process target: ${to.toString()}`)
  }
  return to
}

// One run-loop op instead of three for `Effect.flatMap(Tag, f)`: read the service from the fiber's context.
const selfOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): ProcessImpl => {
  const ctx = fiber.currentContext
  return (contextGet(ctx, table.Self) ?? Context.unsafeGet(ctx, table.Self)) as ProcessImpl
}
const selfIn = (ctx: Context.Context<never>): ProcessImpl | undefined =>
  contextGet(ctx, table.Self) as ProcessImpl | undefined
const runtimeOf = (ctx: Context.Context<never>): internal.RuntimeImpl =>
  (runtimeIn(ctx) ?? Context.unsafeGet(ctx, internal.ProcessRuntime)) as internal.RuntimeImpl

/** the context `runtimeIn` was last asked about, and its answer */
let lastContext: Context.Context<never> | undefined = undefined
let lastRuntime: internal.ProcessRuntimeShape | undefined = undefined

/**
 * The `ProcessRuntime` in a fiber's context, or `undefined`: a context is immutable and a
 * fiber keeps its own from step to step, so the last answer is kept for the last context
 * (a send or a cast asks twice per message: when its Effect is built and when it runs).
 */
const runtimeIn = (ctx: Context.Context<never>): internal.ProcessRuntimeShape | undefined => {
  if (ctx !== lastContext) {
    lastRuntime = contextGet(ctx, internal.ProcessRuntime)
    lastContext = ctx
  }
  return lastRuntime
}

const withSelf = <A, E, R>(f: (p: ProcessImpl) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R | Self> =>
  Effect.withFiberRuntime((fiber) => f(selfOf(fiber)))

const withRuntime = <A, E, R>(
  f: (rt: internal.RuntimeImpl, self: ProcessImpl | undefined) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R | internal.ProcessRuntime> =>
  Effect.withFiberRuntime((fiber) => {
    const ctx = fiber.currentContext
    return f(runtimeOf(ctx), selfIn(ctx))
  })

// ---------------------------------------------------------------------------
// Spawning
// ---------------------------------------------------------------------------

// Spawns from the calling fiber: its context and FiberRefs straight from the fiber.
const spawnFrom = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  effect: Effect.Effect<unknown, unknown, any>,
  options: SpawnOptions | undefined,
  parent: ProcessImpl | undefined
): ProcessImpl | table.RegisterError => {
  const context = fiber.currentContext
  return runtimeOf(context).spawn(effect, options, parent, context as Context.Context<any>, fiber.getFiberRefs())
}

// One run-loop op.
const spawnImpl = (
  effect: Effect.Effect<unknown, unknown, any>,
  options: SpawnOptions | undefined,
  parent: ProcessImpl | undefined
): Effect.Effect<ProcessImpl, table.RegisterError, any> =>
  Effect.withFiberRuntime((fiber) => {
    const p = spawnFrom(fiber, effect, options, parent)
    return p instanceof table.RegisterError ? Effect.fail(p) : Effect.succeed(p)
  })

/**
 * Starts a process running `effect` and returns its pid. The process gets the caller's
 * context (services, FiberRefs such as the TestClock) plus its own `Self`, but not the
 * caller's interruption: it runs until it ends or an exit signal kills it.
 *
 * @since 0.1.0
 * @category spawning
 */
export const spawn: {
  <R>(
    effect: Effect.Effect<unknown, unknown, R>,
    options: SpawnOptions & { readonly name: string | Atom }
  ): Effect.Effect<Pid, RegisterError, internal.ProcessRuntime | Exclude<R, Self>>
  <R>(
    effect: Effect.Effect<unknown, unknown, R>,
    options?: SpawnOptions
  ): Effect.Effect<Pid, never, internal.ProcessRuntime | Exclude<R, Self>>
} = (effect: Effect.Effect<unknown, unknown, any>, options?: SpawnOptions): any =>
  Effect.withFiberRuntime<Pid, table.RegisterError>((fiber) => {
    const parent = options?.link === true
      ? selfIn(fiber.currentContext)
      : undefined
    const p = spawnFrom(fiber, effect, options, parent)
    return p instanceof table.RegisterError ? Effect.fail(p) : Effect.succeed(p.pid)
  })

/**
 * `spawn` and link to the calling process, atomically.
 *
 * @since 0.1.0
 * @category spawning
 */
export const spawnLink = <R>(
  effect: Effect.Effect<unknown, unknown, R>,
  options?: Omit<SpawnOptions, "link" | "name">
): Effect.Effect<Pid, never, internal.ProcessRuntime | Self | Exclude<R, Self>> =>
  withSelf((parent) =>
    Effect.map(spawnImpl(effect, { ...options, link: true }, parent), (p) => p.pid) as Effect.Effect<
      Pid,
      never,
      internal.ProcessRuntime | Exclude<R, Self>
    >
  )

/**
 * `spawn` and monitor from the calling process, atomically: `[pid, ref]`.
 *
 * @since 0.1.0
 * @category spawning
 */
export const spawnMonitor = <R>(
  effect: Effect.Effect<unknown, unknown, R>,
  options?: Omit<SpawnOptions, "link" | "name">
): Effect.Effect<readonly [Pid, Ref], never, internal.ProcessRuntime | Self | Exclude<R, Self>> =>
  withSelf((parent) =>
    Effect.flatMap(
      spawnImpl(effect, options, undefined) as Effect.Effect<ProcessImpl, never, internal.ProcessRuntime>,
      (p) => Effect.map(monitors.monitor(p.rt, parent, p.pid), (ref) => [p.pid, ref] as const)
    )
  )

const killAndAwait = (p: ProcessImpl): Effect.Effect<void> =>
  Effect.suspend(() => {
    exits.kill(p, exits.shutdown)
    return p.fiber === undefined ? Effect.void : Effect.asVoid(Fiber.await(p.fiber))
  })

/**
 * `spawn` tied to the current `Scope`: when the scope closes, the process is killed with
 * reason `shutdown` (untrappable, like a `brutal_kill` with a polite name) and the scope
 * waits for it to finish.
 *
 * @since 0.1.0
 * @category spawning
 */
export const spawnScoped = <R>(
  effect: Effect.Effect<unknown, unknown, R>,
  options?: Omit<SpawnOptions, "name">
): Effect.Effect<Pid, never, internal.ProcessRuntime | Scope.Scope | Exclude<R, Self>> =>
  Effect.flatMap(
    options?.link === true
      ? Effect.flatMap(Effect.serviceOption(table.Self), (parent) =>
        spawnImpl(effect, options, Option.getOrUndefined(parent) as ProcessImpl | undefined))
      : spawnImpl(effect, options, undefined),
    (p) =>
      Effect.as(Effect.addFinalizer(() => killAndAwait(p as ProcessImpl)), (p as ProcessImpl).pid)
  ) as any

/**
 * Runs `effect` as a process (as the Erlang shell does for typed expressions) and waits
 * for it: its result, its failure, or `ProcessExit(reason)` when an exit signal killed
 * it. Interrupting the caller kills the process with `shutdown`.
 *
 * @since 0.1.0
 * @category spawning
 */
export const run = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options?: Omit<SpawnOptions, "link" | "name">
): Effect.Effect<A, E | ProcessExit, internal.ProcessRuntime | Exclude<R, Self>> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(spawnImpl(effect, options, undefined), (p) =>
      Effect.flatMap(
        Effect.onInterrupt(restore(Fiber.await(p.fiber!)), () => killAndAwait(p)),
        (exit): Effect.Effect<A, E | ProcessExit> => {
          if (Exit.isSuccess(exit)) return Effect.succeed(exit.value as A)
          if (p.killReason !== undefined && Cause.isInterruptedOnly(exit.cause)) {
            return Effect.fail(new exits.ProcessExit({ reason: p.killReason }))
          }
          return Effect.failCause(exit.cause as any)
        }
      ))
  ) as any

// ---------------------------------------------------------------------------
// Handler mode
// ---------------------------------------------------------------------------

const serveExit: Effect.Effect<never> = Effect.succeed(handler.SERVE) as unknown as Effect.Effect<never>

/**
 * Hands the rest of the current process's life to `handle`, as Akka and Ergo actors run:
 * the process's fiber ends (so `serve` must be the last thing the process does, and the
 * finalizers of scopes around it run then, not when the process ends), and the process
 * stays alive with no fiber at all while its mailbox is empty. Each message, in
 * arrival order, is then given to `handle`:
 *
 * - an `Effect` that is already an `Exit` (`Effect.succeed(...)`, `Effect.void`,
 *   `Effect.fail(...)`) is applied at once, with no fiber: a handler that decides
 *   synchronously costs a function call per message;
 * - any other Effect runs on a fresh fiber of the process (with `Self`, the context
 *   of its spawner and the FiberRefs it started with; `receive` works there as in any
 *   process); messages that arrive meanwhile wait for it.
 *
 * A handler that fails, or dies, ends the process with that exit's reason (as the
 * failure of a process's fiber does); one that succeeds leaves it idle. Links, monitors,
 * exit signals, `trap_exit` (the `{'EXIT', From, Reason}` messages go to `handle`), the
 * registry and aliases work as for any process: an exit signal that kills an idle
 * handler process ends it at once, one that is running its handler on a fiber through
 * that fiber's interruption.
 *
 * `handle` may also be a `Handler` object: its `handle` method takes each message, and
 * its optional `handleTagged` takes the messages `{tag, Payload}` sent with a sender of
 * `unsafeTaggedSender(tag)`, as their payload, when they are handled at once (the tuple
 * is then never built).
 *
 * @since 0.1.0
 * @category handlers
 */
export const serve = <R>(
  handle: ((message: unknown) => Effect.Effect<unknown, unknown, R>) | Handler<R>
): Effect.Effect<never, never, Self | Exclude<R, Self>> =>
  withSelf((p) => {
    p.serving = handle as handler.Serving
    return serveExit
  })

/**
 * A handler (see `serve`) as an object: `handle` takes each message (called as a method).
 * With `tag` and `handleTagged`, a message `{tag, Payload}` from a sender of
 * `unsafeTaggedSender(tag)` that is handled at once (the process idle, its mailbox empty,
 * no schema) is given to `handleTagged(Payload)` instead, with no tuple built: it must do
 * exactly what `handle` does with that tuple (which it gets in every other case).
 *
 * @since 0.1.0
 * @category handlers
 */
export interface Handler<R = never> {
  readonly handle: (message: unknown) => Effect.Effect<unknown, unknown, R>
  readonly tag?: Atom | undefined
  readonly handleTagged?: ((payload: unknown) => Effect.Effect<unknown, unknown, R>) | undefined
}

/**
 * Whether an Effect is already a success `Exit` (`Effect.succeed(…)`, `Effect.void`): what
 * a handler (see `serve`) returns to be done with a message at once. One prototype check
 * for those, the public `Exit` test for anything else.
 *
 * @since 0.1.0
 * @category handlers
 */
export const isSuccessExit: (u: unknown) => u is Exit.Success<unknown, unknown> = fastIsSuccessExit

/**
 * `spawn(serve(handle), options)`: a process that runs `handle` for each message and
 * holds no fiber while idle (see `serve`).
 *
 * @since 0.1.0
 * @category handlers
 */
export const spawnHandler = <R>(
  handle: ((message: unknown) => Effect.Effect<unknown, unknown, R>) | Handler<R>,
  options?: SpawnOptions
): Effect.Effect<Pid, RegisterError, internal.ProcessRuntime | Exclude<R, Self>> =>
  spawn(serve(handle), options as SpawnOptions & { readonly name: string }) as any

// ---------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------

/**
 * The pid of the current process.
 *
 * @since 0.1.0
 * @category getters
 */
export const self: Effect.Effect<Pid, never, Self> = Effect.map(table.Self, (h) => h.pid)

/**
 * A new unique reference.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeRef: Effect.Effect<Ref, never, internal.ProcessRuntime> = Effect.map(
  internal.ProcessRuntime,
  (rt) => rt.unsafeMakeRef()
)

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

/**
 * `to ! message`. A local send is synchronous (push + wake). Sending to a dead or unknown
 * pid, to an inactive alias, or to a remote pid while no distribution runs, is silently
 * dropped; sending to an unregistered local name fails with `SendError("NotRegistered")`;
 * sending to `{Name, Node}` on another node while the local node is not alive fails with
 * `SendError("NotAlive")` (both are Erlang's `badarg`); a message with no term form sent
 * to another node fails with `SendError("NotEncodable")`.
 *
 * `to` may be an alias (a `Ref`): the message goes to the process that created it while
 * the alias is active (over the distribution as ALIAS_SEND), and is dropped otherwise.
 *
 * Built in a process fiber for a pid of its node, the send is one run-loop step (see
 * `unsafeSendLocal`): an idle handler process (see `serve`) handles the message before
 * that step ends.
 *
 * @since 0.1.0
 * @category messages
 */
export const send = (to: SendTarget, message: unknown): Effect.Effect<void, SendError, internal.ProcessRuntime> => {
  if (to instanceof Pid) {
    // built in a process fiber for a pid of its node (the usual send): one run-loop step
    const built = unsafeCurrentRuntime()
    if (built !== undefined && built.isLocal(to)) return sendStep(to, message)
  }
  return Effect.withFiberRuntime((fiber) => {
    const ctx = fiber.currentContext
    const rt = runtimeOf(ctx)
    const dest = toDestination(to)
    if (dest instanceof Pid && rt.isLocal(dest)) {
      rt.lookup(dest)?.deliver(message)
      return Effect.void
    }
    return rt.send(dest, message, selfIn(ctx)?.pid)
  })
}

/**
 * The body of `unsafeSendLocal`'s step: sent by the runtime of the fiber running it, which
 * delivers to a local pid at once (an idle handler process handles it now, see `serve`)
 * and routes any other pid, as a send from synchronous code does.
 *
 * A message left waiting in a mailbox counts as two ops against the sender's time slice
 * (what a send cost before it was one step): a sender that outpaces its receiver yields
 * as often as then, instead of filling the receiver's mailbox twice as fast as the
 * receiver empties it between their turns.
 */
const sendNow = (to: Pid, message: unknown): void => {
  const fiber = currentFiber()
  if (fiber === undefined) throw new Error("Process.unsafeSendLocal: run outside a fiber")
  if (runtimeOf(fiber.currentContext).unsafeSendFromFiber(to, message)) chargeOps(fiber, 1)
}

const sendStep: (to: Pid, message: unknown) => Effect.Effect<void> = makeSync2(sendNow)

/**
 * `unsafeSendLocal` of the message `{tag, Payload}` (`(to, payload) => unsafeSendLocal(to,
 * {tag, payload})`), for hot paths (a gen_server cast is `{'$gen_cast', Request}`): when
 * the destination is an idle handler process whose `Handler` takes `tag` (see `Handler`),
 * the payload goes straight to its `handleTagged` and the tuple is never built; anyone
 * else gets the tuple. Make one sender per tag, once.
 *
 * Its Effect, `yield*`ed in `Effect.gen` by a process fiber, sends at once, inside the
 * generator, when the fiber's run loop would run it as its next step (nothing waiting in
 * the fiber's queue, such as an interruption; room left in its time slice, where it counts
 * as one op): the same send, with no run-loop step.
 *
 * @since 0.1.0
 * @category messages
 */
export const unsafeTaggedSender = (
  tag: Atom
): (to: Pid, payload: unknown) => Effect.Effect<void, never, internal.ProcessRuntime> =>
  makeEagerSync2((to: Pid, payload: unknown): void => {
    const fiber = currentFiber()
    if (fiber === undefined) throw new Error("Process.unsafeTaggedSender: run outside a fiber")
    if (runtimeOf(fiber.currentContext).unsafeSendTaggedFromFiber(to, tag, payload)) chargeOps(fiber, 1)
  })

/**
 * An Effect that sends `message` to `to`, a pid of the node whose fiber runs it, in one
 * run-loop step with nothing allocated but the Effect itself: what `send` to a local pid
 * is, minus its error channel (a send to a local pid never fails; a dead pid drops the
 * message). Run by a fiber of another node in the same JavaScript process, that node routes
 * it as its `unsafeSend` does (errors ignored). For hot paths that already know the pid is
 * local (a cast to a local server).
 *
 * @since 0.1.0
 * @category messages
 */
export const unsafeSendLocal = (to: Pid, message: unknown): Effect.Effect<void, never, internal.ProcessRuntime> =>
  sendStep(to, message)

/**
 * The `ProcessRuntime` of the fiber running now, or `undefined` (no fiber runs, or it has
 * none): for synchronous code inside a fiber (an `Effect.sync` body, a `serve` handler)
 * that sends with `unsafeSend`, or to pick a one-step Effect for a destination that is
 * local when the Effect is built (which must still hold when it runs).
 *
 * @since 0.1.0
 * @category runtime
 */
export const unsafeCurrentRuntime = (): internal.ProcessRuntimeShape | undefined => {
  const fiber = currentFiber()
  return fiber === undefined ? undefined : runtimeIn(fiber.currentContext)
}

/**
 * The context of the fiber running now (inside an `Effect.sync` body, a `makeSync2`
 * function…), or `undefined` when no fiber runs: for synchronous code on a hot path that
 * reads a service without an Effect step of its own.
 *
 * @since 0.1.0
 * @category runtime
 */
export const unsafeCurrentContext = (): Context.Context<never> | undefined => currentFiber()?.currentContext

/**
 * `(a, b) => Effect.sync(() => f(a, b))` for hot paths: each Effect is one object (effect's
 * `Sync` primitive carrying `a` and `b`, with one shared thunk) and runs in one run-loop
 * step, with no closure allocated per Effect. Falls back to `Effect.sync` where effect's
 * primitives have another shape.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unsafeMakeSync2 = <A, B, R>(f: (a: A, b: B) => R): (a: A, b: B) => Effect.Effect<R> => makeSync2(f)

/**
 * `unsafeMakeSync2` whose Effect, when an `Effect.gen` generator `yield*`s it on a fiber,
 * runs `f` at once inside the generator, with no run-loop step, wherever the run loop would
 * run it as its very next step: nothing waits in the fiber's message queue (an interruption
 * comes first), no op supervisor, room left in the fiber's time slice (the step counts as
 * one op, so the fiber yields as often as before). Anywhere else it is the one-step Effect
 * of `unsafeMakeSync2`. For synchronous hot paths that a process runs in a loop (a lookup,
 * a send); `f` must not block, and a throw is a defect.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unsafeMakeEagerSync2 = <A, B, R>(f: (a: A, b: B) => R): (a: A, b: B) => Effect.Effect<R> =>
  makeEagerSync2(f)

/**
 * The options of `sendWith` (`erlang:send/3`'s): `noconnect` does not connect to a node
 * that is not connected (the result is then `"noconnect"` and nothing is sent);
 * `nosuspend` does not wait for a busy connection (the result is then `"nosuspend"` and
 * nothing is sent).
 *
 * @since 0.1.0
 * @category models
 */
export interface SendWithOptions extends SendOptions {}

/**
 * What `sendWith` returns (`erlang:send/3`'s result).
 *
 * @since 0.1.0
 * @category models
 */
export type SendWithResult = SendResult

/**
 * `erlang:send(To, Msg, Options)`: as `send`, with `noconnect` / `nosuspend`, and
 * `erlang:send/3`'s result: `"ok"` (sent, or dropped as `send` would drop it),
 * `"noconnect"` or `"nosuspend"` (not sent). A local destination is always `"ok"`.
 *
 * @since 0.1.0
 * @category messages
 */
export const sendWith = (
  to: SendTarget,
  message: unknown,
  options: SendWithOptions
): Effect.Effect<SendWithResult, SendError, internal.ProcessRuntime> =>
  withRuntime((rt, self) => rt.sendWith(toDestination(to), message, self?.pid, options))

const aliasAtom = Atom.make("alias")

/**
 * The alias a gen call tag names: `[alias|A]` and `[[alias|A]|_]` give `A`.
 * @internal
 */
const tagAlias = (tag: Term): Ref | undefined => {
  if (!(tag instanceof ImproperList) || tag.elements.length !== 1) return undefined
  if (tag.elements[0] === aliasAtom) return tag.tail instanceof Ref ? tag.tail : undefined
  const head = tag.elements[0]
  if (head instanceof ImproperList && head.elements.length === 1 && head.elements[0] === aliasAtom) {
    return head.tail instanceof Ref ? head.tail : undefined
  }
  return undefined
}

/**
 * `gen:reply(From, Reply)`: sends `{Tag, Reply}` for a `From = {Pid, Tag}` of a
 * `gen_server:call` (OTP's or ours). A tag `[alias|A]` or `[[alias|A]|_]` sends to the
 * alias `A` (ALIAS_SEND to another node: a reply that comes after the caller gave up is
 * dropped, as the caller's alias is no longer active); any other tag (a plain ref) sends
 * to `Pid`. As `gen:reply`, it never fails: a `From` of another shape, or a reply that
 * cannot be sent, is logged at Warning level and dropped.
 *
 * @since 0.1.0
 * @category messages
 */
export const reply = (from: Term, value: unknown): Effect.Effect<void, never, internal.ProcessRuntime> =>
  withRuntime((rt, self) => replyFrom(rt, self?.pid, from, value))

/**
 * `reply` for code that holds its runtime and its own pid (a handler, see `serve`, runs
 * with no fiber): a reply to a local caller is sent at once, and the result is then
 * `Effect.void` itself (an `Exit`); a reply to another node is the Effect that routes it.
 *
 * @since 0.1.0
 * @category messages
 */
export const replyFrom = (
  runtime: internal.ProcessRuntimeShape,
  self: Pid | undefined,
  from: Term,
  value: unknown
): Effect.Effect<void> => {
  if (!(from instanceof Tuple) || from.elements.length !== 2) {
    return Effect.logWarning(`reply: not a {Pid, Tag} from a call: ${String(from)}`)
  }
  const [to, tag] = from.elements as [Term, Term]
  const alias = tagAlias(tag)
  const dest: SendTarget | undefined = alias ?? (to instanceof Pid || to instanceof Atom ? to : undefined)
  if (dest === undefined) return Effect.logWarning(`reply: not a {Pid, Tag} from a call: ${String(from)}`)
  const sent = (runtime as internal.RuntimeImpl).send(toDestination(dest), new Tuple([tag, value as Term]), self)
  // a local reply is done already (no error handler to allocate)
  return sent === Effect.void
    ? Effect.void
    : Effect.catchAll(sent, (e) => Effect.logWarning(`reply to ${String(from)} dropped: ${e.message}`))
}

/**
 * `send` from process `self` for code that holds its runtime and its own pid (a handler,
 * see `serve`, runs with no fiber), as `replyFrom` sends a reply: a message to this node
 * is delivered at once, one to another node is written at once on an up connection, and
 * the result is then `Effect.void` itself (an `Exit`). Otherwise (a connection being set
 * up, a busy one, a send error) it is the Effect that finishes the send, for the handler
 * to return.
 *
 * @since 0.1.0
 * @category messages
 */
export const unsafeSendFrom = (
  runtime: internal.ProcessRuntimeShape,
  self: Pid | undefined,
  to: SendTarget,
  message: unknown
): Effect.Effect<void, SendError> => (runtime as internal.RuntimeImpl).send(toDestination(to), message, self)

/** `{Tag, Reply}` whose tag is `[alias|Mref]` or `[[alias|Mref]|_]` (a gen call's reply) */
const isReplyFor = (m: unknown, mref: Ref): m is Tuple => {
  if (!(m instanceof Tuple) || m.elements.length !== 2) return false
  const r = tagAlias(m.elements[0]!)
  return r === mref || (r !== undefined && equals(r, mref))
}

/** One `callLocal` (or `unsafeCallRemote`) in progress. */
class LocalCall {
  /** when the time is up (the live clock's milliseconds; `callWait`) */
  deadline = Infinity
  clock: Clock.Clock | undefined = undefined
  constructor(readonly p: ProcessImpl, readonly mref: Ref) {}
  match(m: unknown): boolean {
    return isReplyFor(m, this.mref) || monitors.isDown(m, this.mref)
  }
  /** the reply or the 'DOWN' came: the monitor (and its alias) goes, with a 'DOWN' already there */
  settle(m: unknown): Tuple {
    if (isReplyFor(m, this.mref)) this.demonitor()
    return m as Tuple
  }
  /** the time is up: the monitor goes, and a reply that came just before is still taken */
  timedOut(): Tuple | undefined {
    this.demonitor()
    const p = this.p
    const i = p.find((m) => isReplyFor(m, this.mref), 0)
    return i >= 0 ? take(p, i) as Tuple : undefined
  }
  demonitor(): void {
    const mref = this.mref
    if (!monitors.unsafeDemonitor(this.p.rt, this.p, mref)) monitors.flushDown(this.p, mref)
  }
  /** waits for the reply or the 'DOWN' (at most `timeoutMs` by the `Clock`) */
  wait(timeoutMs: number | undefined): Effect.Effect<Tuple | undefined> {
    const p = this.p
    if (timeoutMs === undefined) return Effect.map(recv(p, (m) => this.match(m), 0), (m) => this.settle(m))
    return Effect.clockWith((clock) =>
      Effect.map(
        recvAfterOn(p, (m) => this.match(m), timeoutMs, clock),
        (m) => Option.isSome(m) ? this.settle(m.value) : this.timedOut()
      )
    )
  }
}

/** the ref `isCallAnswer` looks for, while `findAnswer` runs (no closure per call) */
let answerRef: Ref | undefined
const isCallAnswer = (m: unknown): boolean => isReplyFor(m, answerRef!) || monitors.isDown(m, answerRef)

/** the index of the first reply to `mref` or `'DOWN'` of it at or after `start`, or a negative number */
const findAnswer = (p: ProcessImpl, mref: Ref, start: number): number => {
  answerRef = mref
  try {
    return p.find(isCallAnswer, start)
  } finally {
    answerRef = undefined
  }
}

/**
 * Waits for the answer to `call` (its reply or `'DOWN'`, at most `timeoutMs` by the
 * `Clock`). On the live clock, or with no timeout, with nothing allocated per wait: the
 * call is kept on its process (`pendingCall`), the process parks on the one `callPark`,
 * the wake-up (`callRescan`) looks at the new messages only, with one matcher for every
 * call, and the deadline is the mailbox's armed timer (see `Mailbox.waitTimed`). Other
 * clocks (the `TestClock`) wait as `receive … after` does.
 */
const callWait = (p: ProcessImpl, call: LocalCall, timeoutMs: number | undefined): Effect.Effect<Tuple | undefined> => {
  if (timeoutMs !== undefined) {
    const fiber = currentFiber()
    if (fiber === undefined) return call.wait(timeoutMs)
    const clock = Context.get(fiber.getFiberRef(DefaultServices.currentServices), Clock.Clock)
    if (!isLiveClock(clock) || timeoutMs > MAX_TIMER_MILLIS) {
      return Effect.onInterrupt(call.wait(timeoutMs), () => Effect.sync(() => call.demonitor()))
    }
    call.clock = clock
    call.deadline = clock.unsafeCurrentTimeMillis() + timeoutMs
  }
  return callStep(p, call, 0)
}

/** `callWait`'s look at the messages from `start` on: the answer, the time up, or park */
const callStep = (p: ProcessImpl, call: LocalCall, start: number): Effect.Effect<Tuple | undefined> => {
  const i = findAnswer(p, call.mref, start)
  const clock = call.clock
  if (i >= 0) {
    p.pendingCall = undefined
    if (clock !== undefined) p.releaseTimer()
    return Effect.succeed(call.settle(take(p, i)))
  }
  if (clock !== undefined) {
    const now = clock.unsafeCurrentTimeMillis()
    if (now >= call.deadline) {
      p.pendingCall = undefined
      p.releaseTimer()
      return Effect.succeed(call.timedOut())
    }
    p.armTimer(call.deadline, now)
  }
  p.pendingCall = call
  p.waitFrom = -i - 1
  return callPark()
}

const callRescan: Effect.Effect<Tuple | undefined> = Effect.withFiberRuntime((fiber) => {
  const p = selfOf(fiber)
  return callStep(p, p.pendingCall as LocalCall, p.waitFrom)
})

// runs in the parking fiber, right after `callStep` returned `callPark()`
const callParkRegister = (resume: (effect: Effect.Effect<Tuple | undefined>) => void): void => {
  const p = selfOf(Option.getOrThrow(Fiber.getCurrentFiber()))
  if (p.size > p.waitFrom) resume(callRescan)
  else {
    p.wake = callRescan
    p.waiter = resume
  }
}

/**
 * A wait that is interrupted (an `Effect.timeout` around the call, say) ends the call: its
 * monitor and alias go, so a reply that comes later is dropped, as after a timeout.
 */
const abandonCall: Effect.Effect<void> = Effect.withFiberRuntime((fiber) => {
  const p = selfOf(fiber)
  const call = p.pendingCall as LocalCall | undefined
  if (call !== undefined) {
    p.pendingCall = undefined
    if (call.clock !== undefined) p.releaseTimer()
    call.demonitor()
  }
  return Effect.void
})

/** the one suspension of every call waiting for its answer (see `park`), with nothing around it */
const callParkWait: Effect.Effect<Tuple | undefined> = makeFixedAsync(callParkRegister)

/** `abandonCall` when the wait was interrupted, then the same failure (as `Effect.onInterrupt`) */
const abandonIfInterrupted = (cause: Cause.Cause<never>): Effect.Effect<never> =>
  Cause.isInterruptedOnly(cause) ? Effect.zipRight(abandonCall, Effect.failCause(cause)) : Effect.failCause(cause)

/**
 * `Effect.onInterrupt(callParkWait, () => abandonCall)` for a caller that is interruptible,
 * built once: `onInterrupt` builds its `uninterruptibleMask` (whose `restore` is
 * `interruptible` for such a caller) and its handlers at every wait, about 1 µs per call.
 */
const callParkInterruptible: Effect.Effect<Tuple | undefined> = Effect.uninterruptible(
  Effect.matchCauseEffect(Effect.interruptible(callParkWait), {
    onFailure: abandonIfInterrupted,
    onSuccess: Effect.succeed
  })
)

/** the same for a fiber whose runtime flags cannot be read (another effect version) */
const callParkAny: Effect.Effect<Tuple | undefined> = Effect.onInterrupt(callParkWait, () => abandonCall)

/**
 * The wait of a call (`callStep`), as `Effect.onInterrupt(wait, () => abandonCall)`: an
 * interruptible caller parks interruptibly and an interruption ends the call (see
 * `abandonCall`); a caller that cannot be interrupted parks with nothing around the wait.
 */
const callPark = (): Effect.Effect<Tuple | undefined> => {
  const flags = (currentFiber() as { readonly currentRuntimeFlags?: unknown } | undefined)?.currentRuntimeFlags
  if (typeof flags !== "number") return callParkAny
  return RuntimeFlags.interruptible(flags as RuntimeFlags.RuntimeFlags) ? callParkInterruptible : callParkWait
}

/** `p` can handle a message at once, on the caller's stack: an idle handler process (see `serve`). */
const isIdleHandler = (p: ProcessImpl | undefined): p is ProcessImpl =>
  p !== undefined && p.serving !== undefined && p.fiber === undefined && p.hstate === handler.HState.Idle &&
  p.killReason === undefined

/** the call from `p` (see `unsafeCallLocal`) */
const callFrom = (
  p: ProcessImpl,
  to: Pid,
  message: (mref: Ref) => unknown,
  timeoutMs: number | undefined
): Effect.Effect<Tuple | undefined> => {
  const rt = p.rt
  const t = rt.lookup(to)
  if (!isIdleHandler(t) || p.dead) {
    const call = new LocalCall(p, monitors.unsafeMonitorLocal(rt, p, to, "demonitor"))
    t?.deliver(message(call.mref))
    return callWait(p, call, timeoutMs)
  }
  // An idle handler process handles the request now (`deliverNow`). Until it has, only
  // the alias is in place (nothing else runs meanwhile, so nothing can see that the
  // monitor is not): a reply, or the server's end, settles the call at once.
  const mref = rt.unsafeMakeRef()
  const k = rt.aliasKey(mref)!
  rt.aliases.addBrief(p, k, "demonitor")
  const scanned = p.size
  t.deliverNow(message(mref))
  // (no 'DOWN' of `mref` can be there: it monitors nothing yet)
  const i = findAnswer(p, mref, scanned)
  if (i >= 0) {
    rt.aliases.dropBrief(k)
    return Effect.succeed(take(p, i) as Tuple)
  }
  if (t.dead) {
    rt.aliases.dropBrief(k)
    return Effect.succeed(monitors.downMessage(mref, to, t.killReason!))
  }
  // the server is still at it (its handler runs on a fiber): the monitor proper, then wait
  rt.aliases.keep(p, k)
  monitors.monitorLocal(rt, p, mref, rt.monitorKey(mref), t, to, to, "demonitor")
  return callWait(p, new LocalCall(p, mref), timeoutMs)
}

/**
 * gen:do_call's exchange with a local process (OTP 25), as one step: monitors `to` with
 * an alias (`monitor(to, { alias: "demonitor" })`), sends it `message(mref)`, and waits
 * for the reply `{Tag, Reply}` whose tag is `[alias|Mref]` (or `[[alias|Mref]|_]`), or
 * for the monitor's `'DOWN'`, at most `timeoutMs` milliseconds (by the `Clock`) when
 * given. The result is the reply, the `'DOWN'` (`noproc` for a process that was not
 * alive), or `undefined` when the time is up; the monitor and its alias are gone either
 * way, so a reply that comes later is dropped. `to` must be a local pid.
 *
 * An idle handler process (see `serve`) handles the request at once, on the caller's
 * stack (the caller would only wait for it): when its handler decides synchronously,
 * the call is over with no task scheduled and no parking.
 *
 * @since 0.1.0
 * @category messages
 */
export const callLocal = (
  to: Pid,
  message: (mref: Ref) => unknown,
  timeoutMs?: number | undefined
): Effect.Effect<Tuple | undefined, never, Self> =>
  Effect.withFiberRuntime((fiber) => callFrom(selfOf(fiber), to, message, timeoutMs))

/**
 * `callLocal` for code that holds the calling process's handle (the `Self` service of
 * the fiber it runs on), in one step of that fiber: the Effect it returns waits for the
 * result, and is an `Exit` (`Effect.succeed(result)`) when the result came at once (an
 * idle handler process answered synchronously, or `to` is not alive). Must be run by
 * the fiber of `self`, right away.
 *
 * @since 0.1.0
 * @category messages
 */
export const unsafeCallLocal = (
  self: ProcessHandle,
  to: Pid,
  message: (mref: Ref) => unknown,
  timeoutMs?: number | undefined
): Effect.Effect<Tuple | undefined> => callFrom(self as ProcessImpl, to, message, timeoutMs)

/** `{ noconnect: true }`, gen:do_call's send option */
const noconnect: SendOptions = { noconnect: true }

/**
 * the call from `p` to another node's process (see `unsafeCallRemote`) when the router
 * cannot write at once: the same exchange, in Effects
 */
const callRemoteRouted = (
  p: ProcessImpl,
  to: Pid | RemoteName,
  message: (mref: Ref) => unknown,
  timeoutMs: number | undefined
): Effect.Effect<Tuple | undefined, internal.SendError> =>
  Effect.flatMap(
    monitors.monitor(p.rt, p, to, "demonitor"),
    (mref) => sendThenWait(new LocalCall(p, mref), to, message(mref), timeoutMs)
  )

/**
 * `call`'s request sent through the router (`noconnect`), then its answer waited for; a
 * request with no term form removes the call's monitor and fails.
 */
const sendThenWait = (
  call: LocalCall,
  to: Pid | RemoteName,
  request: unknown,
  timeoutMs: number | undefined
): Effect.Effect<Tuple | undefined, internal.SendError> =>
  Effect.zipRight(
    Effect.catchAll(
      call.p.rt.sendWith(to, request, call.p.pid, noconnect),
      (e): Effect.Effect<void, internal.SendError> => {
        if (e.reason !== "NotEncodable") return Effect.void
        call.demonitor()
        return Effect.fail(e)
      }
    ),
    Effect.suspend(() => callWait(call.p, call, timeoutMs))
  )

/** the call from `p` to another node's process (see `unsafeCallRemote`) */
const callRemote = (
  p: ProcessImpl,
  to: Pid | RemoteName,
  message: (mref: Ref) => unknown,
  timeoutMs: number | undefined
): Effect.Effect<Tuple | undefined, internal.SendError> => {
  const rt = p.rt
  const now = rt.router.unsafeRoute
  if (now === undefined || p.dead) return callRemoteRouted(p, to, message, timeoutMs)
  // MONITOR_P then the request, written at once on the up connection (one batch, so one
  // write): the monitor is held from the same step, so nothing can see it missing
  const mref = rt.unsafeMakeRef()
  const watched = now(new MonitorSignal({ from: p.pid, to, ref: mref }))
  if (watched === false) return callRemoteRouted(p, to, message, timeoutMs)
  const key = rt.aliasKey(mref)!
  const object = to instanceof Pid ? to : new Tuple([to.name, to.node])
  rt.aliases.add(p, key, "demonitor")
  monitors.holdRemote(rt, p, mref, key, to, object, "demonitor")
  const call = new LocalCall(p, mref)
  if (watched !== undefined) {
    // as `monitor`: a monitor that cannot be routed is a 'DOWN' with `noconnection`
    monitors.unrouted(rt, p, mref, key, object)
    return callWait(p, call, timeoutMs)
  }
  const request = message(mref)
  const sent = now(new MessageSignal({ from: p.pid, to, message: request }))
  if (sent === false) return sendThenWait(call, to, request, timeoutMs)
  if (sent instanceof RouteError) {
    call.demonitor()
    if (sent.reason === "NotEncodable") {
      return Effect.fail(new internal.SendError({ reason: "NotEncodable", to, detail: sent.detail }))
    }
  }
  return callWait(p, call, timeoutMs)
}

/**
 * `unsafeCallLocal` to another node's process (a pid, or `{Name, Node}`), as gen:do_call
 * does it (OTP 25): `monitor(to, { alias: "demonitor" })` (MONITOR_P), the request
 * `message(mref)` sent with `noconnect`, then the reply to the alias (ALIAS_SEND) or the
 * monitor's `'DOWN'` (`noconnection`, `noproc`, the server's exit reason), at most
 * `timeoutMs` milliseconds (by the `Clock`) when given; `undefined` when the time is up.
 * The monitor and its alias are gone either way (DEMONITOR_P), so a later reply is
 * dropped. On an up connection the monitor and the request are written at once, in this
 * step; the only failure is a request with no term form (the monitor is then removed).
 * Must be run by the fiber of `self`, right away.
 *
 * @since 0.1.0
 * @category messages
 */
export const unsafeCallRemote = (
  self: ProcessHandle,
  to: Pid | RemoteName,
  message: (mref: Ref) => unknown,
  timeoutMs?: number | undefined
): Effect.Effect<Tuple | undefined, internal.SendError> => callRemote(self as ProcessImpl, to, message, timeoutMs)

const take = (p: ProcessImpl, index: number): unknown => {
  const v = p.lastMatch
  p.removeAt(index)
  p.lastMatch = undefined
  return v
}

/**
 * Takes the oldest message at or after `start` that `match` accepts, or parks the fiber
 * (`park`) with the matcher and the scanned count on the process: the wake-up resumes the
 * fiber with `rescan`, which looks at the new messages only. Nothing is allocated to park.
 */
const recv = (p: ProcessImpl, match: Matcher<unknown> | undefined, start: number): Effect.Effect<unknown> => {
  const i = p.find(match, start)
  if (i >= 0) return Effect.succeed(take(p, i))
  p.recvMatch = match
  p.waitFrom = -i - 1
  return park
}

const rescan: Effect.Effect<unknown> = Effect.withFiberRuntime((fiber) => {
  const p = selfOf(fiber)
  const match = p.recvMatch
  p.recvMatch = undefined
  return recv(p, match, p.waitFrom)
})

// runs in the parking fiber, right after `recv` returned `park`
const parkRegister = (resume: (effect: Effect.Effect<unknown>) => void): void => {
  const p = selfOf(Option.getOrThrow(Fiber.getCurrentFiber()))
  if (p.size > p.waitFrom) resume(rescan)
  else {
    p.wake = rescan
    p.waiter = resume
  }
}

/**
 * One suspension op shared by every parked process (see `makeFixedAsync`): the fiber
 * finds its process through its context, so nothing is allocated to park.
 */
const park: Effect.Effect<unknown> = makeFixedAsync(parkRegister)

/**
 * `receive` with a deadline (by `clock`). While nothing matches, the process parks on
 * its mailbox; on the live clock with a `setTimeout` armed (`waitTimed`: no fiber, and
 * mostly no new timer either), on other clocks (the `TestClock`) racing the wait with a
 * sleep.
 */
const recvUntil = (
  p: ProcessImpl,
  match: Matcher<unknown> | undefined,
  start: number,
  deadline: number,
  clock: Clock.Clock,
  live: boolean
): Effect.Effect<Option.Option<unknown>> =>
  Effect.suspend(() => {
    const i = p.find(match, start)
    if (i >= 0) {
      if (live) p.releaseTimer()
      return Effect.succeed(Option.some(take(p, i)))
    }
    const now = clock.unsafeCurrentTimeMillis()
    if (now >= deadline) {
      if (live) p.releaseTimer()
      return Effect.succeed(Option.none())
    }
    const scanned = -i - 1
    const left = deadline - now
    const wait = live && left <= MAX_TIMER_MILLIS
      ? p.waitTimed(scanned, deadline, now)
      : Effect.timeoutOption(p.wait(scanned), Duration.millis(left))
    return Effect.flatMap(wait, () => recvUntil(p, match, scanned, deadline, clock, live))
  })

const recvAfter = (p: ProcessImpl, match: Matcher<unknown> | undefined, ms: number) =>
  Effect.clockWith((clock) => recvAfterOn(p, match, ms, clock))

/** `receive … after ms` by `clock` */
const recvAfterOn = (
  p: ProcessImpl,
  match: Matcher<unknown> | undefined,
  ms: number,
  clock: Clock.Clock
): Effect.Effect<Option.Option<unknown>> => {
  const i = p.find(match, 0)
  if (i >= 0) return Effect.succeed(Option.some(take(p, i)))
  if (ms <= 0) return Effect.succeed(Option.none())
  return recvUntil(p, match, -i - 1, clock.unsafeCurrentTimeMillis() + ms, clock, isLiveClock(clock))
}

const receiveAny: Effect.Effect<unknown, never, Self> = withSelf((p) => recv(p, undefined, 0))

/**
 * Options of `receive`: `after` is Erlang's `after` clause (a timeout; `0` only looks at
 * the mailbox). With `after`, `receive` returns an `Option` (`None` on timeout).
 *
 * @since 0.1.0
 * @category models
 */
export interface ReceiveOptions {
  readonly after: Duration.DurationInput
}

/**
 * Takes the oldest message that `match` accepts, waiting for one if needed. Messages it
 * does not accept stay in the mailbox, in order. `match` is a predicate / refinement, or
 * a function returning an `Option` (its `Some` value is what `receive` yields).
 *
 * @since 0.1.0
 * @category messages
 */
export const receive: {
  (): Effect.Effect<unknown, never, Self>
  <A>(match: (message: unknown) => Option.Option<A>): Effect.Effect<A, never, Self>
  <A>(refinement: Predicate.Refinement<unknown, A>): Effect.Effect<A, never, Self>
  (predicate: Predicate.Predicate<unknown>): Effect.Effect<unknown, never, Self>
  <A>(
    match: (message: unknown) => Option.Option<A>,
    options: ReceiveOptions
  ): Effect.Effect<Option.Option<A>, never, Self>
  <A>(
    refinement: Predicate.Refinement<unknown, A>,
    options: ReceiveOptions
  ): Effect.Effect<Option.Option<A>, never, Self>
  (
    predicate: Predicate.Predicate<unknown> | undefined,
    options: ReceiveOptions
  ): Effect.Effect<Option.Option<unknown>, never, Self>
} = (match?: Matcher<unknown>, options?: ReceiveOptions): any => {
  if (options === undefined) {
    return match === undefined ? receiveAny : Effect.withFiberRuntime((fiber) => recv(selfOf(fiber), match, 0))
  }
  const after = Duration.decode(options.after)
  if (!Duration.isFinite(after)) return withSelf((p) => Effect.map(recv(p, match, 0), Option.some))
  const ms = Duration.toMillis(after)
  return withSelf((p) => recvAfter(p, match, ms))
}

/**
 * `receive` with an `after` timeout: `Some(message)` or `None`.
 *
 * @since 0.1.0
 * @category messages
 */
export const receiveTimeout: {
  (after: Duration.DurationInput): Effect.Effect<Option.Option<unknown>, never, Self>
  <A>(
    after: Duration.DurationInput,
    match: (message: unknown) => Option.Option<A>
  ): Effect.Effect<Option.Option<A>, never, Self>
  <A>(after: Duration.DurationInput, refinement: Predicate.Refinement<unknown, A>): Effect.Effect<
    Option.Option<A>,
    never,
    Self
  >
  (after: Duration.DurationInput, predicate: Predicate.Predicate<unknown>): Effect.Effect<
    Option.Option<unknown>,
    never,
    Self
  >
} = (after: Duration.DurationInput, match?: Matcher<unknown>): any => receive(match as any, { after })

/**
 * Takes the oldest message that decodes with `schema` (others stay in place), decoded.
 *
 * @since 0.1.0
 * @category messages
 */
export const receiveSchema = <A, I>(schema: Schema.Schema<A, I, never>): Effect.Effect<A, never, Self> => {
  const decode = Schema.decodeUnknownEither(schema)
  return receive((m) => Either.getRight(decode(m)))
}

// ---------------------------------------------------------------------------
// Timers
// ---------------------------------------------------------------------------

const timerAtom = Atom.make("timeout")

const startTimerWith = (
  time: Duration.DurationInput,
  dest: SendTarget,
  message: (ref: Ref) => unknown
): Effect.Effect<Ref, never, internal.ProcessRuntime> =>
  withRuntime((rt) => {
    const to = toDestination(dest)
    const d = Duration.decode(time)
    const ms = Duration.isFinite(d) ? Math.max(0, Duration.toMillis(d)) : Infinity
    // a timer to a local pid belongs to that process: it ends with it (erts)
    const owner = to instanceof Pid && rt.isLocal(to) ? rt.lookup(to) : undefined
    const ownerGone = to instanceof Pid && rt.isLocal(to) && (owner === undefined || owner.dead)
    return Effect.clockWith((clock) =>
      rt.timers.start(rt, ms, clock, owner, ownerGone, (ref) => {
        rt.unsafeSend(to, message(ref))
      })
    )
  })

/**
 * `erlang:send_after(Time, Dest, Msg)`: sends `message` to `dest` after `time` (by the
 * `Clock`, so `TestClock` drives it) and returns the timer's ref for `cancelTimer` /
 * `readTimer`. A pid destination must be alive: its death cancels the timer (a timer
 * for a process that is not alive is cancelled at once), as in erts; a name is looked up
 * when the timer fires (not registered then: the message is dropped).
 *
 * @since 0.1.0
 * @category timers
 */
export const sendAfter = (
  time: Duration.DurationInput,
  dest: SendTarget,
  message: unknown
): Effect.Effect<Ref, never, internal.ProcessRuntime> => startTimerWith(time, dest, () => message)

/**
 * `erlang:start_timer(Time, Dest, Msg)`: as `sendAfter`, but what arrives is
 * `{timeout, TimerRef, Msg}`.
 *
 * @since 0.1.0
 * @category timers
 */
export const startTimer = (
  time: Duration.DurationInput,
  dest: SendTarget,
  message: unknown
): Effect.Effect<Ref, never, internal.ProcessRuntime> =>
  startTimerWith(time, dest, (ref) => new Tuple([timerAtom, ref, message as Term]))

const remaining = (
  ref: Ref,
  cancel: boolean
): Effect.Effect<number | false, never, internal.ProcessRuntime> =>
  withRuntime((rt) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      const k = rt.aliasKey(ref)
      const t = rt.timers.get(k)
      if (t === undefined) return false
      if (cancel) rt.timers.cancel(k!)
      return Math.max(0, Math.ceil(t.deadline - now))
    })
  )

/**
 * `erlang:cancel_timer(TimerRef)`: stops a pending timer and returns the milliseconds
 * it had left, or `false` when it is not pending (it fired, was cancelled, or never
 * was a timer).
 *
 * @since 0.1.0
 * @category timers
 */
export const cancelTimer = (ref: Ref): Effect.Effect<number | false, never, internal.ProcessRuntime> =>
  remaining(ref, true)

/**
 * `erlang:read_timer(TimerRef)`: the milliseconds a pending timer has left, or `false`.
 *
 * @since 0.1.0
 * @category timers
 */
export const readTimer = (ref: Ref): Effect.Effect<number | false, never, internal.ProcessRuntime> =>
  remaining(ref, false)

// ---------------------------------------------------------------------------
// Links, monitors, exits
// ---------------------------------------------------------------------------

/**
 * Links the current process with `pid`. Linking to a dead local pid delivers an exit
 * signal with reason `noproc` (a `{'EXIT', Pid, noproc}` message when trapping, death
 * otherwise); a remote link that cannot be routed gives `noconnection` the same way.
 *
 * @since 0.1.0
 * @category links
 */
export const link = (pid: Pid): Effect.Effect<void, never, Self> => withSelf((p) => links.link(p.rt, p, pid))

/**
 * Removes the link between the current process and `pid` (immediate locally).
 *
 * @since 0.1.0
 * @category links
 */
export const unlink = (pid: Pid): Effect.Effect<void, never, Self> => withSelf((p) => links.unlink(p.rt, p, pid))

/**
 * Options of `monitor` (erlang:monitor/3). `alias` makes the monitor ref also an alias
 * of the calling process (see `alias`), deactivated:
 * - `"explicit_unalias"`: only by `unalias` (removing the monitor leaves it active);
 * - `"demonitor"`: also when the monitor is removed (`demonitor`, or its `'DOWN'` arrives);
 * - `"reply_demonitor"`: as `"demonitor"`, and also by the first message received through
 *   the alias, which removes the monitor too (a call's reply: the alias and the monitor
 *   end with the reply or the `'DOWN'`, whichever comes first).
 *
 * @since 0.1.0
 * @category models
 */
export interface MonitorOptions {
  readonly alias?: "explicit_unalias" | "demonitor" | "reply_demonitor" | undefined
}

/**
 * Monitors a process (by pid, by local name, or `{Name, Node}`). When it ends, the
 * current process receives `{'DOWN', Ref, process, Object, Reason}` where `Object` is
 * the pid, or `{Name, Node}` for a monitor by name. A dead or unknown target gives the
 * `'DOWN'` with `noproc` at once. With `{ alias }` the ref is also an alias of the
 * calling process (see `MonitorOptions`): OTP 25's `gen:call` monitors the server with
 * `{ alias: "demonitor" }` and has the reply sent to that alias.
 *
 * @since 0.1.0
 * @category monitors
 */
export const monitor = (target: Target, options?: MonitorOptions): Effect.Effect<Ref, never, Self> =>
  withSelf((p) => monitors.monitor(p.rt, p, toDestination(target), options?.alias))

/**
 * `monitor(pid)` for code that holds the calling process's handle (a `serve` handler,
 * which runs with no fiber): the monitor is in place when it returns, and its `MONITOR_P`
 * written on an up connection (queued in order while one is set up). As `monitor`, a
 * target that is not alive, or a node that cannot be reached, gives the `'DOWN'`
 * (`noproc`, `noconnection`).
 *
 * @since 0.1.0
 * @category monitors
 */
export const unsafeMonitor = (self: ProcessHandle, target: Pid): Ref => {
  const p = self as ProcessImpl
  return monitors.unsafeMonitor(p.rt, p, target)
}

/**
 * `erlang:alias()`: a new alias of the calling process, a `Ref` that any process (here
 * or on another node) can `send` to; the message lands in this process's mailbox while
 * the alias is active, and is dropped once it is not. `{ reply: true }` is
 * `alias([reply])`: the first message received through the alias deactivates it. An
 * alias ends with its process.
 *
 * @since 0.1.0
 * @category aliases
 */
export const alias = (options?: { readonly reply?: boolean | undefined }): Effect.Effect<Ref, never, Self> =>
  withSelf((p) =>
    Effect.sync(() => {
      const ref = p.rt.unsafeMakeRef()
      if (!p.dead) p.rt.aliases.add(p, p.rt.aliasKey(ref)!, options?.reply === true ? "reply" : "explicit_unalias")
      return ref
    })
  )

/**
 * `erlang:unalias(Alias)`: deactivates an alias of the calling process; `true` if it was
 * active (a monitor whose ref it is stays in place).
 *
 * @since 0.1.0
 * @category aliases
 */
export const unalias = (alias: Ref): Effect.Effect<boolean, never, Self> =>
  withSelf((p) => Effect.sync(() => p.rt.aliases.remove(p, p.rt.aliasKey(alias))))

/**
 * Removes a monitor; `true` if it was active. With `flush: true`, also removes its
 * `'DOWN'` message from the mailbox if one already arrived.
 *
 * @since 0.1.0
 * @category monitors
 */
export const demonitor = (
  ref: Ref,
  options?: { readonly flush?: boolean }
): Effect.Effect<boolean, never, Self> => withSelf((p) => monitors.demonitor(p.rt, p, ref, options?.flush === true))

/**
 * `demonitor` for code that holds the calling process's handle (a `serve` handler, which
 * runs with no fiber), synchronously: `true` if the monitor was active; `flush: true` also
 * removes its `'DOWN'` from the mailbox.
 *
 * @since 0.1.0
 * @category monitors
 */
export const unsafeDemonitor = (
  self: ProcessHandle,
  ref: Ref,
  options?: { readonly flush?: boolean }
): boolean => {
  const p = self as ProcessImpl
  const active = monitors.unsafeDemonitor(p.rt, p, ref)
  if (options?.flush === true) monitors.flushDown(p, ref)
  return active
}

/**
 * `exit(reason)` ends the current process with `reason` (a failure with `ProcessExit`,
 * so it can be caught like Erlang's `catch exit(...)`).
 *
 * `exit(pid, reason)` sends an exit signal: `kill` cannot be trapped and kills with
 * `killed`; `normal` is ignored unless the target traps exits (or is the caller);
 * a trapping target receives `{'EXIT', From, Reason}`. `From` is the calling process, or
 * `<0.0.0>` outside a process.
 *
 * @since 0.1.0
 * @category exits
 */
export const exit: {
  (reason: Term): Effect.Effect<never, ProcessExit>
  (pid: Pid, reason: Term): Effect.Effect<void, never, internal.ProcessRuntime>
} = function(this: unknown): any {
  if (arguments.length === 1) return Effect.fail(new exits.ProcessExit({ reason: arguments[0] }))
  const pid = arguments[0] as Pid
  const reason = arguments[1] as Term
  return withRuntime((rt, self) => {
    exits.exit2(rt, self?.pid ?? rt.systemPid, pid, reason)
    return Effect.void
  })
} as any

/**
 * Sets the current process's `trap_exit` flag and returns the previous value.
 *
 * @since 0.1.0
 * @category exits
 */
export const trapExit = (flag: boolean): Effect.Effect<boolean, never, Self> =>
  withSelf((p) =>
    Effect.sync(() => {
      const old = p.trapExit
      p.trapExit = flag
      return old
    })
  )

/**
 * `{'EXIT', From, Reason}`, the message a trapping process receives.
 *
 * @since 0.1.0
 * @category guards
 */
export const isExitMessage = (u: unknown): u is Tuple =>
  u instanceof Tuple && u.elements.length === 3 && u.elements[0] === atoms.EXIT

/**
 * `{'DOWN', Ref, process, Object, Reason}`, optionally for a given ref.
 *
 * @since 0.1.0
 * @category guards
 */
export const isDownMessage = (u: unknown, ref?: Ref): u is Tuple => monitors.isDown(u, ref)

// ---------------------------------------------------------------------------
// Registry and introspection
// ---------------------------------------------------------------------------

/**
 * Registers a local process under a name.
 *
 * @since 0.1.0
 * @category registry
 */
export const register = (name: string | Atom, pid: Pid): Effect.Effect<void, RegisterError, internal.ProcessRuntime> =>
  Effect.flatMap(internal.ProcessRuntime, (rt) => {
    const err = (rt as internal.RuntimeImpl).procs.register(
      table.atomOf(name),
      (rt as internal.RuntimeImpl).lookup(pid)
    )
    return err === undefined ? Effect.void : Effect.fail(err)
  })

/**
 * Removes a registered name.
 *
 * @since 0.1.0
 * @category registry
 */
export const unregister = (name: string | Atom): Effect.Effect<void, RegisterError, internal.ProcessRuntime> =>
  Effect.flatMap(internal.ProcessRuntime, (rt) => {
    const err = (rt as internal.RuntimeImpl).procs.unregister(table.atomOf(name))
    return err === undefined ? Effect.void : Effect.fail(err)
  })

/**
 * The pid registered under a name.
 *
 * @since 0.1.0
 * @category registry
 */
export const whereis = (name: string | Atom): Effect.Effect<Option.Option<Pid>, never, internal.ProcessRuntime> =>
  Effect.map(internal.ProcessRuntime, (rt) => Option.fromNullable(rt.unsafeWhereis(table.atomOf(name))))

/**
 * Every registered name.
 *
 * @since 0.1.0
 * @category registry
 */
export const registered: Effect.Effect<ReadonlyArray<Atom>, never, internal.ProcessRuntime> = Effect.map(
  internal.ProcessRuntime,
  (rt) => [...(rt as internal.RuntimeImpl).procs.registry.keys()]
)

/**
 * Whether a local process is alive.
 *
 * @since 0.1.0
 * @category introspection
 */
export const isAlive = (pid: Pid): Effect.Effect<boolean, never, internal.ProcessRuntime> =>
  Effect.map(internal.ProcessRuntime, (rt) => rt.unsafeIsAlive(pid))

/**
 * Information about a local process (`None` when it is not alive).
 *
 * @since 0.1.0
 * @category introspection
 */
export const processInfo = (pid: Pid): Effect.Effect<Option.Option<ProcessInfo>, never, internal.ProcessRuntime> =>
  Effect.map(internal.ProcessRuntime, (rt) => Option.fromNullable((rt as internal.RuntimeImpl).info(pid)))

/**
 * The pids of all local processes.
 *
 * @since 0.1.0
 * @category introspection
 */
export const processes: Effect.Effect<ReadonlyArray<Pid>, never, internal.ProcessRuntime> = Effect.map(
  internal.ProcessRuntime,
  (rt) => Array.from((rt as internal.RuntimeImpl).procs.byId.values(), (p) => p.pid)
)
