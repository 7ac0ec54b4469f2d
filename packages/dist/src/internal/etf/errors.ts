/**
 * @internal
 */
import * as Data from "effect/Data"

/**
 * The bytes are not a valid external term: truncated input, an unknown tag, a length
 * that does not fit in the input, nesting deeper than `maxDepth`, ... `offset` is the
 * position (in the input given to the decoder) of the field that is wrong.
 *
 * @since 0.1.0
 * @category errors
 */
export class DecodeError extends Data.TaggedError("DecodeError")<{
  readonly offset: number
  readonly reason: string
  /**
   * Set when the bytes are refused by a limit rather than being malformed:
   * "Compressed" (a compressed term where they are not accepted: distribution frames),
   * "AtomLimit" (a new atom would pass `maxAtoms`), "TermBytes" (the decoded term would
   * take more than `maxTermBytes` of heap).
   */
  readonly limit?: DecodeLimit | undefined
}> {
  override get message(): string {
    return `invalid external term at offset ${this.offset}: ${this.reason}`
  }
}

/**
 * Which limit refused an input (see `DecodeError.limit`).
 *
 * @since 0.1.0
 * @category errors
 */
export type DecodeLimit = "Compressed" | "AtomLimit" | "TermBytes"

/**
 * A JS value that is not an Erlang term (`undefined`, `NaN`, a string, a plain
 * object, an unsafe integer `number`, ...) was given to the encoder.
 *
 * @since 0.1.0
 * @category errors
 */
export class EncodeError extends Data.TaggedError("EncodeError")<{
  readonly reason: string
}> {
  override get message(): string {
    return `cannot encode as an external term: ${this.reason}`
  }
}
