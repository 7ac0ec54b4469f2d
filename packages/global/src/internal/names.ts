/**
 * `global_names`: the registered names, found by a structural hash of the name and `=:=`
 * on a match, as `ets:lookup` on a set table finds them: no encoding and no key string
 * per lookup (`whereis_name` is a local read on the hot path of every `{global, Name}`
 * call). The hash is seeded per process, so that nobody can send names that collide.
 * @internal
 */
import * as Etf from "@effect-otp/dist/Etf"
import * as T from "@effect-otp/process/Term"
import * as Option from "effect/Option"

/** A registration, as `NameTable.add` takes it. */
export interface NewEntry {
  readonly name: T.Term
  readonly pid: T.Pid
  readonly method: T.Term
  readonly mon: T.Ref
}

/** A registered name as `global_names` holds it. */
export interface NameEntry extends NewEntry {
  /** `Option.some(pid)`, built once: what `whereis_name` answers */
  readonly found: Option.Option<T.Pid>
}

const SEED = crypto.getRandomValues(new Int32Array(1))[0]!

/** One murmur3 step. */
const mix = (h: number, k: number): number => {
  k = Math.imul(k, 0xcc9e2d51)
  k = (k << 15) | (k >>> 17)
  h ^= Math.imul(k, 0x1b873593)
  h = (h << 13) | (h >>> 19)
  return (Math.imul(h, 5) + 0xe6546b64) | 0
}

const mixText = (h: number, s: string): number => {
  for (let i = 0; i < s.length; i++) h = mix(h, s.charCodeAt(i))
  return mix(h, s.length)
}

/** Atoms are interned and never freed: each is hashed once. */
const atomHashes = new Map<T.Atom, number>()

const atomHash = (a: T.Atom): number => {
  let h = atomHashes.get(a)
  if (h === undefined) {
    h = mixText(mix(SEED, 3), a.name)
    atomHashes.set(a, h)
  }
  return h
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

const intHash = (v: number): number =>
  (v | 0) === v ? mix(mix(SEED, 1), v) : mix(mix(mix(SEED, 1), v % 4294967296 | 0), Math.floor(v / 4294967296) | 0)

/** A hash of `t` that equal (`=:=`) terms share; atoms, integers, tuples, lists and pids need no encoding. */
export const hashName = (t: T.Term): number => {
  if (typeof t === "number" && Number.isInteger(t)) return intHash(t)
  if (typeof t === "bigint" && t >= -MAX_SAFE && t <= MAX_SAFE) return intHash(Number(t))
  if (t instanceof T.Atom) return atomHash(t)
  if (t instanceof T.Tuple || Array.isArray(t)) {
    const e: ReadonlyArray<T.Term> = t instanceof T.Tuple ? t.elements : t
    let h = mix(SEED, t instanceof T.Tuple ? 8 : 6)
    for (let i = 0; i < e.length; i++) h = mix(h, hashName(e[i]!))
    return mix(h, e.length)
  }
  if (t instanceof T.Pid) return mix(mix(mix(mix(atomHash(t.node), t.id), t.serial), t.creation), 10)
  if (t instanceof T.TermMap) {
    // maps are equal whatever the order of their entries: an order-free sum of the entries' hashes
    let sum = 0
    for (const [k, v] of t.entries) sum = (sum + mix(mix(SEED, hashName(k)), hashName(v))) | 0
    return mix(mix(mix(SEED, 7), sum), t.entries.length)
  }
  if (t instanceof T.ImproperList) {
    let h = mix(SEED, 5)
    for (let i = 0; i < t.elements.length; i++) h = mix(h, hashName(t.elements[i]!))
    return mix(mix(h, hashName(t.tail)), t.elements.length)
  }
  // any other term (floats, binaries, refs, funs...) by its external format, which is canonical
  // for them (a map's is not: its entries come in the order they were built in)
  const bytes = Etf.encode(t)
  let h = mix(SEED, 0)
  for (let i = 0; i < bytes.length; i++) h = mix(h, bytes[i]!)
  return mix(h, bytes.length)
}

/**
 * `=:=` on names, the common case first: tuples whose elements are the same atoms and
 * small integers (`{bench, 7}`) compare element by element with `===` before `T.equals`.
 */
const sameName = (a: T.Term, b: T.Term): boolean => {
  if (a === b) return true
  if (a instanceof T.Tuple && b instanceof T.Tuple) {
    const x = a.elements
    const y = b.elements
    if (x.length !== y.length) return false
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i] && !T.equals(x[i]!, y[i]!)) return false
    return true
  }
  return T.equals(a, b)
}

/** A hash of a monitor ref that `=:=` refs share (high zero words do not count). */
const refHash = (r: T.Ref): number => {
  let n = r.ids.length
  while (n > 1 && r.ids[n - 1] === 0) n--
  let h = mix(atomHash(r.node), r.creation)
  for (let i = 0; i < n; i++) h = mix(h, r.ids[i]!)
  return mix(h, n)
}

/** Entries by a hash of one of their fields; a bucket holds the entries that share the hash. */
class Index {
  private readonly buckets = new Map<number, Array<NameEntry>>()

  add(h: number, e: NameEntry): void {
    const b = this.buckets.get(h)
    if (b === undefined) this.buckets.set(h, [e])
    else b.push(e)
  }

  remove(h: number, e: NameEntry): void {
    const b = this.buckets.get(h)
    if (b === undefined) return
    const i = b.indexOf(e)
    if (i >= 0) b.splice(i, 1)
    if (b.length === 0) this.buckets.delete(h)
  }

  find(h: number, f: (e: NameEntry) => boolean): NameEntry | undefined {
    return this.buckets.get(h)?.find(f)
  }
}

/**
 * The names, by `hashName`; a bucket holds the rare names whose hashes collide. Two
 * indexes beside it, as OTP's `global_pid_names` and `global_names_ext`: the names of
 * each pid (`hasPid`: does a pid already have a name, on every `register_name`) and the
 * name of each monitor (`deleteByMonitor`: a `'DOWN'`), so that neither scans the table.
 */
export class NameTable {
  private readonly buckets = new Map<number, NameEntry | Array<NameEntry>>()
  private readonly pids = new Index()
  private readonly monitors = new Index()

  get(name: T.Term): NameEntry | undefined {
    const b = this.buckets.get(hashName(name))
    if (b === undefined) return undefined
    if (!Array.isArray(b)) return sameName(b.name, name) ? b : undefined
    return b.find((e) => sameName(e.name, name))
  }

  /** Whether `pid` holds a name. */
  hasPid(pid: T.Pid): boolean {
    return this.pids.find(hashName(pid), (e) => T.equals(e.pid, pid)) !== undefined
  }

  /** Adds a registration, whose name must not be in the table (delete the name first). */
  add(registration: NewEntry): void {
    const { method, mon, name, pid } = registration
    const entry: NameEntry = { name, pid, method, mon, found: Option.some(pid) }
    const h = hashName(entry.name)
    const b = this.buckets.get(h)
    if (b === undefined) this.buckets.set(h, entry)
    else if (Array.isArray(b)) b.push(entry)
    else this.buckets.set(h, [b, entry])
    this.pids.add(hashName(entry.pid), entry)
    this.monitors.add(refHash(entry.mon), entry)
  }

  /** Removes the entry of `name`; returns it. */
  delete(name: T.Term): NameEntry | undefined {
    const h = hashName(name)
    const b = this.buckets.get(h)
    if (b === undefined) return undefined
    let e: NameEntry | undefined
    if (!Array.isArray(b)) {
      if (!sameName(b.name, name)) return undefined
      this.buckets.delete(h)
      e = b
    } else {
      const i = b.findIndex((x) => sameName(x.name, name))
      if (i < 0) return undefined
      e = b.splice(i, 1)[0]!
      if (b.length === 1) this.buckets.set(h, b[0]!)
    }
    this.unindex(e)
    return e
  }

  /** Removes the entry whose monitor is `mon` (its pid went down); returns it. */
  deleteByMonitor(mon: T.Ref): NameEntry | undefined {
    const e = this.monitors.find(refHash(mon), (x) => T.equals(x.mon, mon))
    return e === undefined ? undefined : this.delete(e.name)
  }

  private unindex(e: NameEntry): void {
    this.pids.remove(hashName(e.pid), e)
    this.monitors.remove(refHash(e.mon), e)
  }

  *values(): IterableIterator<NameEntry> {
    for (const b of this.buckets.values()) {
      if (Array.isArray(b)) yield* b
      else yield b
    }
  }
}
