import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Term from "../src/Term.js"
import { consult, fromJs, parse, t, TermSyntaxError, unsafeParse } from "../src/TermLiteral.js"

const { atom, tuple } = Term
const eq = (a: Term.Term, b: Term.Term) =>
  expect(Term.equals(a, b), `${Term.format(a)} =:= ${Term.format(b)}`).toBe(true)
const err = (text: string): TermSyntaxError => {
  const r = parse(text)
  if (Either.isRight(r)) throw new Error(`expected a syntax error for ${text}, got ${Term.format(r.right)}`)
  return r.left
}

describe("TermLiteral", () => {
  it("atoms", () => {
    expect(t`ok`).toBe(atom("ok"))
    expect(t`'Hello World'`).toBe(atom("Hello World"))
    expect(t`bob@box`).toBe(atom("bob@box"))
    expect(t`'bob@box'`).toBe(atom("bob@box"))
    expect(t`'it\'s'`).toBe(atom("it's"))
    expect(t`true`).toBe(Term.atoms.true)
    expect(t`a_B9`).toBe(atom("a_B9"))
  })

  it("integers", () => {
    expect(t`42`).toBe(42)
    expect(t`-7`).toBe(-7)
    expect(t`- 7`).toBe(-7)
    expect(t`+7`).toBe(7)
    expect(t`1_000_000`).toBe(1000000)
    expect(t`16#ff`).toBe(255)
    expect(t`16#FF`).toBe(255)
    expect(t`-16#10`).toBe(-16)
    expect(t`2#1010`).toBe(10)
    expect(t`36#zz`).toBe(36 * 36 - 1)
    expect(t`$a`).toBe(97)
    expect(t`$\n`).toBe(10)
    expect(t`$\s`).toBe(32)
    expect(t`$\x{1F600}`).toBe(0x1f600)
    expect(t`$\101`).toBe(65)
    expect(t`$\^A`).toBe(1)
    expect(t`$é`).toBe(233)
    expect(t`9007199254740993`).toBe(9007199254740993n)
    expect(t`-123456789012345678901234567890`).toBe(-123456789012345678901234567890n)
    expect(t`9007199254740991`).toBe(9007199254740991)
  })

  it("floats: integral values stay floats", () => {
    const one = t`1.0`
    expect(one).toBeInstanceOf(Term.Float)
    expect(Term.format(one)).toBe("1.0")
    expect(t`2.5`).toBe(2.5)
    expect(t`-2.5e-3`).toBe(-0.0025)
    expect(Term.format(t`1.0e300`)).toBe("1.0e300")
    expect(Term.format(t`-0.0`)).toBe("-0.0")
    expect(Term.isFloat(t`3.0E2`)).toBe(true)
    // `1.` is not a float: the dot is not followed by a digit
    expect(err("1.").reason).toMatch(/unexpected character/)
  })

  it("strings are charlists; escapes; adjacent strings concatenate", () => {
    eq(t`"hi"`, [104, 105])
    eq(t`""`, [])
    eq(t`"a\nb"`, [97, 10, 98])
    eq(t`"say \"hi\""`, Term.charlist("say \"hi\""))
    eq(t`"ab" "cd"`, Term.charlist("abcd"))
    eq(t`"\x41\x{263A}"`, [65, 0x263a])
    expect(Term.format(t`"hello from alice!"`)).toBe("\"hello from alice!\"")
  })

  it("binaries", () => {
    eq(t`<<>>`, new Uint8Array())
    eq(t`<<"hi">>`, Term.binary("hi"))
    eq(t`<<1,2,3>>`, Uint8Array.of(1, 2, 3))
    eq(t`<<"a", 0, "b">>`, Uint8Array.of(97, 0, 98))
    eq(t`<<256>>`, Uint8Array.of(0)) // truncated to 8 bits, as Erlang does
    eq(t`<<-1>>`, Uint8Array.of(255))
    eq(t`<<256:16>>`, Uint8Array.of(1, 0))
    eq(t`<<256:16/little>>`, Uint8Array.of(0, 1))
    eq(t`<<"é"/utf8>>`, Uint8Array.of(0xc3, 0xa9))
    eq(t`<<"é">>`, Uint8Array.of(0xe9))
    eq(t`<<$a/utf16>>`, Uint8Array.of(0, 97))
    eq(t`<<1.5/float>>`, Uint8Array.of(0x3f, 0xf8, 0, 0, 0, 0, 0, 0))
    eq(t`<<16#ABCD:16/big-unsigned>>`, Uint8Array.of(0xab, 0xcd))
    const bits = t`<<1:1>>`
    expect(bits).toBeInstanceOf(Term.Bitstring)
    expect(Term.format(bits)).toBe("<<1:1>>")
    eq(t`<<5:3, 1:5>>`, Uint8Array.of(0b10100001))
    expect(err("<<1.5>>").reason).toMatch(/float/)
    expect(err("<<x>>").reason).toMatch(/binary segment/)
    expect(err("<<1/foo>>").reason).toMatch(/unknown type specifier/)
  })

  it("tuples, lists, improper lists, maps, funs", () => {
    eq(t`{}`, tuple())
    eq(t`{echo, <<"hi">>, [1,2,3]}`, tuple(atom("echo"), Term.binary("hi"), [1, 2, 3]))
    eq(t`[]`, [])
    eq(t`[a | b]`, new Term.ImproperList([atom("a")], atom("b")))
    eq(t`[a, b | [c]]`, [atom("a"), atom("b"), atom("c")])
    eq(t`[1, 2 | 3]`, new Term.ImproperList([1, 2], 3))
    const m = t`#{a => 1, "k" => {x}, a => 2}`
    expect(m).toBeInstanceOf(Term.TermMap)
    expect((m as Term.TermMap).size).toBe(2)
    eq((m as Term.TermMap).get(atom("a"))!, 2)
    eq((m as Term.TermMap).get(Term.charlist("k"))!, tuple(atom("x")))
    eq(t`#{}`, Term.map([]))
    eq(t`fun lists:map/2`, new Term.Export(atom("lists"), atom("map"), 2))
    eq(
      t`{a, % a comment
      b}`,
      tuple(atom("a"), atom("b"))
    )
  })

  it("${} interpolation of terms and JS values", () => {
    const pid = new Term.Pid(atom("alice@box"), 85, 0, 1)
    const msg = t`{${pid}, "hello from alice!"}`
    expect(Term.isTuple(msg)).toBe(true)
    expect((msg as Term.Tuple).at(0)).toBe(pid)
    eq(
      t`{${"text"}, ${42}, ${true}, ${null}, ${[1, "x"]}}`,
      tuple(Term.binary("text"), 42, Term.atoms.true, Term.atoms.undefined, [1, Term.binary("x")])
    )
    eq(t`${{ a: 1 }}`, Term.map([[atom("a"), 1]]))
    eq(t`#{${atom("k")} => ${1.5}}`, Term.map([[atom("k"), 1.5]]))
    eq(t`[${1} | ${[2]}]`, [1, 2])
    eq(t`<<${"é"}, ${Uint8Array.of(1, 2)}, ${3}>>`, Uint8Array.of(0xe9, 1, 2, 3))
    eq(t`<<${"é"}/utf8>>`, Uint8Array.of(0xc3, 0xa9))
    eq(t`${10n}`, 10)
    expect(() => t`{${() => 1}}`).toThrow(/\$\{\} #1: not a term: a function/)
    expect(() => t`{${undefined}}`).toThrow(/not a term/)
    expect(() => t`{${new Date()}}`).toThrow(/not a term/)
    expect(() => fromJs(NaN)).toThrow(/not a term/)
  })

  it("clear syntax errors with offsets", () => {
    const e = err("{a, b")
    expect(e).toBeInstanceOf(TermSyntaxError)
    expect(e.message).toBe("term syntax error at 5: expected '}', got the end")
    expect(err("{a b}").message).toMatch(/at 3: expected '}', got atom b/)
    expect(err("X").reason).toMatch(/variables are not supported \(X\)/)
    expect(err("\"abc").reason).toMatch(/unterminated string/)
    expect(err("'abc").reason).toMatch(/unterminated quoted atom/)
    expect(err("a b").reason).toMatch(/unexpected atom b after the term/)
    expect(err("").reason).toMatch(/expected a term, got the end/)
    expect(err("#{a}").reason).toMatch(/expected '=>'/)
    expect(err("1#0").reason).toMatch(/bad base/)
    expect(err("16#").reason).toMatch(/base-16 digits/)
    expect(err(`'${"a".repeat(256)}'`).reason).toMatch(/atom too long/)
    expect(err("a = b").reason).toMatch(/unexpected character "="/)
    expect(() => unsafeParse("{")).toThrow(TermSyntaxError)
  })

  it.prop("format then parse gives the term back (atoms, integers, strings, binaries, tuples, lists)", [
    FastCheck.letrec<{ term: Term.Term }>((tie) => ({
      term: FastCheck.oneof(
        { depthSize: "small", withCrossShrink: true },
        FastCheck.string({ minLength: 0, maxLength: 10 }).map((s) => atom(s)),
        FastCheck.integer().map((n): Term.Term => n),
        FastCheck.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map((n): Term.Term => fromJs(n)),
        FastCheck.double({ noNaN: true, noDefaultInfinity: true }).map((n): Term.Term =>
          Number.isInteger(n) || Object.is(n, -0) ? Term.float(n) : n
        ),
        FastCheck.uint8Array({ maxLength: 8 }).map((b): Term.Term => b),
        FastCheck.array(tie("term"), { maxLength: 4 }).map((xs): Term.Term => new Term.Tuple(xs)),
        FastCheck.array(tie("term"), { maxLength: 4 })
      )
    })).term
  ], ([term]) => {
    const text = Term.format(term)
    const back = unsafeParse(text)
    expect(Term.equals(back, term), `${text} → ${Term.format(back)}`).toBe(true)
  })

  it("reserved words stay atoms in a template (only consult refuses them); latin-1 atoms", () => {
    expect(t`end`).toBe(atom("end"))
    expect(t`{'end', maybe}`).toEqual(tuple(atom("end"), atom("maybe")))
    expect(t`café`).toBe(atom("café"))
    expect(t`ßÀ`).toBe(atom("ßÀ"))
    expect(err("Ångström").reason).toMatch(/variables are not supported/)
    expect(err("{a, os:getenv(\"X\")}").reason).toMatch(/function calls are not allowed/)
    expect(err("f()").reason).toMatch(/function calls are not allowed/)
  })
})

describe("TermLiteral.consult", () => {
  const ok = (input: string | Uint8Array, options?: Parameters<typeof consult>[1]) => {
    const r = consult(input, options)
    if (Either.isLeft(r)) throw new Error(r.left.message)
    return r.right
  }
  const bad = (input: string) => {
    const r = consult(input)
    if (Either.isRight(r)) throw new Error(`expected a syntax error for ${input}`)
    return r.left
  }

  it("reads terms each ending with a dot, with comments", () => {
    const terms = ok(`%% a config
{server, [{certfile, "/a/" "b.pem"}]}.  % trailing
x. 1.
1.5.
'tlsv1.2'.
{fun lists:map/2, <<"a">>, #{a => 1}, [$/, $k | "ey"]}.
maybe.`)
    expect(terms.length).toBe(7)
    eq(terms[0]!, tuple(atom("server"), [tuple(atom("certfile"), Term.charlist("/a/b.pem"))]))
    expect(terms.slice(1, 5)).toEqual([atom("x"), 1, 1.5, atom("tlsv1.2")])
    eq(
      terms[5]!,
      tuple(new Term.Export(atom("lists"), atom("map"), 2), Term.binary("a"), Term.map([[atom("a"), 1]]), [
        47,
        107,
        101,
        121
      ])
    )
    expect(terms[6]).toBe(atom("maybe"))
    expect(ok("")).toEqual([])
    expect(ok("  % only a comment\n")).toEqual([])
  })

  it("refuses what file:consult refuses, with line and column", () => {
    const v = bad("[{server,\n  [{certfile, File}]}].")
    expect(v).toBeInstanceOf(TermSyntaxError)
    expect(v.reason).toMatch(/variables are not allowed \(File\)/)
    expect([v.line, v.column]).toEqual([2, 15])
    expect(bad("[a]").reason).toBe("expected '.' after the term, got the end")
    expect(bad("a.b.").reason).toMatch(/unexpected character "\."/)
    expect(bad("end.").reason).toMatch(/'end' is a reserved word/)
    expect(bad("{a, os:getenv(\"X\")}.").reason).toMatch(/function calls are not allowed/)
    expect(bad("{a, ${0}}.").reason).toMatch(/unexpected character "\$"|expected/)
  })

  it("decodes bytes by the coding comment: utf-8 by default, latin-1 when told", () => {
    const latin1 = Uint8Array.from(Buffer.from(`{a, "caf\xe9"}.`, "latin1"))
    eq(ok(latin1, { encoding: "latin1" })[0]!, tuple(atom("a"), Term.charlist("café")))
    const utf8 = Uint8Array.from(Buffer.from(`{a, "café☺"}.`, "utf8"))
    eq(ok(utf8)[0]!, tuple(atom("a"), Term.charlist("café☺")))
    const tagged = Uint8Array.from(Buffer.from(`%% -*- coding: utf-8 -*-\n{a, "café☺"}.`, "utf8"))
    eq(ok(tagged, { encoding: "latin1" })[0]!, tuple(atom("a"), Term.charlist("café☺")))
    // as erl: a latin-1 coding comment wins over the utf-8 default, so UTF-8 bytes read as two chars
    const declared = Uint8Array.from(Buffer.from(`%% coding: latin-1\n{a, "café"}.`, "utf8"))
    eq(ok(declared)[0]!, tuple(atom("a"), [99, 97, 102, 195, 169]))
  })
})

describe("TermLiteral, hostile input", () => {
  it("nesting deep enough to exhaust the stack is a TermSyntaxError, not a RangeError", () => {
    const deep = "[".repeat(200_000) + "]".repeat(200_000)
    const parsed = parse(deep)
    expect(Either.isLeft(parsed) && parsed.left._tag).toBe("TermSyntaxError")
    const consulted = consult(deep + ".")
    expect(Either.isLeft(consulted) && consulted.left._tag).toBe("TermSyntaxError")
  })
})

describe("TermLiteral, size: linear work and bounded sizes", () => {
  // each input below takes minutes or more with the former bit-by-bit or digit-by-digit code
  it("a binary segment of millions of bits is built in one pass; 24 characters cannot ask for 32 MB", () => {
    const big = unsafeParse("<<-1:1000000/unit:16>>") as Uint8Array
    expect(big.length).toBe(2_000_000)
    expect(big.every((b) => b === 0xff)).toBe(true)
    const little = unsafeParse("<<1:1000000/little-unit:8>>") as Uint8Array
    expect(little.length).toBe(1_000_000)
    expect([little[0], little[1], little[999_999]]).toEqual([1, 0, 0])
    const unaligned = unsafeParse("<<1:1, -1:1000000/unit:8>>") as Term.Bitstring
    expect(unaligned).toBeInstanceOf(Term.Bitstring)
    expect([unaligned.bytes.length, unaligned.bits]).toEqual([1_000_001, 1])
    expect([unaligned.bytes[0], unaligned.bytes[500_000], unaligned.bytes[1_000_000]]).toEqual([0xff, 0xff, 0x80])
    const e = err("<<-1:1000000/unit:256>>")
    expect(e.reason).toMatch(/binary literal too large/)
    expect(e.offset).toBe(2) // the segment
    // the budget is for the whole input, not per segment
    expect(err("[<<0:1000000/unit:72>>, <<0:1000000/unit:72>>]").reason).toMatch(/binary literal too large/)
  })

  it("a map literal of 50k keys (last value of a key wins)", () => {
    const n = 50_000
    const text = `#{${Array.from({ length: n }, (_, i) => `{k,${i}} => ${i}`).join(", ")}, {k,7} => last}`
    const m = unsafeParse(text) as Term.TermMap
    expect(m.size).toBe(n)
    expect(m.get(tuple(atom("k"), 49_999))).toBe(49_999)
    expect(m.get(tuple(atom("k"), 7))).toBe(atom("last"))
  })

  it("base-N integers of hundreds of thousands of digits, bounded at 4 Mbit", () => {
    expect(unsafeParse(`36#${"z".repeat(200_000)}`)).toBe(36n ** 200_000n - 1n)
    expect(unsafeParse(`7#${"6".repeat(300_000)}`)).toBe(7n ** 300_000n - 1n)
    expect(unsafeParse(`32#${"v".repeat(300_000)}`)).toBe(2n ** 1_500_000n - 1n)
    expect(unsafeParse(`2#1${"0".repeat(1_000_000)}`)).toBe(2n ** 1_000_000n)
    expect(unsafeParse(`-16#${"f".repeat(500_000)}`)).toBe(-(16n ** 500_000n - 1n))
    expect(err(`36#${"z".repeat(900_000)}`).reason).toMatch(/integer too large/)
    expect(err(`1${"0".repeat(1_300_000)}`).reason).toMatch(/integer too large/)
  })
})
