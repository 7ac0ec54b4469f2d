/**
 * The Erlang term reader behind `TermLiteral`: a lexer and parser for term syntax, used
 * in two modes (see `Mode`). Pure; errors are thrown as `TermSyntaxError` inside and
 * returned as `Either` by the entry points.
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as Term from "../Term.js"
import { reservedWords } from "./term.js"

/** @internal */
export class TermSyntaxError extends Data.TaggedError("TermSyntaxError")<{
  readonly reason: string
  readonly offset: number
  readonly input: string
}> {
  override get message(): string {
    return `term syntax error at ${this.offset}: ${this.reason}`
  }
  /** The 1-based line of `offset` in `input`. */
  get line(): number {
    return this.position().line
  }
  /** The 1-based column (in UTF-16 units) of `offset` in `input`. */
  get column(): number {
    return this.position().column
  }
  private position(): { line: number; column: number } {
    let line = 1
    let column = 1
    for (let i = 0; i < this.offset && i < this.input.length; i++) {
      if (this.input[i] === "\n") {
        line++
        column = 1
      } else column++
    }
    return { line, column }
  }
}

/** @internal */
export class NotATermError extends Data.TaggedError("NotATermError")<{
  readonly value: unknown
}> {
  override get message(): string {
    let shown: string
    try {
      shown = typeof this.value === "function"
        ? "a function"
        : this.value instanceof Promise
        ? "a Promise (add await)"
        : String(this.value)
    } catch {
      shown = typeof this.value
    }
    return `not a term: ${shown}`
  }
}

/** @internal */
export const fromJs = (value: unknown): Term.Term => {
  switch (typeof value) {
    case "number":
      if (!Number.isFinite(value)) throw new NotATermError({ value })
      return value
    case "bigint":
      return Number.isSafeInteger(Number(value)) ? Number(value) : value
    case "string":
      return Term.binary(value)
    case "boolean":
      return Term.boolean(value)
    case "object": {
      if (value === null) return Term.atoms.undefined
      if (Array.isArray(value)) return value.map(fromJs)
      if (Term.isTerm(value)) return value
      const proto = Object.getPrototypeOf(value)
      if (proto === Object.prototype || proto === null) {
        return Term.map(
          Object.entries(value as Record<string, unknown>).map(([k, v]) => [Term.atom(k), fromJs(v)] as const)
        )
      }
      throw new NotATermError({ value })
    }
    default:
      throw new NotATermError({ value })
  }
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

type Token =
  | { readonly _tag: "Atom"; readonly value: string; readonly bare: boolean; readonly at: number }
  | { readonly _tag: "Int"; readonly value: bigint; readonly at: number }
  | { readonly _tag: "Float"; readonly value: number; readonly at: number }
  | { readonly _tag: "String"; readonly value: string; readonly at: number }
  | { readonly _tag: "Punct"; readonly value: string; readonly at: number }
  | { readonly _tag: "Hole"; readonly index: number; readonly at: number }
  | { readonly _tag: "Dot"; readonly at: number }
  | { readonly _tag: "End"; readonly at: number }

const PUNCT = ["<<", ">>", "=>", "#{", "{", "}", "[", "]", "(", ")", ",", "|", ":", "/", "-", "+"] as const

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= "0" && c <= "9"
/** Latin-1 letters count as in `erl_scan`: `ß`..`ÿ` (not `÷`) start atoms, `À`..`Þ` (not `×`) variables. */
const isLatin1Lower = (c: string): boolean => c >= "\u00df" && c <= "\u00ff" && c !== "\u00f7"
const isLatin1Upper = (c: string): boolean => c >= "\u00c0" && c <= "\u00de" && c !== "\u00d7"
const isNameChar = (c: string | undefined): boolean =>
  c !== undefined && (/[A-Za-z0-9_@]/.test(c) || isLatin1Lower(c) || isLatin1Upper(c))
const isBlank = (c: string | undefined): boolean =>
  c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v"

/**
 * `"term"`: one term, `${}` holes allowed (the `t` template). `"consult"`: terms each
 * ending with `.`, reserved words refused (as `file:consult`).
 */
export type Mode = "term" | "consult"

class Lexer {
  readonly tokens: Array<Token> = []
  private offset = 0 // offset of the current part in the whole text
  constructor(readonly text: string, readonly mode: Mode) {}

  fail(reason: string, at: number): never {
    throw new TermSyntaxError({ reason, offset: at, input: this.text })
  }

  lex(part: string, base: number): void {
    this.offset = base
    let i = 0
    const n = part.length
    while (i < n) {
      const c = part[i]!
      const at = base + i
      if (isBlank(c)) {
        i++
        continue
      }
      if (c === "%") {
        while (i < n && part[i] !== "\n") i++
        continue
      }
      if ((c >= "a" && c <= "z") || isLatin1Lower(c)) {
        let j = i + 1
        while (isNameChar(part[j])) j++
        this.tokens.push({ _tag: "Atom", value: part.slice(i, j), bare: true, at })
        i = j
        continue
      }
      if ((c >= "A" && c <= "Z") || c === "_" || isLatin1Upper(c)) {
        let j = i + 1
        while (isNameChar(part[j])) j++
        this.fail(
          this.mode === "term"
            ? `variables are not supported (${part.slice(i, j)}); splice a value with \${}`
            : `variables are not allowed (${part.slice(i, j)})`,
          at
        )
      }
      if (c === "." && this.mode === "consult" && (i + 1 === n || isBlank(part[i + 1]) || part[i + 1] === "%")) {
        // the end of a form, as erl_scan's dot: '.' then a blank, a comment or the end
        this.tokens.push({ _tag: "Dot", at })
        i++
        continue
      }
      if (c === "'" || c === "\"") {
        const [value, end] = this.quoted(part, i + 1, c)
        if (c === "'") {
          if ([...value].length > 255) this.fail("atom too long (over 255 characters)", at)
          this.tokens.push({ _tag: "Atom", value, bare: false, at })
        } else {
          this.tokens.push({ _tag: "String", value, at })
        }
        i = end
        continue
      }
      if (c === "$") {
        if (i + 1 >= n) this.fail("expected a character after $", at)
        if (part[i + 1] === "\\") {
          const [cp, end] = this.escape(part, i + 2)
          this.tokens.push({ _tag: "Int", value: BigInt(cp), at })
          i = end
        } else {
          const cp = part.codePointAt(i + 1)!
          this.tokens.push({ _tag: "Int", value: BigInt(cp), at })
          i += 1 + String.fromCodePoint(cp).length
        }
        continue
      }
      if (isDigit(c)) {
        i = this.number(part, i)
        continue
      }
      const p = PUNCT.find((p) => part.startsWith(p, i))
      if (p !== undefined) {
        this.tokens.push({ _tag: "Punct", value: p, at })
        i += p.length
        continue
      }
      this.fail(`unexpected character ${JSON.stringify(c)}`, at)
    }
  }

  private digits(part: string, i: number, ok: (c: string) => boolean): [string, number] {
    let j = i
    let out = ""
    while (j < part.length) {
      const c = part[j]!
      if (ok(c)) out += c
      else if (c === "_" && out.length > 0 && j + 1 < part.length && ok(part[j + 1]!)) {
        // 1_000: an underscore between digits
      } else break
      j++
    }
    return [out, j]
  }

  private number(part: string, start: number): number {
    const at = this.offset + start
    const [intPart, i] = this.digits(part, start, (c) => isDigit(c))
    if (part[i] === "#") {
      const base = Number(intPart)
      if (base < 2 || base > 36) this.fail(`bad base ${intPart} (2..36)`, at)
      const ok = (c: string) => {
        const d = parseInt(c, 36)
        return !Number.isNaN(d) && d < base
      }
      const [ds, j] = this.digits(part, i + 1, ok)
      if (ds.length === 0) this.fail(`expected base-${base} digits after #`, at)
      this.checkIntegerSize(ds.length, base, at)
      this.tokens.push({ _tag: "Int", value: parseDigits(ds.toLowerCase(), base), at })
      return j
    }
    if (part[i] === "." && isDigit(part[i + 1])) {
      const [frac, j0] = this.digits(part, i + 1, (c) => isDigit(c))
      let j = j0
      let exp = ""
      if (part[j] === "e" || part[j] === "E") {
        let k = j + 1
        let sign = ""
        if (part[k] === "+" || part[k] === "-") sign = part[k++]!
        const [e, k2] = this.digits(part, k, (c) => isDigit(c))
        if (e.length === 0) this.fail("expected an exponent", at)
        exp = `e${sign}${e}`
        j = k2
      }
      const value = Number(`${intPart}.${frac}${exp}`)
      if (!Number.isFinite(value)) this.fail("float out of range", at)
      this.tokens.push({ _tag: "Float", value, at })
      return j
    }
    this.checkIntegerSize(intPart.length, 10, at)
    this.tokens.push({ _tag: "Int", value: parseDigits(intPart, 10), at })
    return i
  }

  private checkIntegerSize(digits: number, base: number, at: number): void {
    if (digits * Math.log2(base) > MAX_INTEGER_BITS) {
      this.fail(`integer too large (over ${MAX_INTEGER_BITS} bits)`, at)
    }
  }

  /** Reads an escape after the backslash; returns [code point, next index]. */
  private escape(part: string, i: number): [number, number] {
    const at = this.offset + i - 1
    const c = part[i]
    if (c === undefined) this.fail("unterminated escape", at)
    switch (c) {
      case "b":
        return [8, i + 1]
      case "d":
        return [127, i + 1]
      case "e":
        return [27, i + 1]
      case "f":
        return [12, i + 1]
      case "n":
        return [10, i + 1]
      case "r":
        return [13, i + 1]
      case "s":
        return [32, i + 1]
      case "t":
        return [9, i + 1]
      case "v":
        return [11, i + 1]
      case "^": {
        const x = part[i + 1]
        if (x === undefined) this.fail("unterminated escape", at)
        return [x.charCodeAt(0) & 31, i + 2]
      }
      case "x": {
        if (part[i + 1] === "{") {
          const end = part.indexOf("}", i + 2)
          const hex = end === -1 ? "" : part.slice(i + 2, end)
          if (!/^[0-9a-fA-F]+$/.test(hex)) this.fail("bad \\x{...} escape", at)
          const cp = parseInt(hex, 16)
          if (cp > 0x10ffff) this.fail("bad \\x{...} escape: beyond U+10FFFF", at)
          return [cp, end + 1]
        }
        const hex = part.slice(i + 1, i + 3)
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) this.fail("bad \\xHH escape", at)
        return [parseInt(hex, 16), i + 3]
      }
    }
    if (c >= "0" && c <= "7") {
      let j = i
      while (j < i + 3 && part[j] !== undefined && part[j]! >= "0" && part[j]! <= "7") j++
      return [parseInt(part.slice(i, j), 8), j]
    }
    const cp = part.codePointAt(i)!
    return [cp, i + String.fromCodePoint(cp).length]
  }

  private quoted(part: string, i: number, quote: string): [string, number] {
    const start = this.offset + i - 1
    let out = ""
    while (i < part.length) {
      const c = part[i]!
      if (c === quote) return [out, i + 1]
      if (c === "\\") {
        const [cp, j] = this.escape(part, i + 1)
        out += String.fromCodePoint(cp)
        i = j
        continue
      }
      out += c
      i++
    }
    return this.fail(
      quote === "'" ? "unterminated quoted atom" : "unterminated string (a ${} cannot sit inside quotes)",
      start
    )
  }
}

// ---------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------

/**
 * The most bits the literal sizes of one input may produce (16 MiB): `<<-1:1000000/unit:256>>`
 * is 24 characters asking for 32 MB, and a list of them for any amount. Spliced `${}` binaries
 * do not count (their size is the caller's).
 */
export const MAX_LITERAL_BITS = 8 * 16 * 1024 * 1024

/** The most bits of an integer literal (4 Mbit, about 1.26 million decimal digits). */
export const MAX_INTEGER_BITS = 1 << 22

/** Bits accumulated by a binary literal, in a growing byte buffer (linear in the bits). */
class BitWriter {
  private buf = new Uint8Array(64)
  private bitLen = 0
  private ensure(bits: number): void {
    const need = (this.bitLen + bits + 7) >> 3
    if (need <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < need) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, (this.bitLen + 7) >> 3))
    this.buf = next
  }
  /** The low `n` (at most 8) bits of `value`, most significant first. */
  private pushSmall(value: number, n: number): void {
    this.ensure(n)
    for (let b = n - 1; b >= 0; b--) {
      if ((value >> b) & 1) this.buf[this.bitLen >> 3]! |= 0x80 >> (this.bitLen & 7)
      this.bitLen++
    }
  }
  pushByte(byte: number): void {
    if ((this.bitLen & 7) === 0) {
      this.ensure(8)
      this.buf[this.bitLen >> 3] = byte
      this.bitLen += 8
    } else this.pushSmall(byte, 8)
  }
  /** `value` (in 0 .. 2^size-1) as `size` bits, big-endian; `little` reverses whole bytes (size % 8 === 0). */
  pushBits(value: bigint, size: number, little = false): void {
    if (size === 0) return
    this.ensure(size)
    const rem = size & 7
    const nbytes = size >> 3
    if (rem !== 0) this.pushSmall(Number(value >> BigInt(nbytes * 8)), rem)
    if (nbytes === 0) return
    const low = rem === 0 ? value : BigInt.asUintN(nbytes * 8, value)
    // toString(16) is linear; shifting a big value once per bit or byte is not
    const hex = low.toString(16).padStart(nbytes * 2, "0")
    if (little) { for (let k = nbytes - 1; k >= 0; k--) this.pushByte(parseInt(hex.substr(k * 2, 2), 16)) }
    else for (let k = 0; k < nbytes; k++) this.pushByte(parseInt(hex.substr(k * 2, 2), 16))
  }
  pushBytes(bytes: Iterable<number>): void {
    for (const b of bytes) this.pushByte(b)
  }
  pushBitstring(b: Term.Bitstring): void {
    const whole = b.bytes.length === 0 ? 0 : b.bytes.length - 1
    this.pushBytes(b.bytes.subarray(0, whole))
    if (b.bytes.length > 0) this.pushSmall(b.bytes[whole]! >> (8 - b.bits), b.bits)
  }
  result(): Uint8Array | Term.Bitstring {
    const bytes = this.buf.slice(0, (this.bitLen + 7) >> 3)
    const rest = this.bitLen & 7
    return rest === 0 ? bytes : new Term.Bitstring(bytes, rest)
  }
}

/**
 * Digits (already checked, in `base`) to a bigint in about linear time: power-of-two bases
 * through the engine's binary parser, others by combining chunks pairwise (the digit-by-digit
 * `v * base + d` is quadratic).
 */
const parseDigits = (ds: string, base: number): bigint => {
  if (base === 10) return BigInt(ds)
  if (base === 16) return BigInt(`0x${ds}`)
  if (base === 8) return BigInt(`0o${ds}`)
  if (base === 2) return BigInt(`0b${ds}`)
  const bits = Math.log2(base)
  if (Number.isInteger(bits)) {
    // 4 and 32: each digit is `bits` binary digits
    let bin = ""
    for (const d of ds) bin += parseInt(d, 36).toString(2).padStart(bits, "0")
    return BigInt(`0b${bin}`)
  }
  const k = Math.floor(52 / bits) // digits per chunk that fit a double exactly
  const padded = "0".repeat((k - (ds.length % k)) % k) + ds
  let parts: Array<bigint> = []
  for (let i = 0; i < padded.length; i += k) parts.push(BigInt(parseInt(padded.slice(i, i + k), base)))
  let weight = BigInt(base) ** BigInt(k)
  while (parts.length > 1) {
    if (parts.length % 2 === 1) parts.unshift(0n) // a leading zero chunk keeps the pairs aligned
    const next: Array<bigint> = []
    for (let i = 0; i < parts.length; i += 2) next.push(parts[i]! * weight + parts[i + 1]!)
    parts = next
    weight *= weight
  }
  return parts[0] ?? 0n
}

const intTerm = (v: bigint): Term.Term => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
  ? Number(v)
  : v)

const floatTerm = (v: number): Term.Term => Number.isInteger(v) || Object.is(v, -0) ? Term.float(v) : v

const utf16 = (cp: number, little: boolean): Array<number> => {
  const units = String.fromCodePoint(cp)
  const out: Array<number> = []
  for (let k = 0; k < units.length; k++) {
    const u = units.charCodeAt(k)
    if (little) out.push(u & 0xff, u >> 8)
    else out.push(u >> 8, u & 0xff)
  }
  return out
}

class Parser {
  private i = 0
  /** Bits the literal sizes may still produce (see `MAX_LITERAL_BITS`). */
  private budget = MAX_LITERAL_BITS
  constructor(readonly lexer: Lexer, readonly values: ReadonlyArray<unknown>) {}

  private get tokens() {
    return this.lexer.tokens
  }
  private peek(): Token {
    return this.tokens[this.i]!
  }
  private next(): Token {
    return this.tokens[this.i++]!
  }
  private isPunct(value: string): boolean {
    const t = this.peek()
    return t._tag === "Punct" && t.value === value
  }
  private expect(value: string): void {
    const t = this.next()
    if (t._tag !== "Punct" || t.value !== value) this.lexer.fail(`expected '${value}', got ${this.describe(t)}`, t.at)
  }
  private describe(t: Token): string {
    switch (t._tag) {
      case "End":
        return "the end"
      case "Dot":
        return "'.'"
      case "Punct":
        return `'${t.value}'`
      case "Hole":
        return "a ${} value"
      case "Atom":
        return `atom ${t.value}`
      case "String":
        return "a string"
      default:
        return `${String(t.value)}`
    }
  }

  /** One term and nothing after it (mode `"term"`). */
  parseAll(): Term.Term {
    const term = this.term()
    const t = this.peek()
    if (t._tag !== "End") this.lexer.fail(`unexpected ${this.describe(t)} after the term`, t.at)
    return term
  }

  /** Terms, each followed by `.` (mode `"consult"`). */
  parseForms(): Array<Term.Term> {
    const out: Array<Term.Term> = []
    while (this.peek()._tag !== "End") {
      out.push(this.term())
      const t = this.next()
      if (t._tag !== "Dot") this.lexer.fail(`expected '.' after the term, got ${this.describe(t)}`, t.at)
    }
    return out
  }

  private hole(index: number, at: number): Term.Term {
    try {
      return fromJs(this.values[index])
    } catch (e) {
      return this.lexer.fail(`\${} #${index + 1}: ${(e as Error).message}`, at)
    }
  }

  private term(): Term.Term {
    const t = this.next()
    switch (t._tag) {
      case "Atom": {
        if (t.bare && t.value === "fun" && this.peek()._tag === "Atom") return this.fun()
        if (t.bare && this.lexer.mode === "consult" && reservedWords.has(t.value)) {
          return this.lexer.fail(`'${t.value}' is a reserved word, not a term`, t.at)
        }
        if (this.isPunct("(") || this.isPunct(":")) return this.lexer.fail("function calls are not allowed", t.at)
        return Term.atom(t.value)
      }
      case "Int":
        return intTerm(t.value)
      case "Float":
        return floatTerm(t.value)
      case "String": {
        let s = t.value
        while (this.peek()._tag === "String") s += (this.next() as { value: string }).value
        return Term.charlist(s)
      }
      case "Hole":
        return this.hole(t.index, t.at)
      case "Punct":
        switch (t.value) {
          case "-":
          case "+": {
            const n = this.next()
            const neg = t.value === "-"
            if (n._tag === "Int") return intTerm(neg ? -n.value : n.value)
            if (n._tag === "Float") return floatTerm(neg ? -n.value : n.value)
            return this.lexer.fail(`expected a number after '${t.value}'`, t.at)
          }
          case "{":
            return new Term.Tuple(this.sequence("}"))
          case "[":
            return this.list()
          case "#{":
            return this.map()
          case "<<":
            return this.binary()
        }
    }
    return this.lexer.fail(`expected a term, got ${this.describe(t)}`, t.at)
  }

  private sequence(close: string): Array<Term.Term> {
    const out: Array<Term.Term> = []
    if (this.isPunct(close)) {
      this.next()
      return out
    }
    for (;;) {
      out.push(this.term())
      if (this.isPunct(",")) {
        this.next()
        continue
      }
      this.expect(close)
      return out
    }
  }

  private list(): Term.Term {
    const elements: Array<Term.Term> = []
    if (this.isPunct("]")) {
      this.next()
      return elements
    }
    for (;;) {
      elements.push(this.term())
      if (this.isPunct(",")) {
        this.next()
        continue
      }
      if (this.isPunct("|")) {
        this.next()
        const tail = this.term()
        this.expect("]")
        return Term.improperList(elements, tail)
      }
      this.expect("]")
      return elements
    }
  }

  private map(): Term.Term {
    const entries: Array<readonly [Term.Term, Term.Term]> = []
    if (this.isPunct("}")) {
      this.next()
      return Term.map(entries)
    }
    for (;;) {
      const k = this.term()
      this.expect("=>")
      const v = this.term()
      entries.push([k, v])
      if (this.isPunct(",")) {
        this.next()
        continue
      }
      this.expect("}")
      return Term.map(entries)
    }
  }

  private fun(): Term.Term {
    const m = this.next() as { value: string }
    this.expect(":")
    const f = this.next()
    if (f._tag !== "Atom") return this.lexer.fail("expected a function name in fun M:F/A", f.at)
    this.expect("/")
    const a = this.next()
    if (a._tag !== "Int" || a.value > 255n) return this.lexer.fail("expected an arity in fun M:F/A", a.at)
    return new Term.Export(Term.atom(m.value), Term.atom(f.value), Number(a.value))
  }

  private binary(): Term.Term {
    const w = new BitWriter()
    if (this.isPunct(">>")) {
      this.next()
      return w.result()
    }
    for (;;) {
      this.segment(w)
      if (this.isPunct(",")) {
        this.next()
        continue
      }
      this.expect(">>")
      return w.result()
    }
  }

  private segment(w: BitWriter): void {
    const t = this.next()
    type Value =
      | { readonly kind: "int"; readonly v: bigint }
      | { readonly kind: "float"; readonly v: number }
      | { readonly kind: "text"; readonly v: string }
      | { readonly kind: "bytes"; readonly v: Uint8Array | Term.Bitstring }
    let value: Value
    let neg = false
    let tok: Token = t
    if (t._tag === "Punct" && (t.value === "-" || t.value === "+")) {
      neg = t.value === "-"
      tok = this.next()
      if (tok._tag !== "Int" && tok._tag !== "Float") this.lexer.fail(`expected a number after '${t.value}'`, t.at)
    }
    switch (tok._tag) {
      case "Int":
        value = { kind: "int", v: neg ? -tok.value : tok.value }
        break
      case "Float":
        value = { kind: "float", v: neg ? -tok.value : tok.value }
        break
      case "String": {
        let s = tok.value
        while (this.peek()._tag === "String") s += (this.next() as { value: string }).value
        value = { kind: "text", v: s }
        break
      }
      case "Hole": {
        const v = this.values[tok.index]
        if (typeof v === "string") value = { kind: "text", v }
        else if (v instanceof Uint8Array || v instanceof Term.Bitstring) value = { kind: "bytes", v }
        else if (typeof v === "number" && Number.isInteger(v)) value = { kind: "int", v: BigInt(v) }
        else if (typeof v === "bigint") value = { kind: "int", v }
        else if (typeof v === "number" || v instanceof Term.Float) {
          value = { kind: "float", v: typeof v === "number" ? v : v.value }
        } else {
          return this.lexer.fail(`\${} #${tok.index + 1} cannot go in a binary`, tok.at)
        }
        break
      }
      default:
        return this.lexer.fail(`expected a binary segment, got ${this.describe(tok)}`, tok.at)
    }
    let size: number | undefined
    if (this.isPunct(":")) {
      this.next()
      const s = this.next()
      if (s._tag !== "Int" || s.value > 1_000_000n) return this.lexer.fail("expected a segment size", s.at)
      size = Number(s.value)
    }
    const specs = new Set<string>()
    let unit: number | undefined
    if (this.isPunct("/")) {
      this.next()
      for (;;) {
        const s = this.next()
        if (s._tag !== "Atom") return this.lexer.fail("expected a type specifier", s.at)
        if (s.value === "unit") {
          this.expect(":")
          const u = this.next()
          if (u._tag !== "Int" || u.value < 1n || u.value > 256n) return this.lexer.fail("bad unit", u.at)
          unit = Number(u.value)
        } else if (
          [
            "integer",
            "float",
            "binary",
            "bytes",
            "bitstring",
            "bits",
            "utf8",
            "utf16",
            "utf32",
            "signed",
            "unsigned",
            "big",
            "little",
            "native"
          ].includes(s.value)
        ) {
          specs.add(s.value)
        } else {
          return this.lexer.fail(`unknown type specifier ${s.value}`, s.at)
        }
        if (this.isPunct("-")) {
          this.next()
          continue
        }
        break
      }
    }
    const little = specs.has("little")
    const at = t.at // the segment, sign included
    const spend = (bits: number) => {
      if (bits > this.budget) {
        this.lexer.fail(`binary literal too large (over ${MAX_LITERAL_BITS / 8 / 1024 / 1024} MiB in all)`, at)
      }
      this.budget -= bits
    }
    const encodeInt = (v: bigint, bits: number) => {
      spend(bits) // before BigInt.asUintN allocates them
      w.pushBits(BigInt.asUintN(bits, v), bits, little && bits % 8 === 0)
    }
    const utf = specs.has("utf8") ? "utf8" : specs.has("utf16") ? "utf16" : specs.has("utf32") ? "utf32" : undefined
    const codePoints = (v: Value): Array<number> =>
      v.kind === "text" ? Array.from(v.v, (c) => c.codePointAt(0)!) : v.kind === "int" ? [Number(v.v)] : []
    if (utf !== undefined) {
      if (size !== undefined) this.lexer.fail(`a ${utf} segment has no size`, at)
      if (value.kind !== "text" && value.kind !== "int") this.lexer.fail(`a ${utf} segment needs a character`, at)
      for (const cp of codePoints(value)) {
        if (cp < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.lexer.fail("not a unicode code point", at)
        spend(32)
        if (utf === "utf8") w.pushBytes(Term.binary(String.fromCodePoint(cp)))
        else if (utf === "utf16") w.pushBytes(utf16(cp, little))
        else encodeInt(BigInt(cp), 32)
      }
      return
    }
    if (specs.has("float")) {
      const bits = (size ?? 64) * (unit ?? 1)
      if (bits !== 64 && bits !== 32) this.lexer.fail("a float segment is 32 or 64 bits", at)
      spend(bits)
      const v = value.kind === "float" ? value.v : value.kind === "int" ? Number(value.v) : NaN
      if (Number.isNaN(v)) this.lexer.fail("a float segment needs a number", at)
      const dv = new DataView(new ArrayBuffer(8))
      if (bits === 64) dv.setFloat64(0, v, little)
      else dv.setFloat32(0, v, little)
      w.pushBytes(new Uint8Array(dv.buffer, 0, bits / 8))
      return
    }
    const asBinary = specs.has("binary") || specs.has("bytes") || specs.has("bitstring") || specs.has("bits")
    if (value.kind === "bytes") {
      if (size !== undefined && !asBinary) this.lexer.fail("a binary value needs /binary with a size", at)
      const v = value.v
      if (v instanceof Term.Bitstring) w.pushBitstring(v)
      else w.pushBytes(size === undefined ? v : v.subarray(0, size * (unit ?? 8) / 8))
      return
    }
    if (asBinary) this.lexer.fail("a /binary segment needs a binary value", at)
    if (value.kind === "float") return this.lexer.fail("a float in a binary needs /float", at)
    const bits = (size ?? 8) * (unit ?? 1)
    if (value.kind === "text") {
      // each character as an integer segment, as Erlang's <<"abc">>
      for (const cp of codePoints(value)) encodeInt(BigInt(cp), bits)
      return
    }
    encodeInt(value.v, bits)
  }
}

const lexTemplate = (parts: ReadonlyArray<string>): Lexer => {
  const text = parts.reduce((acc, p, i) => (i === 0 ? p : `${acc}\${${i - 1}}${p}`), "")
  const lexer = new Lexer(text, "term")
  let base = 0
  parts.forEach((p, i) => {
    if (i > 0) {
      const hole = `\${${i - 1}}`
      lexer.tokens.push({ _tag: "Hole", index: i - 1, at: base })
      base += hole.length
    }
    lexer.lex(p, base)
    base += p.length
  })
  lexer.tokens.push({ _tag: "End", at: base })
  return lexer
}

const catchSyntax = <A>(f: () => A, input: () => string): Either.Either<A, TermSyntaxError> => {
  try {
    return Either.right(f())
  } catch (e) {
    if (e instanceof TermSyntaxError) return Either.left(e)
    // the parser recurses: nesting deep enough to exhaust the stack is bad input, not a crash
    if (e instanceof RangeError) {
      return Either.left(new TermSyntaxError({ reason: "nested too deeply", offset: 0, input: input() }))
    }
    throw e
  }
}

/** @internal */
export const parse = (
  text: string | ReadonlyArray<string>,
  values: ReadonlyArray<unknown>
): Either.Either<Term.Term, TermSyntaxError> =>
  catchSyntax(
    () => new Parser(lexTemplate(typeof text === "string" ? [text] : text), values).parseAll(),
    () => typeof text === "string" ? text : text.join("${}")
  )

/** @internal */
export type Encoding = "utf8" | "latin1"

/**
 * The encoding of an Erlang source file, as `epp:read_encoding_from_binary`: a
 * `coding: ...` comment in the first two lines, otherwise `fallback`.
 *
 * @internal
 */
export const decode = (bytes: Uint8Array, fallback: Encoding): string => {
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 1024)).split("\n").slice(0, 2)
  let encoding = fallback
  for (const line of head) {
    const m = /%.*coding\s*[:=]\s*([-a-zA-Z0-9_]+)/i.exec(line)
    if (m === null) continue
    const name = m[1]!.toLowerCase()
    if (/^utf-?8/.test(name)) encoding = "utf8"
    else if (name === "latin-1" || name === "latin1" || name === "iso-8859-1") encoding = "latin1"
    break
  }
  return new TextDecoder(encoding === "utf8" ? "utf-8" : "latin1").decode(bytes)
}

/** @internal */
export const consult = (
  input: string | Uint8Array,
  fallback: Encoding
): Either.Either<ReadonlyArray<Term.Term>, TermSyntaxError> =>
  catchSyntax(() => {
    const text = typeof input === "string" ? input : decode(input, fallback)
    const lexer = new Lexer(text, "consult")
    lexer.lex(text, 0)
    lexer.tokens.push({ _tag: "End", at: text.length })
    return new Parser(lexer, []).parseForms()
  }, () => typeof input === "string" ? input : decode(input, fallback))
