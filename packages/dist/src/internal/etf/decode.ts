/**
 * The ETF decoder: a recursive descent over a `Uint8Array`, with a depth counter.
 * Every length is checked against the bytes that remain before anything is allocated,
 * and the work is linear in the input:
 * - list tails (`[A | [B | ...]]` as nested LIST_EXT) are read in a loop into one array;
 * - map keys are checked for duplicates with a seeded structural hash (`keys.ts`);
 * - the estimated heap size of what is built is charged against `maxTermBytes`;
 * - new atoms are refused once the atom table holds `maxAtoms`.
 * @internal
 */
import type { Term } from "@effect-otp/process/Term"
import {
  Atom,
  Bitstring,
  Export,
  Float,
  Fun,
  ImproperList,
  Pid,
  Port,
  Ref,
  TermMap,
  Tuple
} from "@effect-otp/process/Term"
import { getHeapStatistics } from "node:v8"
import { inflateSync } from "node:zlib"
import { DecodeError, type DecodeLimit } from "./errors.js"
import { hasDuplicateKey } from "./keys.js"
import { copyRange } from "./pool.js"
import * as T from "./tags.js"

/** @internal */
export interface DecodeOptions {
  readonly maxDepth?: number | undefined
  readonly versionByte?: boolean | undefined
  readonly copyBinaries?: boolean | undefined
  /** with `copyBinaries`, binaries of at least this many bytes are views of the input anyway */
  readonly shareBinariesFrom?: number | undefined
  readonly atomCache?: ReadonlyArray<Atom | undefined> | undefined
  readonly maxUncompressedSize?: number | undefined
  /** whether a compressed term (tag 80) after the version byte is accepted (default true) */
  readonly compressed?: boolean | undefined
  /** estimated heap bytes the decoded term may take (default `DEFAULT_MAX_TERM_BYTES`) */
  readonly maxTermBytes?: number | undefined
  /** a new atom is refused when the atom table holds this many (default `DEFAULT_MAX_ATOMS`) */
  readonly maxAtoms?: number | undefined
}

/** @internal */
export const DEFAULT_MAX_DEPTH = 1000
/** @internal */
export const DEFAULT_MAX_UNCOMPRESSED = 64 * 1024 * 1024

const MiB = 1024 * 1024
const heapLimit = (): number => {
  try {
    const n = getHeapStatistics().heap_size_limit
    return Number.isFinite(n) && n > 0 ? n : 2048 * MiB
  } catch {
    return 2048 * MiB
  }
}

/**
 * Default `maxTermBytes`: 1/8 of V8's heap limit, between 16 MiB and 512 MiB (512 MiB
 * with Node's default heap on a 64-bit machine, 30 MiB with `--max-old-space-size=192`).
 * One term is decoded at a time (JS has one thread), so one frame can never ask for more
 * than this.
 * @internal
 */
export const DEFAULT_MAX_TERM_BYTES = Math.max(16 * MiB, Math.min(512 * MiB, Math.floor(heapLimit() / 8)))

/**
 * Default `maxAtoms`: OTP's limit (1,048,576), or fewer on a small heap: one atom per
 * 4 KiB of V8's heap limit, at least 16,384. An atom of 255 characters costs at most
 * ~700 bytes (text, object, table entry), so a full table stays under ~1/6 of the heap.
 * @internal
 */
export const DEFAULT_MAX_ATOMS = Math.max(16_384, Math.min(1_048_576, Math.floor(heapLimit() / 4096)))

// --- estimated heap bytes of what the decoder builds (V8, 64 bits, no pointer compression)

/** a JS array: object + backing store header (8 bytes per element on top) */
const H_ARRAY = 48
/** an empty array (`[]`) */
const H_NIL = 32
/** a class instance with a few fields (Tuple, Pid, Float, TermMap, ...) */
const H_OBJECT = 48
/** a Uint8Array (+ its ArrayBuffer when it is a copy) */
const H_BYTES = 160
/** a boxed float or a small bigint */
const H_NUMBER = 16

/**
 * Binaries of SLICE_FROM+1..SLICE_UP_TO bytes (V8 keeps typed arrays of up to 64 bytes on
 * its heap) are copied with `slice`, the first SLICES_PER_TERM of each term: ~2x cheaper
 * than a slab view while they die young, ~5x dearer when they live on (each is a buffer
 * of its own to the GC), so a term with many, such as a large decoded list, gets views.
 */
const SLICE_FROM = 16
const SLICE_UP_TO = 64
const SLICES_PER_TERM = 8

const utf8 = new TextDecoder("utf-8", { fatal: true })

// --- floats -----------------------------------------------------------------

const f64 = new Float64Array(1)
const f64b = new Uint8Array(f64.buffer)
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

// --- atom cache: a direct-mapped table from the UTF-8 bytes of short names ----

const CACHE_BITS = 10
const CACHE_SIZE = 1 << CACHE_BITS
const cacheKeys: Array<Uint8Array | undefined> = new Array(CACHE_SIZE).fill(undefined)
const cacheAtoms: Array<Atom | undefined> = new Array(CACHE_SIZE).fill(undefined)
const CACHE_MAX_LEN = 48
/** by length: the bytes of the atom last read with that length, and the atom */
const lastKeys: Array<Uint8Array | undefined> = new Array(CACHE_MAX_LEN + 1).fill(undefined)
const lastAtoms: Array<Atom | undefined> = new Array(CACHE_MAX_LEN + 1).fill(undefined)

const fail = (offset: number, reason: string): never => {
  throw new DecodeError({ offset, reason })
}

const refuse = (offset: number, reason: string, limit: DecodeLimit): never => {
  throw new DecodeError({ offset, reason, limit })
}

class Decoder {
  b: Uint8Array = new Uint8Array(0)
  /** current position */
  p = 0
  /** end of the readable region */
  end = 0
  /** offset added to positions in error reports (for decompressed input) */
  base = 0
  depth = 0
  maxDepth = DEFAULT_MAX_DEPTH
  copy = true
  shareFrom = Infinity
  atomCache: ReadonlyArray<Atom | undefined> | undefined = undefined
  /** small binaries this term may still copy with `slice` */
  slices = SLICES_PER_TERM
  /** estimated heap bytes built so far, and the limit */
  cost = 0
  maxCost = DEFAULT_MAX_TERM_BYTES
  maxAtoms = DEFAULT_MAX_ATOMS

  /** Sets the decoder up to read one input from `offset`, with these limits. */
  start(
    bytes: Uint8Array,
    offset: number,
    maxDepth: number,
    copy: boolean,
    shareFrom: number,
    atomCache: ReadonlyArray<Atom | undefined> | undefined,
    maxCost: number,
    maxAtoms: number
  ): void {
    this.b = bytes
    this.p = offset
    this.end = bytes.length
    this.base = 0
    this.depth = 0
    this.maxDepth = maxDepth
    this.copy = copy
    this.shareFrom = shareFrom
    this.atomCache = atomCache
    this.cost = 0
    this.maxCost = maxCost
    this.maxAtoms = maxAtoms
  }

  err(at: number, reason: string): never {
    return fail(this.base + at, reason)
  }

  /** Charges `n` estimated heap bytes for what is about to be built at `at`. */
  charge(n: number, at: number): void {
    if ((this.cost += n) > this.maxCost) {
      refuse(
        this.base + at,
        `the decoded term would take more than maxTermBytes (${this.maxCost} bytes of heap)`,
        "TermBytes"
      )
    }
  }

  newAtom(name: string, at: number): Atom {
    const atom = Atom.makeWithin(name, this.maxAtoms)
    if (atom === undefined) {
      return refuse(
        this.base + at,
        `a new atom would pass maxAtoms (the atom table holds ${Atom.count} atoms)`,
        "AtomLimit"
      )
    }
    return atom
  }

  need(n: number, what: string): void {
    if (n > this.end - this.p) this.err(this.p, `truncated ${what}: needs ${n} bytes, ${this.end - this.p} left`)
  }

  u16(): number {
    const b = this.b
    const p = this.p
    this.p = p + 2
    return (b[p]! << 8) | b[p + 1]!
  }

  u32(): number {
    const b = this.b
    const p = this.p
    this.p = p + 4
    return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!)
  }

  i32(): number {
    const b = this.b
    const p = this.p
    this.p = p + 4
    return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!
  }

  bytes(n: number): Uint8Array {
    const p = this.p
    if (this.copy && n < this.shareFrom) {
      this.charge(H_BYTES + n, p)
      this.p = p + n
      // the first few small binaries of a term are V8 on-heap copies (`slice`: cheapest
      // while they die young, as a message's do); a term with many gets slab views (see `copyRange`)
      if (n > SLICE_FROM && n <= SLICE_UP_TO && this.slices > 0) {
        this.slices--
        return this.b.slice(p, p + n)
      }
      return copyRange(this.b, p, p + n)
    }
    this.charge(H_BYTES, p)
    this.p = p + n
    return this.b.subarray(p, p + n)
  }

  /** The version byte 131 of a term that may not be compressed. */
  version(): void {
    const p = this.p
    if (p >= this.end) fail(p, "truncated: expected the version byte 131")
    const v = this.b[p]
    if (v !== T.VERSION) fail(p, `expected the version byte 131, found ${v}`)
    this.p = p + 1
    if (this.p < this.end && this.b[this.p] === T.COMPRESSED) {
      refuse(this.p, "compressed term (tag 80) where it is not accepted (erts: bad_dist_ext)", "Compressed")
    }
  }

  enter(at: number): void {
    if (++this.depth > this.maxDepth) this.err(at, `nesting deeper than maxDepth (${this.maxDepth})`)
  }

  /** Decodes one term at `this.p` (no version byte). */
  term(): Term {
    const b = this.b
    const start = this.p
    if (start >= this.end) this.err(start, "truncated: expected a term")
    const tag = b[start]!
    this.p = start + 1
    switch (tag) {
      case T.SMALL_INTEGER: {
        this.need(1, "SMALL_INTEGER_EXT")
        return b[this.p++]!
      }
      case T.INTEGER: {
        this.need(4, "INTEGER_EXT")
        return this.i32()
      }
      case T.SMALL_ATOM_UTF8: {
        this.need(1, "SMALL_ATOM_UTF8_EXT")
        const n = b[this.p++]!
        this.need(n, "SMALL_ATOM_UTF8_EXT")
        return this.atomUtf8(n, start)
      }
      case T.SMALL_TUPLE: {
        this.need(1, "SMALL_TUPLE_EXT")
        const n = b[this.p++]!
        return this.tuple(n, start)
      }
      case T.NIL:
        this.charge(H_NIL, start)
        return []
      case T.BINARY: {
        this.need(4, "BINARY_EXT")
        const n = this.u32()
        this.need(n, "BINARY_EXT")
        return this.bytes(n)
      }
      case T.NEW_PID:
      case T.PID: {
        const node = this.atom()
        const size = tag === T.NEW_PID ? 12 : 9
        this.need(size, "PID")
        const id = this.u32()
        const serial = this.u32()
        const creation = tag === T.NEW_PID ? this.u32() : b[this.p++]!
        this.charge(H_OBJECT, start)
        return new Pid(node, id, serial, creation)
      }
    }
    return this.termRest(tag, start)
  }

  /** `term` of the less common tags (`tag` at `start` read). */
  termRest(tag: number, start: number): Term {
    const b = this.b
    switch (tag) {
      case T.ATOM_UTF8: {
        this.need(2, "ATOM_UTF8_EXT")
        const n = this.u16()
        this.need(n, "ATOM_UTF8_EXT")
        return this.atomUtf8(n, start)
      }
      case T.ATOM: {
        this.need(2, "ATOM_EXT")
        const n = this.u16()
        this.need(n, "ATOM_EXT")
        return this.atomLatin1(n, start)
      }
      case T.SMALL_ATOM: {
        this.need(1, "SMALL_ATOM_EXT")
        const n = b[this.p++]!
        this.need(n, "SMALL_ATOM_EXT")
        return this.atomLatin1(n, start)
      }
      case T.ATOM_CACHE_REF: {
        this.need(1, "ATOM_CACHE_REF")
        const i = b[this.p++]!
        const atom = this.atomCache?.[i]
        if (atom === undefined) return this.err(start, `ATOM_CACHE_REF ${i} without an atom cache entry`)
        return atom
      }
      case T.LARGE_TUPLE: {
        this.need(4, "LARGE_TUPLE_EXT")
        const n = this.u32()
        return this.tuple(n, start)
      }
      case T.STRING: {
        this.need(2, "STRING_EXT")
        const n = this.u16()
        this.need(n, "STRING_EXT")
        this.charge(H_ARRAY + 8 * n, start)
        const out = new Array<number>(n)
        const p = this.p
        for (let i = 0; i < n; i++) out[i] = b[p + i]!
        this.p = p + n
        return out
      }
      case T.LIST: {
        this.need(4, "LIST_EXT")
        const n = this.u32()
        // each element and the tail take at least one byte
        if (n + 1 > this.end - this.p) this.err(start, `LIST_EXT of ${n} elements does not fit in the input`)
        return this.list(n, start)
      }
      case T.MAP: {
        this.need(4, "MAP_EXT")
        const n = this.u32()
        if (n * 2 > this.end - this.p) this.err(start, `MAP_EXT of ${n} pairs does not fit in the input`)
        return this.map(n, start)
      }
      case T.NEW_FLOAT: {
        this.need(8, "NEW_FLOAT_EXT")
        const p = this.p
        if (littleEndian) {
          for (let i = 0; i < 8; i++) f64b[i] = b[p + 7 - i]!
        } else {
          for (let i = 0; i < 8; i++) f64b[i] = b[p + i]!
        }
        this.p = p + 8
        return this.float(f64[0]!, start)
      }
      case T.FLOAT: {
        this.need(31, "FLOAT_EXT")
        let s = ""
        for (let i = 0; i < 31; i++) {
          const c = b[this.p + i]!
          if (c === 0) break
          s += String.fromCharCode(c)
        }
        this.p += 31
        s = s.trim()
        if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) this.err(start, "FLOAT_EXT is not a float")
        return this.float(Number(s), start)
      }
      case T.SMALL_BIG: {
        this.need(2, "SMALL_BIG_EXT")
        const n = b[this.p++]!
        return this.big(n, start)
      }
      case T.LARGE_BIG: {
        this.need(5, "LARGE_BIG_EXT")
        const n = this.u32()
        return this.big(n, start)
      }
      case T.BIT_BINARY: {
        this.need(5, "BIT_BINARY_EXT")
        const n = this.u32()
        const bits = b[this.p++]!
        if (bits > 8 || (bits === 0) !== (n === 0)) this.err(start, `BIT_BINARY_EXT with ${bits} bits in the last byte`)
        this.need(n, "BIT_BINARY_EXT")
        if (bits === 8 || n === 0) return this.bytes(n)
        const p = this.p
        this.charge(H_OBJECT + H_BYTES + n, start)
        const out = this.b.slice(p, p + n)
        this.p = p + n
        out[n - 1] = out[n - 1]! & ((0xff << (8 - bits)) & 0xff)
        return new Bitstring(out, bits)
      }
      case T.NEW_PORT:
      case T.PORT:
      case T.V4_PORT: {
        const node = this.atom()
        this.charge(H_OBJECT + H_NUMBER, start)
        if (tag === T.V4_PORT) {
          this.need(12, "V4_PORT_EXT")
          const hi = this.u32()
          const lo = this.u32()
          const id = (BigInt(hi) << 32n) | BigInt(lo)
          return new Port(node, id, this.u32())
        }
        this.need(tag === T.NEW_PORT ? 8 : 5, "PORT")
        const id = BigInt(this.u32())
        const creation = tag === T.NEW_PORT ? this.u32() : b[this.p++]!
        return new Port(node, id, creation)
      }
      case T.NEWER_REFERENCE:
      case T.NEW_REFERENCE: {
        this.need(2, "REFERENCE")
        const n = this.u16()
        if (n < 1 || n > 5) this.err(start, `reference with ${n} id words`)
        const node = this.atom()
        this.need((tag === T.NEWER_REFERENCE ? 4 : 1) + 4 * n, "REFERENCE")
        const creation = tag === T.NEWER_REFERENCE ? this.u32() : b[this.p++]!
        this.charge(H_OBJECT + H_ARRAY + 8 * n, start)
        const ids = new Array<number>(n)
        for (let i = 0; i < n; i++) ids[i] = this.u32()
        return new Ref(node, creation, ids)
      }
      case T.REFERENCE: {
        const node = this.atom()
        this.need(5, "REFERENCE_EXT")
        this.charge(H_OBJECT + H_ARRAY + 8, start)
        const id = this.u32()
        return new Ref(node, b[this.p++]!, [id])
      }
      case T.EXPORT: {
        const module = this.atom()
        const fun = this.atom()
        this.need(2, "EXPORT_EXT")
        if (b[this.p] !== T.SMALL_INTEGER) this.err(this.p, "EXPORT_EXT arity is not a SMALL_INTEGER_EXT")
        const arity = b[this.p + 1]!
        this.p += 2
        this.charge(H_OBJECT, start)
        return new Export(module, fun, arity)
      }
      case T.NEW_FUN:
        return this.fun(start)
      case T.FUN:
        return this.err(start, "FUN_EXT (removed in OTP 23) is not supported")
      case T.LOCAL:
        return this.err(start, "LOCAL_EXT is not supported")
      case T.COMPRESSED:
        return this.err(start, "compressed term below the top level")
      case T.VERSION:
        return this.err(start, "unexpected version byte 131 inside a term")
      default:
        return this.err(start, `unknown tag ${tag}`)
    }
  }

  /** An atom, whatever its tag (used for nodes, modules and functions). */
  atom(): Atom {
    const at = this.p
    if (at >= this.end) this.err(at, "truncated: expected an atom")
    const tag = this.b[at]!
    if (
      tag !== T.SMALL_ATOM_UTF8 && tag !== T.ATOM_UTF8 && tag !== T.ATOM && tag !== T.SMALL_ATOM &&
      tag !== T.ATOM_CACHE_REF
    ) {
      this.err(at, `expected an atom, found tag ${tag}`)
    }
    return this.term() as Atom
  }

  atomUtf8(n: number, start: number): Atom {
    const b = this.b
    const p = this.p
    if (n <= CACHE_MAX_LEN) {
      // the atom last read with this length first (the names of a frame repeat): no hash
      const last = lastKeys[n]
      if (last !== undefined) {
        let i = 0
        while (i < n && last[i] === b[p + i]) i++
        if (i === n) {
          this.p = p + n
          return lastAtoms[n]!
        }
      }
      let h = n
      for (let i = 0; i < n; i++) h = (Math.imul(h, 31) + b[p + i]!) | 0
      const slot = (h ^ (h >>> CACHE_BITS)) & (CACHE_SIZE - 1)
      const key = cacheKeys[slot]
      if (key !== undefined && key.length === n) {
        let i = 0
        while (i < n && key[i] === b[p + i]) i++
        if (i === n) {
          this.p = p + n
          lastKeys[n] = key
          return (lastAtoms[n] = cacheAtoms[slot]!)
        }
      }
      const atom = this.atomUtf8Slow(n, start)
      lastKeys[n] = cacheKeys[slot] = b.slice(p, p + n)
      lastAtoms[n] = cacheAtoms[slot] = atom
      return atom
    }
    return this.atomUtf8Slow(n, start)
  }

  atomUtf8Slow(n: number, start: number): Atom {
    const b = this.b
    const p = this.p
    let ascii = true
    for (let i = 0; i < n; i++) {
      if (b[p + i]! >= 0x80) {
        ascii = false
        break
      }
    }
    let name: string
    if (ascii) {
      if (n > 255) this.err(start, `atom of ${n} characters (at most 255)`)
      name = latin1(b, p, n)
    } else {
      try {
        name = utf8.decode(b.subarray(p, p + n))
      } catch {
        return this.err(start, "atom is not valid UTF-8")
      }
      if (n > 255) {
        let chars = 0
        for (const _ of name) chars++
        if (chars > 255) this.err(start, `atom of ${chars} characters (at most 255)`)
      }
    }
    this.p = p + n
    return this.newAtom(name, start)
  }

  atomLatin1(n: number, start: number): Atom {
    if (n > 255) this.err(start, `atom of ${n} characters (at most 255)`)
    const b = this.b
    const p = this.p
    for (let i = 0; i < n; i++) {
      if (b[p + i]! >= 0x80) {
        this.p = p + n
        return this.newAtom(latin1(b, p, n), start)
      }
    }
    // ASCII: the same bytes in UTF-8
    return this.atomUtf8(n, start)
  }

  tuple(n: number, start: number, reuse = false): Tuple {
    if (n > this.end - this.p) this.err(start, `tuple of arity ${n} does not fit in the input`)
    this.enter(start)
    this.charge(H_OBJECT + H_ARRAY + 8 * n, start)
    const reused = reuse && n < REUSED_ARITY
    const elements = reused ? reusedElements[n]! : new Array<Term>(n)
    for (let i = 0; i < n; i++) elements[i] = this.term()
    this.depth--
    return reused ? reusedTuples[n]! : new Tuple(elements)
  }

  /**
   * A LIST_EXT of `n` elements (header read). Its tail is read in a loop: a tail that is
   * itself a LIST_EXT or a STRING_EXT continues the same array (no copy, no nesting), so
   * `[A | [B | [C | T]]]` costs what `[A, B, C | T]` costs.
   */
  list(n: number, start: number): Term {
    this.enter(start)
    this.charge(H_ARRAY + 8 * n, start)
    const elements = new Array<Term>(n)
    for (let i = 0; i < n; i++) elements[i] = this.term()
    const b = this.b
    for (;;) {
      const at = this.p
      if (at >= this.end) this.err(at, "truncated: expected a list tail")
      const tag = b[at]!
      if (tag === T.NIL) {
        this.p = at + 1
        this.depth--
        if (elements.length === 0) this.charge(H_NIL, at)
        return elements
      }
      if (tag === T.LIST) {
        this.p = at + 1
        this.need(4, "LIST_EXT")
        const m = this.u32()
        if (m + 1 > this.end - this.p) this.err(at, `LIST_EXT of ${m} elements does not fit in the input`)
        this.charge(8 * m, at)
        for (let i = 0; i < m; i++) elements.push(this.term())
        continue
      }
      if (tag === T.STRING) {
        this.p = at + 1
        this.need(2, "STRING_EXT")
        const m = this.u16()
        this.need(m, "STRING_EXT")
        this.charge(8 * m, at)
        const p = this.p
        for (let i = 0; i < m; i++) elements.push(b[p + i]!)
        this.p = p + m
        this.depth--
        return elements
      }
      break
    }
    const tail = this.term()
    this.depth--
    // an empty LIST_EXT is its tail
    if (elements.length === 0) return tail
    this.charge(H_OBJECT, start)
    return new ImproperList(elements, tail)
  }

  map(n: number, start: number): TermMap {
    this.enter(start)
    this.charge(H_OBJECT + H_ARRAY + (8 + H_ARRAY + 16) * n, start)
    const entries = new Array<readonly [Term, Term]>(n)
    for (let i = 0; i < n; i++) {
      const k = this.term()
      entries[i] = [k, this.term()]
    }
    this.depth--
    if (n > 1 && hasDuplicateKey(entries)) this.err(start, "MAP_EXT with a duplicate key")
    return new TermMap(entries)
  }

  float(v: number, start: number): Term {
    if (!Number.isFinite(v)) this.err(start, "float is not finite")
    this.charge(Number.isInteger(v) ? H_OBJECT : H_NUMBER, start)
    return Number.isInteger(v) ? new Float(v) : v
  }

  big(n: number, start: number): number | bigint {
    this.need(n + 1, "BIG_EXT")
    const b = this.b
    const negative = b[this.p++] !== 0
    const p = this.p
    this.p = p + n
    if (n <= 6) {
      let v = 0
      for (let i = n - 1; i >= 0; i--) v = v * 256 + b[p + i]!
      return negative ? (v === 0 ? 0 : -v) : v
    }
    // skip high zero bytes
    let top = n - 1
    while (top >= 0 && b[p + top] === 0) top--
    if (top < 6) {
      let v = 0
      for (let i = top; i >= 0; i--) v = v * 256 + b[p + i]!
      return negative ? (v === 0 ? 0 : -v) : v
    }
    this.charge(H_NUMBER + 4 * (top + 1), start)
    let hex = ""
    for (let i = top; i >= 0; i--) hex += HEX[b[p + i]!]
    let v = BigInt("0x" + hex)
    if (negative) v = -v
    if (v >= MIN_SAFE && v <= MAX_SAFE) return Number(v)
    return v
  }

  fun(start: number): Fun {
    const b = this.b
    this.need(4, "NEW_FUN_EXT")
    const size = this.u32()
    const bodyStart = start + 1
    if (size < 4 + 1 + 16 + 4 + 4 || size > this.end - bodyStart) {
      this.err(start, `NEW_FUN_EXT of size ${size} does not fit in the input`)
    }
    const bodyEnd = bodyStart + size
    const savedEnd = this.end
    this.end = bodyEnd
    const arity = b[this.p++]!
    const uniq = b.slice(this.p, this.p + 16)
    this.p += 16
    const index = this.u32()
    const numFree = this.u32()
    const module = this.atom()
    const oldIndex = this.term()
    const oldUniq = this.term()
    if (typeof oldIndex !== "number" || !Number.isInteger(oldIndex)) this.err(start, "NEW_FUN_EXT OldIndex")
    if (typeof oldUniq !== "number" || !Number.isInteger(oldUniq)) this.err(start, "NEW_FUN_EXT OldUniq")
    if (!(this.term() instanceof Pid)) this.err(start, "NEW_FUN_EXT Pid is not a pid")
    if (numFree > this.end - this.p) this.err(start, `NEW_FUN_EXT with ${numFree} free variables`)
    this.enter(start)
    for (let i = 0; i < numFree; i++) this.term()
    this.depth--
    if (this.p !== bodyEnd) this.err(start, "NEW_FUN_EXT size does not match its contents")
    this.end = savedEnd
    this.charge(H_OBJECT + 2 * H_BYTES + size, start)
    return new Fun(module, arity, index, uniq, b.slice(bodyStart, bodyEnd))
  }
}

const HEX: ReadonlyArray<string> = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
const MIN_SAFE = -MAX_SAFE

function latin1(b: Uint8Array, p: number, n: number): string {
  if (n <= 16) {
    let s = ""
    for (let i = 0; i < n; i++) s += String.fromCharCode(b[p + i]!)
    return s
  }
  return String.fromCharCode.apply(null, b.subarray(p, p + n) as unknown as Array<number>)
}

// --- entry points --------------------------------------------------------------

const shared = new Decoder()

/** @internal */
export function decodeAt(
  bytes: Uint8Array,
  offset: number,
  options?: DecodeOptions
): { readonly term: Term; readonly end: number } {
  const d = shared
  d.start(
    bytes,
    offset,
    options?.maxDepth ?? DEFAULT_MAX_DEPTH,
    options?.copyBinaries ?? true,
    options?.shareBinariesFrom ?? Infinity,
    options?.atomCache,
    options?.maxTermBytes ?? DEFAULT_MAX_TERM_BYTES,
    options?.maxAtoms ?? DEFAULT_MAX_ATOMS
  )
  // (a Buffer's `slice` would be a view)
  d.slices = bytes.constructor === Uint8Array ? SLICES_PER_TERM : 0
  try {
    if (!(offset >= 0 && offset <= bytes.length && Number.isInteger(offset))) fail(offset, "offset outside the input")
    if (options?.versionByte ?? true) {
      if (offset >= bytes.length) fail(offset, "truncated: expected the version byte 131")
      if (bytes[offset] !== T.VERSION) fail(offset, `expected the version byte 131, found ${bytes[offset]}`)
      d.p = offset + 1
      if (d.p < d.end && bytes[d.p] === T.COMPRESSED) {
        if (options?.compressed === false) {
          refuse(d.p, "compressed term (tag 80) where it is not accepted (erts: bad_dist_ext)", "Compressed")
        }
        return compressed(d, options)
      }
    }
    const term = d.term()
    const end = d.p
    d.b = EMPTY
    spent = d.cost
    return { term, end }
  } catch (e) {
    d.b = EMPTY
    d.atomCache = undefined
    throw toDecodeError(e, d.base + d.p)
  }
}

let spent = 0

/** The estimated heap bytes of the term the last successful `decodeAt` returned. @internal */
export const lastTermBytes = (): number => spent

/**
 * What `decodePair` read: the first term, the second (`undefined` when the first ends
 * the input) and where the second ended. One object, overwritten by every call.
 * @internal
 */
export interface Pair {
  first: Term
  second: Term | undefined
  end: number
}

const pair: Pair = { first: 0, second: undefined, end: 0 }

/** `decodePair`'s first term, when it is a tuple of fewer elements than this, is a reused one. */
const REUSED_ARITY = 8
const reusedElements: Array<Array<Term>> = Array.from({ length: REUSED_ARITY }, (_, n) => new Array<Term>(n))
const reusedTuples: Array<Tuple> = reusedElements.map((elements) => new Tuple(elements))

/**
 * The terms of a distribution frame: one term at `offset`, then a second one if any
 * bytes follow it (each with its version byte when `versionByte`; compressed terms are
 * refused). Both share one `maxTermBytes` budget, as one `decodeAt` of each with the
 * budget the first left would; binaries from `shareFrom` bytes are views of `bytes`.
 * Throws `DecodeError`. The answer is a shared object (see `Pair`), valid until the
 * next call, and so is the first term when it is a tuple of fewer than `REUSED_ARITY`
 * elements (a control message: read, never kept). @internal
 */
export function decodePair(
  bytes: Uint8Array,
  offset: number,
  versionByte: boolean,
  shareFrom: number,
  maxTermBytes: number,
  maxAtoms: number
): Pair {
  const d = shared
  d.start(bytes, offset, DEFAULT_MAX_DEPTH, true, shareFrom, undefined, maxTermBytes, maxAtoms)
  // (a Buffer's `slice` would be a view)
  const slices = bytes.constructor === Uint8Array ? SLICES_PER_TERM : 0
  try {
    if (versionByte) d.version()
    d.slices = slices
    const start = d.p
    let first: Term
    if (start + 1 < d.end && bytes[start] === T.SMALL_TUPLE) {
      // a control message (read, never kept): the reused tuple of its arity
      d.p = start + 2
      first = d.tuple(bytes[start + 1]!, start, true)
    } else first = d.term()
    let second: Term | undefined
    if (d.p < d.end) {
      if (versionByte) d.version()
      d.slices = slices
      second = d.term()
    }
    pair.first = first
    pair.second = second
    pair.end = d.p
    d.b = EMPTY
    return pair
  } catch (e) {
    d.b = EMPTY
    throw toDecodeError(e, d.base + d.p)
  }
}

const EMPTY = new Uint8Array(0)

function compressed(d: Decoder, options?: DecodeOptions): { readonly term: Term; readonly end: number } {
  const bytes = d.b
  const start = d.p
  d.p++
  d.need(4, "compressed term")
  const size = d.u32()
  const limit = options?.maxUncompressedSize ?? DEFAULT_MAX_UNCOMPRESSED
  if (size > limit) fail(start, `compressed term of ${size} bytes is over the limit (${limit})`)
  if (size === 0) fail(start, "compressed term of 0 bytes")
  // the inflated bytes are on the heap as long as the decoder reads them
  d.charge(size, start)
  let inflated: Uint8Array
  try {
    inflated = inflateSync(bytes.subarray(d.p), { maxOutputLength: size })
  } catch (e) {
    return fail(start, `bad zlib data: ${e instanceof Error ? e.message : String(e)}`)
  }
  if (inflated.length !== size) fail(start, `compressed term inflates to ${inflated.length} bytes, not ${size}`)
  // the zlib stream is taken to run to the end of the input
  const end = bytes.length
  d.b = inflated
  d.slices = 0
  d.p = 0
  d.end = inflated.length
  d.base = start + 5
  d.copy = true
  d.shareFrom = Infinity
  const term = d.term()
  if (d.p !== inflated.length) fail(d.base + d.p, "trailing bytes after the compressed term")
  d.b = EMPTY
  d.base = 0
  spent = d.cost
  return { term, end }
}

function toDecodeError(e: unknown, at: number): DecodeError {
  if (e instanceof DecodeError) return e
  if (e instanceof RangeError && /call stack/i.test(e.message)) {
    return new DecodeError({ offset: at, reason: "nesting too deep for the JS stack" })
  }
  return new DecodeError({ offset: at, reason: `internal error: ${e instanceof Error ? e.message : String(e)}` })
}
