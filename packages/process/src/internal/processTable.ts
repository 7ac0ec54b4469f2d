/**
 * The process table and the registry: what a process is (`ProcessImpl`), pids, lookups
 * by pid and by registered name, and `register`/`unregister` with their errors.
 * @internal
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Fiber from "effect/Fiber"
import type * as FiberRefs from "effect/FiberRefs"
import * as ParseResult from "effect/ParseResult"
import { Mailbox } from "../Mailbox.js"
import { Atom, atoms, Pid } from "../Term.js"
import type { Term } from "../Term.js"
import type { AliasKey } from "./aliases.js"
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
 * A process: its mailbox (inherited, so one object per process), its fiber and its
 * relations. Link, monitor, alias and timer tables are allocated on first use (and
 * dropped when they empty: an idle process keeps no empty tables).
 * @internal
 */
export class ProcessImpl extends Mailbox implements ProcessHandle {
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined = undefined
  name: Atom | undefined = undefined
  trapExit = false
  dead = false
  killReason: Term | undefined = undefined
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
  /** the spawner's context (without `Self`) and the FiberRefs the process started with */
  startContext: Context.Context<any> | undefined = undefined
  startRefs: FiberRefs.FiberRefs | undefined = undefined
  /** handler mode (handler.ts): what handles each message, once the process serves */
  serving: ((message: unknown) => Effect.Effect<unknown, unknown, any>) | undefined = undefined
  /** handler mode: idle, drain scheduled, or draining (handler.ts `HState`) */
  hstate = 0
  /** the call this process waits for the answer of (Process.ts `callWait`) */
  pendingCall: unknown = undefined
  constructor(readonly rt: RuntimeImpl, readonly pid: Pid) {
    super()
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

  /** The live process of a pid already known to be local. */
  get(pid: Pid): ProcessImpl | undefined {
    const p = this.byId.get(pid.id)
    return p !== undefined && samePid(p.pid, pid) ? p : undefined
  }

  add(p: ProcessImpl): void {
    this.byId.set(p.pid.id, p)
  }

  /** Removes a dead process and its name. */
  remove(p: ProcessImpl): void {
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
