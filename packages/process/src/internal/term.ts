/**
 * Term order, equality, printing. Function declarations (hoisted) because
 * `Term.ts` and this module import each other.
 * @internal
 */
import * as Context from "effect/Context"
import * as Fiber from "effect/Fiber"
import type { LocalNode, Term } from "../Term.js"
import { Atom, Bitstring, Export, Float, Fun, ImproperList, Pid, Port, Ref, TermMap, Tuple } from "../Term.js"

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

/** @internal */
export function utf8Encode(s: string): Uint8Array {
  return encoder.encode(s)
}

// --- node numbers for printing ---------------------------------------------

/** Five-digit node numbers: 10000 to 99999. */
const NODE_NUMBERS = 90000

/**
 * A `LocalNode` remembers this many other nodes (incarnations) at most, so a peer that
 * sends pids of ever new creations costs bounded memory and probing; beyond it numbers
 * are the plain hash (distinct in all but rare cases).
 */
const REMEMBERED_NODES = 10000

/**
 * The number another node's pids print with: five digits from the FNV-1a hash of its
 * name and creation, so that one node prints alike from every node (a `LocalNode`
 * moves the rare collision to the next free number).
 */
function nodeHash(name: string, creation: number): number {
  const s = `${name}/${creation}`
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return 10000 + ((h >>> 0) % NODE_NUMBERS)
}

/**
 * A node's view for printing: itself (and `nonode@nohost`, whose pids stay local) is
 * 0, every other node (name and creation) gets a number of its own, as in the node
 * table of an Erlang node.
 * @internal
 */
export class LocalNodeImpl implements LocalNode {
  private readonly numbers = new Map<string, number>()
  private readonly taken = new Set<number>()
  constructor(readonly node: Atom, readonly creation: number) {}
  readonly nodeNumber = (node: Atom, creation: number): number => {
    if ((node === this.node && creation === this.creation) || node.name === "nonode@nohost") return 0
    const key = `${node.name}/${creation}`
    let n = this.numbers.get(key)
    if (n !== undefined) return n
    n = nodeHash(node.name, creation)
    if (this.numbers.size >= REMEMBERED_NODES) return n
    while (this.taken.has(n)) n = n === 99999 ? 10000 : n + 1
    this.numbers.set(key, n)
    this.taken.add(n)
    return n
  }
}

/** @internal */
export function makeLocalNode(node: Atom, creation: number): LocalNode {
  return new LocalNodeImpl(node, creation)
}

/** Printing with no node at hand: `nonode@nohost` is 0, every other node its hash. */
const detached: LocalNode = {
  get node() {
    return Atom.make("nonode@nohost") // a getter: `Atom` is not initialised yet while this module loads
  },
  creation: 0,
  nodeNumber: (node, creation) => node.name === "nonode@nohost" ? 0 : nodeHash(node.name, creation)
}

/**
 * The key of the `ProcessRuntime` tag (runtime.ts). A tag is its key: this module reads
 * the ambient runtime's node through a tag of the same key, as it cannot import
 * runtime.ts (which imports the term classes).
 * @internal
 */
export const processRuntimeKey = "@effect-otp/process/ProcessRuntime"
const AmbientRuntime = Context.GenericTag<{ readonly localNode: LocalNode }>(processRuntimeKey)

/**
 * The node of the running fiber's `ProcessRuntime` (so `${pid}` inside a process, or in
 * code given a node's services, prints as that node prints it), else `detached`.
 * @internal
 */
export function ambientLocalNode(): LocalNode {
  const fiber = Fiber.getCurrentFiber()
  if (fiber._tag === "None") return detached
  const rt = Context.getOption(fiber.value.currentContext, AmbientRuntime)
  return rt._tag === "Some" ? rt.value.localNode : detached
}

/** `<N.Id.Serial>` as `local` prints it. @internal */
export function formatPid(p: Pid, local: LocalNode = ambientLocalNode()): string {
  return `<${local.nodeNumber(p.node, p.creation)}.${p.id}.${p.serial}>`
}

/** `#Ref<N.W3.W2.W1>` as `local` prints it. @internal */
export function formatRef(r: Ref, local: LocalNode = ambientLocalNode()): string {
  return `#Ref<${local.nodeNumber(r.node, r.creation)}.${[...r.ids].reverse().join(".")}>`
}

/** `#Port<N.Id>` as `local` prints it. @internal */
export function formatPort(p: Port, local: LocalNode = ambientLocalNode()): string {
  return `#Port<${local.nodeNumber(p.node, p.creation)}.${p.id}>`
}

// --- classification ----------------------------------------------------------

// Erlang's order: number < atom < reference < fun < port < pid < tuple < map < nil < list < bitstring
const enum Rank {
  Number = 0,
  Atom = 1,
  Ref = 2,
  Fun = 3,
  Port = 4,
  Pid = 5,
  Tuple = 6,
  Map = 7,
  Nil = 8,
  List = 9,
  Bits = 10
}

function rank(t: Term): Rank {
  switch (typeof t) {
    case "number":
    case "bigint":
      return Rank.Number
  }
  if (t instanceof Uint8Array) return Rank.Bits
  if (Array.isArray(t)) return t.length === 0 ? Rank.Nil : Rank.List
  switch ((t as { _tag: string })._tag) {
    case "Float":
      return Rank.Number
    case "Atom":
      return Rank.Atom
    case "Ref":
      return Rank.Ref
    case "Fun":
    case "Export":
      return Rank.Fun
    case "Port":
      return Rank.Port
    case "Pid":
      return Rank.Pid
    case "Tuple":
      return Rank.Tuple
    case "TermMap":
      return Rank.Map
    case "ImproperList":
      return Rank.List
    case "Bitstring":
      return Rank.Bits
  }
  throw new TypeError(`not a term: ${String(t)}`)
}

function sign(n: number): -1 | 0 | 1 {
  return n < 0 ? -1 : n > 0 ? 1 : 0
}

function cmpPrim<A extends number | bigint | string>(a: A, b: A): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Atom text order: by code point (as erts compares the UTF-8 bytes). @internal */
export function compareText(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!
    const y = b.codePointAt(i)!
    if (x !== y) return x < y ? -1 : 1
    if (x > 0xffff) i++
  }
  return cmpPrim(a.length, b.length)
}

function compareNumbers(a: number | bigint | Float, b: number | bigint | Float): -1 | 0 | 1 {
  const x = a instanceof Float ? a.value : a
  const y = b instanceof Float ? b.value : b
  if (typeof x === "number" && typeof y === "number") return sign(x - y) === 0 ? 0 : x < y ? -1 : 1
  if (typeof x === "bigint" && typeof y === "bigint") return cmpPrim(x, y)
  // mixed bigint / number
  const big = typeof x === "bigint" ? x : (y as bigint)
  const num = typeof x === "number" ? x : (y as number)
  let r: -1 | 0 | 1
  if (Number.isInteger(num)) r = cmpPrim(big, BigInt(num))
  else {
    const f = BigInt(Math.floor(num))
    r = big <= f ? -1 : 1
  }
  return typeof x === "bigint" || r === 0 ? r : (-r as -1 | 1)
}

function compareBytes(a: Uint8Array, b: Uint8Array): -1 | 0 | 1 {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1
  return cmpPrim(a.length, b.length)
}

function bitsOf(t: Uint8Array | Bitstring): { bytes: Uint8Array; bitLength: number } {
  return t instanceof Uint8Array ? { bytes: t, bitLength: t.length * 8 } : { bytes: t.bytes, bitLength: t.bitLength }
}

function listParts(t: ReadonlyArray<Term> | ImproperList): { elements: ReadonlyArray<Term>; tail: Term } {
  return Array.isArray(t)
    ? { elements: t as ReadonlyArray<Term>, tail: [] }
    : { elements: (t as ImproperList).elements, tail: (t as ImproperList).tail }
}

function sortedEntries(m: TermMap): Array<readonly [Term, Term]> {
  return [...m.entries].sort((x, y) => compareExact(x[0], y[0]))
}

/** Total order where 1 < 1.0 (used to sort map keys, as erts does). */
function compareExact(a: Term, b: Term): -1 | 0 | 1 {
  const c = compare(a, b)
  if (c !== 0) return c
  const fa = a instanceof Float || (typeof a === "number" && !Number.isInteger(a))
  const fb = b instanceof Float || (typeof b === "number" && !Number.isInteger(b))
  if (fa !== fb) return fa ? 1 : -1
  return 0
}

/** @internal */
export function compare(a: Term, b: Term): -1 | 0 | 1 {
  if (a === b) return 0
  const ra = rank(a)
  const rb = rank(b)
  if (ra !== rb) return ra < rb ? -1 : 1
  switch (ra) {
    case Rank.Number:
      return compareNumbers(a as number, b as number)
    case Rank.Atom:
      return compareText((a as Atom).name, (b as Atom).name)
    case Rank.Ref: {
      const x = a as Ref
      const y = b as Ref
      let c = compareText(x.node.name, y.node.name)
      if (c !== 0) return c
      c = cmpPrim(x.creation, y.creation)
      if (c !== 0) return c
      // the most significant word is the last one
      const n = Math.max(x.ids.length, y.ids.length)
      for (let i = n - 1; i >= 0; i--) {
        c = cmpPrim(x.ids[i] ?? 0, y.ids[i] ?? 0)
        if (c !== 0) return c
      }
      return 0
    }
    case Rank.Fun: {
      if (a instanceof Export && b instanceof Export) {
        return compareText(a.module.name, b.module.name) || compareText(a.fun.name, b.fun.name) ||
          cmpPrim(a.arity, b.arity)
      }
      if (a instanceof Export) return 1
      if (b instanceof Export) return -1
      const x = a as Fun
      const y = b as Fun
      return compareText(x.module.name, y.module.name) || cmpPrim(x.index, y.index) ||
        compareBytes(x.uniq, y.uniq) || compareBytes(x.bytes, y.bytes)
    }
    case Rank.Port: {
      const x = a as Port
      const y = b as Port
      return compareText(x.node.name, y.node.name) || cmpPrim(x.creation, y.creation) || cmpPrim(x.id, y.id)
    }
    case Rank.Pid: {
      // as erts: serial, then id, then node name, then creation
      const x = a as Pid
      const y = b as Pid
      return cmpPrim(x.serial, y.serial) || cmpPrim(x.id, y.id) || compareText(x.node.name, y.node.name) ||
        cmpPrim(x.creation, y.creation)
    }
    case Rank.Tuple: {
      const x = (a as Tuple).elements
      const y = (b as Tuple).elements
      if (x.length !== y.length) return x.length < y.length ? -1 : 1
      for (let i = 0; i < x.length; i++) {
        const c = compare(x[i]!, y[i]!)
        if (c !== 0) return c
      }
      return 0
    }
    case Rank.Map: {
      const x = a as TermMap
      const y = b as TermMap
      if (x.size !== y.size) return x.size < y.size ? -1 : 1
      const ex = sortedEntries(x)
      const ey = sortedEntries(y)
      for (let i = 0; i < ex.length; i++) {
        const c = compareExact(ex[i]![0], ey[i]![0])
        if (c !== 0) return c
      }
      for (let i = 0; i < ex.length; i++) {
        const c = compare(ex[i]![1], ey[i]![1])
        if (c !== 0) return c
      }
      return 0
    }
    case Rank.Nil:
      return 0
    case Rank.List: {
      const x = listParts(a as ReadonlyArray<Term>)
      const y = listParts(b as ReadonlyArray<Term>)
      const n = Math.min(x.elements.length, y.elements.length)
      for (let i = 0; i < n; i++) {
        const c = compare(x.elements[i]!, y.elements[i]!)
        if (c !== 0) return c
      }
      if (x.elements.length === y.elements.length) return compare(x.tail, y.tail)
      // one list continues where the other has its tail
      if (x.elements.length < y.elements.length) {
        const rest = y.elements.slice(n)
        return compare(x.tail, Array.isArray(y.tail) ? rest : new ImproperList(rest, y.tail))
      }
      const rest = x.elements.slice(n)
      return compare(Array.isArray(x.tail) ? rest : new ImproperList(rest, x.tail), y.tail)
    }
    case Rank.Bits: {
      const x = bitsOf(a as Uint8Array)
      const y = bitsOf(b as Uint8Array)
      const n = Math.min(x.bytes.length, y.bytes.length)
      for (let i = 0; i < n; i++) if (x.bytes[i] !== y.bytes[i]) return x.bytes[i]! < y.bytes[i]! ? -1 : 1
      return cmpPrim(x.bitLength, y.bitLength)
    }
  }
  return 0
}

/** @internal */
export function equals(a: Term, b: Term): boolean {
  if (a === b) return true
  const ta = typeof a
  const tb = typeof b
  if (ta === "number" || ta === "bigint" || a instanceof Float) {
    if (!(tb === "number" || tb === "bigint" || b instanceof Float)) return false
    const fa = a instanceof Float || (ta === "number" && !Number.isInteger(a))
    const fb = b instanceof Float || (tb === "number" && !Number.isInteger(b))
    if (fa !== fb) return false
    if (fa) {
      const x = a instanceof Float ? a.value : (a as number)
      const y = b instanceof Float ? b.value : (b as number)
      return Object.is(x, y) || (x === y && x !== 0)
    }
    return compareNumbers(a as number, b as number) === 0
  }
  if (a instanceof Uint8Array) {
    return b instanceof Uint8Array && a.length === b.length && compareBytes(a, b) === 0
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!equals(a[i], b[i])) return false
    return true
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  const x = a as Exclude<Term, number | bigint | Uint8Array | ReadonlyArray<Term>>
  const y = b as typeof x
  if (x._tag !== y._tag) return false
  switch (x._tag) {
    case "Atom":
      return false // interned: a !== b already
    case "Tuple": {
      const ye = (y as Tuple).elements
      if (x.elements.length !== ye.length) return false
      for (let i = 0; i < ye.length; i++) if (!equals(x.elements[i]!, ye[i]!)) return false
      return true
    }
    case "ImproperList": {
      const yy = y as ImproperList
      return equals(x.elements, yy.elements) && equals(x.tail, yy.tail)
    }
    case "Bitstring": {
      const yy = y as Bitstring
      return x.bitLength === yy.bitLength && compareBytes(x.bytes, yy.bytes) === 0
    }
    case "TermMap": {
      const yy = y as TermMap
      if (x.size !== yy.size) return false
      for (const [k, v] of x.entries) {
        const w = yy.get(k)
        if (w === undefined || !equals(v, w)) return false
      }
      return true
    }
    case "Pid": {
      const yy = y as Pid
      return x.node === yy.node && x.id === yy.id && x.serial === yy.serial && x.creation === yy.creation
    }
    case "Ref": {
      const yy = y as Ref
      // as erts: missing high words count as zero, so [N] and [N, 0] are the same ref
      if (x.node !== yy.node || x.creation !== yy.creation) return false
      const n = Math.max(x.ids.length, yy.ids.length)
      for (let i = 0; i < n; i++) if ((x.ids[i] ?? 0) !== (yy.ids[i] ?? 0)) return false
      return true
    }
    case "Port": {
      const yy = y as Port
      return x.node === yy.node && x.id === yy.id && x.creation === yy.creation
    }
    case "Export": {
      const yy = y as Export
      return x.module === yy.module && x.fun === yy.fun && x.arity === yy.arity
    }
    case "Fun":
      return compareBytes(x.bytes, (y as Fun).bytes) === 0
    case "Float":
      return false
  }
}

/** The ref words without high zero words, joined with dots (equal refs give equal text). @internal */
export function refWords(ids: ReadonlyArray<number>): string {
  let n = ids.length
  while (n > 1 && ids[n - 1] === 0) n--
  return ids.slice(0, n).join(".")
}

/** A string that is equal for `=:=`-equal terms (map index key). @internal */
export function keyOf(t: Term): string {
  return formatWith(t, true, detached)
}

// --- guards -----------------------------------------------------------------

/** @internal */
export function isTerm(u: unknown, depth: number): boolean {
  if (depth > 10_000) return false
  switch (typeof u) {
    case "number":
      return Number.isFinite(u) && (!Number.isInteger(u) || Number.isSafeInteger(u))
    case "bigint":
      return true
    case "object":
      break
    default:
      return false
  }
  if (u === null) return false
  if (u instanceof Uint8Array) return true
  if (Array.isArray(u)) return u.every((e) => isTerm(e, depth + 1))
  if (u instanceof Tuple) return u.elements.every((e) => isTerm(e, depth + 1))
  if (u instanceof ImproperList) {
    return u.elements.length > 0 && u.elements.every((e) => isTerm(e, depth + 1)) && !Array.isArray(u.tail) &&
      isTerm(u.tail, depth + 1)
  }
  if (u instanceof TermMap) return u.entries.every(([k, v]) => isTerm(k, depth + 1) && isTerm(v, depth + 1))
  if (u instanceof Float) return Number.isFinite(u.value)
  return u instanceof Atom || u instanceof Pid || u instanceof Ref || u instanceof Port ||
    u instanceof Export || u instanceof Fun || u instanceof Bitstring
}

// --- printing ---------------------------------------------------------------

/**
 * The words `erl_scan` (OTP 25) reserves: they cannot be bare atoms. Shared by the
 * printer and the term parser (`internal/termLiteral.ts`).
 * @internal
 */
export const reservedWords: ReadonlySet<string> = new Set([
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

/** The printer also quotes `maybe` and `else` (reserved from OTP 27, or with the `maybe_expr` feature). */
const quotedWords: ReadonlySet<string> = new Set([...reservedWords, "maybe", "else"])

/** @internal */
export function formatAtom(name: string): string {
  if (/^[a-z][a-zA-Z0-9_@]*$/.test(name) && !quotedWords.has(name)) return name
  return `'${escape(name, "'")}'`
}

/** `io_lib`'s escapes: letters where Erlang has one, else three octal digits (`\\001`, never `\\1`). */
function controlEscape(c: number): string {
  switch (c) {
    case 8:
      return "\\b"
    case 9:
      return "\\t"
    case 10:
      return "\\n"
    case 11:
      return "\\v"
    case 12:
      return "\\f"
    case 13:
      return "\\r"
    case 27:
      return "\\e"
    case 127:
      return "\\d"
    default:
      return `\\${c.toString(8).padStart(3, "0")}`
  }
}

function escape(s: string, quote: string): string {
  let out = ""
  for (const ch of s) {
    const c = ch.codePointAt(0)!
    if (ch === quote || ch === "\\") out += "\\" + ch
    else if (c < 32 || c === 127) out += controlEscape(c)
    else out += ch
  }
  return out
}

/**
 * Erlang's shortest round-trip float text (`io_lib:format("~p")`): the shortest digits
 * that read back to the same float, written in fixed or scientific notation, whichever
 * is shorter (fixed on a tie): `1.0`, `-0.0`, `1.0e300`, `1.0e5`, `123456.0`, `1.2e-4`.
 * @internal
 */
export function formatFloat(v: number): string {
  if (Object.is(v, -0)) return "-0.0"
  if (!Number.isFinite(v)) return String(v)
  const neg = v < 0
  const [mant, expText] = Math.abs(v).toExponential().split("e") as [string, string]
  const exp = Number(expText)
  const digits = mant.replace(".", "")
  const sci = (digits.length === 1 ? `${digits}.0` : `${digits[0]}.${digits.slice(1)}`) + `e${exp}`
  let fixed: string
  if (exp >= 0) {
    if (digits.length <= exp + 1) fixed = digits + "0".repeat(exp + 1 - digits.length) + ".0"
    else fixed = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`
  } else {
    fixed = `0.${"0".repeat(-exp - 1)}${digits}`
  }
  return (neg ? "-" : "") + (sci.length < fixed.length ? sci : fixed)
}

function isPrintableChar(c: unknown): c is number {
  return typeof c === "number" && Number.isInteger(c) &&
    // io_lib:printable_latin1_list/1 (BEL, 7, is not printable)
    ((c >= 32 && c <= 126) || (c >= 160 && c <= 255) || c === 10 || c === 9 || c === 13 || c === 8 || c === 27 ||
      c === 11 || c === 12)
}

/**
 * Code units per `String.fromCharCode`/`fromCodePoint` call: arguments live on the
 * stack, and a single call with ~120k of them throws `RangeError`.
 */
const CHUNK = 8192

/** `String.fromCharCode(...codes)` for any length (in chunks). @internal */
export function fromCharCodes(codes: Uint8Array | ReadonlyArray<number>): string {
  const n = codes.length
  if (n <= CHUNK) return String.fromCharCode.apply(null, codes as Array<number>)
  const parts: Array<string> = []
  for (let i = 0; i < n; i += CHUNK) {
    const part = codes instanceof Uint8Array ? codes.subarray(i, i + CHUNK) : codes.slice(i, i + CHUNK)
    parts.push(String.fromCharCode.apply(null, part as Array<number>))
  }
  return parts.join("")
}

/** `String.fromCodePoint(...codes)` for any length (in chunks). @internal */
export function fromCodePoints(codes: ReadonlyArray<number>): string {
  const n = codes.length
  if (n <= CHUNK) return String.fromCodePoint.apply(null, codes as Array<number>)
  const parts: Array<string> = []
  for (let i = 0; i < n; i += CHUNK) {
    parts.push(String.fromCodePoint.apply(null, codes.slice(i, i + CHUNK) as Array<number>))
  }
  return parts.join("")
}

/** @internal */
export function toText(t: Term): string | undefined {
  if (t instanceof Uint8Array) {
    try {
      return decoder.decode(t)
    } catch {
      return undefined
    }
  }
  if (Array.isArray(t)) {
    if (!t.every((c) => typeof c === "number" && Number.isInteger(c) && c >= 0 && c <= 0x10ffff)) return undefined
    return fromCodePoints(t as Array<number>)
  }
  return undefined
}

function printableBinary(b: Uint8Array): string | undefined {
  if (b.length === 0) return undefined
  for (const c of b) if (!isPrintableChar(c) || c >= 128) return undefined
  return fromCharCodes(b)
}

/** Prints `t` as `local` (by default the running fiber's node) prints it. @internal */
export function format(t: Term, local?: LocalNode): string {
  return formatWith(t, false, local ?? ambientLocalNode())
}

function formatWith(t: Term, exact: boolean, local: LocalNode): string {
  switch (typeof t) {
    case "number":
      // a non-integral number is a float: in exact mode it must key like `Float` (`1.5 =:= Float(1.5)`)
      return Number.isInteger(t) ? String(t) : exact ? `f:${formatFloat(t)}` : formatFloat(t)
    case "bigint":
      return t.toString()
  }
  if (t instanceof Uint8Array) {
    const text = printableBinary(t)
    return text !== undefined ? `<<"${escape(text, "\"")}">>` : `<<${Array.from(t).join(",")}>>`
  }
  if (Array.isArray(t)) {
    if (t.length > 0 && !exact && t.every(isPrintableChar)) {
      return `"${escape(fromCharCodes(t as Array<number>), "\"")}"`
    }
    return `[${t.map((e) => formatWith(e, exact, local)).join(",")}]`
  }
  const x = t as Exclude<Term, number | bigint | Uint8Array | ReadonlyArray<Term>>
  switch (x._tag) {
    case "Atom":
      return formatAtom(x.name)
    case "Float":
      return exact ? `f:${formatFloat(x.value)}` : formatFloat(x.value)
    case "Tuple":
      return `{${x.elements.map((e) => formatWith(e, exact, local)).join(",")}}`
    case "ImproperList":
      return `[${x.elements.map((e) => formatWith(e, exact, local)).join(",")}|${formatWith(x.tail, exact, local)}]`
    case "Bitstring": {
      if (x.bytes.length === 0) return "<<>>"
      const whole = Array.from(x.bytes.subarray(0, x.bytes.length - 1))
      const last = x.bytes[x.bytes.length - 1]! >> (8 - x.bits)
      return `<<${[...whole.map(String), `${last}:${x.bits}`].join(",")}>>`
    }
    case "TermMap":
      return `#{${
        sortedEntries(x).map(([k, v]) => `${formatWith(k, exact, local)} => ${formatWith(v, exact, local)}`).join(",")
      }}`
    case "Pid":
      return exact ? `<${x.node.name}/${x.creation}.${x.id}.${x.serial}>` : formatPid(x, local)
    case "Ref":
      return exact ? `#Ref<${x.node.name}/${x.creation}.${refWords(x.ids)}>` : formatRef(x, local)
    case "Port":
      return exact ? `#Port<${x.node.name}/${x.creation}.${x.id}>` : formatPort(x, local)
    case "Export":
      return `fun ${formatAtom(x.module.name)}:${formatAtom(x.fun.name)}/${x.arity}`
    case "Fun":
      return exact
        ? `#Fun<${Array.from(x.bytes).join(",")}>`
        : `#Fun<${x.module.name}.${x.index}.${Array.from(x.uniq.subarray(0, 4)).join("")}>`
  }
}
