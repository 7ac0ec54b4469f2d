/**
 * (internal)
 */
import * as Data from "effect/Data"

/** (internal) */
export type EpmdErrorReason = "NameInUse" | "Unreachable" | "NotFound" | "Malformed" | "Timeout" | "ListenFailed"

/** (internal) */
export class EpmdError extends Data.TaggedError("EpmdError")<{
  readonly reason: EpmdErrorReason
  readonly operation: "register" | "portPlease" | "names" | "serve"
  /** the epmd host asked (or listened on) */
  readonly host?: string | undefined
  /** the epmd port asked (or listened on) */
  readonly epmdPort?: number | undefined
  /** the node (alive) name concerned */
  readonly name?: string | undefined
  readonly detail?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const where = `${this.host ?? "127.0.0.1"}:${this.epmdPort ?? "?"}`
    const what = this.name === undefined ? "" : ` for ${JSON.stringify(this.name)}`
    const detail = this.detail === undefined ? "" : ` (${this.detail})`
    switch (this.reason) {
      case "NameInUse":
        return `epmd at ${where} refused to register${what}: the name is in use${detail}`
      case "Unreachable":
        return `epmd at ${where} is unreachable (${this.operation}${what})${detail}`
      case "NotFound":
        return `epmd at ${where} knows no node${what}${detail}`
      case "Malformed":
        return `malformed reply from epmd at ${where} (${this.operation}${what})${detail}`
      case "Timeout":
        return `epmd at ${where} did not answer in time (${this.operation}${what})${detail}`
      case "ListenFailed":
        return `cannot start an epmd server on ${where}${detail}`
    }
  }
}
