/**
 * Erlang's External Term Format (ETF): `term_to_binary` and `binary_to_term` for the
 * term model of `@effect-otp/process/Term`.
 *
 * - The encoder picks the tags that OTP's `term_to_binary(T, [{minor_version, 2}])`
 *   picks (what the distribution sends): SMALL_ATOM_UTF8/ATOM_UTF8 atoms,
 *   SMALL_INTEGER/INTEGER/SMALL_BIG/LARGE_BIG, NEW_FLOAT, STRING for a proper list of
 *   1..65535 integers in 0..255, NEW_PID, NEWER_REFERENCE, NEW_PORT (V4_PORT for ids
 *   beyond 32 bits). So decoding what OTP encoded and encoding it again gives the same
 *   bytes. Map entries are written in the order of `TermMap.entries` (the decoder keeps
 *   the wire order).
 * - The decoder also reads the old forms (Latin-1 atoms, FLOAT_EXT, PID_EXT, PORT_EXT,
 *   NEW_REFERENCE_EXT, REFERENCE_EXT) and, at the top level, compressed terms.
 *   Integers in the safe range decode to `number`, others to `bigint`. Integral floats
 *   decode to `Term.Float`, other floats to `number`.
 * - Decoding is safe on hostile input: every length is checked against the bytes
 *   that remain before anything is allocated, nesting is limited by `maxDepth`, the
 *   heap the result takes by `maxTermBytes`, new atoms by `maxAtoms`, and the only
 *   error is a `DecodeError` carrying the offset of the bad field.
 * - Decoding takes time linear in the input: map keys of any type are checked for
 *   duplicates through a structural hash, nested list tails are read in a loop.
 *
 * @since 0.1.0
 */
import type { Term } from "@effect-otp/process/Term"
import type { Atom } from "@effect-otp/process/Term"
import * as Either from "effect/Either"
import * as internalDecode from "./internal/etf/decode.js"
import * as internalEncode from "./internal/etf/encode.js"
import * as errors from "./internal/etf/errors.js"

/**
 * The bytes are not a valid external term (truncated input, unknown tag, a length
 * that does not fit in the input, nesting deeper than `maxDepth`, ...). `offset` is
 * the position in the input of the field that is wrong, `reason` says what is wrong.
 *
 * @since 0.1.0
 * @category errors
 */
export const DecodeError = errors.DecodeError

/**
 * @since 0.1.0
 * @category errors
 */
export type DecodeError = errors.DecodeError

/**
 * Which limit refused an input: "Compressed", "AtomLimit" or "TermBytes".
 *
 * @since 0.1.0
 * @category errors
 */
export type DecodeLimit = errors.DecodeLimit

/**
 * A JS value that is not an Erlang term (`undefined`, `null`, `NaN`, `Infinity`, a JS
 * string or boolean, a function, a plain object, a `number` that is an unsafe
 * integer, a cyclic or absurdly deep structure, ...).
 *
 * @since 0.1.0
 * @category errors
 */
export const EncodeError = errors.EncodeError

/**
 * @since 0.1.0
 * @category errors
 */
export type EncodeError = errors.EncodeError

/**
 * A growable byte buffer to write several terms (and raw integers, for frame
 * headers) back to back without copying: `encodeInto(writer, term)` appends `131`
 * and the term. Methods: `length`, `reset()`, `view()` (a view of the written bytes,
 * valid until the next write), `toUint8Array()` (a copy), `ensure(n)`, `u8`, `u16`,
 * `u32`, `u64` (big-endian appends), `putU32(offset, v)` (patch a length prefix) and
 * `bytes(b)`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const Writer = internalEncode.Writer

/**
 * @since 0.1.0
 * @category encoding
 */
export type Writer = internalEncode.Writer

/**
 * Decoder options.
 *
 * @since 0.1.0
 * @category decoding
 */
export interface DecodeOptions {
  /**
   * Deepest nesting of tuples, lists, maps and funs accepted (default 1000). Deeper
   * input is a `DecodeError`.
   */
  readonly maxDepth?: number | undefined
  /**
   * Whether the term starts with the version byte 131 (default `true`). Terms that
   * follow a distribution header (`131,68`) have no version byte: pass `false`.
   * Compressed terms (tag 80) are only accepted after a version byte.
   */
  readonly versionByte?: boolean | undefined
  /**
   * Whether decoded binaries are copies (default `true`). With `false`, binaries are
   * `subarray` views of the input, so they alias it: only use this when the input
   * buffer is never reused or mutated. (Copies of up to 4096 bytes are views of a shared
   * 64 KiB pool, as Node's `Buffer.allocUnsafe`: respect `byteOffset`/`byteLength` when
   * using `.buffer`.)
   */
  readonly copyBinaries?: boolean | undefined
  /** Atoms for ATOM_CACHE_REF indexes (only after a distribution header with an atom cache). */
  readonly atomCache?: ReadonlyArray<Atom | undefined> | undefined
  /**
   * Largest declared size of a compressed term that is inflated (default 64 MiB). The
   * declared size is checked before inflating, and inflating stops at it: a small input
   * cannot inflate to more.
   */
  readonly maxUncompressedSize?: number | undefined
  /**
   * Whether a compressed term (tag 80, after the version byte) is accepted (default
   * `true`). Distribution frames pass `false`, as erts, which closes such a connection
   * (`bad_dist_ext`); the error then has `limit: "Compressed"`.
   */
  readonly compressed?: boolean | undefined
  /**
   * The estimated heap bytes the decoded term may take (inflated bytes included). Over
   * it, decoding stops with a `DecodeError` whose `limit` is "TermBytes". Default: 1/8
   * of V8's heap limit, between 16 MiB and 512 MiB. (A NIL byte decodes to an array of
   * ~40 bytes: without a bound, a 128 MiB input could ask for ~5 GB.)
   */
  readonly maxTermBytes?: number | undefined
  /**
   * A new atom is refused (`DecodeError` with `limit: "AtomLimit"`) when the
   * process-wide atom table already holds this many atoms; atoms that exist always
   * decode. Default: OTP's 1,048,576, or one atom per 4 KiB of V8's heap limit when
   * that is less (at least 16,384). `Atom.make` (local code) is not limited.
   */
  readonly maxAtoms?: number | undefined
}

/**
 * Encodes a term as `term_to_binary` does (with the leading version byte 131) into a
 * new `Uint8Array` (results of up to 4096 bytes are views of a shared pool, as Node's
 * `Buffer.allocUnsafe`: respect `byteOffset`/`byteLength` when using `.buffer`).
 *
 * @throws EncodeError when the value is not a term.
 * @since 0.1.0
 * @category encoding
 */
export const encode = (term: Term): Uint8Array => internalEncode.encode(term)

/**
 * Encodes a term, returning an `Either` instead of throwing.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeEither = (term: Term): Either.Either<Uint8Array, EncodeError> => {
  try {
    return Either.right(internalEncode.encode(term))
  } catch (e) {
    return Either.left(e as EncodeError)
  }
}

/**
 * Appends a term to a `Writer`: the version byte 131 (unless `versionByte` is
 * `false`) and the term. On error nothing is appended.
 *
 * @throws EncodeError when the value is not a term.
 * @since 0.1.0
 * @category encoding
 */
export const encodeInto = (
  writer: Writer,
  term: Term,
  options?: { readonly versionByte?: boolean | undefined }
): void => internalEncode.encodeInto(writer, term, options?.versionByte ?? true)

/**
 * Decodes one term that starts at `offset` (by default with its version byte 131)
 * and returns it with the offset just after it, so that several terms can be read
 * back to back from one frame. Trailing bytes are left alone.
 *
 * Unless `copyBinaries: false` is given, the term does not alias `bytes`.
 *
 * @throws DecodeError (and nothing else) when the bytes are not a valid term.
 * @since 0.1.0
 * @category decoding
 */
export const decodeAt = (
  bytes: Uint8Array,
  offset: number,
  options?: DecodeOptions
): { readonly term: Term; readonly end: number } => internalDecode.decodeAt(bytes, offset, options)

/**
 * Decodes a whole buffer, as `binary_to_term`: the version byte 131, one term
 * (possibly compressed), and no trailing bytes.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (bytes: Uint8Array, options?: DecodeOptions): Either.Either<Term, DecodeError> => {
  try {
    const { end, term } = internalDecode.decodeAt(bytes, 0, options)
    if (end !== bytes.length) {
      return Either.left(new errors.DecodeError({ offset: end, reason: `${bytes.length - end} trailing bytes` }))
    }
    return Either.right(term)
  } catch (e) {
    return Either.left(e as DecodeError)
  }
}

/**
 * `decode`, throwing the `DecodeError` instead of returning an `Either`.
 *
 * @throws DecodeError
 * @since 0.1.0
 * @category decoding
 */
export const decodeUnsafe = (bytes: Uint8Array, options?: DecodeOptions): Term => {
  const { end, term } = internalDecode.decodeAt(bytes, 0, options)
  if (end !== bytes.length) {
    throw new errors.DecodeError({ offset: end, reason: `${bytes.length - end} trailing bytes` })
  }
  return term
}
