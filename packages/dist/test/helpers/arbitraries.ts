/**
 * FastCheck arbitraries for Erlang terms (`@effect-otp/process/Term`), for property
 * tests of anything that carries terms.
 *
 * Generated terms are canonical: integral floats are `Float`, integers are `number`
 * when safe and `bigint` beyond, bitstrings have 1..7 bits in a non-empty last byte
 * (masked), improper lists have a non-list tail, and map keys are unique.
 */
import * as Term from "@effect-otp/process/Term"
import * as fc from "effect/FastCheck"
import * as Etf from "../../src/Etf.js"

/**
 * Any Unicode text of up to 20 code points (surrogates excluded), as fast-check's
 * `fc.string({ unit: "binary", maxLength: 20 })` draws it. That arbitrary builds a table
 * of every code point when it is created, which took 2 to 6 s of CPU at the import of each
 * test file using this module; this one is built at once.
 */
const unicodeTextArb: fc.Arbitrary<string> = fc.array(
  fc.integer({ min: 0, max: 0x10ffff - 0x800 }).map((c) => (c >= 0xd800 ? c + 0x800 : c)),
  { maxLength: 20 }
).map((codePoints) => String.fromCodePoint(...codePoints))

/** Atoms: common ones, ASCII names and any Unicode text up to 20 characters. */
export const atomArb: fc.Arbitrary<Term.Atom> = fc.oneof(
  fc.constantFrom("ok", "error", "true", "false", "undefined", "nonode@nohost", "", "EXIT", "a b", "ünïcødé", "😀")
    .map(Term.atom),
  fc.stringMatching(/^[a-z][a-zA-Z0-9_@]{0,15}$/).map(Term.atom),
  unicodeTextArb.map(Term.atom)
)

const u32 = fc.integer({ min: 0, max: 0xffffffff })

/** Integers: small, int32, safe and bignums (positive and negative). */
export const integerArb: fc.Arbitrary<number | bigint> = fc.oneof(
  fc.integer({ min: 0, max: 255 }),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -(1n << 2100n), max: 1n << 2100n }).map((n) =>
    n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n
  ),
  fc.constantFrom(2 ** 31, -(2 ** 31), 2 ** 31 - 1, 2 ** 32, 2n ** 64n, -(2n ** 64n), 2n ** 53n)
)

/** Finite floats; integral ones (and -0.0) wrapped in `Float`. */
export const floatArb: fc.Arbitrary<number | Term.Float> = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 1, 1.5, 1e300, -1e-300)
).map((v) => (Number.isInteger(v) ? Term.float(v) : v))

export const binaryArb: fc.Arbitrary<Uint8Array> = fc.uint8Array({ maxLength: 100 })

export const bitstringArb: fc.Arbitrary<Term.Bitstring> = fc
  .tuple(fc.uint8Array({ minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 7 }))
  .map(([bytes, bits]) => {
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! & ((0xff << (8 - bits)) & 0xff)
    return new Term.Bitstring(bytes, bits)
  })

export const pidArb: fc.Arbitrary<Term.Pid> = fc
  .tuple(atomArb, u32, u32, u32)
  .map(([node, id, serial, creation]) => new Term.Pid(node, id, serial, creation))

export const refArb: fc.Arbitrary<Term.Ref> = fc
  .tuple(atomArb, u32, fc.array(u32, { minLength: 1, maxLength: 5 }))
  .map(([node, creation, ids]) => new Term.Ref(node, creation, ids))

export const portArb: fc.Arbitrary<Term.Port> = fc
  .tuple(atomArb, fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), u32)
  .map(([node, id, creation]) => new Term.Port(node, id, creation))

export const exportArb: fc.Arbitrary<Term.Export> = fc
  .tuple(atomArb, atomArb, fc.integer({ min: 0, max: 255 }))
  .map(([m, f, a]) => new Term.Export(m, f, a))

/** A synthetic but well-formed NEW_FUN_EXT (no free variables). */
export const funArb: fc.Arbitrary<Term.Fun> = fc
  .tuple(atomArb, fc.integer({ min: 0, max: 255 }), u32, fc.uint8Array({ minLength: 16, maxLength: 16 }), pidArb)
  .map(([module, arity, index, uniq, pid]) => {
    const w = new Etf.Writer()
    w.u32(0) // size, patched below
    w.u8(arity)
    w.bytes(uniq)
    w.u32(index)
    w.u32(0) // NumFree
    Etf.encodeInto(w, module, { versionByte: false })
    Etf.encodeInto(w, 7, { versionByte: false })
    Etf.encodeInto(w, 123456, { versionByte: false })
    Etf.encodeInto(w, pid, { versionByte: false })
    w.putU32(0, w.length)
    return new Term.Fun(module, arity, index, uniq, w.toUint8Array())
  })

const scalarArb: fc.Arbitrary<Term.Term> = fc.oneof(
  { weight: 4, arbitrary: integerArb },
  { weight: 4, arbitrary: atomArb },
  { weight: 2, arbitrary: floatArb },
  { weight: 2, arbitrary: binaryArb },
  { weight: 1, arbitrary: bitstringArb },
  { weight: 1, arbitrary: pidArb },
  { weight: 1, arbitrary: refArb },
  { weight: 1, arbitrary: portArb },
  { weight: 1, arbitrary: exportArb },
  { weight: 1, arbitrary: funArb },
  { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 30 }) } // charlists (STRING_EXT)
)

/** Any term, nested up to about `maxDepth` levels. */
export const termArb = (maxDepth = 4): fc.Arbitrary<Term.Term> =>
  fc.letrec<{ term: Term.Term }>((tie) => ({
    term: fc.oneof(
      { depthSize: "small", maxDepth, withCrossShrink: true },
      { weight: 6, arbitrary: scalarArb },
      { weight: 1, arbitrary: fc.array(tie("term"), { maxLength: 6 }).map((es) => new Term.Tuple(es)) },
      { weight: 1, arbitrary: fc.array(tie("term"), { maxLength: 6 }) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.array(tie("term"), { minLength: 1, maxLength: 4 }), scalarArb)
          .filter(([, tail]) => !Array.isArray(tail))
          .map(([es, tail]) => new Term.ImproperList(es, tail))
      },
      {
        weight: 1,
        arbitrary: fc.array(fc.tuple(tie("term"), tie("term")), { maxLength: 5 }).map((es) => Term.map(es))
      }
    )
  })).term

/** Terms with a bias towards what messages look like (tuples with atoms, pids, binaries). */
export const messageArb: fc.Arbitrary<Term.Term> = fc.oneof(
  termArb(3),
  fc.tuple(atomArb, termArb(2)).map(([tag, body]) => Term.tuple(tag, body)),
  fc.tuple(pidArb, refArb, termArb(2)).map(([p, r, b]) => Term.tuple(Term.atom("$gen_call"), Term.tuple(p, r), b))
)
