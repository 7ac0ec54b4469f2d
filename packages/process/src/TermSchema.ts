/**
 * Schemas between Erlang terms and plain values, for typed mailboxes, gen_server
 * requests and replies, and published modules.
 *
 * The `...FromSelf` schemas check a term and keep it as is; the others decode a term to
 * a plain value and encode it back: `Atom` gives the atom's name, `Binary` the UTF-8
 * text, `Integer` a number, `TupleOf(Atom, Integer)` decodes `{ok, 1}` to `["ok", 1]`.
 *
 * ```ts
 * const Put = TermSchema.TupleOf(TermSchema.AtomLiteral("put"), TermSchema.Binary, TermSchema.Term)
 * // {put, <<"k">>, V}  <->  ["put", "k", V]
 * ```
 *
 * No export is named after a JS global: the boolean schema is `BooleanAtom`, the number
 * one `NumberTerm`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as T from "./Term.js"

// ---------------------------------------------------------------------------
// Terms as they are
// ---------------------------------------------------------------------------

/**
 * Any term, unchanged.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Term: Schema.Schema<T.Term> = Schema.declare((u): u is T.Term => T.isTerm(u), {
  identifier: "Term"
})

/**
 * An atom (`Atom` instance), unchanged.
 *
 * @since 0.1.0
 * @category schemas
 */
export const AtomFromSelf: Schema.Schema<T.Atom> = Schema.declare((u): u is T.Atom => u instanceof T.Atom, {
  identifier: "AtomFromSelf"
})

/**
 * A pid, unchanged.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Pid: Schema.Schema<T.Pid> = Schema.declare((u): u is T.Pid => u instanceof T.Pid, {
  identifier: "Pid"
})

/**
 * A reference, unchanged.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Ref: Schema.Schema<T.Ref> = Schema.declare((u): u is T.Ref => u instanceof T.Ref, {
  identifier: "Ref"
})

/**
 * A binary (`Uint8Array`), unchanged.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BinaryFromSelf: Schema.Schema<Uint8Array> = Schema.declare(
  (u): u is Uint8Array => u instanceof Uint8Array,
  { identifier: "BinaryFromSelf" }
)

/**
 * A charlist (a list of integer code points), unchanged.
 *
 * @since 0.1.0
 * @category schemas
 */
export const CharlistFromSelf: Schema.Schema<ReadonlyArray<number>> = Schema.declare(
  (u): u is ReadonlyArray<number> =>
    Array.isArray(u) && u.every((c) => typeof c === "number" && globalThis.Number.isInteger(c)),
  { identifier: "Charlist" }
)

/**
 * A tuple (`Tuple` instance), unchanged.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TupleFromSelf: Schema.Schema<T.Tuple> = Schema.declare((u): u is T.Tuple => u instanceof T.Tuple, {
  identifier: "TupleFromSelf"
})

// ---------------------------------------------------------------------------
// Terms as plain values
// ---------------------------------------------------------------------------

/**
 * An atom as its name.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Atom: Schema.Schema<string, T.Atom> = Schema.transform(AtomFromSelf, Schema.String, {
  strict: true,
  decode: (a) => a.name,
  encode: (s) => T.Atom.make(s)
})

/**
 * One of the given atoms, as its name: `AtomLiteral("ok", "error")` is
 * `Schema<"ok" | "error", Atom>`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const AtomLiteral = <const Names extends readonly [string, ...Array<string>]>(
  ...names: Names
): Schema.Schema<Names[number], T.Atom> =>
  Schema.transform(AtomFromSelf, Schema.Literal(...names), {
    strict: true,
    decode: (a) => a.name,
    encode: (s) => T.Atom.make(s)
  }) as any

/**
 * `true` / `false` atoms as a boolean.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BooleanAtom: Schema.Schema<boolean, T.Atom> = Schema.transformOrFail(AtomFromSelf, Schema.Boolean, {
  strict: true,
  decode: (a, _, ast) =>
    a === T.atoms.true
      ? Effect.succeed(true)
      : a === T.atoms.false
      ? Effect.succeed(false)
      : Effect.fail(new ParseResult.Type(ast, a, "not a boolean")),
  encode: (b) => Effect.succeed(T.boolean(b))
})

/**
 * A UTF-8 binary as a string.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Binary: Schema.Schema<string, Uint8Array> = Schema.transformOrFail(BinaryFromSelf, Schema.String, {
  strict: true,
  decode: (b, _, ast) => {
    const text = T.toText(b)
    return text === undefined ? Effect.fail(new ParseResult.Type(ast, b, "not UTF-8")) : Effect.succeed(text)
  },
  encode: (s) => Effect.succeed(T.binary(s))
})

/**
 * A charlist (Erlang string) as a string.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Charlist: Schema.Schema<string, ReadonlyArray<number>> = Schema.transformOrFail(
  CharlistFromSelf,
  Schema.String,
  {
    strict: true,
    decode: (l, _, ast) => {
      const text = T.toText(l)
      return text === undefined ? Effect.fail(new ParseResult.Type(ast, l, "not a string")) : Effect.succeed(text)
    },
    encode: (s) => Effect.succeed(T.charlist(s))
  }
)

/**
 * Text given as a binary or a charlist (or an atom), as a string; encodes to a binary.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Text: Schema.Schema<string, T.Term> = Schema.transformOrFail(Term, Schema.String, {
  strict: true,
  decode: (t, _, ast) => {
    const text = t instanceof T.Atom ? t.name : T.toText(t)
    return text === undefined ? Effect.fail(new ParseResult.Type(ast, t, "not text")) : Effect.succeed(text)
  },
  encode: (s) => Effect.succeed(T.binary(s))
})

/**
 * An integer (a JS number when it fits, else a bigint on the wire) as a number.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Integer: Schema.Schema<number, T.Term> = Schema.transformOrFail(Term, Schema.Number, {
  strict: true,
  decode: (t, _, ast) =>
    typeof t === "number" && globalThis.Number.isInteger(t)
      ? Effect.succeed(t)
      : typeof t === "bigint" && t >= globalThis.Number.MIN_SAFE_INTEGER && t <= globalThis.Number.MAX_SAFE_INTEGER
      ? Effect.succeed(globalThis.Number(t))
      : Effect.fail(new ParseResult.Type(ast, t, "not an integer")),
  encode: (n, _, ast) =>
    globalThis.Number.isInteger(n) ? Effect.succeed(n) : Effect.fail(new ParseResult.Type(ast, n, "not an integer"))
})

/**
 * Any number (integer or float) as a number; encodes integral values as integers and
 * others as floats.
 *
 * @since 0.1.0
 * @category schemas
 */
export const NumberTerm: Schema.Schema<number, T.Term> = Schema.transformOrFail(Term, Schema.Number, {
  strict: true,
  decode: (t, _, ast) =>
    typeof t === "number"
      ? Effect.succeed(t)
      : t instanceof T.Float
      ? Effect.succeed(t.value)
      : typeof t === "bigint"
      ? Effect.succeed(globalThis.Number(t))
      : Effect.fail(new ParseResult.Type(ast, t, "not a number")),
  encode: (n) => Effect.succeed(n)
})

/**
 * A float as a number (integers are accepted too); always encodes a float.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Float: Schema.Schema<number, T.Term> = Schema.transformOrFail(Term, Schema.Number, {
  strict: true,
  decode: (t, _, ast) =>
    typeof t === "number"
      ? Effect.succeed(t)
      : t instanceof T.Float
      ? Effect.succeed(t.value)
      : Effect.fail(new ParseResult.Type(ast, t, "not a float")),
  encode: (n) => Effect.succeed(new T.Float(n))
})

/**
 * A list of elements.
 *
 * @since 0.1.0
 * @category schemas
 */
export const List = <A, I>(item: Schema.Schema<A, I, never>): Schema.Schema<ReadonlyArray<A>, ReadonlyArray<I>> =>
  Schema.Array(item)

/**
 * An Erlang tuple as a JS tuple: `TupleOf(Atom, Integer)` decodes `{ok, 1}` to `["ok", 1]`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TupleOf = <const Elements extends ReadonlyArray<Schema.Schema.Any>>(
  ...elements: Elements
): Schema.Schema<
  { readonly [K in keyof Elements]: Schema.Schema.Type<Elements[K]> },
  T.Tuple
> =>
  Schema.transform(TupleFromSelf, Schema.Tuple(...(elements as any)) as unknown as Schema.Schema<any, any>, {
    strict: false,
    decode: (t) => t.elements,
    encode: (a) => new T.Tuple(a as ReadonlyArray<T.Term>)
  }) as any
