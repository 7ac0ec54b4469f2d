import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as Term from "../src/Term.js"

const { atom, tuple, float, binary, charlist } = Term
const node = atom("a@host")

// one sample per rank, in Erlang's term order
const byRank: ReadonlyArray<Term.Term> = [
  42, // number
  atom("ok"), // atom
  new Term.Ref(node, 1, [1, 2, 3]), // reference
  new Term.Export(atom("lists"), atom("map"), 2), // fun
  new Term.Port(node, 7n, 1), // port
  new Term.Pid(node, 1, 0, 1), // pid
  tuple(atom("a"), 1), // tuple
  Term.map({ a: 1 }), // map
  [], // nil
  [1, 2], // list
  binary("bin") // bitstring
]

describe("Term", () => {
  it("compare follows number < atom < reference < fun < port < pid < tuple < map < nil < list < bitstring", () => {
    for (let i = 0; i < byRank.length; i++) {
      for (let j = 0; j < byRank.length; j++) {
        expect(Term.compare(byRank[i]!, byRank[j]!)).toBe(Math.sign(i - j))
        expect(Term.equals(byRank[i]!, byRank[j]!)).toBe(i === j)
      }
    }
    // a float and a bigint are numbers too; an improper list and a bitstring rank as their kinds
    expect(Term.compare(float(1e300), atom("a"))).toBe(-1)
    expect(Term.compare(2n ** 80n, atom("a"))).toBe(-1)
    expect(Term.compare(new Term.ImproperList([1], 2), [])).toBe(1)
    expect(Term.compare(new Term.Bitstring(new Uint8Array([0x80]), 1), [1])).toBe(1)
  })

  it("atoms compare by text", () => {
    expect(Term.compare(atom("abc"), atom("abd"))).toBe(-1)
    expect(Term.compare(atom("b"), atom("abc"))).toBe(1)
    expect(Term.compare(atom("ab"), atom("abc"))).toBe(-1)
    expect(Term.compare(atom("Z"), atom("a"))).toBe(-1)
    expect(atom("same")).toBe(atom("same"))
  })

  it("pids compare by serial, then id, then node name, then creation", () => {
    const pid = (n: string, id: number, serial: number, creation: number) => new Term.Pid(atom(n), id, serial, creation)
    expect(Term.compare(pid("z@h", 9, 0, 9), pid("a@h", 1, 1, 1))).toBe(-1) // serial first
    expect(Term.compare(pid("z@h", 1, 0, 9), pid("a@h", 2, 0, 1))).toBe(-1) // then id
    expect(Term.compare(pid("a@h", 1, 0, 9), pid("b@h", 1, 0, 1))).toBe(-1) // then node name
    expect(Term.compare(pid("a@h", 1, 0, 1), pid("a@h", 1, 0, 2))).toBe(-1) // then creation
    expect(Term.equals(pid("a@h", 1, 0, 1), pid("a@h", 1, 0, 1))).toBe(true)
    expect(Term.equals(pid("a@h", 1, 0, 1), pid("a@h", 1, 0, 2))).toBe(false)
  })

  it("1 and 1.0 compare equal but are not exactly equal", () => {
    expect(Term.compare(1, float(1))).toBe(0)
    expect(Term.equals(1, float(1))).toBe(false)
    expect(Term.equals(float(1), float(1))).toBe(true)
    expect(Term.equals(1.5, float(1.5))).toBe(true)
    expect(Term.compare(1, 1.5)).toBe(-1)
    expect(Term.compare(2n, 1.5)).toBe(1)
    expect(Term.compare(1n, 1.5)).toBe(-1)
    expect(Term.equals(tuple(1), tuple(float(1)))).toBe(false)
  })

  it("bigint and number are the same integers", () => {
    expect(Term.equals(1, 1n)).toBe(true)
    expect(Term.compare(1n, 1)).toBe(0)
    expect(Term.equals([1, 2n], [1n, 2])).toBe(true)
    expect(Term.compare(2n ** 64n, Number.MAX_SAFE_INTEGER)).toBe(1)
    expect(Term.compare(-(2n ** 64n), -Number.MAX_SAFE_INTEGER)).toBe(-1)
    const m = Term.map([[1n, atom("x")]])
    expect(m.get(1)).toBe(atom("x"))
  })

  it("refs: missing high words count as zero (as in erts)", () => {
    const a = new Term.Ref(node, 1, [2])
    const b = new Term.Ref(node, 1, [2, 0, 0])
    expect(Term.equals(a, b)).toBe(true)
    expect(Term.compare(a, b)).toBe(0)
    expect(Term.map(Array.from({ length: 9 }, (_, i) => [new Term.Ref(node, 1, [i]), i] as const)).get(b)).toBe(2)
    expect(Term.equals(a, new Term.Ref(node, 1, [2, 1]))).toBe(false)
  })

  it("maps look keys up with exact equality", () => {
    const m = Term.map([[1, atom("int")], [float(1), atom("float")], [1.5, atom("x")]])
    expect(m.get(1)).toBe(atom("int"))
    expect(m.get(float(1))).toBe(atom("float"))
    expect(m.get(float(1.5))).toBe(atom("x"))
    // the indexed path (8 entries or more) agrees
    const big = Term.map(Array.from({ length: 10 }, (_, i) => [i + 0.5, i] as const))
    expect(big.get(float(3.5))).toBe(3)
    expect(big.get(3)).toBe(undefined)
  })

  it("prints terms like Erlang", () => {
    expect(Term.format(tuple(atom("echo"), binary("hi")))).toBe(`{echo,<<"hi">>}`)
    expect(Term.format(atom("Quoted atom"))).toBe(`'Quoted atom'`)
    expect(Term.format(atom("it's"))).toBe(`'it\\'s'`)
    expect(Term.format(atom("receive"))).toBe(`'receive'`)
    expect(Term.format(atom("ok@host_1"))).toBe(`ok@host_1`)
    expect(Term.format(new Term.Pid(Term.atoms.nonode, 42, 0, 0))).toBe("<0.42.0>")
    expect(Term.format(float(1))).toBe("1.0")
    expect(Term.format(float(-0))).toBe("-0.0")
    expect(Term.format(float(1e300))).toBe("1.0e300")
    expect(Term.format(float(100000))).toBe("1.0e5")
    expect(Term.format(float(123456))).toBe("123456.0")
    expect(Term.format(0.00012)).toBe("1.2e-4")
    expect(Term.format(0.001)).toBe("0.001")
    expect(Term.format(3.14)).toBe("3.14")
    expect(Term.format(charlist("hello"))).toBe(`"hello"`)
    expect(Term.format([1, 2, 3])).toBe("[1,2,3]")
    expect(Term.format([])).toBe("[]")
    expect(Term.format(Term.map({ a: 1 }))).toBe("#{a => 1}")
    expect(Term.format(Term.map([[atom("a"), 1], [1, 2]]))).toBe("#{1 => 2,a => 1}")
    expect(Term.format(new Term.ImproperList([1, 2], atom("t")))).toBe("[1,2|t]")
    expect(Term.format(new Uint8Array([0, 255]))).toBe("<<0,255>>")
    expect(Term.format(new Term.Bitstring(new Uint8Array([0xff, 0xa0]), 3))).toBe("<<255,5:3>>")
    expect(Term.format(new Term.Export(atom("lists"), atom("map"), 2))).toBe("fun lists:map/2")
    expect(Term.format(2n ** 70n)).toBe("1180591620717411303424")
  })
})

// --- properties -------------------------------------------------------------

const arbAtom = FastCheck.constantFrom("a", "b", "ok", "Zed", "é").map(atom)
const arbPid = FastCheck.tuple(
  FastCheck.constantFrom("a@h", "b@h"),
  FastCheck.nat(3),
  FastCheck.nat(2),
  FastCheck.nat(2)
).map(([n, id, serial, creation]) => new Term.Pid(atom(n), id, serial, creation))
const arbRef = FastCheck.array(FastCheck.nat(3), { minLength: 1, maxLength: 3 }).map((ids) =>
  new Term.Ref(node, 1, ids)
)

/** Terms without floats (so that `equals` and `compare` must agree). */
const { term: arbTerm } = FastCheck.letrec<{ term: Term.Term }>((tie) => ({
  term: FastCheck.oneof(
    { depthSize: "small", withCrossShrink: true },
    FastCheck.integer({ min: -3, max: 3 }),
    FastCheck.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
    arbAtom,
    arbPid,
    arbRef,
    FastCheck.uint8Array({ maxLength: 3 }),
    FastCheck.array(tie("term"), { maxLength: 3 }) as FastCheck.Arbitrary<Term.Term>,
    FastCheck.array(tie("term"), { maxLength: 3 }).map((es) => new Term.Tuple(es)),
    FastCheck.array(FastCheck.tuple(tie("term"), tie("term")), { maxLength: 3 }).map((es) => Term.map(es))
  )
}))

/** Terms with floats (integral ones as `Float`). */
const arbNumber = FastCheck.oneof(
  FastCheck.integer({ min: -3, max: 3 }),
  FastCheck.integer({ min: -3, max: 3 }).map(float),
  FastCheck.double({ noNaN: true, noDefaultInfinity: true, min: -4, max: 4 }).map((d) =>
    Number.isInteger(d) ? float(d) : d
  ),
  FastCheck.bigInt({ min: -5n, max: 5n })
)

describe("Term printing at any size", () => {
  // ~120k arguments to String.fromCharCode/fromCodePoint overflow the stack; these are bigger
  const N = 300_000
  const text = "abc".repeat(N / 3)

  it("format prints a 300 KB printable binary and charlist", () => {
    expect(Term.format(binary(text))).toBe(`<<"${text}">>`)
    expect(Term.format(charlist(text))).toBe(`"${text}"`)
    const bytes = new Uint8Array(N).fill(200) // printable latin-1, not ASCII: a byte list
    expect(Term.format(bytes).length).toBe(2 + N * 4 - 1 + 2)
  })

  it("toText decodes a 300k-character charlist, with astral code points", () => {
    expect(Term.toText(charlist(text))).toBe(text)
    const astral = Array.from({ length: N }, () => 0x1f600)
    expect(Term.toText(astral)).toBe("\u{1f600}".repeat(N))
    expect(Term.toText(binary(text))).toBe(text)
  })

  it("TermMap.get finds a 300 KB binary key, and map() of many keys keeps the last value", () => {
    const big = binary(text)
    const m = Term.map([...Array.from({ length: 20 }, (_, i) => [i, i] as const), [big, atom("found")]])
    expect(m.get(binary(text))).toBe(atom("found"))
    expect(m.get(binary(text + "d"))).toBeUndefined()
    const many = Term.map([
      ...Array.from({ length: 100_000 }, (_, i) => [tuple(atom("k"), i), i] as const),
      [tuple(atom("k"), 7), atom("last")]
    ])
    expect(many.size).toBe(100_000)
    expect(many.get(tuple(atom("k"), 7))).toBe(atom("last"))
    expect(many.entries[7]![1]).toBe(atom("last"))
  })
})

describe("Term properties", () => {
  it.prop("compare is antisymmetric and reflexive", [arbTerm, arbTerm], ([a, b]) => {
    expect(Term.compare(a, a)).toBe(0)
    expect(Term.compare(a, b)).toBe(-Term.compare(b, a) || 0)
  })

  it.prop("compare is transitive", [arbTerm, arbTerm, arbTerm], ([a, b, c]) => {
    const sorted = [a, b, c].sort(Term.compare)
    expect(Term.compare(sorted[0]!, sorted[1]!)).toBeLessThanOrEqual(0)
    expect(Term.compare(sorted[1]!, sorted[2]!)).toBeLessThanOrEqual(0)
    expect(Term.compare(sorted[0]!, sorted[2]!)).toBeLessThanOrEqual(0)
  })

  it.prop("equals agrees with compare when there are no floats", [arbTerm, arbTerm], ([a, b]) => {
    expect(Term.equals(a, b)).toBe(Term.compare(a, b) === 0)
    expect(Term.equals(a, b)).toBe(Term.equals(b, a))
  })

  it.prop("numbers: equals implies compare 0; compare is antisymmetric", [arbNumber, arbNumber], ([a, b]) => {
    if (Term.equals(a, b)) expect(Term.compare(a, b)).toBe(0)
    expect(Term.compare(a, b)).toBe(-Term.compare(b, a) || 0)
  })
})
