/**
 * The process table, the registry and every signal rule. Synchronous at the core: local
 * signals are applied at once by the caller, Effects only wrap the edges (spawn, receive,
 * routing to other nodes).
 * @internal
 */
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as ClockImpl from "effect/Clock"
import type * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { Mailbox } from "../Mailbox.js"
import type { RouterShape, SendOptions, SendResult } from "../Router.js"
import { defaultRouter } from "../Router.js"
import * as Sig from "../Signal.js"
import { Atom, atoms, isTerm, makeLocalNode, Pid, Ref, Tuple } from "../Term.js"
import type { LocalNode, Term } from "../Term.js"
import { schedulerFor } from "./scheduler.js"
import type { ProcessInfo, ProcessRuntimeShape, SpawnOptions } from "./tags.js"
import { ProcessExit, ProcessRuntime, RegisterError, Self, SendError } from "./tags.js"
import { equals, refWords } from "./term.js"

const effectFailure = Atom.make("effect_failure")
/** @internal */
export const shutdown = Atom.make("shutdown")
const encoder = new TextEncoder()
const spawnFiberId = FiberId.make(0, 0) as FiberId.Runtime

/**
 * Whether two FiberRefs hold the same values (the same stacks: `getFiberRefs()` copies the
 * map on every call, but an unchanged FiberRef keeps its stack).
 */
const sameRefs = (a: FiberRefs.FiberRefs, b: FiberRefs.FiberRefs): boolean => {
  if (a === b) return true
  const la = (a as unknown as { readonly locals?: unknown }).locals
  const lb = (b as unknown as { readonly locals?: unknown }).locals
  if (!(la instanceof Map) || !(lb instanceof Map) || la.size !== lb.size) return false
  for (const [ref, stack] of la) {
    if (lb.get(ref) !== stack) return false
  }
  return true
}

const refText = (r: Ref): string => `${r.node.name}/${r.creation}/${refWords(r.ids)}`

/** A monitor table key: the counter of a ref made here (see `aliasKey`), the ref's text for others. */
type MonitorKey = number | string
const pidKey = (p: Pid): string => `${p.node.name}/${p.creation}/${p.id}/${p.serial}`

const samePid = (a: Pid, b: Pid): boolean =>
  a === b || (a.id === b.id && a.serial === b.serial && a.node === b.node && a.creation === b.creation)

/**
 * Process-local information about a link to a process on another node (the docs' link
 * protocol, erl_dist_protocol "Link Protocol"): the pid, and the id of an outstanding
 * unlink (`0n` while the link is active).
 */
interface RemoteLink {
  readonly pid: Pid
  unlinking: bigint
}

/**
 * How an alias is deactivated (erlang:alias/1, erlang:monitor/3): only by `unalias`
 * (`explicit_unalias`), also by the first message received through it (`reply`), also
 * when its monitor is removed (`demonitor`), or both (`reply_demonitor`: the message
 * also removes the monitor).
 * @internal
 */
export type AliasMode = "explicit_unalias" | "reply" | "demonitor" | "reply_demonitor"

/** An active alias: its process and how it is deactivated. */
interface AliasEntry {
  readonly p: ProcessImpl
  readonly mode: AliasMode
}

/** A timer of `send_after`/`start_timer`: when it fires, and how to stop it. */
interface Timer {
  readonly deadline: number
  /** the local process the timer is bound to (a pid destination): its death cancels the timer */
  readonly owner: ProcessImpl | undefined
  /** stops the clock's timer or the fiber that sleeps for it */
  cancel: (() => void) | undefined
}

/** the longest delay a JS timer takes (the clock's scheduler treats a longer one as infinite) */
/** @internal */
export const MAX_TIMER_MILLIS = 2 ** 31 - 1

/**
 * The live clock's scheduler (effect's default `Clock`: `setTimeout`), to recognise it.
 * @internal
 */
export const liveScheduler: Clock.ClockScheduler | undefined = (() => {
  const clock = ClockImpl.make() as unknown as { readonly scheduler?: () => Effect.Effect<Clock.ClockScheduler> }
  return typeof clock.scheduler === "function" ? Effect.runSync(clock.scheduler()) : undefined
})()

/**
 * @internal
 * The clock's own timer scheduler, when it has one (effect's live `Clock`: a `setTimeout`
 * per timer, no fiber); `undefined` for others (the `TestClock`: a fiber sleeps instead).
 */
export const clockScheduler = (clock: Clock.Clock): Effect.Effect<Clock.ClockScheduler | undefined> => {
  const get = (clock as unknown as { readonly scheduler?: unknown }).scheduler
  return typeof get === "function"
    ? (get.call(clock) as Effect.Effect<Clock.ClockScheduler>)
    : Effect.succeed(undefined)
}

/** A monitor this process holds. */
interface Held {
  readonly ref: Ref
  /** local process, remote pid, or remote name */
  readonly target: ProcessImpl | Pid | Sig.RemoteName
  /** what the 'DOWN' message names: the pid or `{Name, Node}` */
  readonly object: Pid | Tuple
  /** the monitor ref is also an alias of the watcher (erlang:monitor/3 `{alias, Mode}`) */
  readonly alias: AliasMode | undefined
}

/** A monitor held on this process. */
interface Watch {
  readonly ref: Ref
  readonly watcher: ProcessImpl | Pid
  /** what was monitored: our pid or our registered name (for the 'DOWN') */
  readonly object: Pid | Atom
}

const downMessage = (ref: Ref, object: Term, reason: Term): Tuple =>
  new Tuple([atoms.DOWN, ref, atoms.process, object, reason])

/**
 * `{'DOWN', Ref, process, Object, Reason}`, for an equal ref when given.
 * @internal
 */
export const isDown = (u: unknown, ref?: Ref): u is Tuple =>
  u instanceof Tuple && u.elements.length === 5 && u.elements[0] === atoms.DOWN &&
  (ref === undefined || (u.elements[1] instanceof Ref && equals(u.elements[1], ref)))

const exitMessage = (from: Pid, reason: Term): Tuple => new Tuple([atoms.EXIT, from, reason])

// An idle process keeps no empty tables (a served call leaves none behind).
const unwatched = (t: ProcessImpl, key: MonitorKey): void => {
  const m = t.monitoredBy
  if (m !== undefined && m.delete(key) && m.size === 0) t.monitoredBy = undefined
}
const unaliased = (p: ProcessImpl, k: number): void => {
  const s = p.aliases
  if (s !== undefined && s.delete(k) && s.size === 0) p.aliases = undefined
}

/**
 * A process: its mailbox (inherited, so one object per process), its fiber and its
 * relations. Link and monitor tables are allocated on first use.
 * @internal
 */
export class ProcessImpl extends Mailbox {
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined = undefined
  name: Atom | undefined = undefined
  trapExit = false
  dead = false
  killReason: Term | undefined = undefined
  links: Set<ProcessImpl> | undefined = undefined
  remoteLinks: Map<string, RemoteLink> | undefined = undefined
  monitors: Map<MonitorKey, Held> | undefined = undefined
  monitoredBy: Map<MonitorKey, Watch> | undefined = undefined
  decode: ((u: unknown) => Either.Either<unknown, ParseResult.ParseError>) | undefined = undefined
  keepUndecodable = false
  /** keys of its active aliases (see `RuntimeImpl.aliasKey`) */
  aliases: Set<number> | undefined = undefined
  /** keys of the timers bound to it (cancelled when it dies) */
  timers: Set<number> | undefined = undefined
  constructor(readonly rt: RuntimeImpl, readonly pid: Pid) {
    super()
  }
  /** Delivers a message (decoding it when the process declared a schema). */
  deliver(message: unknown): void {
    if (this.dead) return
    if (this.decode !== undefined) {
      const r = this.decode(message)
      if (Either.isLeft(r)) {
        this.rt.logWarning(
          `process ${this.pid.toString()}: ${this.keepUndecodable ? "kept" : "dropped"} a message that does not ` +
            `match its schema: ${ParseResult.TreeFormatter.formatErrorSync(r.left)}`
        )
        if (!this.keepUndecodable) return
      } else message = r.right
    }
    this.push(message)
  }
}

/** @internal */
export class RuntimeImpl implements ProcessRuntimeShape {
  node: Atom = atoms.nonode
  creation = 0
  localNode: LocalNode = makeLocalNode(atoms.nonode, 0)
  router: RouterShape
  readonly table = new Map<number, ProcessImpl>()
  readonly registry = new Map<Atom, ProcessImpl>()
  /** processes with a link or monitor to or from another node (for `nodeDown`) */
  readonly remoteRelated = new Set<ProcessImpl>()
  /** active aliases, by `aliasKey` */
  readonly aliasTable = new Map<number, AliasEntry>()
  /** pending timers, by `aliasKey` of their ref */
  readonly timers = new Map<number, Timer>()
  private nextId = 1
  private serial = 0
  private refCounter = 0
  private unlinkId = 0n
  private readonly outbox: Array<Sig.Signal> = []
  private pumping = false
  /** the sender of `exit(pid, reason)` outside a process: `<0.0.0>` of this node (its name once it has one) */
  systemPid: Pid
  readonly fiberId = FiberId.none
  readonly defaultRouter: RouterShape
  baseRuntime: Runtime.Runtime<ProcessRuntime>

  constructor(router: RouterShape | undefined, base: Runtime.Runtime<never>) {
    this.defaultRouter = router ?? defaultRouter
    this.router = this.defaultRouter
    this.systemPid = new Pid(this.node, 0, 0, 0)
    this.baseRuntime = Runtime.make({
      context: Context.add(base.context, ProcessRuntime, this),
      fiberRefs: base.fiberRefs,
      runtimeFlags: Runtime.defaultRuntimeFlags
    })
  }

  // --- identity -------------------------------------------------------------

  setNode(node: Atom, creation: number): Effect.Effect<void> {
    return Effect.sync(() => this.unsafeSetNode(node, creation))
  }
  unsafeSetNode(node: Atom, creation: number): void {
    this.node = node
    this.creation = creation
    this.localNode = makeLocalNode(node, creation)
    this.systemPid = new Pid(node, 0, 0, creation)
  }
  setRouter(router: RouterShape | undefined): Effect.Effect<void> {
    return Effect.sync(() => {
      this.router = router ?? this.defaultRouter
    })
  }
  isLocal = (pid: Pid): boolean =>
    (pid.node === this.node && pid.creation === this.creation) || pid.node === atoms.nonode

  private newPid(): Pid {
    const id = this.nextId++
    if (this.nextId > 0x7fffffff) {
      this.nextId = 1
      this.serial++
    }
    return new Pid(this.node, id, this.serial, this.creation)
  }
  unsafeMakeRef = (): Ref => {
    const n = ++this.refCounter
    return new Ref(this.node, this.creation, [n & 0x3ffff, Math.floor(n / 0x40000) >>> 0, 0])
  }
  get makeRef(): Effect.Effect<Ref> {
    return Effect.sync(this.unsafeMakeRef)
  }
  /** The key of a ref in the monitor tables. */
  monitorKey(ref: Ref): MonitorKey {
    return this.aliasKey(ref) ?? refText(ref)
  }
  /**
   * The counter of a ref made by this node (this incarnation, or before the node got its
   * name), `undefined` for any other ref: the key of the alias and timer tables.
   */
  aliasKey(ref: Ref): number | undefined {
    if (!this.isLocalRef(ref)) return undefined
    const ids = ref.ids
    const lo = ids[0]
    if (lo === undefined || lo >= 0x40000) return undefined
    for (let i = 2; i < ids.length; i++) if (ids[i] !== 0) return undefined
    return lo + (ids[1] ?? 0) * 0x40000
  }

  lookup(pid: Pid): ProcessImpl | undefined {
    if (!this.isLocal(pid)) return undefined
    const p = this.table.get(pid.id)
    return p !== undefined && samePid(p.pid, pid) ? p : undefined
  }
  unsafeIsAlive = (pid: Pid): boolean => this.lookup(pid) !== undefined
  unsafeWhereis = (name: Atom): Pid | undefined => this.registry.get(name)?.pid
  unsafeProcessCount = (): number => this.table.size
  unsafeMailboxSize = (to: Pid | Atom | Ref): number => this.mailboxOf(to)?.size ?? 0
  unsafeOnMailboxDrained = (to: Pid | Atom | Ref, low: number, resume: () => void): void => {
    const p = this.mailboxOf(to)
    if (p === undefined) resume()
    else p.onDrained(low, resume)
  }
  private mailboxOf(to: Pid | Atom | Ref): ProcessImpl | undefined {
    return to instanceof Pid ? this.lookup(to) : to instanceof Ref ? this.aliasOwner(to) : this.registry.get(to)
  }
  /** The process an active alias of this node belongs to. */
  aliasOwner(ref: Ref): ProcessImpl | undefined {
    const k = this.aliasKey(ref)
    return k === undefined ? undefined : this.aliasTable.get(k)?.p
  }

  // --- logging and routing from synchronous code -----------------------------

  logWarning(text: string): void {
    Runtime.runFork(this.baseRuntime)(Effect.logWarning(text))
  }
  logError(text: string): void {
    Runtime.runFork(this.baseRuntime)(Effect.logError(text))
  }
  /**
   * Routes a signal to another node from synchronous code, in order, ignoring errors.
   * The router is run synchronously (a router only enqueues), so a signal queued here
   * leaves before anything the process does next: `UNLINK_ID_ACK` must precede every
   * later signal to the unlinker.
   */
  enqueue(signal: Sig.Signal): void {
    this.outbox.push(signal)
    if (this.pumping) return
    this.pumping = true
    try {
      const run = Runtime.runSyncExit(this.baseRuntime)
      for (let next = this.outbox.shift(); next !== undefined; next = this.outbox.shift()) {
        // an asynchronous router keeps running in the background (runSyncExit does not interrupt it)
        run(this.router.route(next))
      }
    } finally {
      this.pumping = false
    }
  }

  // --- spawning ---------------------------------------------------------------

  /** Creates the process entry; the caller starts the fiber with `start`. */
  private create(options: SpawnOptions | undefined, parent: ProcessImpl | undefined): ProcessImpl {
    const p = new ProcessImpl(this, this.newPid())
    if (options !== undefined) {
      if (options.trapExit === true) p.trapExit = true
      if (options.schema !== undefined) {
        p.decode = Schema.decodeUnknownEither(options.schema)
        p.keepUndecodable = options.onDecodeError === "keep"
      }
      if (options.link === true && parent !== undefined && !parent.dead) {
        ;(p.links = new Set()).add(parent)
        ;(parent.links ??= new Set()).add(p)
      }
    }
    this.table.set(p.pid.id, p)
    return p
  }

  /** The last spawner's FiberRefs, and the same with the process scheduler (a spawn loop reuses it). */
  private refsIn: FiberRefs.FiberRefs | undefined = undefined
  private refsOut: FiberRefs.FiberRefs | undefined = undefined

  /**
   * The spawner's FiberRefs as a process starts with them: only the current values (no
   * history: a process is never joined, and the history kept every ancestor's context
   * alive), the context left to `start`, and our scheduler (see `schedulerFor`).
   */
  private processRefs(refs: FiberRefs.FiberRefs): FiberRefs.FiberRefs {
    if (this.refsIn !== undefined && sameRefs(refs, this.refsIn)) return this.refsOut!
    const locals = new Map<FiberRef.FiberRef<any>, Arr.NonEmptyReadonlyArray<readonly [FiberId.Single, any]>>()
    for (const ref of FiberRefs.fiberRefs(refs)) {
      locals.set(ref, [[
        spawnFiberId,
        ref === FiberRef.currentContext ? Context.empty() : FiberRefs.getOrDefault(refs, ref)
      ]])
    }
    const scheduler = schedulerFor(FiberRefs.getOrDefault(refs, FiberRef.currentScheduler))
    if (scheduler !== undefined) locals.set(FiberRef.currentScheduler, [[spawnFiberId, scheduler]])
    const out = FiberRefs.unsafeMake(locals)
    this.refsIn = refs
    this.refsOut = out
    return out
  }

  /** Starts the process fiber with the spawner's context (plus `Self`) and FiberRefs. */
  private start(
    p: ProcessImpl,
    effect: Effect.Effect<unknown, unknown, any>,
    context: Context.Context<any>,
    fiberRefs: FiberRefs.FiberRefs
  ): void {
    const fiber = Runtime.runFork(
      Runtime.make({
        context: Context.add(context, Self, p),
        fiberRefs: this.processRefs(fiberRefs),
        runtimeFlags: Runtime.defaultRuntimeFlags
      }),
      effect,
      { immediate: false }
    )
    p.fiber = fiber
    fiber.addObserver((exit) => this.onExit(p, exit))
  }

  checkName(name: string | Atom | undefined): RegisterError | undefined {
    if (name === undefined) return undefined
    const atom = typeof name === "string" ? Atom.make(name) : name
    if (atom === atoms.undefined) return new RegisterError({ reason: "BadName", name: atom })
    if (this.registry.has(atom)) return new RegisterError({ reason: "NameTaken", name: atom })
    return undefined
  }

  /**
   * Spawns a process with `context` (plus `Self`) and `fiberRefs`, registered under its
   * name before it runs; a bad or taken name spawns nothing.
   */
  spawn(
    effect: Effect.Effect<unknown, unknown, any>,
    options: SpawnOptions | undefined,
    parent: ProcessImpl | undefined,
    context: Context.Context<any>,
    fiberRefs: FiberRefs.FiberRefs
  ): ProcessImpl | RegisterError {
    const err = this.checkName(options?.name)
    if (err !== undefined) return err
    const p = this.create(options, parent)
    if (options?.name !== undefined) this.unsafeRegister(atomOf(options.name), p)
    this.start(p, effect, context, fiberRefs)
    return p
  }

  unsafeSpawn = (effect: Effect.Effect<unknown, unknown, Self>, options?: SpawnOptions): Pid => {
    const p = this.spawn(effect, options, undefined, this.baseRuntime.context, this.baseRuntime.fiberRefs)
    if (p instanceof RegisterError) throw p
    return p.pid
  }

  // --- death ------------------------------------------------------------------

  exitReason(p: ProcessImpl, exit: Exit.Exit<unknown, unknown>): Term {
    if (Exit.isSuccess(exit)) return atoms.normal
    const cause = exit.cause
    if (Cause.isInterruptedOnly(cause)) return shutdown
    const failure = Cause.failureOption(cause)
    if (Option.isSome(failure)) {
      const e = failure.value
      if (e instanceof ProcessExit) return e.reason
      if (isTerm(e)) return e
    } else {
      const defect = Cause.dieOption(cause)
      if (Option.isSome(defect) && defect.value instanceof ProcessExit) return defect.value.reason
    }
    const text = Cause.pretty(cause)
    this.logError(`Error in process ${p.pid.toString()} with exit value:\n${text}`)
    return new Tuple([effectFailure, encoder.encode(text)])
  }

  onExit(p: ProcessImpl, exit: Exit.Exit<unknown, unknown>): void {
    const reason = p.killReason ?? this.exitReason(p, exit)
    p.dead = true
    p.killReason = reason
    p.clear()
    this.table.delete(p.pid.id)
    if (p.name !== undefined && this.registry.get(p.name) === p) this.registry.delete(p.name)
    this.remoteRelated.delete(p)
    if (p.aliases !== undefined) {
      for (const k of p.aliases) this.aliasTable.delete(k)
      p.aliases = undefined
    }
    if (p.timers !== undefined) {
      for (const k of p.timers) this.cancelTimerKey(k)
      p.timers = undefined
    }
    if (p.links !== undefined) {
      for (const l of p.links) {
        l.links?.delete(p)
        this.exitSignal(l, p.pid, reason, "link")
      }
      p.links = undefined
    }
    if (p.remoteLinks !== undefined) {
      for (const l of p.remoteLinks.values()) {
        if (l.unlinking === 0n) this.enqueue(new Sig.Exit({ from: p.pid, to: l.pid, reason, kind: "link" }))
      }
      p.remoteLinks = undefined
    }
    if (p.monitoredBy !== undefined) {
      for (const [key, w] of p.monitoredBy) {
        if (w.watcher instanceof ProcessImpl) {
          this.dropHeld(w.watcher, key)
          w.watcher.deliver(
            downMessage(w.ref, w.object instanceof Atom ? new Tuple([w.object, this.node]) : w.object, reason)
          )
        } else {
          this.enqueue(new Sig.Down({ from: w.object, to: w.watcher, ref: w.ref, reason }))
        }
      }
      p.monitoredBy = undefined
    }
    if (p.monitors !== undefined) {
      for (const [key, h] of p.monitors) {
        if (h.target instanceof ProcessImpl) unwatched(h.target, key)
        else this.enqueue(new Sig.Demonitor({ from: p.pid, to: h.target, ref: h.ref }))
      }
      p.monitors = undefined
    }
  }

  /** Terminates a process with `reason` (asynchronously: its fiber is interrupted). */
  kill(p: ProcessImpl, reason: Term): void {
    if (p.dead || p.killReason !== undefined) return
    p.killReason = reason
    p.fiber?.unsafeInterruptAsFork(this.fiberId)
  }

  /** Erlang's rules for an exit signal arriving at a local process. */
  exitSignal(p: ProcessImpl, from: Pid, reason: Term, kind: "link" | "exit2"): void {
    if (p.dead || p.killReason !== undefined) return
    if (kind === "exit2" && reason === atoms.kill) return this.kill(p, atoms.killed)
    if (p.trapExit) return p.deliver(exitMessage(from, reason))
    if (reason === atoms.normal) {
      if (kind === "exit2" && samePid(from, p.pid)) this.kill(p, atoms.normal)
      return
    }
    this.kill(p, reason)
  }

  unsafeExit = (pid: Pid, reason: Term): void => this.exit2(this.systemPid, pid, reason)

  exit2(from: Pid, to: Pid, reason: Term): void {
    const p = this.lookup(to)
    if (p !== undefined) this.exitSignal(p, from, reason, "exit2")
    else if (!this.isLocal(to)) this.enqueue(new Sig.Exit({ from, to, reason, kind: "exit2" }))
  }

  // --- messages ---------------------------------------------------------------

  /** Sends locally, or queues for the router. `false` when a local name is not registered. */
  unsafeSend = (to: Sig.Destination, message: unknown): boolean => {
    if (to instanceof Pid) {
      if (this.isLocal(to)) this.lookup(to)?.deliver(message)
      else this.enqueue(new Sig.Message({ from: undefined, to, message }))
      return true
    }
    if (to instanceof Ref) {
      if (this.isLocalRef(to)) this.sendAlias(to, message)
      else this.enqueue(new Sig.Message({ from: undefined, to, message }))
      return true
    }
    if (to instanceof Atom) {
      const p = this.registry.get(to)
      if (p === undefined) return false
      p.deliver(message)
      return true
    }
    if (to.node === this.node) return this.unsafeSend(to.name, message)
    this.enqueue(new Sig.Message({ from: undefined, to, message }))
    return true
  }

  /**
   * A remote send through the router (its `routeSend` fast path when it has one). Only
   * the sender's mistakes fail: a message with no term form, a `{Name, Node}` while the
   * local node is not alive; other route errors drop the message, as in Erlang.
   */
  private routeSend(
    from: Pid | undefined,
    to: Pid | Sig.RemoteName | Ref,
    message: unknown
  ): Effect.Effect<void, SendError> {
    const r = this.router
    const routed = r.routeSend !== undefined
      ? r.routeSend(from, to, message)
      : r.route(new Sig.Message({ from, to, message }))
    if (routed === Effect.void) return Effect.void
    return Effect.catchAll(
      routed,
      (e): Effect.Effect<void, SendError> =>
        e.reason === "NotEncodable"
          ? Effect.fail(new SendError({ reason: "NotEncodable", to, detail: e.detail }))
          : e.reason === "NotAlive" && to instanceof Sig.RemoteName
          ? Effect.fail(new SendError({ reason: "NotAlive", to }))
          : Effect.void
    )
  }

  /** `erlang:send/3` to another node (see `SendOptions`); errors as `routeSend`. */
  private routeSendWith(
    from: Pid | undefined,
    to: Pid | Sig.RemoteName | Ref,
    message: unknown,
    options: SendOptions
  ): Effect.Effect<SendResult, SendError> {
    const r = this.router
    if (r.routeSendWith === undefined) return Effect.as(this.routeSend(from, to, message), "ok" as const)
    return Effect.catchAll(
      r.routeSendWith(from, to, message, options),
      (e): Effect.Effect<SendResult, SendError> =>
        e.reason === "NotEncodable"
          ? Effect.fail(new SendError({ reason: "NotEncodable", to, detail: e.detail }))
          : e.reason === "NotAlive" && to instanceof Sig.RemoteName
          ? Effect.fail(new SendError({ reason: "NotAlive", to }))
          : Effect.succeed("ok" as const)
    )
  }

  /**
   * `erlang:send/3`: a local destination (pid, name, alias) is `ok` (or `NotRegistered`);
   * another node's goes through the router with the options.
   */
  sendWith(
    to: Sig.Destination,
    message: unknown,
    from: Pid | undefined,
    options: SendOptions
  ): Effect.Effect<SendResult, SendError> {
    if (to instanceof Atom) return Effect.as(this.send(to, message, from), "ok" as const)
    const local = to instanceof Pid ? this.isLocal(to) : to instanceof Ref ? this.isLocalRef(to) : to.node === this.node
    if (local) return Effect.as(this.send(to, message, from), "ok" as const)
    return this.routeSendWith(from, to, message, options)
  }

  send(to: Sig.Destination, message: unknown, from: Pid | undefined): Effect.Effect<void, SendError> {
    if (to instanceof Pid) {
      if (!this.isLocal(to)) return this.routeSend(from, to, message)
      this.lookup(to)?.deliver(message)
      return Effect.void
    }
    if (to instanceof Ref) {
      if (!this.isLocalRef(to)) return this.routeSend(from, to, message)
      this.sendAlias(to, message)
      return Effect.void
    }
    if (to instanceof Atom) {
      const p = this.registry.get(to)
      if (p === undefined) return Effect.fail(new SendError({ reason: "NotRegistered", to }))
      p.deliver(message)
      return Effect.void
    }
    if (to.node === this.node) return this.send(to.name, message, from)
    return this.routeSend(from, to, message)
  }

  // --- aliases ----------------------------------------------------------------------

  /** A ref of this node (any incarnation counts as another node's, as for pids). */
  isLocalRef(ref: Ref): boolean {
    return (ref.node === this.node && ref.creation === this.creation) || ref.node === atoms.nonode
  }

  private addAlias(p: ProcessImpl, ref: Ref, mode: AliasMode): void {
    const k = this.aliasKey(ref)!
    this.aliasTable.set(k, { p, mode })
    ;(p.aliases ??= new Set()).add(k)
  }

  private removeAlias(p: ProcessImpl, ref: Ref): boolean {
    const k = this.aliasKey(ref)
    if (k === undefined) return false
    const e = this.aliasTable.get(k)
    if (e === undefined || e.p !== p) return false
    this.aliasTable.delete(k)
    unaliased(p, k)
    return true
  }

  /** erlang:alias/0,1: a new alias of `p`. */
  alias(p: ProcessImpl, mode: "explicit_unalias" | "reply"): Ref {
    const ref = this.unsafeMakeRef()
    if (!p.dead) this.addAlias(p, ref, mode)
    return ref
  }

  /** erlang:unalias/1: `true` when `ref` was an active alias of `p`. A monitor stays. */
  unalias(p: ProcessImpl, ref: Ref): boolean {
    return this.removeAlias(p, ref)
  }

  /**
   * A message to an alias of this node: delivered while the alias is active, dropped
   * otherwise (as erts does). A `reply` alias is deactivated by it; a `reply_demonitor`
   * one also removes its monitor.
   */
  sendAlias(ref: Ref, message: unknown): void {
    const k = this.aliasKey(ref)
    if (k === undefined) return
    const e = this.aliasTable.get(k)
    if (e === undefined) return
    const p = e.p
    if (e.mode === "reply" || e.mode === "reply_demonitor") {
      this.aliasTable.delete(k)
      unaliased(p, k)
      if (e.mode === "reply_demonitor") {
        const key = this.monitorKey(ref)
        const held = this.dropHeld(p, key)
        if (held !== undefined) {
          const signal = this.unwatch(p, held, key)
          if (signal !== undefined) this.enqueue(signal)
        }
      }
    }
    p.deliver(message)
  }

  // --- timers --------------------------------------------------------------------

  /**
   * Starts a timer: `fire` runs after `ms` by `clock` (the caller's) unless the timer is
   * cancelled first, or its owner (a local process) dies. The returned ref names it. On
   * a clock with its own scheduler (the live one) the timer is just that scheduler's
   * timer; otherwise (the `TestClock`) a daemon fiber sleeps for it.
   */
  startTimer(
    ms: number,
    clock: Clock.Clock,
    owner: ProcessImpl | undefined,
    ownerGone: boolean,
    fire: (ref: Ref) => void
  ): Effect.Effect<Ref> {
    const ref = this.unsafeMakeRef()
    // a timer for a process that is not alive is cancelled at once, as in erts
    if (ownerGone) return Effect.succeed(ref)
    const k = this.aliasKey(ref)!
    const timer: Timer = { deadline: clock.unsafeCurrentTimeMillis() + ms, owner, cancel: undefined }
    this.timers.set(k, timer)
    if (owner !== undefined) (owner.timers ??= new Set()).add(k)
    const expire = () => {
      if (this.timers.get(k) !== timer) return
      this.timers.delete(k)
      owner?.timers?.delete(k)
      fire(ref)
    }
    return Effect.flatMap(clockScheduler(clock), (scheduler) => {
      if (scheduler !== undefined && ms <= MAX_TIMER_MILLIS) {
        timer.cancel = scheduler.unsafeSchedule(expire, Duration.millis(ms))
        return Effect.succeed(ref)
      }
      return Effect.map(Effect.forkDaemon(Effect.zipRight(Effect.sleep(ms), Effect.sync(expire))), (fiber) => {
        if (this.timers.get(k) === timer) timer.cancel = () => fiber.unsafeInterruptAsFork(this.fiberId)
        else fiber.unsafeInterruptAsFork(this.fiberId)
        return ref
      })
    })
  }

  /** The timer named by `ref`, if it is pending. */
  timer(ref: Ref): Timer | undefined {
    const k = this.aliasKey(ref)
    return k === undefined ? undefined : this.timers.get(k)
  }

  /** Cancels a pending timer; `true` if it was pending. */
  cancelTimerKey(k: number): boolean {
    const t = this.timers.get(k)
    if (t === undefined) return false
    this.timers.delete(k)
    t.owner?.timers?.delete(k)
    t.cancel?.()
    return true
  }

  // --- registry -----------------------------------------------------------------

  unsafeRegister(name: Atom, p: ProcessImpl): void {
    this.registry.set(name, p)
    p.name = name
  }

  register(name: Atom, pid: Pid): RegisterError | undefined {
    const err = this.checkName(name)
    if (err !== undefined) return err
    const p = this.lookup(pid)
    if (p === undefined || p.killReason !== undefined) return new RegisterError({ reason: "NoProcess", name })
    if (p.name !== undefined) return new RegisterError({ reason: "AlreadyRegistered", name })
    this.unsafeRegister(name, p)
    return undefined
  }

  unregister(name: Atom): RegisterError | undefined {
    const p = this.registry.get(name)
    if (p === undefined) return new RegisterError({ reason: "NotRegistered", name })
    this.registry.delete(name)
    p.name = undefined
    return undefined
  }

  // --- links ------------------------------------------------------------------

  link(p: ProcessImpl, to: Pid): Effect.Effect<void> {
    if (samePid(p.pid, to)) return Effect.void
    if (this.isLocal(to)) {
      const t = this.lookup(to)
      if (t === undefined || t.dead) this.exitSignal(p, to, atoms.noproc, "link")
      else {
        ;(p.links ??= new Set()).add(t)
        ;(t.links ??= new Set()).add(p)
      }
      return Effect.void
    }
    const key = pidKey(to)
    const existing = p.remoteLinks?.get(key)
    if (existing !== undefined && existing.unlinking === 0n) return Effect.void
    // a LINK sent: the link is active again, the outcome of an outstanding unlink is ignored
    if (existing !== undefined) existing.unlinking = 0n
    else (p.remoteLinks ??= new Map()).set(key, { pid: to, unlinking: 0n })
    this.remoteRelated.add(p)
    return Effect.catchAll(this.router.route(new Sig.Link({ from: p.pid, to })), () =>
      Effect.sync(() => {
        if (p.remoteLinks?.delete(key)) this.exitSignal(p, to, atoms.noconnection, "link")
      }))
  }

  unlink(p: ProcessImpl, to: Pid): Effect.Effect<void> {
    if (this.isLocal(to)) {
      const t = this.lookup(to)
      if (t !== undefined) {
        p.links?.delete(t)
        t.links?.delete(p)
      }
      return Effect.void
    }
    // an UNLINK_ID is sent only for an active link; the link info stays until the ack
    const l = p.remoteLinks?.get(pidKey(to))
    if (l === undefined || l.unlinking !== 0n) return Effect.void
    const id = ++this.unlinkId
    l.unlinking = id
    return Effect.ignore(this.router.route(new Sig.Unlink({ from: p.pid, to, id })))
  }

  // --- monitors -----------------------------------------------------------------

  monitor(p: ProcessImpl, target: Pid | Atom | Sig.RemoteName, alias?: AliasMode): Effect.Effect<Ref> {
    const ref = this.unsafeMakeRef()
    const key = this.monitorKey(ref)
    if (alias !== undefined && !p.dead) this.addAlias(p, ref, alias)
    let local: ProcessImpl | undefined
    let object: Pid | Tuple
    let watchObject: Pid | Atom
    if (target instanceof Pid) {
      object = target
      watchObject = target
      if (!this.isLocal(target)) return this.monitorRemote(p, ref, key, target, object, alias)
      local = this.lookup(target)
    } else {
      const name = target instanceof Atom ? target : target.name
      if (!(target instanceof Atom) && target.node !== this.node) {
        return this.monitorRemote(p, ref, key, target, new Tuple([target.name, target.node]), alias)
      }
      object = new Tuple([name, this.node])
      watchObject = name
      local = this.registry.get(name)
    }
    if (local === undefined || local.dead) {
      // the monitor is triggered at once: a `demonitor`/`reply_demonitor` alias goes with it
      if (alias !== undefined && alias !== "explicit_unalias") this.removeAlias(p, ref)
      p.deliver(downMessage(ref, object, atoms.noproc))
    } else {
      ;(p.monitors ??= new Map()).set(key, { ref, target: local, object, alias })
      ;(local.monitoredBy ??= new Map()).set(key, { ref, watcher: p, object: watchObject })
    }
    return Effect.succeed(ref)
  }

  private monitorRemote(
    p: ProcessImpl,
    ref: Ref,
    key: MonitorKey,
    target: Pid | Sig.RemoteName,
    object: Pid | Tuple,
    alias: AliasMode | undefined
  ): Effect.Effect<Ref> {
    ;(p.monitors ??= new Map()).set(key, { ref, target, object, alias })
    this.remoteRelated.add(p)
    return Effect.as(
      Effect.catchAll(this.router.route(new Sig.Monitor({ from: p.pid, to: target, ref })), () =>
        Effect.sync(() => {
          if (this.dropHeld(p, key) !== undefined) p.deliver(downMessage(ref, object, atoms.noconnection))
        })),
      ref
    )
  }

  /**
   * Removes a monitor `p` holds from its table (the watcher side only) and returns it;
   * its alias goes with it unless the alias is `explicit_unalias`.
   */
  private dropHeld(p: ProcessImpl, key: MonitorKey): Held | undefined {
    const held = p.monitors?.get(key)
    if (held === undefined) return undefined
    p.monitors!.delete(key)
    if (p.monitors!.size === 0) p.monitors = undefined
    if (held.alias !== undefined && held.alias !== "explicit_unalias") this.removeAlias(p, held.ref)
    return held
  }

  /** The target side of removing a monitor: done for a local target, the signal to send for a remote one. */
  private unwatch(p: ProcessImpl, held: Held, key: MonitorKey): Sig.Demonitor | undefined {
    if (held.target instanceof ProcessImpl) {
      unwatched(held.target, key)
      return undefined
    }
    return new Sig.Demonitor({ from: p.pid, to: held.target, ref: held.ref })
  }

  demonitor(p: ProcessImpl, ref: Ref, flush: boolean): Effect.Effect<boolean> {
    const key = this.monitorKey(ref)
    const held = this.dropHeld(p, key)
    let effect: Effect.Effect<void> = Effect.void
    if (held !== undefined) {
      const signal = this.unwatch(p, held, key)
      if (signal !== undefined) effect = Effect.ignore(this.router.route(signal))
    }
    if (flush) {
      p.removeWhere((m) => isDown(m, ref))
    }
    return Effect.as(effect, held !== undefined)
  }

  // --- signals from the network -------------------------------------------------

  deliver(signal: Sig.Signal): Effect.Effect<void> {
    return Effect.sync(() => this.unsafeDeliver(signal))
  }

  unsafeDeliver = (signal: Sig.Signal): void => {
    switch (signal._tag) {
      case "Message": {
        const to = signal.to
        if (to instanceof Pid) this.lookup(to)?.deliver(signal.message)
        else if (to instanceof Ref) this.sendAlias(to, signal.message)
        else if (to instanceof Atom) this.registry.get(to)?.deliver(signal.message)
        else if (to.node === this.node) this.registry.get(to.name)?.deliver(signal.message)
        return
      }
      case "Link": {
        const t = this.lookup(signal.to)
        if (t === undefined) {
          this.enqueue(new Sig.Exit({ from: signal.to, to: signal.from, reason: atoms.noproc, kind: "link" }))
        } else {
          // a LINK received: creates an active link unless link info exists (even an unlinking one)
          const key = pidKey(signal.from)
          if (t.remoteLinks?.has(key) !== true) {
            ;(t.remoteLinks ??= new Map()).set(key, { pid: signal.from, unlinking: 0n })
            this.remoteRelated.add(t)
          }
        }
        return
      }
      case "Unlink": {
        // an UNLINK_ID received: removes an active link (an unlinking one stays until its
        // own ack); the ack goes out at once, before any other signal to the unlinker
        const t = this.lookup(signal.to)
        const key = pidKey(signal.from)
        const l = t?.remoteLinks?.get(key)
        if (l !== undefined && l.unlinking === 0n) t!.remoteLinks!.delete(key)
        if (signal.id !== 0n) this.enqueue(new Sig.UnlinkAck({ from: signal.to, to: signal.from, id: signal.id }))
        return
      }
      case "UnlinkAck": {
        const t = this.lookup(signal.to)
        const key = pidKey(signal.from)
        const l = t?.remoteLinks?.get(key)
        if (l !== undefined && l.unlinking !== 0n && l.unlinking === signal.id) t!.remoteLinks!.delete(key)
        return
      }
      case "Exit": {
        const t = this.lookup(signal.to)
        if (t === undefined) return
        if (signal.kind === "link") {
          // react only to an active link, then drop the link info
          const key = pidKey(signal.from)
          const l = t.remoteLinks?.get(key)
          if (l === undefined) return
          t.remoteLinks!.delete(key)
          if (l.unlinking !== 0n) return
        }
        this.exitSignal(t, signal.from, signal.reason, signal.kind)
        return
      }
      case "Monitor": {
        const to = signal.to
        const name = to instanceof Pid ? undefined : to instanceof Atom ? to : to.name
        const t = name === undefined ? this.lookup(to as Pid) : this.registry.get(name)
        if (t === undefined || t.dead) {
          this.enqueue(
            new Sig.Down({ from: name ?? (to as Pid), to: signal.from, ref: signal.ref, reason: atoms.noproc })
          )
        } else {
          ;(t.monitoredBy ??= new Map()).set(this.monitorKey(signal.ref), {
            ref: signal.ref,
            watcher: signal.from,
            object: name ?? t.pid
          })
          this.remoteRelated.add(t)
        }
        return
      }
      case "Demonitor": {
        const to = signal.to
        const t = to instanceof Pid
          ? this.lookup(to)
          : this.registry.get(to instanceof Atom ? to : to.name)
        if (t !== undefined) unwatched(t, this.monitorKey(signal.ref))
        return
      }
      case "Down": {
        const w = this.lookup(signal.to)
        if (w === undefined) return
        const held = this.dropHeld(w, this.monitorKey(signal.ref))
        if (held === undefined) return
        w.deliver(downMessage(held.ref, held.object, signal.reason))
        return
      }
    }
  }

  nodeDown(node: Atom, reason: Term = atoms.noconnection): Effect.Effect<void> {
    return Effect.sync(() => this.unsafeNodeDown(node, reason))
  }

  unsafeNodeDown(node: Atom, reason: Term = atoms.noconnection): void {
    for (const p of [...this.remoteRelated]) {
      if (p.remoteLinks !== undefined) {
        for (const [key, l] of [...p.remoteLinks]) {
          if (l.pid.node !== node) continue
          p.remoteLinks.delete(key)
          if (l.unlinking === 0n) this.exitSignal(p, l.pid, reason, "link")
        }
      }
      if (p.monitors !== undefined) {
        for (const [key, h] of [...p.monitors]) {
          if (h.target instanceof ProcessImpl || h.target.node !== node) continue
          this.dropHeld(p, key)
          p.deliver(downMessage(h.ref, h.object, reason))
        }
      }
      if (p.monitoredBy !== undefined) {
        for (const [key, w] of [...p.monitoredBy]) {
          if (w.watcher instanceof Pid && w.watcher.node === node) p.monitoredBy.delete(key)
        }
        if (p.monitoredBy.size === 0) p.monitoredBy = undefined
      }
    }
  }

  // --- introspection ------------------------------------------------------------

  info(pid: Pid): ProcessInfo | undefined {
    const p = this.lookup(pid)
    if (p === undefined) return undefined
    const links: Array<Pid> = []
    if (p.links) { for (const l of p.links) links.push(l.pid) }
    if (p.remoteLinks) { for (const l of p.remoteLinks.values()) if (l.unlinking === 0n) links.push(l.pid) }
    const monitors: Array<Pid | Tuple> = []
    if (p.monitors) { for (const h of p.monitors.values()) monitors.push(h.object) }
    const monitoredBy: Array<Pid> = []
    if (p.monitoredBy) {
      for (const w of p.monitoredBy.values()) monitoredBy.push(w.watcher instanceof Pid ? w.watcher : w.watcher.pid)
    }
    const messages = p.toArray()
    return {
      pid: p.pid,
      registeredName: Option.fromNullable(p.name),
      status: p.killReason !== undefined ? "exiting" : p.waiter !== undefined ? "waiting" : "runnable",
      messageQueueLen: messages.length,
      messages,
      links,
      monitors,
      monitoredBy,
      trapExit: p.trapExit
    }
  }

  /** Kills every process with `shutdown` and waits for them (the layer's finalizer). */
  shutdownAll(): Effect.Effect<void> {
    return Effect.suspend(() => {
      const fibers: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
      for (const k of [...this.timers.keys()]) this.cancelTimerKey(k)
      for (const p of this.table.values()) {
        this.kill(p, shutdown)
        if (p.fiber !== undefined) fibers.push(p.fiber)
      }
      return Effect.asVoid(Fiber.awaitAll(fibers))
    })
  }
}

/** @internal */
export const atomOf = (name: string | Atom): Atom => typeof name === "string" ? Atom.make(name) : name

/** @internal */
export const make = (router: RouterShape | undefined): Effect.Effect<RuntimeImpl, never, Scope.Scope> =>
  Effect.gen(function*() {
    const base = yield* Effect.runtime<never>()
    const rt = new RuntimeImpl(router, base)
    yield* Effect.addFinalizer(() => rt.shutdownAll())
    return rt
  })
