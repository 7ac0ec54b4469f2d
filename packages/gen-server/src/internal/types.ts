/**
 * The classes shared by the public modules and the machinery (errors, refs, via names).
 * @internal
 */
import type { ProcessRuntime } from "@effect-otp/process/ProcessRuntime"
import type { RemoteName } from "@effect-otp/process/Signal"
import type { Atom, Pid, Term, Tuple } from "@effect-otp/process/Term"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"

/** @internal */
export class CallTimeout extends Data.TaggedError("CallTimeout")<{ readonly target: unknown }> {
  override get message(): string {
    return `call to ${String(this.target)} timed out`
  }
}
/** @internal */
export class NoProc extends Data.TaggedError("NoProc")<{ readonly target: unknown }> {
  override get message(): string {
    return `noproc: ${String(this.target)}`
  }
}
/** @internal */
export class NoConnection extends Data.TaggedError("NoConnection")<{ readonly target: unknown }> {
  override get message(): string {
    return `noconnection: ${String(this.target)}`
  }
}
/** @internal */
export class ServerExited extends Data.TaggedError("ServerExited")<{
  readonly target: unknown
  readonly reason: Term
}> {
  override get message(): string {
    return `server ${String(this.target)} exited: ${String(this.reason)}`
  }
}
/** @internal */
export class BadRequest extends Data.TaggedError("BadRequest")<{ readonly message: string }> {}
/** @internal */
export class BadReply extends Data.TaggedError("BadReply")<{ readonly message: string; readonly reply: unknown }> {}
/** @internal */
export class AlreadyStarted extends Data.TaggedError("AlreadyStarted")<{ readonly pid: Pid | undefined }> {
  override get message(): string {
    return `already started: ${String(this.pid)}`
  }
}
/** @internal */
export class InitFailed extends Data.TaggedError("InitFailed")<{ readonly reason: Term }> {
  override get message(): string {
    return `init failed: ${String(this.reason)}`
  }
}
/** @internal */
export class SysError extends Data.TaggedError("SysError")<{ readonly reason: Term }> {
  override get message(): string {
    return `sys request failed: ${String(this.reason)}`
  }
}
/** @internal */
export class InitIgnored extends Data.TaggedError("InitIgnored")<{}> {}

/** @internal */
export interface Protocol<Req, Rep, Cast> {
  readonly request: Schema.Schema<Req, any, never>
  readonly reply: Schema.Schema<Rep, any, never>
  readonly cast: Schema.Schema<Cast, any, never>
}

/** @internal */
export const raw: Protocol<Term, Term, Term> = {
  request: Schema.Unknown as unknown as Schema.Schema<Term>,
  reply: Schema.Unknown as unknown as Schema.Schema<Term>,
  cast: Schema.Unknown as unknown as Schema.Schema<Term>
}

/** @internal */
export interface ViaRegistry {
  /**
   * the `Module` of `{via, Module, Name}`, named in `enterLoop`'s `{process_not_registered_via, Module}`
   * (`global` gives `process_not_registered_globally`, as `{global, Name}` does in OTP)
   */
  readonly module?: Atom | undefined
  readonly register: (name: Term, pid: Pid) => Effect.Effect<boolean, never, ProcessRuntime>
  readonly unregister: (name: Term) => Effect.Effect<void, never, ProcessRuntime>
  readonly whereis: (name: Term) => Effect.Effect<Option.Option<Pid>, never, ProcessRuntime>
  readonly send: (name: Term, message: unknown) => Effect.Effect<void, never, ProcessRuntime>
}

/** @internal */
export class Via extends Data.Class<{ readonly registry: ViaRegistry; readonly name: Term }> {
  override toString(): string {
    return `{via, ${String(this.name)}}`
  }
}

/** @internal */
export type Target = Pid | Atom | string | RemoteName | Tuple | Via

/** @internal */
export class ServerRef<Req, Rep, Cast> {
  constructor(readonly target: Target, readonly protocol: Protocol<Req, Rep, Cast>) {}
  toString(): string {
    return String(this.target)
  }
}

/** @internal */
export class Server<Req, Rep, Cast> extends ServerRef<Req, Rep, Cast> {
  constructor(readonly pid: Pid, protocol: Protocol<Req, Rep, Cast>) {
    super(pid, protocol)
  }
}
