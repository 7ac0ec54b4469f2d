/**
 * Duplicate map keys (`binary_to_term` rejects a map that has one), found in time linear
 * in the size of the keys, whatever their type.
 *
 * - Each key gets a structural 32-bit hash (seeded per process, so that nobody can pick
 *   colliding keys in advance), computed once: a map's hash is remembered, so a key that
 *   holds maps does not hash them again. Keys with equal hashes are compared exactly.
 * - Should the hash be beaten anyway (more collisions or probes than a random function
 *   gives), the check falls back to sorting the keys by an exact total order:
 *   O(n log n) comparisons, never quadratic.
 *
 * "Equal" is `=:=`, as `Term.equals`: `1` and `1.0` are different keys, `0.0` and
 * `-0.0` too (OTP 27), a reference's high zero words do not count.
 * @internal
 */
import type {
  Bitstring,
  Export,
  Fun,
  ImproperList,
  Pid,
  Port,
  Ref,
  Term,
  TermMap,
  Tuple
} from "@effect-otp/process/Term"
import { Atom, Float } from "@effect-otp/process/Term"
import { randomBytes } from "node:crypto"

/**
 * Work done by the duplicate checks since the last `resetKeyStats`: `hashed` counts
 * the terms and byte words the hash read, `compares` the exact comparisons of two keys,
 * `probes` the hash-table slots looked at, `fallbacks` the maps checked by sorting.
 * Tests use it to show the work is linear without timing anything.
 * @internal
 */
export const keyStats = { hashed: 0, compares: 0, probes: 0, fallbacks: 0 }

/** @internal */
export const resetKeyStats = (): void => {
  keyStats.hashed = 0
  keyStats.compares = 0
  keyStats.probes = 0
  keyStats.fallbacks = 0
}

const SEED = randomBytes(4).readInt32LE(0)

// --- the hash (murmur3's mixing steps) -------------------------------------------

const mix = (h: number, k: number): number => {
  k = Math.imul(k, 0xcc9e2d51)
  k = (k << 15) | (k >>> 17)
  k = Math.imul(k, 0x1b873593)
  h ^= k
  h = (h << 13) | (h >>> 19)
  return (Math.imul(h, 5) + 0xe6546b64) | 0
}

const fin = (h: number, n: number): number => {
  h ^= n
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}

const enum K {
  Int = 1,
  Float = 2,
  Atom = 3,
  Binary = 4,
  Bits = 5,
  List = 6,
  Improper = 7,
  Tuple = 8,
  Map = 9,
  Pid = 10,
  Ref = 11,
  Port = 12,
  Export = 13,
  Fun = 14
}

const f64 = new Float64Array(1)
const u32 = new Uint32Array(f64.buffer)

const hashText = (kind: number, s: string): number => {
  let h = mix(SEED, kind)
  const n = s.length
  keyStats.hashed += 1 + (n >> 2)
  for (let i = 0; i < n; i++) h = mix(h, s.charCodeAt(i))
  return fin(h, n)
}

const hashBytes = (kind: number, b: Uint8Array, extra: number): number => {
  let h = mix(mix(SEED, kind), extra)
  const n = b.length
  const whole = n & ~3
  keyStats.hashed += 1 + (n >> 2)
  let i = 0
  for (; i < whole; i += 4) h = mix(h, b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24))
  let k = 0
  for (let s = 0; i < n; i++, s += 8) k |= b[i]! << s
  return fin(mix(h, k), n)
}

const hashInt = (v: number): number => {
  keyStats.hashed++
  if ((v | 0) === v) return fin(mix(mix(SEED, K.Int), v), 1)
  const hi = Math.floor(v / 4294967296)
  return fin(mix(mix(mix(SEED, K.Int), v - hi * 4294967296), hi), 2)
}

const hashFloat = (v: number): number => {
  keyStats.hashed++
  f64[0] = v
  return fin(mix(mix(mix(SEED, K.Float), u32[0]!), u32[1]!), 3)
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

const hashBig = (v: bigint): number =>
  v >= -MAX_SAFE && v <= MAX_SAFE ? hashInt(Number(v)) : hashText(K.Int, v.toString(16))

/** Hashes of maps already hashed (a map inside a key is hashed once). */
const mapHashes = new WeakMap<TermMap, number>()

/** A structural hash: equal (`=:=`) terms hash the same. */
export const hashTerm = (t: Term): number => {
  switch (typeof t) {
    case "number":
      return Number.isInteger(t) ? hashInt(t) : hashFloat(t)
    case "bigint":
      return hashBig(t)
  }
  if (t instanceof Uint8Array) return hashBytes(K.Binary, t, 0)
  keyStats.hashed++
  if (Array.isArray(t)) {
    const list = t as ReadonlyArray<Term>
    let h = mix(SEED, K.List)
    for (let i = 0; i < list.length; i++) h = mix(h, hashTerm(list[i]!))
    return fin(h, list.length)
  }
  const o = t as Exclude<Term, number | bigint | Uint8Array | ReadonlyArray<Term>>
  switch (o._tag) {
    case "Atom":
      return hashText(K.Atom, o.name)
    case "Tuple": {
      const e = o.elements
      let h = mix(SEED, K.Tuple)
      for (let i = 0; i < e.length; i++) h = mix(h, hashTerm(e[i]!))
      return fin(h, e.length)
    }
    case "Float":
      return hashFloat(o.value)
    case "ImproperList": {
      const e = o.elements
      let h = mix(SEED, K.Improper)
      for (let i = 0; i < e.length; i++) h = mix(h, hashTerm(e[i]!))
      return fin(mix(h, hashTerm(o.tail)), e.length)
    }
    case "TermMap": {
      const known = mapHashes.get(o)
      if (known !== undefined) return known
      // order-independent: a sum over the entries
      let sum = 0
      for (const [k, v] of o.entries) sum = (sum + fin(mix(mix(SEED, hashTerm(k)), hashTerm(v)), 2)) | 0
      const h = fin(mix(mix(SEED, K.Map), sum), o.entries.length)
      mapHashes.set(o, h)
      return h
    }
    case "Pid":
      return fin(mix(mix(mix(mix(hashText(K.Pid, o.node.name), o.id), o.serial), o.creation), K.Pid), 4)
    case "Ref": {
      let h = mix(hashText(K.Ref, o.node.name), o.creation)
      const n = refLength(o.ids)
      for (let i = 0; i < n; i++) h = mix(h, o.ids[i]!)
      return fin(h, n)
    }
    case "Port":
      return fin(mix(mix(hashText(K.Port, o.node.name), hashBig(o.id)), o.creation), 3)
    case "Export":
      return fin(mix(mix(hashText(K.Export, o.module.name), hashText(K.Atom, o.fun.name)), o.arity), 3)
    case "Fun":
      return hashBytes(K.Fun, o.bytes, 0)
    case "Bitstring":
      return hashBytes(K.Bits, o.bytes, o.bitLength)
  }
}

/** The number of ref words without the high zero words. */
const refLength = (ids: ReadonlyArray<number>): number => {
  let n = ids.length
  while (n > 1 && ids[n - 1] === 0) n--
  return n
}

// --- an exact total order (0 exactly when `=:=`) -------------------------------------

const kindOf = (t: Term): number => {
  switch (typeof t) {
    case "number":
      return Number.isInteger(t) ? K.Int : K.Float
    case "bigint":
      return K.Int
  }
  if (t instanceof Uint8Array) return K.Binary
  if (Array.isArray(t)) return K.List
  switch ((t as { readonly _tag: string })._tag) {
    case "Float":
      return K.Float
    case "Atom":
      return K.Atom
    case "Bitstring":
      return K.Bits
    case "ImproperList":
      return K.Improper
    case "Tuple":
      return K.Tuple
    case "TermMap":
      return K.Map
    case "Pid":
      return K.Pid
    case "Ref":
      return K.Ref
    case "Port":
      return K.Port
    case "Export":
      return K.Export
    default:
      return K.Fun
  }
}

const cmp = <A extends number | bigint | string>(a: A, b: A): number => a < b ? -1 : a > b ? 1 : 0

const cmpBytes = (a: Uint8Array, b: Uint8Array): number => {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1
  return 0
}

const cmpList = (a: ReadonlyArray<Term>, b: ReadonlyArray<Term>): number => {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1
  for (let i = 0; i < a.length; i++) {
    const c = order(a[i]!, b[i]!)
    if (c !== 0) return c
  }
  return 0
}

const floatValue = (t: Term): number => (t instanceof Float ? t.value : (t as number))

/** Map entries sorted by key (computed once per map). */
const sortedMaps = new WeakMap<TermMap, ReadonlyArray<readonly [Term, Term]>>()
const sortedEntries = (m: TermMap): ReadonlyArray<readonly [Term, Term]> => {
  let s = sortedMaps.get(m)
  if (s === undefined) {
    s = [...m.entries].sort((x, y) => order(x[0], y[0]))
    sortedMaps.set(m, s)
  }
  return s
}

/** A total order on terms that is 0 exactly for `=:=`-equal terms (not Erlang's term order). */
export const order = (a: Term, b: Term): number => {
  if (a === b) return 0
  keyStats.compares++
  const ka = kindOf(a)
  const kb = kindOf(b)
  if (ka !== kb) return ka < kb ? -1 : 1
  switch (ka) {
    case K.Int: {
      if (typeof a === "number" && typeof b === "number") return cmp(a, b)
      return cmp(BigInt(a as number | bigint), BigInt(b as number | bigint))
    }
    case K.Float: {
      const x = floatValue(a)
      const y = floatValue(b)
      if (x !== y) return x < y ? -1 : 1
      // 0.0 and -0.0 differ
      return Object.is(x, y) ? 0 : Object.is(x, -0) ? -1 : 1
    }
    case K.Atom:
      return cmp((a as Atom).name, (b as Atom).name)
    case K.Binary:
      return cmpBytes(a as Uint8Array, b as Uint8Array)
    case K.Bits: {
      const x = a as Bitstring
      const y = b as Bitstring
      return cmp(x.bitLength, y.bitLength) || cmpBytes(x.bytes, y.bytes)
    }
    case K.List:
      return cmpList(a as ReadonlyArray<Term>, b as ReadonlyArray<Term>)
    case K.Improper: {
      const x = a as ImproperList
      const y = b as ImproperList
      return cmpList(x.elements, y.elements) || order(x.tail, y.tail)
    }
    case K.Tuple:
      return cmpList((a as Tuple).elements, (b as Tuple).elements)
    case K.Map: {
      const x = a as TermMap
      const y = b as TermMap
      if (x.entries.length !== y.entries.length) return x.entries.length < y.entries.length ? -1 : 1
      const ex = sortedEntries(x)
      const ey = sortedEntries(y)
      for (let i = 0; i < ex.length; i++) {
        const c = order(ex[i]![0], ey[i]![0])
        if (c !== 0) return c
      }
      for (let i = 0; i < ex.length; i++) {
        const c = order(ex[i]![1], ey[i]![1])
        if (c !== 0) return c
      }
      return 0
    }
    case K.Pid: {
      const x = a as Pid
      const y = b as Pid
      return cmp(x.node.name, y.node.name) || cmp(x.id, y.id) || cmp(x.serial, y.serial) ||
        cmp(x.creation, y.creation)
    }
    case K.Ref: {
      const x = a as Ref
      const y = b as Ref
      const nx = refLength(x.ids)
      const ny = refLength(y.ids)
      let c = cmp(x.node.name, y.node.name) || cmp(x.creation, y.creation) || cmp(nx, ny)
      for (let i = 0; c === 0 && i < nx; i++) c = cmp(x.ids[i]!, y.ids[i]!)
      return c
    }
    case K.Port: {
      const x = a as Port
      const y = b as Port
      return cmp(x.node.name, y.node.name) || cmp(x.id, y.id) || cmp(x.creation, y.creation)
    }
    case K.Export: {
      const x = a as Export
      const y = b as Export
      return cmp(x.module.name, y.module.name) || cmp(x.fun.name, y.fun.name) || cmp(x.arity, y.arity)
    }
    default:
      return cmpBytes((a as Fun).bytes, (b as Fun).bytes)
  }
}

// --- the check ------------------------------------------------------------------------

/** Keys that compare in O(1): atoms (interned), integers, short binaries. */
const isFlat = (k: Term): boolean =>
  typeof k === "number" || k instanceof Atom || (k instanceof Uint8Array && k.length <= 64)

/** Whether two of the keys are `=:=`-equal. */
/** Largest table (in slots) kept between calls: 1 MiB of slots and 512 KiB of hashes. */
const SCRATCH_MAX = 1 << 18
let scratchSlots = new Int32Array(1024)
let scratchHashes = new Int32Array(512)

export const hasDuplicateKey = (entries: ReadonlyArray<readonly [Term, Term]>): boolean => {
  const n = entries.length
  if (n <= 8) {
    let flat = true
    for (let i = 0; i < n && flat; i++) flat = isFlat(entries[i]![0])
    if (flat) {
      for (let i = 1; i < n; i++) {
        const k = entries[i]![0]
        for (let j = 0; j < i; j++) {
          const o = entries[j]![0]
          if (k === o || (k instanceof Uint8Array && o instanceof Uint8Array && cmpBytes(k, o) === 0)) return true
        }
      }
      return false
    }
  }
  // open addressing over the hashes, linear probing; more probes or collisions than a
  // random hash would give means someone found collisions: sort instead
  let size = 16
  while (size < 2 * n) size *= 2
  const mask = size - 1
  // scratch tables reused between calls: a fresh typed array of 64 Ki slots is a fresh
  // (mmap'ed, page-faulted) backing store each time, which cost more than the hashing
  if (size > scratchSlots.length && size <= SCRATCH_MAX) scratchSlots = new Int32Array(size)
  if (n > scratchHashes.length && size <= SCRATCH_MAX) scratchHashes = new Int32Array(size >> 1)
  const slots = size <= scratchSlots.length ? scratchSlots : new Int32Array(size)
  const hashes = n <= scratchHashes.length ? scratchHashes : new Int32Array(n)
  slots.fill(0, 0, size)
  const budget = 8 * n + 64
  let probes = 0
  let collisions = 0
  for (let i = 0; i < n; i++) {
    const k = entries[i]![0]
    const h = hashTerm(k)
    hashes[i] = h
    let j = (h ^ (h >>> 16)) & mask
    for (;;) {
      const s = slots[j]!
      if (s === 0) break
      if (++probes > budget) return sortedCheck(entries)
      if (hashes[s - 1] === h) {
        if (order(k, entries[s - 1]![0]) === 0) return true
        if (++collisions > 16 + (n >> 4)) return sortedCheck(entries)
      }
      j = (j + 1) & mask
    }
    slots[j] = i + 1
  }
  keyStats.probes += probes
  return false
}

const sortedCheck = (entries: ReadonlyArray<readonly [Term, Term]>): boolean => {
  keyStats.fallbacks++
  const keys = entries.map((e) => e[0]).sort(order)
  for (let i = 1; i < keys.length; i++) if (order(keys[i - 1]!, keys[i]!) === 0) return true
  return false
}
