/**
 * The runtime of a node's processes: its identity (node, creation, pids, refs), spawning,
 * sending, signals from the network, and death. Synchronous at the core: local signals
 * are applied at once by the caller, Effects only wrap the edges (spawn, receive, routing
 * to other nodes). The rules live in their own rooms: `processTable.ts` (the table and
 * the registry), `links.ts`, `monitors.ts`, `aliases.ts`, `timers.ts` and `exits.ts`.
 * @internal
 */
import type * as Arr from "effect/Array"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { RouterShape, SendOptions, SendResult } from "../Router.js"
import { defaultRouter } from "../Router.js"
import * as Sig from "../Signal.js"
import type { Destination, Signal } from "../Signal.js"
import { Atom, atoms, makeLocalNode, Pid, Ref, Tuple } from "../Term.js"
import type { LocalNode, Term } from "../Term.js"
import { AliasTable } from "./aliases.js"
import type { AliasKey } from "./aliases.js"
import { forkOwnedWith, sameRefs } from "./effectInternals.js"
import * as exits from "./exits.js"
import * as handler from "./handler.js"
import * as links from "./links.js"
import * as monitors from "./monitors.js"
import type { MonitorKey } from "./monitors.js"
import { atomOf, ProcessImpl, ProcessTable, RegisterError, Self } from "./processTable.js"
import type { ProcessStart } from "./processTable.js"
import { schedulerFor } from "./scheduler.js"
import { processRuntimeKey, refWords } from "./term.js"
import { TimerTable } from "./timers.js"

/** @since 0.1.0 */
export interface SpawnOptions {
  readonly link?: boolean | undefined
  readonly name?: string | Atom | undefined
  readonly trapExit?: boolean | undefined
  readonly schema?: Schema.Schema<any, any, never> | undefined
  readonly onDecodeError?: "drop" | "keep" | undefined
}

/** @since 0.1.0 */
export interface ProcessInfo {
  readonly pid: Pid
  readonly registeredName: Option.Option<Atom>
  readonly status: "waiting" | "runnable" | "exiting"
  readonly messageQueueLen: number
  readonly messages: ReadonlyArray<unknown>
  readonly links: ReadonlyArray<Pid>
  readonly monitors: ReadonlyArray<Pid | Tuple>
  readonly monitoredBy: ReadonlyArray<Pid>
  readonly trapExit: boolean
}

/** @since 0.1.0 */
export interface ProcessRuntimeShape {
  readonly node: Atom
  readonly creation: number
  /** how this node prints pids, refs and ports (`Term.format(t, runtime.localNode)`) */
  readonly localNode: LocalNode
  readonly router: RouterShape
  readonly setNode: (node: Atom, creation: number) => Effect.Effect<void>
  readonly setRouter: (router: RouterShape | undefined) => Effect.Effect<void>
  readonly isLocal: (pid: Pid) => boolean
  readonly deliver: (signal: Signal) => Effect.Effect<void>
  readonly nodeDown: (node: Atom, reason?: Term) => Effect.Effect<void>
  readonly makeRef: Effect.Effect<Ref>
  readonly unsafeMakeRef: () => Ref
  readonly unsafeDeliver: (signal: Signal) => void
  readonly unsafeSend: (to: Destination, message: unknown) => boolean
  readonly unsafeSpawn: (effect: Effect.Effect<unknown, unknown, Self>, options?: SpawnOptions) => Pid
  readonly unsafeWhereis: (name: Atom) => Pid | undefined
  readonly unsafeIsAlive: (pid: Pid) => boolean
  readonly unsafeExit: (pid: Pid, reason: Term) => void
  readonly unsafeProcessCount: () => number
  /**
   * Messages waiting in the mailbox of a local process (by pid, registered name or active
   * alias); 0 when there is no such process. Used by the distribution for receive backpressure.
   */
  readonly unsafeMailboxSize?: ((to: Pid | Atom | Ref) => number) | undefined
  /**
   * A message from another node to a local pid or registered name, delivered as `unsafeSend`
   * delivers it; answers how many messages then wait in the receiver's mailbox (for receive
   * backpressure, with no second lookup), or -1 when there is no such local process.
   */
  readonly unsafeDeliverCounted?: ((to: Pid | Atom, message: unknown) => number) | undefined
  /**
   * Calls `resume` once the mailbox of a local process (by pid, registered name or active
   * alias) holds at most `low` messages, or at once when it does now or there is no such
   * process; also when the process exits. Receive backpressure waits on this (no polling).
   */
  readonly unsafeOnMailboxDrained?: ((to: Pid | Atom | Ref, low: number, resume: () => void) => void) | undefined
}

/** @since 0.1.0 */
export class ProcessRuntime extends Context.Tag(processRuntimeKey)<ProcessRuntime, ProcessRuntimeShape>() {}

/** @since 0.1.0 */
export class SendError extends Data.TaggedError("SendError")<{
  readonly reason: "NotRegistered" | "NotAlive" | "NotEncodable"
  readonly to: Destination
  readonly detail?: string | undefined
}> {
  override get message(): string {
    switch (this.reason) {
      case "NotRegistered":
        return `badarg: no process registered as ${String(this.to)}`
      case "NotAlive":
        return `badarg: cannot send to ${String(this.to)}, the local node is not alive`
      case "NotEncodable":
        return `badarg: cannot send to ${String(this.to)}: ${this.detail ?? "the message has no term form"}`
    }
  }
}

const spawnFiberId = FiberId.make(0, 0) as FiberId.Runtime

/** A process fiber ended: the process ends, unless the fiber handed over to the handler (`SERVE`). */
const fiberExit = (p: ProcessImpl, exit: Exit.Exit<unknown, unknown>): void => {
  if (p.serving !== undefined && p.killReason === undefined && Exit.isSuccess(exit) && exit.value === handler.SERVE) {
    handler.fiberDone(p)
  } else p.rt.onExit(p, exit)
}

const forkOwned = forkOwnedWith(fiberExit)
const fromCharCode = String.fromCharCode
/**
 * The monitor-table key of a ref made elsewhere: its words (without high zero words, so
 * equal refs give equal keys) and creation as UTF-16 code units, then its node's name,
 * with the word count (1 to 5) first, so no key is a prefix of another's. Unlike their
 * decimal text, this converts no number to a string (each MONITOR_P and DEMONITOR_P
 * builds one). A ref that no wire form has (a word or creation that is not a u32, more
 * than 5 words, none) is keyed by its text after a NUL, which no other key starts with.
 */
const refKey = (r: Ref): string => {
  const ids = r.ids
  let n = ids.length
  while (n > 1 && ids[n - 1] === 0) n--
  const c = r.creation
  if (n === 0 || n > 5 || c >>> 0 !== c) return refText(r)
  let s = fromCharCode(n, c & 0xffff, c >>> 16)
  for (let i = 0; i < n; i++) {
    const w = ids[i]!
    if (w >>> 0 !== w) return refText(r)
    s += fromCharCode(w & 0xffff, w >>> 16)
  }
  return s + r.node.name
}
const refText = (r: Ref): string => `\0${r.node.name}/${r.creation}/${refWords(r.ids)}`

/** The error of a send to another node that the sender sees (others drop the message, as in Erlang). */
const senderError = (
  to: Pid | Sig.RemoteName | Ref,
  e: { readonly reason: string; readonly detail?: string | undefined }
) =>
  e.reason === "NotEncodable"
    ? new SendError({ reason: "NotEncodable", to, detail: e.detail })
    : e.reason === "NotAlive" && to instanceof Sig.RemoteName
    ? new SendError({ reason: "NotAlive", to })
    : undefined

/** @internal */
export class RuntimeImpl implements ProcessRuntimeShape {
  node: Atom = atoms.nonode
  creation = 0
  localNode: LocalNode = makeLocalNode(atoms.nonode, 0)
  router: RouterShape
  readonly procs = new ProcessTable()
  readonly aliases = new AliasTable()
  readonly timers = new TimerTable()
  /** processes with a link or monitor to or from another node (for `nodeDown`) */
  readonly remoteRelated = new Set<ProcessImpl>()
  private refCounter = 0
  private unlinkId = 0n
  private readonly outbox: Array<Sig.Signal> = []
  private pumping = false
  /** the sender of `exit(pid, reason)` outside a process: `<0.0.0>` of this node (its name once it has one) */
  systemPid: Pid
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
  /** A ref of this node (any incarnation counts as another node's, as for pids). */
  isLocalRef(ref: Ref): boolean {
    return (ref.node === this.node && ref.creation === this.creation) || ref.node === atoms.nonode
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
    return this.aliasKey(ref) ?? refKey(ref)
  }
  /**
   * The counter of a ref made by this node (this incarnation, or before the node got its
   * name), `undefined` for any other ref: the key of the alias and timer tables.
   */
  aliasKey(ref: Ref): AliasKey | undefined {
    if (!this.isLocalRef(ref)) return undefined
    const ids = ref.ids
    const lo = ids[0]
    if (lo === undefined || lo >= 0x40000) return undefined
    for (let i = 2; i < ids.length; i++) if (ids[i] !== 0) return undefined
    return lo + (ids[1] ?? 0) * 0x40000
  }
  /** A fresh id for an `UNLINK_ID`. */
  nextUnlinkId(): bigint {
    return ++this.unlinkId
  }

  lookup(pid: Pid): ProcessImpl | undefined {
    return this.isLocal(pid) ? this.procs.get(pid) : undefined
  }
  unsafeIsAlive = (pid: Pid): boolean => this.lookup(pid) !== undefined
  unsafeWhereis = (name: Atom): Pid | undefined => this.procs.whereis(name)?.pid
  unsafeProcessCount = (): number => this.procs.size
  unsafeMailboxSize = (to: Pid | Atom | Ref): number => this.mailboxOf(to)?.size ?? 0
  unsafeDeliverCounted = (to: Pid | Atom, message: unknown): number => {
    const p = to instanceof Pid ? this.lookup(to) : this.procs.whereis(to)
    if (p === undefined) return -1
    p.deliver(message)
    return p.size
  }
  unsafeOnMailboxDrained = (to: Pid | Atom | Ref, low: number, resume: () => void): void => {
    const p = this.mailboxOf(to)
    if (p === undefined) resume()
    else p.onDrained(low, resume)
  }
  private mailboxOf(to: Pid | Atom | Ref): ProcessImpl | undefined {
    return to instanceof Pid ? this.lookup(to) : to instanceof Ref ? this.aliasOwner(to) : this.procs.whereis(to)
  }
  /** The process an active alias of this node belongs to. */
  aliasOwner(ref: Ref): ProcessImpl | undefined {
    return this.aliases.owner(this.aliasKey(ref))
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
    if (!this.pumping) {
      // written at once on an up connection (errors ignored, as below)
      const now = this.router.unsafeRoute
      if (now !== undefined && now(signal) !== false) return
    }
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
    const p = new ProcessImpl(this, this.procs.newPid(this.node, this.creation))
    if (options !== undefined) {
      if (options.trapExit === true) p.trapExit = true
      if (options.schema !== undefined) {
        p.decode = Schema.decodeUnknownEither(options.schema)
        p.keepUndecodable = options.onDecodeError === "keep"
      }
      if (options.link === true && parent !== undefined && !parent.dead) links.linkLocal(p, parent)
    }
    this.procs.add(p)
    return p
  }

  /** The last spawner's FiberRefs, and the same with the process scheduler (a spawn loop reuses it). */
  private refsIn: FiberRefs.FiberRefs | undefined = undefined
  private refsOut: FiberRefs.FiberRefs | undefined = undefined

  /**
   * The spawner's FiberRefs as a process starts with them: only the current values (no
   * history: a process is never joined, and the history kept every ancestor's context
   * alive), no context (`start` gives each process its own: with none here, the fiber's
   * FiberRefs hold that one alone, a one-entry stack, not a copy grown by a spread), and our
   * scheduler (see `schedulerFor`).
   */
  private processRefs(refs: FiberRefs.FiberRefs): FiberRefs.FiberRefs {
    if (this.refsIn !== undefined && sameRefs(refs, this.refsIn)) return this.refsOut!
    const locals = new Map<FiberRef.FiberRef<any>, Arr.NonEmptyReadonlyArray<readonly [FiberId.Single, any]>>()
    for (const ref of FiberRefs.fiberRefs(refs)) {
      if (ref !== FiberRef.currentContext) locals.set(ref, [[spawnFiberId, FiberRefs.getOrDefault(refs, ref)]])
    }
    const scheduler = schedulerFor(FiberRefs.getOrDefault(refs, FiberRef.currentScheduler))
    if (scheduler !== undefined) locals.set(FiberRef.currentScheduler, [[spawnFiberId, scheduler]])
    const out = FiberRefs.unsafeMake(locals)
    this.refsIn = refs
    this.refsOut = out
    return out
  }

  /** The last `ProcessStart` made (the processes of a spawn loop share it). */
  private lastStart: ProcessStart | undefined = undefined

  /** Starts the process fiber with the spawner's context (plus `Self`) and FiberRefs. */
  private start(
    p: ProcessImpl,
    effect: Effect.Effect<unknown, unknown, any>,
    context: Context.Context<any>,
    fiberRefs: FiberRefs.FiberRefs
  ): void {
    const refs = this.processRefs(fiberRefs)
    let start = this.lastStart
    if (start === undefined || start.context !== context || start.refs !== refs) {
      start = this.lastStart = { context, refs }
    }
    p.start = start
    this.startFiber(p, effect)
  }

  /**
   * Runs a fiber of `p` (its spawner's context plus `Self`, the FiberRefs it started with):
   * the process ends with it, unless it hands over to the handler (`SERVE`). The fiber tells
   * its owner its exit (`forkOwned`).
   */
  startFiber(p: ProcessImpl, effect: Effect.Effect<unknown, unknown, any>): void {
    const start = p.start!
    p.fiber = forkOwned(p, Context.add(start.context, Self, p), start.refs, Runtime.defaultRuntimeFlags, effect)
  }

  /** A message came to an idle handler process (see handler.ts). */
  wakeHandler(p: ProcessImpl): void {
    handler.wake(p)
  }
  /** A message from a process fiber's step came to an idle handler process: it handles it now (see handler.ts). */
  drainHandlerNow(p: ProcessImpl): void {
    handler.drainNow(p)
  }
  /** The same for a message not queued, to an idle handler process with an empty mailbox (see handler.ts). */
  handleNow(p: ProcessImpl, message: unknown): void {
    handler.handleNow(p, message)
  }
  /** The same for a message `{h.tag, payload}` taken as its payload, with no tuple (see handler.ts). */
  handleTaggedNow(p: ProcessImpl, h: handler.HandlerObject, payload: unknown): void {
    handler.handleTaggedNow(p, h, payload)
  }

  private readonly ending: Array<readonly [ProcessImpl, Exit.Exit<unknown, unknown>]> = []
  private endingNow = false

  /**
   * A handler process with no fiber ends (killed, or its handler failed): at once, and
   * the deaths it causes among other idle handler processes (links) in turn, not nested.
   */
  endIdle(p: ProcessImpl, exit: Exit.Exit<unknown, unknown>): void {
    this.ending.push([p, exit])
    if (this.endingNow) return
    this.endingNow = true
    try {
      for (let next = this.ending.shift(); next !== undefined; next = this.ending.shift()) {
        this.onExit(next[0], next[1])
      }
    } finally {
      this.endingNow = false
    }
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
    const err = this.procs.checkName(options?.name)
    if (err !== undefined) return err
    const p = this.create(options, parent)
    if (options?.name !== undefined) this.procs.unsafeRegister(atomOf(options.name), p)
    this.start(p, effect, context, fiberRefs)
    return p
  }

  unsafeSpawn = (effect: Effect.Effect<unknown, unknown, Self>, options?: SpawnOptions): Pid => {
    const p = this.spawn(effect, options, undefined, this.baseRuntime.context, this.baseRuntime.fiberRefs)
    if (p instanceof RegisterError) throw p
    return p.pid
  }

  // --- death ------------------------------------------------------------------

  /** A process fiber ended: the process leaves the table and every relation fires. */
  onExit(p: ProcessImpl, exit: Exit.Exit<unknown, unknown>): void {
    if (p.dead) return
    p.fiber = undefined
    p.serving = undefined
    const reason = p.killReason ?? exits.exitReason(this, p, exit)
    p.dead = true
    p.killReason = reason
    p.clear()
    this.procs.remove(p)
    this.remoteRelated.delete(p)
    this.aliases.onDeath(p)
    this.timers.onDeath(p)
    links.onDeath(this, p, reason)
    monitors.onDeath(this, p, reason)
  }

  unsafeExit = (pid: Pid, reason: Term): void => exits.exit2(this, this.systemPid, pid, reason)

  // --- messages ---------------------------------------------------------------

  /** Sends locally, or queues for the router. `false` when a local name is not registered. */
  unsafeSend = (to: Sig.Destination, message: unknown): boolean => {
    if (to instanceof Pid) {
      if (this.isLocal(to)) this.procs.get(to)?.deliver(message)
      else this.enqueue(new Sig.Message({ from: undefined, to, message }))
      return true
    }
    if (to instanceof Ref) {
      if (this.isLocalRef(to)) this.sendAlias(to, message)
      else this.enqueue(new Sig.Message({ from: undefined, to, message }))
      return true
    }
    if (to instanceof Atom) {
      const p = this.procs.whereis(to)
      if (p === undefined) return false
      p.deliver(message)
      return true
    }
    if (to.node === this.node) return this.unsafeSend(to.name, message)
    this.enqueue(new Sig.Message({ from: undefined, to, message }))
    return true
  }

  /**
   * `unsafeSend` to a pid from a process fiber's step (`Process.unsafeSendLocal`): a local
   * idle handler process handles the message at once (`ProcessImpl.deliverNow`). `true`
   * when the message waits in a mailbox (or went to the router), `false` when it was
   * handled at once or dropped.
   */
  unsafeSendFromFiber(to: Pid, message: unknown): boolean {
    if (!this.isLocal(to)) {
      this.enqueue(new Sig.Message({ from: undefined, to, message }))
      return true
    }
    const p = this.procs.get(to)
    return p !== undefined && p.deliverNow(message)
  }

  /**
   * `unsafeSendFromFiber` of `{tag, payload}`: the tuple is built only when someone is to
   * see it (see `ProcessImpl.deliverTaggedNow`).
   */
  unsafeSendTaggedFromFiber(to: Pid, tag: Atom, payload: unknown): boolean {
    if (!this.isLocal(to)) {
      this.enqueue(new Sig.Message({ from: undefined, to, message: new Tuple([tag, payload as Term]) }))
      return true
    }
    const p = this.procs.get(to)
    return p !== undefined && p.deliverTaggedNow(tag, payload)
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
    return Effect.catchAll(routed, (e): Effect.Effect<void, SendError> => {
      const err = senderError(to, e)
      return err === undefined ? Effect.void : Effect.fail(err)
    })
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
    return Effect.catchAll(r.routeSendWith(from, to, message, options), (e): Effect.Effect<SendResult, SendError> => {
      const err = senderError(to, e)
      return err === undefined ? Effect.succeed("ok" as const) : Effect.fail(err)
    })
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
      this.procs.get(to)?.deliver(message)
      return Effect.void
    }
    if (to instanceof Ref) {
      if (!this.isLocalRef(to)) return this.routeSend(from, to, message)
      this.sendAlias(to, message)
      return Effect.void
    }
    if (to instanceof Atom) {
      const p = this.procs.whereis(to)
      if (p === undefined) return Effect.fail(new SendError({ reason: "NotRegistered", to }))
      p.deliver(message)
      return Effect.void
    }
    if (to.node === this.node) return this.send(to.name, message, from)
    return this.routeSend(from, to, message)
  }

  /**
   * A message to an alias of this node: delivered while the alias is active, dropped
   * otherwise (as erts does). A `reply` alias is deactivated by it; a `reply_demonitor`
   * one also removes its monitor.
   */
  sendAlias(ref: Ref, message: unknown): void {
    const k = this.aliasKey(ref)
    if (k === undefined) return
    const e = this.aliases.receive(k)
    if (e === undefined) return
    if (e.mode === "reply_demonitor") monitors.unsafeDemonitor(this, e.p, ref)
    e.p.deliver(message)
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
        else if (to instanceof Atom) this.procs.whereis(to)?.deliver(signal.message)
        else if (to.node === this.node) this.procs.whereis(to.name)?.deliver(signal.message)
        return
      }
      case "Link":
        return links.onLink(this, signal)
      case "Unlink":
        return links.onUnlink(this, signal)
      case "UnlinkAck":
        return links.onUnlinkAck(this, signal)
      case "Exit": {
        const t = this.lookup(signal.to)
        if (t === undefined) return
        if (signal.kind === "link" && !links.onLinkExit(t, signal.from)) return
        exits.exitSignal(t, signal.from, signal.reason, signal.kind)
        return
      }
      case "Monitor":
        return monitors.onMonitor(this, signal)
      case "Demonitor":
        return monitors.onDemonitor(this, signal)
      case "Down":
        return monitors.onDown(this, signal)
    }
  }

  nodeDown(node: Atom, reason: Term = atoms.noconnection): Effect.Effect<void> {
    return Effect.sync(() => this.unsafeNodeDown(node, reason))
  }

  unsafeNodeDown(node: Atom, reason: Term = atoms.noconnection): void {
    for (const p of [...this.remoteRelated]) {
      links.onNodeDown(p, node, reason)
      monitors.onNodeDown(this, p, node, reason)
    }
  }

  // --- introspection ------------------------------------------------------------

  info(pid: Pid): ProcessInfo | undefined {
    const p = this.lookup(pid)
    if (p === undefined) return undefined
    const messages = p.toArray()
    return {
      pid: p.pid,
      registeredName: Option.fromNullable(p.name),
      status: p.killReason !== undefined
        ? "exiting"
        : p.waiter !== undefined ||
            (p.serving !== undefined && p.fiber === undefined && p.hstate === handler.HState.Idle)
        ? "waiting"
        : "runnable",
      messageQueueLen: messages.length,
      messages,
      links: links.linked(p),
      ...monitors.monitorInfo(p),
      trapExit: p.trapExit
    }
  }

  /** Kills every process with `shutdown` and waits for them (the layer's finalizer). */
  shutdownAll(): Effect.Effect<void> {
    return Effect.suspend(() => {
      const fibers: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
      this.timers.cancelAll()
      for (const p of this.procs.byId.values()) {
        exits.kill(p, exits.shutdown)
        if (p.fiber !== undefined) fibers.push(p.fiber)
      }
      return Effect.asVoid(Fiber.awaitAll(fibers))
    })
  }
}

/** @internal */
export const make = (router: RouterShape | undefined): Effect.Effect<RuntimeImpl, never, Scope.Scope> =>
  Effect.gen(function*() {
    const base = yield* Effect.runtime<never>()
    const rt = new RuntimeImpl(router, base)
    yield* Effect.addFinalizer(() => rt.shutdownAll())
    return rt
  })
