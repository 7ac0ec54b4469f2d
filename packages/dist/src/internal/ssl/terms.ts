/**
 * A small parser for Erlang term literals, enough for `ssl_dist_optfile` (read by OTP
 * with `erl_scan` + `erl_parse:parse_exprs` + `erl_eval`): lists (also `[H | T]`),
 * tuples, atoms (bare and quoted), strings (with escapes, adjacent strings joined),
 * integers (`16#ff`, `$c`, signs), floats, binaries of strings and bytes, and `%`
 * comments, ending with `.`. Variables, maps, funs and calls are refused. Pure.
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"

/** @internal */
export type ErlTerm =
  | { readonly _tag: "Atom"; readonly name: string }
  | { readonly _tag: "String"; readonly value: string }
  | { readonly _tag: "Integer"; readonly value: bigint }
  | { readonly _tag: "Float"; readonly value: number }
  | { readonly _tag: "Binary"; readonly bytes: Uint8Array }
  | { readonly _tag: "List"; readonly items: ReadonlyArray<ErlTerm> }
  | { readonly _tag: "Tuple"; readonly items: ReadonlyArray<ErlTerm> }

/** @internal */
export class TermSyntaxError extends Data.TaggedError("TermSyntaxError")<{
  readonly line: number
  readonly column: number
  readonly detail: string
}> {
  override get message(): string {
    return `line ${this.line}, column ${this.column}: ${this.detail}`
  }
}

const isDigit = (c: string) => c >= "0" && c <= "9"
const isLower = (c: string) => c >= "a" && c <= "z"
const isNameChar = (c: string) =>
  (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || isDigit(c) || c === "_" || c === "@" ||
  (c >= "\u00df" && c <= "\u00ff" && c !== "\u00f7")
const isSpace = (c: string) => c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v"

/** Words `erl_scan` treats as reserved: they cannot be bare atoms. */
const RESERVED = new Set([
  "after",
  "and",
  "andalso",
  "band",
  "begin",
  "bnot",
  "bor",
  "bsl",
  "bsr",
  "bxor",
  "case",
  "catch",
  "cond",
  "div",
  "end",
  "fun",
  "if",
  "let",
  "not",
  "of",
  "or",
  "orelse",
  "receive",
  "rem",
  "try",
  "when",
  "xor"
])

class Parser {
  private pos = 0
  constructor(private readonly src: string) {}

  fail(detail: string, at = this.pos): never {
    let line = 1
    let col = 1
    for (let i = 0; i < at && i < this.src.length; i++) {
      if (this.src[i] === "\n") {
        line++
        col = 1
      } else col++
    }
    throw new TermSyntaxError({ line, column: col, detail })
  }

  peek(offset = 0): string {
    return this.src[this.pos + offset] ?? ""
  }

  skip(): void {
    while (this.pos < this.src.length) {
      const c = this.src[this.pos]!
      if (isSpace(c)) this.pos++
      else if (c === "%") {
        while (this.pos < this.src.length && this.src[this.pos] !== "\n") this.pos++
      } else break
    }
  }

  expect(s: string): void {
    this.skip()
    if (!this.src.startsWith(s, this.pos)) {
      this.fail(`expected '${s}'${this.pos >= this.src.length ? " before the end of the file" : ""}`)
    }
    this.pos += s.length
  }

  /** One term, then `.` and nothing but blanks and comments. */
  document(): ErlTerm {
    const term = this.term()
    this.skip()
    if (this.peek() !== ".") this.fail("expected '.' after the term")
    this.pos++
    this.skip()
    if (this.pos < this.src.length) this.fail("only one term is allowed")
    return term
  }

  term(): ErlTerm {
    this.skip()
    const c = this.peek()
    if (c === "") return this.fail("unexpected end of the file")
    if (c === "[") return this.list()
    if (c === "{") return this.tuple()
    if (c === "\"") return { _tag: "String", value: this.strings() }
    if (c === "'") return { _tag: "Atom", name: this.quoted("'") }
    if (c === "<" && this.peek(1) === "<") return this.binary()
    if (c === "$" || isDigit(c)) return this.number(1n)
    if (c === "-" || c === "+") {
      this.pos++
      this.skip()
      const d = this.peek()
      if (!isDigit(d) && d !== "$") this.fail("expected a number after the sign")
      return this.number(c === "-" ? -1n : 1n)
    }
    if (isLower(c) || (c >= "\u00df" && c <= "\u00ff" && c !== "\u00f7")) {
      const start = this.pos
      while (isNameChar(this.peek())) this.pos++
      const name = this.src.slice(start, this.pos)
      if (RESERVED.has(name)) this.fail(`'${name}' is a reserved word, not a term`, start)
      this.skip()
      if (this.peek() === "(" || this.peek() === ":") this.fail("function calls are not allowed", start)
      return { _tag: "Atom", name }
    }
    if ((c >= "A" && c <= "Z") || c === "_") this.fail("variables are not allowed")
    if (c === "#") this.fail("maps and records are not allowed")
    return this.fail(`unexpected character '${c}'`)
  }

  list(): ErlTerm {
    this.pos++
    const items: Array<ErlTerm> = []
    this.skip()
    if (this.peek() === "]") {
      this.pos++
      return { _tag: "List", items }
    }
    while (true) {
      items.push(this.term())
      this.skip()
      const c = this.peek()
      if (c === ",") {
        this.pos++
        continue
      }
      if (c === "|") {
        this.pos++
        const tail = this.term()
        if (tail._tag === "List") { for (const t of tail.items) items.push(t) }
        else if (tail._tag === "String") { for (const ch of tail.value) items.push(charTerm(ch)) }
        else this.fail("improper lists are not allowed")
        this.expect("]")
        return { _tag: "List", items }
      }
      if (c === "]") {
        this.pos++
        return { _tag: "List", items }
      }
      this.fail("expected ',' or ']' in a list")
    }
  }

  tuple(): ErlTerm {
    this.pos++
    const items: Array<ErlTerm> = []
    this.skip()
    if (this.peek() === "}") {
      this.pos++
      return { _tag: "Tuple", items }
    }
    while (true) {
      items.push(this.term())
      this.skip()
      const c = this.peek()
      if (c === ",") {
        this.pos++
        continue
      }
      if (c === "}") {
        this.pos++
        return { _tag: "Tuple", items }
      }
      this.fail("expected ',' or '}' in a tuple")
    }
  }

  binary(): ErlTerm {
    this.pos += 2
    const bytes: Array<number> = []
    this.skip()
    if (this.src.startsWith(">>", this.pos)) {
      this.pos += 2
      return { _tag: "Binary", bytes: new Uint8Array(0) }
    }
    while (true) {
      this.skip()
      const at = this.pos
      const segment = this.peek() === "\"" ? this.strings() : undefined
      if (segment !== undefined) {
        this.skip()
        const utf8 = this.src.startsWith("/utf8", this.pos)
        if (utf8) this.pos += 5
        if (utf8) { for (const b of new TextEncoder().encode(segment)) bytes.push(b) }
        else {
          for (const ch of segment) {
            const cp = ch.codePointAt(0)!
            if (cp > 255) this.fail("a binary string segment above 255 needs /utf8", at)
            bytes.push(cp)
          }
        }
      } else {
        const n = this.term()
        if (n._tag !== "Integer" || n.value < 0n || n.value > 255n) {
          this.fail("binary segments must be strings or integers 0..255", at)
        }
        bytes.push(Number(n.value))
      }
      this.skip()
      if (this.peek() === ",") {
        this.pos++
        continue
      }
      if (this.src.startsWith(">>", this.pos)) {
        this.pos += 2
        return { _tag: "Binary", bytes: new Uint8Array(bytes) }
      }
      this.fail("expected ',' or '>>' in a binary")
    }
  }

  number(sign: bigint): ErlTerm {
    if (this.peek() === "$") {
      this.pos++
      const c = this.peek()
      if (c === "") this.fail("unexpected end of the file after '$'")
      const cp = c === "\\" ? this.escape() : this.char()
      return { _tag: "Integer", value: sign * BigInt(cp) }
    }
    const start = this.pos
    while (isDigit(this.peek()) || (this.peek() === "_" && isDigit(this.peek(1)))) this.pos++
    const whole = this.src.slice(start, this.pos).replace(/_/g, "")
    if (this.peek() === "#") {
      const base = Number(whole)
      if (base < 2 || base > 36) this.fail(`bad base ${base}`, start)
      this.pos++
      const ds = this.pos
      while (/[0-9a-zA-Z_]/.test(this.peek())) this.pos++
      const text = this.src.slice(ds, this.pos).replace(/_/g, "").toLowerCase()
      if (text.length === 0) this.fail("expected digits after '#'")
      let value = 0n
      for (const ch of text) {
        const d = parseInt(ch, 36)
        if (d >= base) this.fail(`digit '${ch}' is not valid in base ${base}`, ds)
        value = value * BigInt(base) + BigInt(d)
      }
      return { _tag: "Integer", value: sign * value }
    }
    if (this.peek() === "." && isDigit(this.peek(1))) {
      this.pos++
      while (isDigit(this.peek()) || (this.peek() === "_" && isDigit(this.peek(1)))) this.pos++
      if (this.peek() === "e" || this.peek() === "E") {
        this.pos++
        if (this.peek() === "-" || this.peek() === "+") this.pos++
        if (!isDigit(this.peek())) this.fail("expected an exponent")
        while (isDigit(this.peek())) this.pos++
      }
      const value = Number(this.src.slice(start, this.pos).replace(/_/g, ""))
      return { _tag: "Float", value: sign < 0n ? -value : value }
    }
    return { _tag: "Integer", value: sign * BigInt(whole) }
  }

  /** One source character (a full code point). */
  char(): number {
    const cp = this.src.codePointAt(this.pos)!
    this.pos += cp > 0xffff ? 2 : 1
    return cp
  }

  /** An escape sequence starting at `\`; returns the code point. */
  escape(): number {
    const at = this.pos
    this.pos++
    const c = this.peek()
    if (c === "") this.fail("unexpected end of the file in an escape", at)
    this.pos++
    switch (c) {
      case "b":
        return 8
      case "d":
        return 127
      case "e":
        return 27
      case "f":
        return 12
      case "n":
        return 10
      case "r":
        return 13
      case "s":
        return 32
      case "t":
        return 9
      case "v":
        return 11
      case "^": {
        const k = this.peek()
        if (k === "") this.fail("unexpected end of the file in an escape", at)
        this.pos++
        return k.charCodeAt(0) & 31
      }
      case "x": {
        if (this.peek() === "{") {
          this.pos++
          const s = this.pos
          while (/[0-9a-fA-F]/.test(this.peek())) this.pos++
          const hex = this.src.slice(s, this.pos)
          if (hex.length === 0 || this.peek() !== "}") this.fail("bad \\x{...} escape", at)
          this.pos++
          const cp = parseInt(hex, 16)
          if (cp > 0x10ffff) this.fail("code point out of range", at)
          return cp
        }
        const s = this.pos
        while (this.pos - s < 2 && /[0-9a-fA-F]/.test(this.peek())) this.pos++
        if (this.pos - s !== 2) this.fail("bad \\x escape", at)
        return parseInt(this.src.slice(s, this.pos), 16)
      }
      default: {
        if (c >= "0" && c <= "7") {
          let v = c.charCodeAt(0) - 48
          for (let i = 0; i < 2 && this.peek() >= "0" && this.peek() <= "7"; i++) {
            v = v * 8 + this.peek().charCodeAt(0) - 48
            this.pos++
          }
          return v
        }
        // \\ \' \" and any other character stand for themselves
        this.pos--
        return this.char()
      }
    }
  }

  /** A quoted string or atom body. */
  quoted(q: string): string {
    const at = this.pos
    this.pos++
    let out = ""
    while (true) {
      const c = this.peek()
      if (c === "") this.fail(`unterminated ${q === "'" ? "atom" : "string"}`, at)
      if (c === q) {
        this.pos++
        return out
      }
      out += String.fromCodePoint(c === "\\" ? this.escape() : this.char())
    }
  }

  /** One or more adjacent string literals, joined (as `erl_parse` does). */
  strings(): string {
    let out = this.quoted("\"")
    while (true) {
      const save = this.pos
      this.skip()
      if (this.peek() === "\"") out += this.quoted("\"")
      else {
        this.pos = save
        return out
      }
    }
  }
}

const charTerm = (ch: string): ErlTerm => ({ _tag: "Integer", value: BigInt(ch.codePointAt(0)!) })

/**
 * Parses exactly one term followed by `.`.
 *
 * @internal
 */
export const parse = (source: string): Either.Either<ErlTerm, TermSyntaxError> => {
  try {
    return Either.right(new Parser(source).document())
  } catch (e) {
    if (e instanceof TermSyntaxError) return Either.left(e)
    throw e
  }
}

/**
 * The text of a string-like term: a string, a list of character codes (Erlang strings
 * are lists) or a binary (as UTF-8).
 *
 * @internal
 */
export const stringValue = (t: ErlTerm): string | undefined => {
  switch (t._tag) {
    case "String":
      return t.value
    case "Binary":
      return new TextDecoder("utf-8", { fatal: false }).decode(t.bytes)
    case "List": {
      let out = ""
      for (const i of t.items) {
        if (i._tag === "Integer" && i.value >= 0n && i.value <= 0x10ffffn) out += String.fromCodePoint(Number(i.value))
        else return undefined
      }
      return out
    }
    default:
      return undefined
  }
}

/**
 * Renders a term back in Erlang syntax (for error messages).
 *
 * @internal
 */
export const show = (t: ErlTerm): string => {
  switch (t._tag) {
    case "Atom":
      return /^[a-z][A-Za-z0-9_@]*$/.test(t.name) && !RESERVED.has(t.name)
        ? t.name
        : `'${t.name.replace(/[\\']/g, (c) => `\\${c}`)}'`
    case "String":
      return JSON.stringify(t.value)
    case "Integer":
      return t.value.toString()
    case "Float":
      return String(t.value)
    case "Binary":
      return `<<${Array.from(t.bytes).join(",")}>>`
    case "List":
      return `[${t.items.map(show).join(",")}]`
    case "Tuple":
      return `{${t.items.map(show).join(",")}}`
  }
}
