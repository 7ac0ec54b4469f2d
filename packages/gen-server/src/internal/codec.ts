/**
 * Schema codecs compiled once per server/ref, with the raw-term schemas as the identity.
 * @internal
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

/** @internal A failed decode or encode. */
export class CodecFailure {
  constructor(readonly message: string) {}
}

/** @internal */
export type Codec = (u: unknown) => unknown

const identity: Codec = (u) => u

/** @internal the codec of a raw-term schema (it never fails: callers skip the `CodecFailure` check) */
export const isIdentity = (codec: Codec): boolean => codec === identity

const isIdentitySchema = (schema: Schema.Schema.Any): boolean => {
  const tag = schema.ast._tag
  return tag === "UnknownKeyword" || tag === "AnyKeyword"
}

const wrap = (run: (u: unknown) => Either.Either<unknown, ParseResult.ParseError>): Codec => (u) => {
  let r: Either.Either<unknown, ParseResult.ParseError>
  try {
    r = run(u)
  } catch (e) {
    return new CodecFailure(String(e))
  }
  return Either.isRight(r) ? r.right : new CodecFailure(ParseResult.TreeFormatter.formatErrorSync(r.left))
}

const cache = new WeakMap<object, { decode?: Codec; encode?: Codec }>()

const entry = (schema: Schema.Schema.Any) => {
  let e = cache.get(schema)
  if (e === undefined) cache.set(schema, e = {})
  return e
}

/** @internal wire → value; a `CodecFailure` when it does not decode */
export const decoder = (schema: Schema.Schema<any, any, never>): Codec => {
  if (isIdentitySchema(schema)) return identity
  const e = entry(schema)
  return e.decode ??= wrap(Schema.decodeUnknownEither(schema))
}

/** @internal value → wire; a `CodecFailure` when it does not encode */
export const encoder = (schema: Schema.Schema<any, any, never>): Codec => {
  if (isIdentitySchema(schema)) return identity
  const e = entry(schema)
  return e.encode ??= wrap(Schema.encodeUnknownEither(schema))
}
