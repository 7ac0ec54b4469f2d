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
}> {
  override get message(): string {
    return `invalid external term at offset ${this.offset}: ${this.reason}`
  }
}

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
