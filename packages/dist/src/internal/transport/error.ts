import * as Data from "effect/Data"

/**
 * A transport failure.
 *
 * @since 0.1.0
 * @category errors
 */
export class TransportError extends Data.TaggedError("TransportError")<{
  readonly reason: "ConnectFailed" | "ListenFailed" | "AcceptFailed" | "Closed" | "WriteFailed"
  readonly address?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const cause = this.cause instanceof Error ? `: ${this.cause.message}` : ""
    return `transport ${this.reason}${this.address ? ` (${this.address})` : ""}${cause}`
  }
}

/**
 * Why a carrier closed: by us (`local`), by the peer (`peer`: end of stream) or by an
 * error (`error`, with the cause).
 *
 * @since 0.1.0
 * @category models
 */
export class CarrierClosed extends Data.TaggedClass("CarrierClosed")<{
  readonly by: "local" | "peer" | "error"
  readonly cause?: unknown
}> {}
