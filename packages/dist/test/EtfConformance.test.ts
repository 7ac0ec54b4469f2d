/**
 * Byte-exact conformance against real Erlang: a corpus made by `term_to_binary` in an
 * `erl` process must decode to the expected terms and re-encode to the same bytes; and
 * terms encoded here must be read back by `binary_to_term`.
 */
import * as Term from "@effect-otp/process/Term"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Etf from "../src/Etf.js"
import { erlAvailable, runErl, startErl } from "./helpers/erl.js"

const a = Term.atom
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")
const unhex = (s: string) => Uint8Array.from(Buffer.from(s, "hex"))
const decoded = (b: Uint8Array): Term.Term => {
  const r = Etf.decode(b)
  if (Either.isLeft(r)) throw r.left
  return r.right
}

/** Erlang expressions for the corpus, by name. `Self`, `Ref`, `Port`, ... are bound in the script. */
const corpus: ReadonlyArray<readonly [string, string]> = [
  ["int_0", "0"],
  ["int_255", "255"],
  ["int_256", "256"],
  ["int_m1", "-1"],
  ["int_2p31", "1 bsl 31"],
  ["int_m2p31", "-(1 bsl 31)"],
  ["int_2p31m1", "(1 bsl 31) - 1"],
  ["int_2p53", "1 bsl 53"],
  ["int_2p64", "1 bsl 64"],
  ["int_m2p64", "-(1 bsl 64)"],
  ["big_1000", "list_to_integer(lists:duplicate(1000, $7))"],
  ["big_m1000", "-list_to_integer(lists:duplicate(1000, $9))"],
  ["float_m0", "-0.0"],
  ["float_1", "1.0"],
  ["float_1e300", "1.0e300"],
  ["float_1_5", "1.5"],
  ["float_pi", "math:pi()"],
  ["atom_ok", "ok"],
  ["atom_empty", "''"],
  ["atom_latin1", "list_to_atom([228, 246, 252])"],
  ["atom_unicode255", "list_to_atom(lists:duplicate(255, 16#1F600))"],
  ["atom_mixed", "list_to_atom(\"caf\" ++ [233] ++ [16#65E5, 16#672C])"],
  ["tuple_empty", "{}"],
  ["tuple_300", "list_to_tuple(lists:seq(1, 300))"],
  ["tuple_nested", "{ok, {error, {[], <<>>, {}}}}"],
  ["nil", "[]"],
  ["string", "\"hello world\""],
  ["string_latin1", "[104, 233, 108, 108, 246]"],
  ["string_unicode", "[26085, 26412]"],
  ["string_65535", "lists:duplicate(65535, $a)"],
  ["list_65536_bytes", "lists:duplicate(65536, 1)"],
  ["list_large", "lists:seq(1, 70000)"],
  ["list_atoms", "[alpha, beta, gamma]"],
  ["list_mixed", "[1, -1, 300, a, <<\"b\">>, 2.5, [3]]"],
  ["improper", "[1, 2 | 3]"],
  ["improper_atom", "[a | b]"],
  ["improper_nested", "[[1 | 2], {3} | <<4>>]"],
  ["map_empty", "#{}"],
  ["map_atoms", "#{a => 1, b => 2.5, c => <<\"x\">>}"],
  ["map_keys", "#{{a, 1} => x, #{k => v} => y, 1 => 2, 1.0 => float, <<\"b\">> => [1], [1, 2] => list, self() => pid}"],
  ["map_large", "maps:from_list([{I, I * I} || I <- lists:seq(1, 100)])"],
  ["map_large_bin", "maps:from_list([{integer_to_binary(I), {I}} || I <- lists:seq(1, 40)])"],
  ["binary_empty", "<<>>"],
  ["binary", "<<1, 2, 3, 255>>"],
  ["binary_large", "binary:copy(<<\"abc\">>, 40000)"],
  ["bits_3", "<<5:3>>"],
  ["bits_20", "<<1, 2, 9:4>>"],
  ["pid_self", "self()"],
  ["pid_spawned", "spawn(fun() -> ok end)"],
  [
    "pid_remote",
    "binary_to_term(<<131, 88, 119, 7, \"n@vm123\", 0, 0, 1, 2, 0, 0, 0, 3, 16#EA, 16#BC, 16#DE, 16#F1>>)"
  ],
  ["ref", "make_ref()"],
  ["ref_remote", "binary_to_term(<<131, 90, 0, 3, 119, 3, \"a@b\", 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3>>)"],
  ["port", "hd(erlang:ports())"],
  ["port_v4", "binary_to_term(<<131, 120, 119, 3, \"a@b\", 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1>>)"],
  ["port_remote", "binary_to_term(<<131, 89, 119, 3, \"a@b\", 0, 0, 0, 7, 16#FF, 0, 0, 1>>)"],
  ["export", "fun lists:map/2"],
  ["fun_plain", "fun(X) -> X + 1 end"],
  ["fun_closure", "begin Y = {captured, <<\"env\">>}, fun(X) -> {X, Y} end end"],
  [
    "nested",
    "{ok, [#{name => <<\"n\">>, values => [1.5, -3, 1 bsl 70]}, {self(), make_ref()}], \"str\", [a | b]}"
  ],
  ["records", "[#{<<\"id\">> => I, <<\"score\">> => I * 1.5, <<\"tags\">> => [alpha, beta]} || I <- lists:seq(1, 5)]"]
]

/** Expected TS terms for the scalar edges. */
const expected: Record<string, Term.Term> = {
  int_0: 0,
  int_255: 255,
  int_256: 256,
  int_m1: -1,
  int_2p31: 2 ** 31,
  int_m2p31: -(2 ** 31),
  int_2p31m1: 2 ** 31 - 1,
  int_2p53: 2n ** 53n,
  int_2p64: 2n ** 64n,
  int_m2p64: -(2n ** 64n),
  big_1000: BigInt("7".repeat(1000)),
  big_m1000: -BigInt("9".repeat(1000)),
  float_m0: Term.float(-0),
  float_1: Term.float(1),
  float_1e300: Term.float(1e300),
  float_1_5: 1.5,
  float_pi: Math.PI,
  atom_ok: a("ok"),
  atom_empty: a(""),
  atom_latin1: a("äöü"),
  atom_unicode255: a("😀".repeat(255)),
  atom_mixed: a("café日本"),
  tuple_empty: Term.tuple(),
  tuple_300: new Term.Tuple(Array.from({ length: 300 }, (_, i) => i + 1)),
  tuple_nested: Term.tuple(a("ok"), Term.tuple(a("error"), Term.tuple([], new Uint8Array(0), Term.tuple()))),
  nil: [],
  string: Term.charlist("hello world"),
  string_latin1: [104, 233, 108, 108, 246],
  string_unicode: [26085, 26412],
  string_65535: new Array(65535).fill(97),
  list_65536_bytes: new Array(65536).fill(1),
  list_large: Array.from({ length: 70000 }, (_, i) => i + 1),
  list_atoms: [a("alpha"), a("beta"), a("gamma")],
  list_mixed: [1, -1, 300, a("a"), Term.binary("b"), 2.5, [3]],
  improper: new Term.ImproperList([1, 2], 3),
  improper_atom: new Term.ImproperList([a("a")], a("b")),
  improper_nested: new Term.ImproperList([new Term.ImproperList([1], 2), Term.tuple(3)], Uint8Array.of(4)),
  map_empty: Term.map([]),
  map_atoms: Term.map({ a: 1, b: 2.5, c: Term.binary("x") }),
  map_large: Term.map(Array.from({ length: 100 }, (_, i) => [i + 1, (i + 1) ** 2] as const)),
  binary_empty: new Uint8Array(0),
  binary: Uint8Array.of(1, 2, 3, 255),
  binary_large: Term.binary("abc".repeat(40000)),
  bits_3: new Term.Bitstring(Uint8Array.of(0xa0), 3),
  bits_20: new Term.Bitstring(Uint8Array.of(1, 2, 0x90), 4),
  pid_remote: new Term.Pid(a("n@vm123"), 258, 3, 0xeabcdef1),
  ref_remote: new Term.Ref(a("a@b"), 9, [1, 2, 3]),
  port_v4: new Term.Port(a("a@b"), 1n << 32n, 1),
  port_remote: new Term.Port(a("a@b"), 7n, 0xff000001),
  export: new Term.Export(a("lists"), a("map"), 2)
}

const erlOk = erlAvailable()

describe.skipIf(!erlOk)("ETF conformance with real erl (OTP term_to_binary / binary_to_term)", () => {
  // name -> kind -> bytes
  const forms = new Map<string, Map<string, Uint8Array>>()

  beforeAll(async () => {
    const items = corpus.map(([name, expr]) => `{"${name}", ${expr}}`).join(",\n")
    const code = `
      Port = open_port({spawn, "cat"}, []),
      Items = [${items}],
      lists:foreach(fun({Name, T}) ->
          Out = fun(Kind, B) -> io:format("~s ~s ~s~n", [Name, Kind, binary:encode_hex(B)]) end,
          Out("exact", term_to_binary(T, [{minor_version, 2}])),
          Out("default", term_to_binary(T)),
          Out("v0", term_to_binary(T, [{minor_version, 0}])),
          Out("compressed", term_to_binary(T, [{minor_version, 2}, {compressed, 9}]))
        end, Items),
      port_close(Port),
      halt().`
    const { stdout } = await runErl(code, { timeoutMs: 120_000 })
    for (const line of stdout.split("\n")) {
      const [name, kind, h] = line.trim().split(" ")
      if (name === undefined || kind === undefined || h === undefined) continue
      let m = forms.get(name)
      if (m === undefined) forms.set(name, m = new Map())
      m.set(kind, unhex(h))
    }
  }, 120_000)

  it("erl produced the whole corpus", () => {
    expect([...forms.keys()].sort()).toEqual(corpus.map(([n]) => n).sort())
    for (const m of forms.values()) expect([...m.keys()].sort()).toEqual(["compressed", "default", "exact", "v0"])
  })

  it("decode → encode gives erl's bytes for every term (minor_version 2, as the distribution)", () => {
    for (const [name, m] of forms) {
      const bytes = m.get("exact")!
      const again = Etf.encode(decoded(bytes))
      if (hex(again) !== hex(bytes)) {
        throw new Error(`${name}: re-encoded\n  ${hex(again).slice(0, 400)}\nerl\n  ${hex(bytes).slice(0, 400)}`)
      }
    }
  })

  it("decodes to the expected TS terms", () => {
    for (const [name, t] of Object.entries(expected)) {
      const got = decoded(forms.get(name)!.get("exact")!)
      if (!Term.equals(got, t)) throw new Error(`${name}: got ${Term.format(got).slice(0, 200)}`)
    }
    // the wire forms of the edges
    const tagOf = (name: string) => forms.get(name)!.get("exact")![1]
    expect(tagOf("int_255")).toBe(97)
    expect(tagOf("int_256")).toBe(98)
    expect(tagOf("int_2p31")).toBe(110)
    expect(tagOf("big_1000")).toBe(111)
    expect(tagOf("atom_unicode255")).toBe(118)
    expect(tagOf("tuple_300")).toBe(105)
    expect(tagOf("string_65535")).toBe(107)
    expect(tagOf("list_65536_bytes")).toBe(108)
    expect(tagOf("bits_3")).toBe(77)
    expect(tagOf("port_v4")).toBe(120)
    expect(tagOf("fun_closure")).toBe(112)
    // pids, refs, ports and funs made by that node
    expect(decoded(forms.get("pid_self")!.get("exact")!)).toBeInstanceOf(Term.Pid)
    expect(decoded(forms.get("pid_spawned")!.get("exact")!)).toBeInstanceOf(Term.Pid)
    const ref = decoded(forms.get("ref")!.get("exact")!) as Term.Ref
    expect(ref).toBeInstanceOf(Term.Ref)
    expect(ref.node).toBe(a("nonode@nohost"))
    expect(decoded(forms.get("port")!.get("exact")!)).toBeInstanceOf(Term.Port)
    const fun = decoded(forms.get("fun_closure")!.get("exact")!) as Term.Fun
    expect(fun).toBeInstanceOf(Term.Fun)
    expect(fun.module).toBe(a("erl_eval"))
    const m = decoded(forms.get("map_keys")!.get("exact")!) as Term.TermMap
    expect(m.get(Term.tuple(a("a"), 1))).toBe(a("x"))
    expect(m.get(Term.map({ k: a("v") }))).toBe(a("y"))
    expect(m.get(1)).toBe(2)
    expect(m.get(Term.float(1))).toBe(a("float"))
  })

  it("the default (Latin-1 atoms), old (minor_version 0) and compressed forms decode to the same terms", () => {
    for (const [name, m] of forms) {
      const t = decoded(m.get("exact")!)
      for (const kind of ["default", "v0", "compressed"]) {
        const other = decoded(m.get(kind)!)
        if (t instanceof Term.Fun && other instanceof Term.Fun) {
          // a fun is kept as its bytes, which hold atoms in the form of the encoding
          expect([other.module, other.arity, other.index, hex(other.uniq)]).toEqual([
            t.module,
            t.arity,
            t.index,
            hex(t.uniq)
          ])
          continue
        }
        if (!Term.equals(other, t)) throw new Error(`${name} (${kind}) differs: ${Term.format(other).slice(0, 200)}`)
      }
    }
    // the old forms were really exercised
    expect(forms.get("atom_ok")!.get("default")![1]).toBe(100) // ATOM_EXT
    expect(forms.get("float_1_5")!.get("v0")![1]).toBe(99) // FLOAT_EXT
    expect(forms.get("list_large")!.get("compressed")![1]).toBe(80)
  })

  it("erl's binary_to_term reads what we encode", async () => {
    const cases: ReadonlyArray<readonly [Term.Term, string]> = [
      [Term.tuple(a("ok"), Term.binary("hi")), "{ok,<<\"hi\">>}"],
      [[1, 2, 3], "[1,2,3]"],
      [Term.charlist("abc"), "\"abc\""],
      [new Term.ImproperList([1], a("b")), "[1|b]"],
      [Term.map({ a: 1, b: Term.tuple() }), "#{a => 1,b => {}}"],
      [Term.float(-0), "-0.0"],
      [Term.float(1e300), "1.0e300"],
      [1.5, "1.5"],
      [2n ** 64n, "18446744073709551616"],
      [-(2 ** 40), "-1099511627776"],
      [a("ünï😀"), "'ünï😀'"],
      [new Term.Bitstring(Uint8Array.of(0xa0), 3), "<<5:3>>"],
      [new Term.Export(a("lists"), a("map"), 2), "fun lists:map/2"],
      [new Term.Pid(a("x@y"), 1, 2, 3), "<0.1.2>"],
      [Term.map([[Term.tuple(1), Term.map([])], [Term.binary("k"), []]]), "#{{1} => #{},<<\"k\">> => []}"],
      [Array.from({ length: 300 }, (_, i) => i), ""],
      [BigInt("7".repeat(1000)), "7".repeat(1000)]
    ]
    const { stdout } = await runErl(
      `lists:foreach(fun(H) ->
          T = binary_to_term(binary:decode_hex(list_to_binary(H))),
          Pid = case T of P when is_pid(P) -> io_lib:format("~w", [node(P)]); _ -> "" end,
          io:format("~s ~s ~ts~n", [binary:encode_hex(term_to_binary(T, [{minor_version, 2}])),
                                     case Pid of "" -> "-"; _ -> Pid end,
                                     base64:encode(unicode:characters_to_binary(io_lib:format("~tp", [T])))])
        end, init:get_plain_arguments()),
        halt().`,
      { extra: cases.map(([t]) => hex(Etf.encode(t))) }
    )
    const lines = stdout.trim().split("\n")
    expect(lines.length).toBe(cases.length)
    lines.forEach((line, i) => {
      const [reencoded, node, printed64] = line.split(" ")
      const [t, print] = cases[i]!
      // erl re-encodes it to our bytes (map keys here are already in Erlang's order)
      expect(reencoded!.toLowerCase()).toBe(hex(Etf.encode(t)))
      const printed = Buffer.from(printed64!, "base64").toString("utf8").replace(/\s+/g, " ")
      if (t instanceof Term.Pid) {
        expect(node).toBe("x@y")
        expect(printed).toMatch(/^<\d+\.1\.2>$/)
      } else if (print !== "") {
        expect(printed).toBe(print)
      }
    })
  }, 60_000)

  it("the erl helper: startErl waits for its marker, kill ends the OS process", async () => {
    const node = await startErl({
      eval: "io:format(\"ready ~s~n\", [os:getpid()]), timer:sleep(infinity).",
      ready: /ready \d+\n/
    })
    try {
      expect(node.stdout()).toContain(`ready ${node.pid}`)
      expect(() => process.kill(node.pid, 0)).not.toThrow()
    } finally {
      await node.kill()
    }
    expect(() => process.kill(node.pid, 0)).toThrow()
  }, 60_000)

  afterAll(() => forms.clear())
})
