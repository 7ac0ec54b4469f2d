import * as Term from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import { deflateSync } from "node:zlib"
import * as Etf from "../src/Etf.js"
import { atomArb, floatArb, integerArb, messageArb, termArb } from "./helpers/arbitraries.js"

const a = Term.atom
const bytes = (...xs: Array<number>) => Uint8Array.from(xs)
const ok = (b: Uint8Array): Term.Term => Either.getOrThrow(Etf.decode(b))
const err = (b: Uint8Array, options?: Etf.DecodeOptions): Etf.DecodeError => {
  const r = Etf.decode(b, options)
  if (Either.isRight(r)) throw new Error(`expected a DecodeError, got ${Term.format(r.right)}`)
  expect(r.left).toBeInstanceOf(Etf.DecodeError)
  expect(r.left._tag).toBe("DecodeError")
  return r.left
}
const enc = (t: Term.Term) => Array.from(Etf.encode(t))
const same = (x: Term.Term, y: Term.Term) => {
  if (!Term.equals(x, y)) throw new Error(`${Term.format(x)} =/= ${Term.format(y)}`)
}
const atomBytes = (name: string) => [119, name.length, ...Array.from(name, (c) => c.charCodeAt(0))]

describe("Etf encode: tags as term_to_binary(T, [{minor_version, 2}])", () => {
  it("integers", () => {
    expect(enc(0)).toEqual([131, 97, 0])
    expect(enc(255)).toEqual([131, 97, 255])
    expect(enc(256)).toEqual([131, 98, 0, 0, 1, 0])
    expect(enc(-1)).toEqual([131, 98, 255, 255, 255, 255])
    expect(enc(-0)).toEqual([131, 97, 0])
    expect(enc(2 ** 31 - 1)).toEqual([131, 98, 127, 255, 255, 255])
    expect(enc(-(2 ** 31))).toEqual([131, 98, 128, 0, 0, 0])
    expect(enc(2 ** 31)).toEqual([131, 110, 4, 0, 0, 0, 0, 128])
    expect(enc(-(2 ** 31) - 1)).toEqual([131, 110, 4, 1, 1, 0, 0, 128])
    expect(enc(2n ** 64n)).toEqual([131, 110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    expect(enc(5n)).toEqual([131, 97, 5])
    expect(enc(Number.MAX_SAFE_INTEGER)).toEqual([131, 110, 7, 0, 255, 255, 255, 255, 255, 255, 31])
    // 256 digit bytes: LARGE_BIG
    const big = enc(1n << 2040n)
    expect(big.slice(0, 7)).toEqual([131, 111, 0, 0, 1, 0, 0])
    expect(big.length).toBe(7 + 256)
  })

  it("floats", () => {
    expect(enc(1.5)).toEqual([131, 70, 63, 248, 0, 0, 0, 0, 0, 0])
    expect(enc(Term.float(1))).toEqual([131, 70, 63, 240, 0, 0, 0, 0, 0, 0])
    expect(enc(Term.float(-0))).toEqual([131, 70, 128, 0, 0, 0, 0, 0, 0, 0])
  })

  it("atoms: SMALL_ATOM_UTF8, ATOM_UTF8 over 255 bytes", () => {
    expect(enc(a("ok"))).toEqual([131, 119, 2, 111, 107])
    expect(enc(a("ä"))).toEqual([131, 119, 2, 0xc3, 0xa4])
    const long = enc(a("ä".repeat(200)))
    expect(long.slice(0, 4)).toEqual([131, 118, 1, 144])
    expect(long.length).toBe(4 + 400)
  })

  it("tuples, lists, strings, maps", () => {
    expect(enc(Term.tuple())).toEqual([131, 104, 0])
    expect(enc(new Term.Tuple(new Array(256).fill(0))).slice(0, 6)).toEqual([131, 105, 0, 0, 1, 0])
    expect(enc([])).toEqual([131, 106])
    expect(enc([1, 2, 3])).toEqual([131, 107, 0, 3, 1, 2, 3])
    expect(enc([1, 256])).toEqual([131, 108, 0, 0, 0, 2, 97, 1, 98, 0, 0, 1, 0, 106])
    expect(enc([a("x")])).toEqual([131, 108, 0, 0, 0, 1, ...atomBytes("x"), 106])
    expect(enc(new Term.ImproperList([1, 2], 3))).toEqual([131, 108, 0, 0, 0, 2, 97, 1, 97, 2, 97, 3])
    // a list of 65536 bytes is a LIST_EXT, not a STRING_EXT
    expect(enc(new Array(65535).fill(1))[1]).toBe(107)
    expect(enc(new Array(65536).fill(1))[1]).toBe(108)
    expect(enc(Term.map([[a("a"), 2], [a("b"), 1]]))).toEqual([
      131,
      116,
      0,
      0,
      0,
      2,
      ...atomBytes("a"),
      97,
      2,
      ...atomBytes("b"),
      97,
      1
    ])
  })

  it("binaries and bitstrings (unused bits are written as zero)", () => {
    expect(enc(bytes(1, 2))).toEqual([131, 109, 0, 0, 0, 2, 1, 2])
    expect(enc(new Term.Bitstring(bytes(0xff), 3))).toEqual([131, 77, 0, 0, 0, 1, 3, 0xe0])
    expect(enc(new Term.Bitstring(bytes(0xff), 8))).toEqual([131, 109, 0, 0, 0, 1, 0xff])
  })

  it("pids, refs, ports, exports, funs", () => {
    const node = a("a@b")
    expect(enc(new Term.Pid(node, 1, 2, 3))).toEqual([131, 88, ...atomBytes("a@b"), 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3])
    expect(enc(new Term.Ref(node, 3, [1, 2, 3]))).toEqual([
      131,
      90,
      0,
      3,
      ...atomBytes("a@b"),
      0,
      0,
      0,
      3,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      2,
      0,
      0,
      0,
      3
    ])
    expect(enc(new Term.Port(node, 5n, 1))).toEqual([131, 89, ...atomBytes("a@b"), 0, 0, 0, 5, 0, 0, 0, 1])
    expect(enc(new Term.Port(node, 1n << 32n, 1))).toEqual([
      131,
      120,
      ...atomBytes("a@b"),
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      1
    ])
    expect(enc(new Term.Export(a("lists"), a("map"), 2))).toEqual([
      131,
      113,
      ...atomBytes("lists"),
      ...atomBytes("map"),
      97,
      2
    ])
  })

  it("rejects JS values that are not terms, with an EncodeError", () => {
    const bad: Array<unknown> = [
      undefined,
      null,
      NaN,
      Infinity,
      -Infinity,
      2 ** 60,
      "text",
      true,
      () => 1,
      Symbol("s"),
      {},
      { _tag: "Atom", name: "fake" },
      new Map(),
      new Int8Array(2),
      Term.float(NaN),
      [1, undefined],
      Term.tuple(a("ok"), {} as Term.Term),
      new Term.Pid(a("n"), -1, 0, 0),
      new Term.Ref(a("n"), 0, []),
      new Term.Export(a("m"), a("f"), 256),
      new Term.Bitstring(bytes(1), 9),
      a("x".repeat(256))
    ]
    for (const u of bad) {
      expect(() => Etf.encode(u as Term.Term)).toThrow(Etf.EncodeError)
      const r = Etf.encodeEither(u as Term.Term)
      expect(Either.isLeft(r) && r.left._tag === "EncodeError").toBe(true)
    }
    const cyclic: Array<Term.Term> = []
    cyclic.push(cyclic)
    expect(() => Etf.encode(cyclic)).toThrow(Etf.EncodeError)
    // still usable afterwards
    expect(enc(1)).toEqual([131, 97, 1])
  })

  it("Writer: several terms back to back, nothing written on error", () => {
    const w = new Etf.Writer(16)
    w.u32(0)
    Etf.encodeInto(w, Term.tuple(2, a(""), new Term.Pid(a("n@h"), 1, 0, 0)))
    const mid = w.length
    expect(() => Etf.encodeInto(w, [1, undefined as unknown as Term.Term])).toThrow(Etf.EncodeError)
    expect(w.length).toBe(mid)
    Etf.encodeInto(w, Term.binary("x".repeat(1000)))
    Etf.encodeInto(w, a("after_header"), { versionByte: false })
    w.putU32(0, w.length - 4)
    const frame = w.toUint8Array()
    expect((frame[0]! << 24) | (frame[1]! << 16) | (frame[2]! << 8) | frame[3]!).toBe(frame.length - 4)
    const first = Etf.decodeAt(frame, 4)
    same(first.term, Term.tuple(2, a(""), new Term.Pid(a("n@h"), 1, 0, 0)))
    const second = Etf.decodeAt(frame, first.end)
    same(second.term, Term.binary("x".repeat(1000)))
    const third = Etf.decodeAt(frame, second.end, { versionByte: false })
    same(third.term, a("after_header"))
    expect(third.end).toBe(frame.length)
    w.reset()
    expect(w.length).toBe(0)
  })
})

describe("Etf decode", () => {
  it("integers: number in the safe range, bigint beyond", () => {
    expect(ok(bytes(131, 97, 200))).toBe(200)
    expect(ok(bytes(131, 98, 255, 255, 255, 254))).toBe(-2)
    expect(ok(bytes(131, 110, 1, 1, 0))).toBe(0) // negative zero big
    expect(ok(bytes(131, 110, 8, 0, 255, 255, 255, 255, 255, 255, 31, 0))).toBe(Number.MAX_SAFE_INTEGER)
    expect(ok(bytes(131, 110, 7, 0, 0, 0, 0, 0, 0, 0, 32))).toBe(2n ** 53n)
    expect(ok(bytes(131, 110, 7, 1, 0, 0, 0, 0, 0, 0, 32))).toBe(-(2n ** 53n))
    expect(ok(bytes(131, 111, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1))).toBe(2n ** 64n)
  })

  it("floats: integral ones as Float, others as number; old FLOAT_EXT", () => {
    const one = ok(bytes(131, 70, 63, 240, 0, 0, 0, 0, 0, 0))
    expect(one).toBeInstanceOf(Term.Float)
    expect((one as Term.Float).value).toBe(1)
    const negZero = ok(bytes(131, 70, 128, 0, 0, 0, 0, 0, 0, 0)) as Term.Float
    expect(Object.is(negZero.value, -0)).toBe(true)
    expect(ok(bytes(131, 70, 63, 248, 0, 0, 0, 0, 0, 0))).toBe(1.5)
    const old = new TextEncoder().encode("1.50000000000000000000e+00".padEnd(31, "\0"))
    expect(ok(bytes(131, 99, ...old))).toBe(1.5)
    // NaN and infinity do not exist in Erlang
    expect(err(bytes(131, 70, 127, 240, 0, 0, 0, 0, 0, 0)).reason).toMatch(/finite/)
    expect(err(bytes(131, 99, ...new TextEncoder().encode("nan".padEnd(31, "\0")))).offset).toBe(1)
  })

  it("atoms: UTF-8 and Latin-1, small and large", () => {
    expect(ok(bytes(131, 119, 2, 111, 107))).toBe(a("ok"))
    expect(ok(bytes(131, 118, 0, 2, 111, 107))).toBe(a("ok"))
    expect(ok(bytes(131, 100, 0, 2, 111, 107))).toBe(a("ok"))
    expect(ok(bytes(131, 115, 2, 111, 107))).toBe(a("ok"))
    expect(ok(bytes(131, 100, 0, 1, 228))).toBe(a("ä"))
    expect(ok(bytes(131, 115, 1, 228))).toBe(a("ä"))
    expect(ok(bytes(131, 119, 2, 0xc3, 0xa4))).toBe(a("ä"))
    expect(err(bytes(131, 119, 1, 0xc3)).reason).toMatch(/UTF-8/)
    // 256 characters is too many
    expect(err(bytes(131, 118, 1, 0, ...new Array(256).fill(97))).reason).toMatch(/255/)
    expect(err(bytes(131, 100, 1, 0, ...new Array(256).fill(97))).reason).toMatch(/255/)
    expect(ok(bytes(131, 118, 1, 144, ...new Array(200).fill([0xc3, 0xa4]).flat()))).toBe(a("ä".repeat(200)))
    // the atom cache hook
    expect(
      Etf.decodeAt(bytes(82, 3), 0, { versionByte: false, atomCache: [undefined, undefined, undefined, a("cached")] })
        .term
    ).toBe(
      a("cached")
    )
    expect(err(bytes(131, 82, 0)).reason).toMatch(/ATOM_CACHE_REF/)
  })

  it("lists: STRING_EXT is a charlist, LIST_EXT proper and improper, non-canonical tails are flattened", () => {
    same(ok(bytes(131, 107, 0, 3, 1, 2, 3)), [1, 2, 3])
    same(ok(bytes(131, 107, 0, 0)), [])
    same(ok(bytes(131, 108, 0, 0, 0, 2, 97, 1, 97, 2, 97, 3)), new Term.ImproperList([1, 2], 3))
    same(ok(bytes(131, 108, 0, 0, 0, 1, 97, 1, 107, 0, 2, 2, 3)), [1, 2, 3])
    same(ok(bytes(131, 108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 97, 3)), new Term.ImproperList([1, 2], 3))
    // an empty LIST_EXT is its tail (as binary_to_term)
    expect(ok(bytes(131, 108, 0, 0, 0, 0, 97, 5))).toBe(5)
  })

  it("binaries and bitstrings", () => {
    same(ok(bytes(131, 109, 0, 0, 0, 2, 1, 2)), bytes(1, 2))
    same(ok(bytes(131, 77, 0, 0, 0, 1, 3, 255)), new Term.Bitstring(bytes(0xe0), 3)) // masked like erts
    same(ok(bytes(131, 77, 0, 0, 0, 1, 8, 255)), bytes(255))
    same(ok(bytes(131, 77, 0, 0, 0, 0, 0)), bytes())
    expect(err(bytes(131, 77, 0, 0, 0, 1, 0, 1)).reason).toMatch(/bits/)
    expect(err(bytes(131, 77, 0, 0, 0, 1, 9, 1)).reason).toMatch(/bits/)
  })

  it("binaries are copies by default, views with copyBinaries: false", () => {
    const input = bytes(131, 109, 0, 0, 0, 100, ...new Array(100).fill(7))
    const copy = ok(input) as Uint8Array
    const view = Either.getOrThrow(Etf.decode(input, { copyBinaries: false })) as Uint8Array
    input[10] = 9
    expect(copy[4]).toBe(7)
    expect(view[4]).toBe(9)
  })

  it("small binaries are copies whatever the input's type and however many a term holds", () => {
    // a list of 20 binaries of each size 1..80 (the first few of a term are copied another way than the rest)
    const sizes = Array.from({ length: 80 }, (_, i) => i + 1)
    for (const size of sizes) {
      const list = Array.from({ length: 20 }, (_, i) => new Uint8Array(size).fill(i + 1))
      const encoded = Etf.encode(list)
      for (const input of [new Uint8Array(encoded), Buffer.from(encoded)]) {
        const decoded = ok(input) as ReadonlyArray<Uint8Array>
        input.fill(0, 1)
        decoded.forEach((b, i) => {
          expect(b.length).toBe(size)
          expect(b.every((x) => x === i + 1)).toBe(true)
        })
      }
    }
  })

  it("maps: any keys, duplicate keys are rejected", () => {
    const m = ok(bytes(131, 116, 0, 0, 0, 2, 104, 1, 97, 1, 97, 2, 116, 0, 0, 0, 0, 97, 3)) as Term.TermMap
    expect(m.get(Term.tuple(1))).toBe(2)
    expect(m.get(Term.map([]))).toBe(3)
    expect(err(bytes(131, 116, 0, 0, 0, 2, 97, 1, 97, 1, 97, 1, 97, 2)).reason).toMatch(/duplicate/)
    // 1 and 1.0 are different keys
    expect(Etf.decode(bytes(131, 116, 0, 0, 0, 2, 97, 1, 97, 1, 70, 63, 240, 0, 0, 0, 0, 0, 0, 97, 2))._tag).toBe(
      "Right"
    )
    // a large map with a duplicate far apart
    const many = Term.map(Array.from({ length: 100 }, (_, i) => [Term.binary(`k${i}`), i] as const))
    const encoded = Etf.encode(new Term.TermMap([...many.entries, [Term.binary("k50"), 0]]))
    expect(err(encoded).reason).toMatch(/duplicate/)
  })

  it("old pid, port and reference forms", () => {
    const node = atomBytes("a@b")
    same(ok(bytes(131, 103, ...node, 0, 0, 0, 1, 0, 0, 0, 2, 3)), new Term.Pid(a("a@b"), 1, 2, 3))
    same(ok(bytes(131, 102, ...node, 0, 0, 0, 7, 3)), new Term.Port(a("a@b"), 7n, 3))
    same(ok(bytes(131, 101, ...node, 0, 0, 0, 7, 3)), new Term.Ref(a("a@b"), 3, [7]))
    same(ok(bytes(131, 114, 0, 2, ...node, 3, 0, 0, 0, 7, 0, 0, 0, 8)), new Term.Ref(a("a@b"), 3, [7, 8]))
    expect(err(bytes(131, 90, 0, 6, ...node, 0, 0, 0, 0)).reason).toMatch(/id words/)
    expect(err(bytes(131, 88, 97, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)).reason).toMatch(/expected an atom/)
  })

  it("compressed terms (top level only), with a size limit", () => {
    const inner = Etf.encode(Term.binary("x".repeat(5000))).subarray(1)
    const z = deflateSync(inner)
    const c = bytes(
      131,
      80,
      (inner.length >>> 24) & 255,
      (inner.length >>> 16) & 255,
      (inner.length >>> 8) & 255,
      inner.length & 255,
      ...z
    )
    same(ok(c), Term.binary("x".repeat(5000)))
    expect(err(c, { maxUncompressedSize: 1000 }).reason).toMatch(/limit/)
    // a declared size that is too small or too large
    const lying = Uint8Array.from(c)
    lying[5] = lying[5]! - 1
    expect(err(lying).offset).toBe(1)
    lying[5] = lying[5]! + 2
    expect(err(lying).reason).toMatch(/inflates/)
    expect(err(bytes(131, 80, 0, 0, 0, 10, 1, 2, 3)).reason).toMatch(/zlib/)
    expect(err(bytes(131, 104, 1, 80, 0, 0, 0, 1, 0)).reason).toMatch(/compressed/)
  })

  it("errors: bad version, truncation, bad tags, trailing bytes, with offsets", () => {
    expect(err(bytes()).offset).toBe(0)
    expect(err(bytes(130, 97, 1)).reason).toMatch(/131/)
    expect(err(bytes(131)).reason).toMatch(/truncated/)
    expect(err(bytes(131, 98, 0, 0)).offset).toBe(2)
    expect(err(bytes(131, 104, 2, 97, 1)).offset).toBe(5)
    expect(err(bytes(131, 104, 3, 97, 1)).offset).toBe(1) // arity larger than the rest
    expect(err(bytes(131, 200)).reason).toMatch(/unknown tag 200/)
    expect(err(bytes(131, 117)).reason).toMatch(/FUN_EXT/)
    expect(err(bytes(131, 121)).reason).toMatch(/LOCAL_EXT/)
    const trailing = err(bytes(131, 97, 1, 0))
    expect(trailing.offset).toBe(3)
    expect(trailing.message).toMatch(/offset 3: 1 trailing bytes/)
    expect(() => Etf.decodeAt(bytes(131, 97), 0)).toThrow(Etf.DecodeError)
    expect(() => Etf.decodeUnsafe(bytes(131, 97, 1, 2))).toThrow(Etf.DecodeError)
    expect(() => Etf.decodeAt(bytes(131, 97, 1), 7)).toThrow(Etf.DecodeError)
  })

  it("huge lengths in small inputs fail at once, before allocating", () => {
    for (const tag of [105, 108, 116, 109, 77, 111]) {
      const e = err(bytes(131, tag, 255, 255, 255, 255, 0))
      expect(e.offset).toBeLessThanOrEqual(6)
    }
    expect(err(bytes(131, 107, 255, 255, 1)).reason).toMatch(/truncated/)
    expect(err(bytes(131, 112, 255, 255, 255, 255, 0)).reason).toMatch(/NEW_FUN_EXT/)
  })

  it("nesting is capped by maxDepth, deep input cannot overflow the stack", () => {
    const repeat = (prefix: Array<number>, unit: Array<number>, n: number, suffix: Array<number>) => {
      const out = new Uint8Array(prefix.length + unit.length * n + suffix.length)
      out.set(prefix)
      for (let i = 0; i < n; i++) out.set(unit, prefix.length + i * unit.length)
      out.set(suffix, prefix.length + unit.length * n)
      return out
    }
    const nest = (depth: number) => repeat([131], [104, 1], depth, [106])
    same(ok(nest(1000)), Array.from({ length: 1000 }).reduce<Term.Term>((t) => Term.tuple(t), []))
    expect(err(nest(1001)).reason).toMatch(/maxDepth/)
    expect(Etf.decode(nest(1001), { maxDepth: 2000 })._tag).toBe("Right")
    const deep = err(nest(500_000), { maxDepth: Number.MAX_SAFE_INTEGER })
    expect(deep.reason).toMatch(/deep/)
    const lists = repeat([131], [108, 0, 0, 0, 1], 100_000, [106])
    expect(err(lists).reason).toMatch(/maxDepth/)
  })

  it("NEW_FUN_EXT is kept opaque and re-encoded byte for byte", () => {
    const module = atomBytes("erl_eval")
    const pid = [88, ...atomBytes("n@h"), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    const body = [1, ...new Array(16).fill(9), 0, 0, 0, 4, 0, 0, 0, 1, ...module, 97, 4, 98, 0, 0, 0, 5, ...pid, 97, 42]
    const size = body.length + 4
    const input = bytes(131, 112, 0, 0, 0, size, ...body)
    const fun = ok(input) as Term.Fun
    expect(fun).toBeInstanceOf(Term.Fun)
    expect(fun.module).toBe(a("erl_eval"))
    expect(fun.arity).toBe(1)
    expect(fun.index).toBe(4)
    expect(Array.from(Etf.encode(fun))).toEqual(Array.from(input))
    // a size that does not match the contents
    const bad = Uint8Array.from(input)
    bad[5] = size + 1
    expect(Etf.decode(bytes(...bad, 0))._tag).toBe("Left")
  })

  it.prop("decode(encode(t)) equals t", [termArb(4)], ([t]) => {
    same(ok(Etf.encode(t)), t)
  }, { fastCheck: { numRuns: 500 } })

  it.prop("decode → encode is byte-identical for what we encode", [messageArb], ([t]) => {
    const b = Etf.encode(t)
    expect(Etf.encode(ok(b))).toEqual(b)
  }, { fastCheck: { numRuns: 300 } })

  it.prop("scalars round-trip", [atomArb, integerArb, floatArb], ([x, y, z]) => {
    same(ok(Etf.encode(x)), x)
    same(ok(Etf.encode(y)), y)
    same(ok(Etf.encode(z)), z)
  })

  it.prop("several terms back to back in one Writer", [termArb(3), termArb(3)], ([x, y]) => {
    const w = new Etf.Writer(8)
    Etf.encodeInto(w, x)
    Etf.encodeInto(w, y, { versionByte: false })
    const b = w.view()
    const first = Etf.decodeAt(b, 0)
    const second = Etf.decodeAt(b, first.end, { versionByte: false })
    same(first.term, x)
    same(second.term, y)
    expect(second.end).toBe(b.length)
  }, { fastCheck: { numRuns: 200 } })
})
