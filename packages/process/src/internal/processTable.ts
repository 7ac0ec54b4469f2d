/**
 * The process table and the registry: what a process is (`ProcessImpl`), pids, lookups
 * by pid and by registered name, and `register`/`unregister` with their errors.
 * @internal
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import type * as Fiber from "effect/Fiber"
import type * as FiberRefs from "effect/FiberRefs"
import * as ParseResult from "effect/ParseResult"
import { Mailbox, MailboxExtra } from "../Mailbox.js"
import { Atom, atoms, Pid, Tuple } from "../Term.js"
import type { Term } from "../Term.js"
import type { AliasKey } from "./aliases.js"
import type { Serving } from "./handler.js"
import type { RemoteLink } from "./links.js"
import type { Held, MonitorKey, Watch } from "./monitors.js"
import type { RuntimeImpl } from "./runtime.js"

/** @since 0.1.0 */
export interface ProcessHandle {
  readonly pid: Pid
}

/** @since 0.1.0 */
export class Self extends Context.Tag("@effect-otp/process/Self")<Self, ProcessHandle>() {}

/** @since 0.1.0 */
export class RegisterError extends Data.TaggedError("RegisterError")<{
  readonly reason: "NameTaken" | "AlreadyRegistered" | "NoProcess" | "NotRegistered" | "BadName"
  readonly name: Atom
}> {
  override get message(): string {
    return `badarg: ${this.reason} (${this.name.toString()})`
  }
}

/** @internal */
export const samePid = (a: Pid, b: Pid): boolean =>
  a === b || (a.id === b.id && a.serial === b.serial && a.node === b.node && a.creation === b.creation)

/** @internal */
export const atomOf = (name: string | Atom): Atom => typeof name === "string" ? Atom.make(name) : name

/**
 * What a process seldom needs (a name, links, monitors, aliases, timers, a schema), with
 * its mailbox's (`MailboxExtra`): one object allocated on first use.
 * @internal
 */
export class ProcessExtra extends MailboxExtra {
  name: Atom | undefined = undefined
  /** local links (links.ts) */
  links: Set<ProcessImpl> | undefined = undefined
  /** links to processes of other nodes, by `pidKey` (links.ts) */
  remoteLinks: Map<string, RemoteLink> | undefined = undefined
  /** monitors this process holds (monitors.ts) */
  monitors: Map<MonitorKey, Held> | undefined = undefined
  /** monitors held on this process (monitors.ts) */
  monitoredBy: Map<MonitorKey, Watch> | undefined = undefined
  decode: ((u: unknown) => Either.Either<unknown, ParseResult.ParseError>) | undefined = undefined
  keepUndecodable = false
  /** keys of its active aliases (aliases.ts) */
  aliases: Set<AliasKey> | undefined = undefined
  /** keys of the timers bound to it (timers.ts: cancelled when it dies) */
  timers: Set<AliasKey> | undefined = undefined
}

/**
 * The spawner's context (without `Self`) and the FiberRefs a process started with (what a
 * handler's fiber runs with): one object shared by the processes of one spawn loop.
 * @internal
 */
export interface ProcessStart {
  readonly context: Context.Context<any>
  readonly refs: FiberRefs.FiberRefs
}

/**
 * A process: its mailbox (inherited, so one object per process), its fiber and its
 * relations. What most processes never use lives in `x` (a `ProcessExtra`), allocated on
 * first use; the accessors below read and write it as if it were fields. An idle process
 * is one object of a few fields (memory per process is a benchmark row).
 * @internal
 */
export class ProcessImpl extends Mailbox implements ProcessHandle {
  declare x: ProcessExtra | undefined
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined = undefined
  trapExit = false
  dead = false
  killReason: Term | undefined = undefined
  /** what a handler's fiber starts with (see `ProcessStart`) */
  start: ProcessStart | undefined = undefined
  /** handler mode (handler.ts): what handles each message, once the process serves */
  serving: Serving | undefined = undefined
  /** handler mode: idle, drain scheduled, or draining (handler.ts `HState`) */
  hstate = 0
  /** the call this process waits for the answer of (Process.ts `callWait`): a field, as a call reads and writes it at every step */
  pendingCall: unknown = undefined
  constructor(readonly rt: RuntimeImpl, readonly pid: Pid) {
    super()
  }
  protected override makeExtra(): ProcessExtra {
    return new ProcessExtra()
  }
  /** `x`, allocated when first needed */
  ext(): ProcessExtra {
    return this.extra() as ProcessExtra
  }

  get name(): Atom | undefined {
    return this.x?.name
  }
  set name(v: Atom | undefined) {
    if (v !== undefined || this.x !== undefined) this.ext().name = v
  }
  /** local links (links.ts) */
  get links(): Set<ProcessImpl> | undefined {
    return this.x?.links
  }
  set links(v: Set<ProcessImpl> | undefined) {
    if (v !== undefined || this.x !== undefined) this.ext().links = v
  }
  /** links to processes of other nodes, by `pidKey` (links.ts) */
  get remoteLinks(): Map<string, RemoteLink> | undefined {
    return this.x?.remoteLinks
  }
  set remoteLinks(v: Map<string, RemoteLink> | undefined) {
    if (v !== undefined || this.x !== undefined) this.ext().remoteLinks = v
  }
  /** monitors this process holds (monitors.ts) */
  get monitors(): Map<MonitorKey, Held> | undefined {
    return this.x?.monitors
  }
  set monitors(v: Map<MonitorKey, Held> | undefined) {
    if (v !== undefined || this.x !== undefined) this.ext().monitors = v
  }
  /** monitors held on this process (monitors.ts) */
  get monitoredBy(): Map<MonitorKey, Watch> | undefined {
    return this.x?.monitoredBy
  }
  set monitoredBy(v: Map<MonitorKey, Watch> | undefined) {
    if (v !== undefined || this.x !== undefined) this.ext().monitoredBy = v
  }
  get decode(): ((u: unknown) => Either.Either<unknown, ParseResult.ParseError>) | undefined {
    return this.x?.decode
  }
  set decode(v: ((u: unknown) => Either.Either<unknown, ParseResult.ParseError>) | undefined) {
    if (v !== undefined || this.x !== undefined) this.ext().decode = v
  }
  get keepUndecodable(): boolean {
    return this.x !== undefined && this.x.keepUndecodable
  }
  set keepUndecodable(v: boolean) {
    if (v || this.x !== undefined) this.ext().keepUndecodable = v
  }
  /** keys of its active aliases (aliases.ts) */
  get aliases(): Set<AliasKey> | undefined {
    return this.x?.aliases
  }
  set aliases(v: Set<AliasKey> | undefined) {
    if (v !== undefined || this.x !== undefined) this.ext().aliases = v
  }
  /** keys of the timers bound to it (timers.ts: cancelled when it dies) */
  get timers(): Set<AliasKey> | undefined {
    return this.x?.timers
  }
  set timers(v: Set<AliasKey> | undefined) {
    if (v !== undefined || this.x !== undefined) this.ext().timers = v
  }

  /** Delivers a message (decoding it when the process declared a schema). */
  deliver(message: unknown): void {
    // an idle handler process: drain its mailbox soon
    if (this.accept(message) && this.serving !== undefined && this.fiber === undefined && this.hstate === 0) {
      this.rt.wakeHandler(this)
    }
  }
  /**
   * `deliver` from a process fiber's step (a call's request whose caller waits for the
   * answer next, a cast, a send): an idle handler process handles the message at once, on
   * the sender's stack (`handler.drainNow`). `true` when the message waits in the mailbox.
   */
  deliverNow(message: unknown): boolean {
    if (this.serving === undefined || this.fiber !== undefined || this.hstate !== 0) return this.accept(message)
    // idle with an empty mailbox: the message is the next one handled, queued or not
    if (this.size === 0 && this.decode === undefined && !this.dead) this.rt.handleNow(this, message)
    else if (this.accept(message)) this.rt.drainHandlerNow(this)
    return false
  }
  /**
   * `deliverNow` of `{tag, payload}`: an idle handler process whose handler takes such
   * messages as their payload (`HandlerObject.handleTagged`) handles it at once with no
   * tuple built; any other process gets the tuple, as `deliverNow` gives it.
   */
  deliverTaggedNow(tag: Atom, payload: unknown): boolean {
    const h = this.serving
    if (
      h !== undefined && typeof h !== "function" && h.tag === tag && h.handleTagged !== undefined &&
      this.fiber === undefined && this.hstate === 0 && this.size === 0 && this.decode === undefined && !this.dead
    ) {
      this.rt.handleTaggedNow(this, h, payload)
      return false
    }
    return this.deliverNow(new Tuple([tag, payload as Term]))
  }
  /** Decodes (when the process declared a schema) and queues a message; `false` when it is dropped. */
  private accept(message: unknown): boolean {
    if (this.dead) return false
    if (this.decode !== undefined) {
      const r = this.decode(message)
      if (Either.isLeft(r)) {
        this.rt.logWarning(
          `process ${this.pid.toString()}: ${this.keepUndecodable ? "kept" : "dropped"} a message that does not ` +
            `match its schema: ${ParseResult.TreeFormatter.formatErrorSync(r.left)}`
        )
        if (!this.keepUndecodable) return false
      } else message = r.right
    }
    this.push(message)
    return true
  }
}

/**
 * The local processes by pid number, and the registered names.
 * @internal
 */
export class ProcessTable {
  readonly byId = new Map<number, ProcessImpl>()
  readonly registry = new Map<Atom, ProcessImpl>()
  private nextId = 1
  private serial = 0

  /** A fresh pid of `node`/`creation` (the id wraps into the serial, as in erts). */
  newPid(node: Atom, creation: number): Pid {
    const id = this.nextId++
    if (this.nextId > 0x7fffffff) {
      this.nextId = 1
      this.serial++
    }
    return new Pid(node, id, this.serial, creation)
  }

  /** the pid `get` last found, and its process (still in the table: `remove` forgets it) */
  private lastPid: Pid | undefined = undefined
  private lastProc: ProcessImpl | undefined = undefined

  /** The live process of a pid already known to be local. */
  get(pid: Pid): ProcessImpl | undefined {
    // the same pid as last time (a burst of sends or casts to one process): no map lookup
    if (pid === this.lastPid) return this.lastProc
    const p = this.byId.get(pid.id)
    if (p === undefined || !samePid(p.pid, pid)) return undefined
    this.lastPid = pid
    this.lastProc = p
    return p
  }

  add(p: ProcessImpl): void {
    this.byId.set(p.pid.id, p)
  }

  /** Removes a dead process and its name. */
  remove(p: ProcessImpl): void {
    if (this.lastProc === p) {
      this.lastPid = undefined
      this.lastProc = undefined
    }
    this.byId.delete(p.pid.id)
    if (p.name !== undefined && this.registry.get(p.name) === p) this.registry.delete(p.name)
  }

  get size(): number {
    return this.byId.size
  }

  whereis(name: Atom): ProcessImpl | undefined {
    return this.registry.get(name)
  }

  /** Why `name` cannot be given to a new process, if it cannot. */
  checkName(name: string | Atom | undefined): RegisterError | undefined {
    if (name === undefined) return undefined
    const atom = atomOf(name)
    if (atom === atoms.undefined) return new RegisterError({ reason: "BadName", name: atom })
    if (this.registry.has(atom)) return new RegisterError({ reason: "NameTaken", name: atom })
    return undefined
  }

  unsafeRegister(name: Atom, p: ProcessImpl): void {
    this.registry.set(name, p)
    p.name = name
  }

  /** erlang:register/2 for a live local process (`undefined`: no such process). */
  register(name: Atom, p: ProcessImpl | undefined): RegisterError | undefined {
    const err = this.checkName(name)
    if (err !== undefined) return err
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
}
