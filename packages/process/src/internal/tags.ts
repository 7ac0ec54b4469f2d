/**
 * Tags, service shapes and errors, in a leaf module so that the public modules and the
 * machinery can all import them without an import cycle.
 * (Machinery: import the public modules instead.)
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import type { RouterShape } from "../Router.js"
import type { Destination, Signal } from "../Signal.js"
import type { Atom, LocalNode, Pid, Ref, Term, Tuple } from "../Term.js"

/** @since 0.1.0 */
export interface ProcessHandle {
  readonly pid: Pid
}

/** @since 0.1.0 */
export class Self extends Context.Tag("@effect-otp/process/Self")<Self, ProcessHandle>() {}

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
   * Calls `resume` once the mailbox of a local process (by pid, registered name or active
   * alias) holds at most `low` messages, or at once when it does now or there is no such
   * process; also when the process exits. Receive backpressure waits on this (no polling).
   */
  readonly unsafeOnMailboxDrained?: ((to: Pid | Atom | Ref, low: number, resume: () => void) => void) | undefined
}

/** @since 0.1.0 */
export class ProcessRuntime
  extends Context.Tag("@effect-otp/process/ProcessRuntime")<ProcessRuntime, ProcessRuntimeShape>()
{}

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

/** @since 0.1.0 */
export class RegisterError extends Data.TaggedError("RegisterError")<{
  readonly reason: "NameTaken" | "AlreadyRegistered" | "NoProcess" | "NotRegistered" | "BadName"
  readonly name: Atom
}> {
  override get message(): string {
    return `badarg: ${this.reason} (${this.name.toString()})`
  }
}

/** @since 0.1.0 */
export class ProcessExit extends Data.TaggedError("ProcessExit")<{
  readonly reason: Term
}> {
  override get message(): string {
    return `process exited: ${String(this.reason)}`
  }
}
