import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as Term from "../src/Term.js"
import * as TermSchema from "../src/TermSchema.js"

const { atom, tuple } = Term
const decode = <A, I>(s: Schema.Schema<A, I>) => Schema.decodeUnknownEither(s)
const encode = <A, I>(s: Schema.Schema<A, I>) => Schema.encodeEither(s)

describe("TermSchema", () => {
  it("decodes terms to plain values and encodes them back", () => {
    const Put = TermSchema.TupleOf(TermSchema.AtomLiteral("put"), TermSchema.Binary, TermSchema.Integer)
    const wire = tuple(atom("put"), Term.binary("k"), 42)
    expect(decode(Put)(wire)).toEqual(Either.right(["put", "k", 42]))
    const back = Either.getOrThrow(encode(Put)(["put", "k", 42]))
    expect(Term.equals(back, wire)).toBe(true)
    // a different atom is not `put`
    expect(Either.isLeft(decode(Put)(tuple(atom("get"), Term.binary("k"), 42)))).toBe(true)
    expect(Either.isLeft(decode(Put)(tuple(atom("put"), Term.binary("k"))))).toBe(true)
  })

  it("BooleanAtom, NumberTerm, Float, Text, Charlist", () => {
    expect(decode(TermSchema.BooleanAtom)(atom("true"))).toEqual(Either.right(true))
    expect(Either.isLeft(decode(TermSchema.BooleanAtom)(atom("yes")))).toBe(true)
    expect(encode(TermSchema.BooleanAtom)(false)).toEqual(Either.right(atom("false")))
    expect(decode(TermSchema.NumberTerm)(Term.float(1))).toEqual(Either.right(1))
    expect(decode(TermSchema.NumberTerm)(7n)).toEqual(Either.right(7))
    expect(Either.isLeft(decode(TermSchema.Integer)(1.5))).toBe(true)
    const f = Either.getOrThrow(encode(TermSchema.Float)(2))
    expect(f).toBeInstanceOf(Term.Float)
    expect(decode(TermSchema.Text)(Term.charlist("hé"))).toEqual(Either.right("hé"))
    expect(decode(TermSchema.Text)(atom("hi"))).toEqual(Either.right("hi"))
    expect(encode(TermSchema.Charlist)("ab")).toEqual(Either.right([97, 98]))
    expect(Either.isLeft(decode(TermSchema.Binary)(new Uint8Array([0xff])))).toBe(true)
  })

  it.prop(
    "Atom, Binary and Integer round-trip",
    [FastCheck.string({ maxLength: 50 }), FastCheck.integer()],
    ([s, n]) => {
      const S = TermSchema.TupleOf(TermSchema.Atom, TermSchema.Binary, TermSchema.Integer)
      const wire = Either.getOrThrow(encode(S)([s, s, n]))
      expect(decode(S)(wire)).toEqual(Either.right([s, s, n]))
    }
  )

  it("no export shadows a JS global", () => {
    const globals = Object.getOwnPropertyNames(globalThis)
    expect(Object.keys(TermSchema).filter((k) => globals.includes(k))).toEqual([])
  })
})
