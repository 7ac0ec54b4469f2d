/**
 * Decoding costs time and memory in proportion to the input, at the codec
 * level. No timings: the work is shown with the decoder's own work counters
 * (`keyStats`: terms and byte words hashed, exact key comparisons, hash-table probes,
 * sort fallbacks), which are deterministic, and must stay within a constant times the
 * input size. The quadratic decoder compared every key of one tuple arity (or list
 * length, pid, ref, ...) with all the others: 7,998,000 comparisons for the 4,000
 * `{user, N}` keys, 105,117,750 for 14,500 `{I}` keys.
 */
import * as Term from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import { deflateSync } from "node:zlib"
import * as Control from "../src/Control.js"
import * as Etf from "../src/Etf.js"
import * as Decode from "../src/internal/etf/decode.js"
import { hashTerm, keyStats, order, resetKeyStats } from "../src/internal/etf/keys.js"
import { termArb } from "./helpers/arbitraries.js"

const a = Term.atom
const node = a("n@h")
const ok = (b: Uint8Array, options?: Etf.DecodeOptions): Term.Term => Either.getOrThrow(Etf.decode(b, options))
const err = (b: Uint8Array, options?: Etf.DecodeOptions): Etf.DecodeError => {
  const r = Etf.decode(b, options)
  if (Either.isRight(r)) throw new Error(`expected a DecodeError, got a term`)
  expect(r.left).toBeInstanceOf(Etf.DecodeError)
  return r.left
}
const mapOf = (keys: ReadonlyArray<Term.Term>): Term.TermMap => new Term.TermMap(keys.map((k, i) => [k, i] as const))
const range = <A>(n: number, f: (i: number) => A): Array<A> => Array.from({ length: n }, (_, i) => f(i))

/** A well-formed NEW_FUN_EXT (no free variables) with index `i`. */
const funOf = (i: number): Term.Fun => {
  const w = new Etf.Writer()
  w.u32(0)
  w.u8(0)
  w.bytes(new Uint8Array(16))
  w.u32(i)
  w.u32(0)
  Etf.encodeInto(w, a("m"), { versionByte: false })
  Etf.encodeInto(w, 7, { versionByte: false })
  Etf.encodeInto(w, 1, { versionByte: false })
  Etf.encodeInto(w, new Term.Pid(node, 1, 0, 1), { versionByte: false })
  w.putU32(0, w.length)
  return new Term.Fun(a("m"), 0, i, new Uint8Array(16), w.toUint8Array())
}

/** Many distinct keys of one shape (each family once put every key in a single bucket). */
const families: ReadonlyArray<readonly [string, (i: number) => Term.Term, number]> = [
  ["{user, N} (the issue's 4,000 keys, 70 KB)", (i) => Term.tuple(a("user"), i), 4000],
  ["{I} (the issue's 128 KB of keys)", (i) => Term.tuple(i), 14_500],
  ["bignums of 12 KB", (i) => (1n << 98_304n) + BigInt(i), 17],
  ["bignums of 200 KB (the issue's 17 keys)", (i) => (1n << 1_638_400n) + BigInt(i), 17],
  ["lists [I, I]", (i) => [i, i], 5000],
  ["improper lists [I | x]", (i) => new Term.ImproperList([i], a("x")), 5000],
  ["pids", (i) => new Term.Pid(node, i, 0, 1), 5000],
  ["refs", (i) => new Term.Ref(node, 1, [i, 7, 9]), 5000],
  ["ports", (i) => new Term.Port(node, BigInt(i), 1), 5000],
  ["exports", (i) => new Term.Export(a("m"), a(`f${i >> 8}`), i & 255), 5000],
  ["funs", (i) => funOf(i), 5000],
  [
    "binaries of 100 bytes, same prefix",
    (i) => Uint8Array.from(range(100, (j) => (j < 96 ? 1 : (i >> (8 * (99 - j))) & 255))),
    5000
  ],
  ["floats", (i) => i + 0.5, 5000],
  ["bitstrings", (i) => new Term.Bitstring(Uint8Array.of(i & 255, (i >> 8) & 255, 0x80), 1), 5000],
  ["maps #{k => I}", (i) => Term.map([[a("k"), i]]), 5000],
  ["nested tuples {{{I}}}", (i) => Term.tuple(Term.tuple(Term.tuple(i))), 5000]
]

describe("map keys are checked for duplicates in linear time, whatever their type", () => {
  for (const [what, key, n] of families) {
    it(`${n} keys: ${what}`, () => {
      const input = Etf.encode(mapOf(range(n, key)))
      resetKeyStats()
      const m = ok(input) as Term.TermMap
      expect(m.size).toBe(n)
      // distinct keys: no exact comparison (a 32-bit collision between two of them is a
      // ~1e-2 chance at most for 14,500 keys), no fallback, and the hashing reads each
      // input byte a bounded number of times
      expect(keyStats.compares).toBeLessThanOrEqual(2)
      expect(keyStats.fallbacks).toBe(0)
      expect(keyStats.hashed).toBeLessThanOrEqual(2 * input.length)
      expect(keyStats.probes).toBeLessThanOrEqual(4 * n)
      // and a duplicate (a structurally equal copy of the middle key) is still found
      const dup = Etf.encode(new Term.TermMap([...m.entries, [key(n >> 1), -1]]))
      expect(err(dup).reason).toMatch(/duplicate/)
    }, 60_000)
  }

  it("keys that hold maps that hold maps: each map is hashed once (no re-hash per level)", () => {
    // K0 = #{0 => 0}, Ki = #{K(i-1) => 0, i => 1}: a chain of keys inside keys
    let k: Term.Term = Term.map([[0, 0]])
    for (let i = 1; i <= 900; i++) k = new Term.TermMap([[k, 0], [i, 1]])
    const input = Etf.encode(new Term.TermMap([[k, 0], [a("other"), 1]]))
    resetKeyStats()
    ok(input, { maxDepth: 5000 })
    // each level is ~15 bytes of input; hashing it again at every level would be ~400k units
    expect(keyStats.hashed).toBeLessThanOrEqual(input.length)
    expect(keyStats.compares).toBeLessThanOrEqual(2)
  })

  it("1 and 1.0, 0.0 and -0.0, [N] and [N, 0] refs: the duplicates binary_to_term sees", () => {
    const distinct = (keys: ReadonlyArray<Term.Term>) => ok(Etf.encode(mapOf([...keys, ...range(20, (i) => i + 100)])))
    distinct([1, Term.float(1)])
    distinct([Term.float(0), Term.float(-0)])
    distinct([Term.tuple(1), Term.tuple(Term.float(1))])
    const refs = [new Term.Ref(node, 1, [5]), new Term.Ref(node, 1, [5, 0])]
    expect(err(Etf.encode(mapOf([...refs, ...range(20, (i) => i + 100)]))).reason).toMatch(/duplicate/)
    const maps = [Term.map([[a("a"), 1], [a("b"), 2]]), Term.map([[a("b"), 2], [a("a"), 1]])]
    expect(err(Etf.encode(mapOf([...maps, ...range(20, (i) => i + 100)]))).reason).toMatch(/duplicate/)
  })

  it.prop(
    "the exact order is 0 exactly for equal terms, and equal terms hash the same",
    [termArb(3), termArb(3)],
    ([x, y]) => {
      const back = Etf.decodeUnsafe(Etf.encode(x))
      expect(order(x, back)).toBe(0)
      expect(hashTerm(x)).toBe(hashTerm(back))
      expect(order(x, y) === 0).toBe(Term.equals(x, y))
      expect(Math.sign(order(x, y)) + Math.sign(order(y, x))).toBe(0)
    },
    { fastCheck: { numRuns: 500 } }
  )
})

/** `131`, then `units` copies of `unit`, then `tail`. */
const repeat = (unit: ReadonlyArray<number>, units: number, tail: ReadonlyArray<number>): Uint8Array => {
  const out = new Uint8Array(1 + unit.length * units + tail.length)
  out[0] = 131
  for (let i = 0; i < units; i++) out.set(unit, 1 + i * unit.length)
  out.set(tail, 1 + unit.length * units)
  return out
}

describe("nested LIST_EXT tails are one list, read in a loop", () => {
  it("[1 | [1 | [1 | ... []]]] 200,000 levels deep: a flat list (it was a maxDepth error, and quadratic below it)", () => {
    const t = ok(repeat([108, 0, 0, 0, 1, 97, 1], 200_000, [106]))
    expect(Array.isArray(t)).toBe(true)
    expect((t as ReadonlyArray<Term.Term>).length).toBe(200_000)
    expect((t as ReadonlyArray<Term.Term>).every((x) => x === 1)).toBe(true)
  })

  it("an improper end, a STRING_EXT end, and segments of several elements", () => {
    const improper = ok(repeat([108, 0, 0, 0, 2, 97, 1, 97, 2], 10_000, [100, 0, 1, 120])) as Term.ImproperList
    expect(improper).toBeInstanceOf(Term.ImproperList)
    expect(improper.elements.length).toBe(20_000)
    expect(improper.tail).toBe(a("x"))
    const str = ok(repeat([108, 0, 0, 0, 1, 97, 7], 3, [107, 0, 2, 65, 66]))
    expect(str).toEqual([7, 7, 7, 65, 66])
    // an empty LIST_EXT is its tail
    expect(ok(Uint8Array.of(131, 108, 0, 0, 0, 0, 97, 5))).toBe(5)
    expect(ok(Uint8Array.of(131, 108, 0, 0, 0, 0, 106))).toEqual([])
    // nesting in the head still counts toward maxDepth
    expect(err(repeat([108, 0, 0, 0, 1], 5000, [106])).reason).toMatch(/maxDepth/)
  })
})

const compressedOf = (t: Term.Term, declared?: number): Uint8Array => {
  const inner = Etf.encode(t).subarray(1)
  const z = deflateSync(inner)
  const size = declared ?? inner.length
  const out = new Uint8Array(6 + z.length)
  out[0] = 131
  out[1] = 80
  new DataView(out.buffer).setUint32(2, size)
  out.set(z, 6)
  return out
}

describe("compressed terms", () => {
  it("Etf.decode accepts them; `compressed: false` (distribution frames) refuses them", () => {
    const c = compressedOf(range(1000, () => a("ok")))
    expect((ok(c) as ReadonlyArray<Term.Term>).length).toBe(1000)
    const e = err(c, { compressed: false })
    expect(e.limit).toBe("Compressed")
    expect(e.offset).toBe(1)
  })

  it("a decompression bomb: the declared size is checked before inflating, and inflating stops there", () => {
    // 64 MiB of zeros deflate to ~64 KiB
    const zeros = deflateSync(new Uint8Array(64 * 1024 * 1024))
    const bomb = (declared: number) => {
      const out = new Uint8Array(6 + zeros.length)
      out.set([131, 80])
      new DataView(out.buffer).setUint32(2, declared)
      out.set(zeros, 6)
      return out
    }
    expect(err(bomb(64 * 1024 * 1024), { maxUncompressedSize: 1024 * 1024 }).reason).toMatch(/over the limit/)
    // declared small: inflating stops at the declared size
    expect(err(bomb(1000)).reason).toMatch(/zlib|inflates/)
    // the inflated bytes count toward maxTermBytes
    expect(err(compressedOf(new Uint8Array(100_000)), { maxTermBytes: 50_000 }).limit).toBe("TermBytes")
  })

  it("a distribution frame with a compressed term is refused as BadDistExt", () => {
    const c = compressedOf(range(100, () => a("ok")))
    const frame = new Uint8Array(1 + c.length)
    frame[0] = 112
    frame.set(c, 1)
    const r = Control.decodeFrame(frame)
    expect(Either.isLeft(r) && r.left.reason).toBe("BadDistExt")
    // the same control message uncompressed is fine
    const plain = Control.encodeFrame({ _tag: "Send", to: new Term.Pid(node, 1, 0, 1) }, range(100, () => a("ok")))
    expect(Either.isRight(Control.decodeFrame(plain))).toBe(true)
  })
})

describe("maxTermBytes: the heap one decode may build", () => {
  it("a list of NILs costs ~40 bytes per input byte and is refused over the budget", () => {
    // LIST_EXT of 100,000 NILs, then its NIL tail
    const input = new Uint8Array(6 + 100_000 + 1).fill(106)
    input.set([131, 108, 0, 1, 134, 160])
    expect((ok(input) as ReadonlyArray<Term.Term>).length).toBe(100_000)
    expect(Decode.lastTermBytes()).toBeGreaterThanOrEqual(100_000 * 40)
    const e = err(input, { maxTermBytes: 1024 * 1024 })
    expect(e.limit).toBe("TermBytes")
    expect(e.reason).toMatch(/maxTermBytes/)
  })

  it("a 1 MiB binary costs its bytes when copied, not when it is a view of the input", () => {
    const input = Etf.encode(new Uint8Array(1024 * 1024))
    expect(err(input, { maxTermBytes: 64 * 1024 }).limit).toBe("TermBytes")
    expect((ok(input, { maxTermBytes: 64 * 1024, copyBinaries: false }) as Uint8Array).length).toBe(1024 * 1024)
  })

  it("the default is bounded by the heap", () => {
    expect(Decode.DEFAULT_MAX_TERM_BYTES).toBeGreaterThanOrEqual(16 * 1024 * 1024)
    expect(Decode.DEFAULT_MAX_TERM_BYTES).toBeLessThanOrEqual(512 * 1024 * 1024)
  })

  it("one budget per frame: control message and message together", () => {
    const to = new Term.Pid(node, 1, 0, 1)
    const frame = Control.encodeFrame({ _tag: "Send", to }, range(50_000, () => []))
    expect(Either.isRight(Control.decodeFrame(frame))).toBe(true)
    const r = Control.decodeFrame(frame, { maxTermBytes: 1024 * 1024 })
    expect(Either.isLeft(r) && r.left.reason).toBe("TermBytes")
  })
})

describe("maxAtoms: input cannot grow the atom table past the cap", () => {
  const fresh = (n: number) => range(n, () => `fresh_${Math.random().toString(36).slice(2)}`)
  // atoms encoded by hand (Etf.encode of Term.atom would make them)
  const atomList = (names: ReadonlyArray<string>): Uint8Array => {
    const parts = names.map((s) => [119, s.length, ...Array.from(s, (c) => c.charCodeAt(0))])
    const n = names.length
    return Uint8Array.from([
      131,
      108,
      (n >>> 24) & 255,
      (n >>> 16) & 255,
      (n >>> 8) & 255,
      n & 255,
      ...parts.flat(),
      106
    ])
  }

  it("a term with new atoms past the cap is refused; the table stops at the cap; known atoms still decode", () => {
    const limit = Term.Atom.count + 5
    const e = err(atomList(fresh(10)), { maxAtoms: limit })
    expect(e.limit).toBe("AtomLimit")
    expect(Term.Atom.count).toBeLessThanOrEqual(limit)
    // atoms that exist need no room
    expect(ok(atomList(["ok", "error", "true"]), { maxAtoms: 0 })).toEqual([a("ok"), a("error"), a("true")])
    // below the cap they are made
    expect((ok(atomList(fresh(3)), { maxAtoms: Term.Atom.count + 3 }) as ReadonlyArray<Term.Term>).length).toBe(3)
  })

  it("local code is not limited (Atom.make), its atoms count toward the table", () => {
    const before = Term.Atom.count
    const name = fresh(1)[0]!
    expect(Term.Atom.makeWithin(name, before)).toBeUndefined()
    expect(Term.Atom.make(name).name).toBe(name)
    expect(Term.Atom.count).toBe(before + 1)
    expect(Term.Atom.makeWithin(name, 0)).toBe(Term.Atom.make(name))
  })

  it("a frame that would pass the cap is refused as AtomLimit", () => {
    const body = atomList(fresh(4))
    const frame = Uint8Array.from([112, ...Etf.encode(Term.tuple(2, a(""), new Term.Pid(node, 1, 0, 1))), ...body])
    const r = Control.decodeFrame(frame, { maxAtoms: Term.Atom.count + 1 })
    expect(Either.isLeft(r) && r.left.reason).toBe("AtomLimit")
  })
})
