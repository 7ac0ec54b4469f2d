/**
 * The ETF encoder: writes terms into a growable buffer, with the tags that
 * `term_to_binary(T, [{minor_version, 2}])` picks.
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
import { EncodeError } from "./errors.js"
import { allocUninitialized, copyRange } from "./pool.js"
import * as T from "./tags.js"

const f64 = new Float64Array(1)
const f64b = new Uint8Array(f64.buffer)
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
const utf8 = new TextEncoder()

/** UTF-8 bytes of non-ASCII atom names (atoms are interned forever anyway). */
const atomBytes = new Map<Atom, Uint8Array>()

const allocZeroed = (n: number): Uint8Array => new Uint8Array(n)

const fail = (reason: string): never => {
  throw new EncodeError({ reason })
}

const describe = (u: unknown): string => {
  if (u === null) return "null"
  if (typeof u === "string") return `a JS string (${JSON.stringify(u.slice(0, 20))}); use Term.binary or Term.charlist`
  if (typeof u === "number") return `the number ${u}`
  if (typeof u === "object") {
    const name = (u as object).constructor?.name
    return name === undefined || name === "Object" ? "a plain object" : `an instance of ${name}`
  }
  return `a value of type ${typeof u}`
}

/**
 * A growable byte buffer. ETF terms and raw integers can be appended to it, several
 * times (a distribution frame carries a control term and a message back to back).
 *
 * @since 0.1.0
 * @category encoding
 */
export class Writer {
  /** @internal */
  buf: Uint8Array
  /** @internal */
  pos = 0
  /**
   * Bytes before `base` belong to someone else (e.g. chunks already handed to a
   * socket): growing the buffer copies only `[base, pos)`, to offset 0. Always 0
   * unless set by the owner. @internal
   */
  base = 0
  /** @internal */
  readonly alloc: (n: number) => Uint8Array
  /**
   * When set, the bytes of a binary of at least `spillSize` bytes are not copied: after
   * its header is written, `spill(bytes)` is called and must take `[base, pos)` and
   * then the binary itself (e.g. as chunks of a vectored write), leaving `base = pos`.
   * @internal
   */
  spill: ((bytes: Uint8Array) => void) | undefined = undefined
  /** @internal */
  spillSize = 64 * 1024

  constructor(initialCapacity = 256, alloc: (n: number) => Uint8Array = allocZeroed) {
    this.alloc = alloc
    this.buf = alloc(Math.max(16, initialCapacity))
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos - this.base
  }

  /** Forgets what was written (keeps the buffer). */
  reset(): void {
    this.pos = this.base
  }

  /**
   * The written bytes as a view of the internal buffer: valid until the next write
   * or `reset`. Copy it (or use `toUint8Array`) to keep it.
   */
  view(): Uint8Array {
    return this.buf.subarray(this.base, this.pos)
  }

  /** A copy of the written bytes. */
  toUint8Array(): Uint8Array {
    return this.buf.slice(this.base, this.pos)
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n)
  }

  private grow(n: number): void {
    const base = this.base
    const used = this.pos - base
    let size = this.buf.length
    while (size < used + n) size *= 2
    const next = this.alloc(size)
    next.set(this.buf.subarray(base, this.pos))
    this.buf = next
    this.pos = used
    this.base = 0
  }

  /** Appends a byte. */
  u8(v: number): void {
    this.ensure(1)
    this.buf[this.pos++] = v
  }

  /** Appends a big-endian u16. */
  u16(v: number): void {
    this.ensure(2)
    const b = this.buf
    const p = this.pos
    b[p] = v >>> 8
    b[p + 1] = v
    this.pos = p + 2
  }

  /** Appends a big-endian u32. */
  u32(v: number): void {
    this.ensure(4)
    this.putU32(this.pos, v)
    this.pos += 4
  }

  /** Appends a big-endian u64. */
  u64(v: bigint): void {
    this.u32(Number((v >> 32n) & 0xffffffffn))
    this.u32(Number(v & 0xffffffffn))
  }

  /** Overwrites a big-endian u32 at `offset` (e.g. a length prefix written before its contents). */
  putU32(offset: number, v: number): void {
    const b = this.buf
    b[offset] = v >>> 24
    b[offset + 1] = v >>> 16
    b[offset + 2] = v >>> 8
    b[offset + 3] = v
  }

  /** Appends raw bytes. */
  bytes(bytes: Uint8Array): void {
    const n = bytes.length
    this.ensure(n)
    if (n <= 32) {
      const b = this.buf
      let p = this.pos
      for (let i = 0; i < n; i++) b[p++] = bytes[i]!
      this.pos = p
    } else {
      this.buf.set(bytes, this.pos)
      this.pos += n
    }
  }

  /** @internal */
  term(t: Term): void {
    switch (typeof t) {
      case "number":
        return this.number(t)
      case "bigint":
        return this.bigint(t)
      case "object":
        break
      default:
        return fail(`not a term: ${describe(t)}`)
    }
    // the common kinds first, by `instanceof` (a prototype-chain walk: no megamorphic
    // property load as `_tag` would be at this site)
    if (t instanceof Atom) return this.atom(t)
    if (t instanceof Tuple) return this.tuple(t)
    if (t instanceof Uint8Array) return this.binary(t)
    if (Array.isArray(t)) return this.list(t as ReadonlyArray<Term>)
    if (t instanceof TermMap) return this.map(t)
    if (t === null) return fail("not a term: null")
    switch ((t as { _tag?: unknown })._tag) {
      case "Atom":
        if (t instanceof Atom) return this.atom(t)
        break
      case "Tuple":
        if (t instanceof Tuple) return this.tuple(t)
        break
      case "TermMap":
        if (t instanceof TermMap) return this.map(t)
        break
      case "Float":
        if (t instanceof Float) {
          if (typeof t.value !== "number" || !Number.isFinite(t.value)) fail(`Float(${t.value}) is not finite`)
          return this.float(t.value)
        }
        break
      case "Pid":
        if (t instanceof Pid) return this.pid(t)
        break
      case "Ref":
        if (t instanceof Ref) return this.ref(t)
        break
      case "Port":
        if (t instanceof Port) return this.port(t)
        break
      case "ImproperList":
        if (t instanceof ImproperList) return this.improper(t)
        break
      case "Bitstring":
        if (t instanceof Bitstring) return this.bitstring(t)
        break
      case "Export":
        if (t instanceof Export) return this.export(t)
        break
      case "Fun":
        if (t instanceof Fun) {
          this.u8(T.NEW_FUN)
          return this.bytes(t.bytes)
        }
        break
    }
    return fail(`not a term: ${describe(t)}`)
  }

  /** A BINARY_EXT (a large one spilled, see `spill`). @internal */
  binary(t: Uint8Array): void {
    this.ensure(5)
    this.buf[this.pos] = T.BINARY
    this.putU32(this.pos + 1, t.length)
    this.pos += 5
    if (this.spill !== undefined && t.length >= this.spillSize) return this.spill(t)
    return this.bytes(t)
  }

  /** @internal */
  number(v: number): void {
    if ((v | 0) === v) {
      // int32 (and -0, which is the integer 0)
      this.ensure(5)
      const b = this.buf
      const p = this.pos
      if (v >= 0 && v <= 255) {
        b[p] = T.SMALL_INTEGER
        b[p + 1] = v
        this.pos = p + 2
      } else {
        b[p] = T.INTEGER
        this.putU32(p + 1, v)
        this.pos = p + 5
      }
      return
    }
    if (Number.isInteger(v)) {
      if (!Number.isSafeInteger(v)) fail(`the number ${v} is not a safe integer; use a bigint`)
      // a safe integer beyond int32: SMALL_BIG with up to 7 digit bytes
      this.ensure(10)
      const b = this.buf
      const p = this.pos
      b[p] = T.SMALL_BIG
      b[p + 2] = v < 0 ? 1 : 0
      let m = Math.abs(v)
      let n = 0
      while (m > 0) {
        b[p + 3 + n] = m % 256
        m = Math.floor(m / 256)
        n++
      }
      b[p + 1] = n
      this.pos = p + 3 + n
      return
    }
    if (!Number.isFinite(v)) fail(`the number ${v} is not finite (Erlang has no NaN or infinity)`)
    this.float(v)
  }

  /** @internal */
  float(v: number): void {
    this.ensure(9)
    const b = this.buf
    const p = this.pos
    b[p] = T.NEW_FLOAT
    f64[0] = v
    if (littleEndian) {
      for (let i = 0; i < 8; i++) b[p + 1 + i] = f64b[7 - i]!
    } else {
      for (let i = 0; i < 8; i++) b[p + 1 + i] = f64b[i]!
    }
    this.pos = p + 9
  }

  /** @internal */
  bigint(v: bigint): void {
    if (v >= -0x80000000n && v <= 0x7fffffffn) return this.number(Number(v))
    const negative = v < 0n
    const hex = (negative ? -v : v).toString(16)
    const digits = (hex.length + 1) >> 1
    this.ensure(6 + digits)
    const b = this.buf
    let p = this.pos
    if (digits <= 255) {
      b[p++] = T.SMALL_BIG
      b[p++] = digits
    } else {
      b[p++] = T.LARGE_BIG
      this.putU32(p, digits)
      p += 4
    }
    b[p++] = negative ? 1 : 0
    // little-endian digits from the end of the hex text
    let i = hex.length
    while (i >= 2) {
      b[p++] = parseInt(hex.slice(i - 2, i), 16)
      i -= 2
    }
    if (i === 1) b[p++] = parseInt(hex[0]!, 16)
    this.pos = p
  }

  /** @internal */
  atom(a: Atom): void {
    const s = a.name
    const n = s.length
    if (n <= 255) {
      this.ensure(2 + n)
      const b = this.buf
      let p = this.pos + 2
      let i = 0
      for (; i < n; i++) {
        const c = s.charCodeAt(i)
        if (c >= 0x80) break
        b[p++] = c
      }
      if (i === n) {
        b[this.pos] = T.SMALL_ATOM_UTF8
        b[this.pos + 1] = n
        this.pos = p
        return
      }
    }
    let bytes = atomBytes.get(a)
    if (bytes === undefined) {
      if (typeof s !== "string") fail("an atom without a name")
      let chars = 0
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i)
        if (c < 0xd800 || c > 0xdbff) chars++
      }
      if (chars > 255) fail(`atom of ${chars} characters (Erlang allows at most 255)`)
      bytes = utf8.encode(s)
      atomBytes.set(a, bytes)
    }
    if (bytes.length <= 255) {
      this.ensure(2)
      this.buf[this.pos++] = T.SMALL_ATOM_UTF8
      this.buf[this.pos++] = bytes.length
    } else {
      this.ensure(3)
      this.buf[this.pos++] = T.ATOM_UTF8
      this.u16(bytes.length)
    }
    this.bytes(bytes)
  }

  /** @internal */
  tuple(t: Tuple): void {
    const es = t.elements
    const n = es.length
    if (n <= 255) {
      this.ensure(2)
      this.buf[this.pos++] = T.SMALL_TUPLE
      this.buf[this.pos++] = n
    } else {
      this.ensure(5)
      this.buf[this.pos] = T.LARGE_TUPLE
      this.putU32(this.pos + 1, n)
      this.pos += 5
    }
    for (let i = 0; i < n; i++) this.element(es[i]!)
  }

  /**
   * One element of a tuple, a list or a map: small integers and atoms (most fields of
   * records) without the full dispatch of `term`.
   * @internal
   */
  element(t: Term): void {
    if (typeof t === "number") {
      if (t >= 0 && t <= 255 && (t | 0) === t) {
        this.ensure(2)
        const b = this.buf
        const p = this.pos
        b[p] = T.SMALL_INTEGER
        b[p + 1] = t
        this.pos = p + 2
        return
      }
      return this.number(t)
    }
    if (t instanceof Atom) return this.atom(t)
    if (t instanceof Tuple) return this.tuple(t)
    if (t instanceof Uint8Array) {
      const n = t.length
      if (n <= 32 && n < this.spillSize) {
        // a short binary: header and bytes in one go
        this.ensure(5 + n)
        const b = this.buf
        let p = this.pos
        b[p] = T.BINARY
        b[p + 1] = 0
        b[p + 2] = 0
        b[p + 3] = 0
        b[p + 4] = n
        p += 5
        for (let i = 0; i < n; i++) b[p++] = t[i]!
        this.pos = p
        return
      }
      return this.binary(t)
    }
    return this.term(t)
  }

  /** @internal */
  map(m: TermMap): void {
    const es = m.entries
    const n = es.length
    this.ensure(5)
    this.buf[this.pos] = T.MAP
    this.putU32(this.pos + 1, n)
    this.pos += 5
    for (let i = 0; i < n; i++) {
      const e = es[i]!
      this.element(e[0])
      this.element(e[1])
    }
  }

  /** @internal */
  list(l: ReadonlyArray<Term>): void {
    const n = l.length
    if (n === 0) return this.u8(T.NIL)
    if (n <= 0xffff && isByteList(l)) {
      this.ensure(3 + n)
      const b = this.buf
      let p = this.pos
      b[p++] = T.STRING
      b[p++] = n >>> 8
      b[p++] = n
      for (let i = 0; i < n; i++) b[p++] = Number(l[i])
      this.pos = p
      return
    }
    this.ensure(5)
    this.buf[this.pos] = T.LIST
    this.putU32(this.pos + 1, n)
    this.pos += 5
    for (let i = 0; i < n; i++) this.element(l[i]!)
    this.u8(T.NIL)
  }

  /** @internal */
  improper(l: ImproperList): void {
    const es = l.elements
    const n = es.length
    this.ensure(5)
    this.buf[this.pos] = T.LIST
    this.putU32(this.pos + 1, n)
    this.pos += 5
    for (let i = 0; i < n; i++) this.term(es[i]!)
    this.term(l.tail)
  }

  /** @internal */
  bitstring(t: Bitstring): void {
    const bytes = t.bytes
    const bits = t.bits
    if (!(bytes instanceof Uint8Array)) fail("Bitstring without bytes")
    const n = bytes.length
    if (n === 0 || bits === 8) return this.term(bytes)
    if (!Number.isInteger(bits) || bits < 1 || bits > 8) fail(`Bitstring with ${bits} bits in the last byte`)
    this.ensure(6 + n)
    const b = this.buf
    b[this.pos] = T.BIT_BINARY
    this.putU32(this.pos + 1, n)
    b[this.pos + 5] = bits
    this.pos += 6
    this.bytes(bytes)
    b[this.pos - 1] = bytes[n - 1]! & ((0xff << (8 - bits)) & 0xff)
  }

  /** @internal */
  pid(t: Pid): void {
    this.u8(T.NEW_PID)
    this.atom(checkAtom(t.node, "pid node"))
    this.ensure(12)
    this.putU32(this.pos, checkU32(t.id, "pid id"))
    this.putU32(this.pos + 4, checkU32(t.serial, "pid serial"))
    this.putU32(this.pos + 8, checkU32(t.creation, "pid creation"))
    this.pos += 12
  }

  /** @internal */
  ref(t: Ref): void {
    const ids = t.ids
    if (!Array.isArray(ids) || ids.length < 1 || ids.length > 5) fail("a Ref needs 1 to 5 id words")
    this.u8(T.NEWER_REFERENCE)
    this.u16(ids.length)
    this.atom(checkAtom(t.node, "ref node"))
    this.u32(checkU32(t.creation, "ref creation"))
    for (const id of ids) this.u32(checkU32(id, "ref id"))
  }

  /** @internal */
  port(t: Port): void {
    const id = t.id
    if (typeof id !== "bigint" || id < 0n || id > 0xffffffffffffffffn) fail("a Port id must be a u64 bigint")
    const small = id <= 0xffffffffn
    this.u8(small ? T.NEW_PORT : T.V4_PORT)
    this.atom(checkAtom(t.node, "port node"))
    if (small) this.u32(Number(id))
    else this.u64(id)
    this.u32(checkU32(t.creation, "port creation"))
  }

  /** @internal */
  export(t: Export): void {
    this.u8(T.EXPORT)
    this.atom(checkAtom(t.module, "export module"))
    this.atom(checkAtom(t.fun, "export function"))
    const a = t.arity
    if (!Number.isInteger(a) || a < 0 || a > 255) fail(`export arity ${a}`)
    this.u8(T.SMALL_INTEGER)
    this.u8(a)
  }
}

function checkU32(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) fail(`${what} ${v} is not a u32`)
  return v
}

function checkAtom(a: Atom, what: string): Atom {
  if (!(a instanceof Atom)) fail(`${what} is not an atom`)
  return a
}

/** A proper list of integers 0..255 (what `term_to_binary` writes as STRING_EXT). */
function isByteList(l: ReadonlyArray<Term>): boolean {
  for (let i = 0; i < l.length; i++) {
    const e = l[i]
    if (typeof e === "number") {
      if ((e & 0xff) !== e) return false
    } else if (typeof e === "bigint") {
      if (e < 0n || e > 255n) return false
    } else {
      return false
    }
  }
  return true
}

const shared = new Writer(1024, allocUninitialized)
/** `encode` keeps its buffer between calls up to this size (larger terms get a fresh one next time). */
const KEEP = 8 * 1024 * 1024

/** @internal */
export function encodeInto(w: Writer, t: Term, versionByte: boolean): void {
  // relative to base: growing the buffer moves [base, pos) to offset 0
  const start = w.pos - w.base
  try {
    if (versionByte) w.u8(T.VERSION)
    w.term(t)
  } catch (e) {
    w.pos = w.base + start
    throw toEncodeError(e)
  }
}

/** @internal */
export function encode(t: Term): Uint8Array {
  if (t instanceof Uint8Array && t.length > 4096 && t.length <= 0xffffffff) {
    // a big binary: write it once, straight into the result
    const n = t.length
    const out = allocUninitialized(6 + n)
    out[0] = T.VERSION
    out[1] = T.BINARY
    out[2] = n >>> 24
    out[3] = n >>> 16
    out[4] = n >>> 8
    out[5] = n
    out.set(t, 6)
    return out
  }
  const w = shared
  w.pos = 0
  try {
    w.buf[w.pos++] = T.VERSION
    w.term(t)
  } catch (e) {
    w.pos = 0
    if (w.buf.length > KEEP) w.buf = allocUninitialized(1024)
    throw toEncodeError(e)
  }
  const out = copyRange(w.buf, 0, w.pos)
  w.pos = 0
  // do not keep a huge buffer around after one big term
  if (w.buf.length > KEEP) w.buf = allocUninitialized(1024)
  return out
}

/** @internal */
export function toEncodeError(e: unknown): EncodeError {
  if (e instanceof EncodeError) return e
  if (e instanceof RangeError && /call stack/i.test(e.message)) {
    return new EncodeError({ reason: "term nested too deeply (or cyclic)" })
  }
  return new EncodeError({ reason: `not a term: ${e instanceof Error ? e.message : String(e)}` })
}
