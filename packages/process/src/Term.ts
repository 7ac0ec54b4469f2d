/**
 * The Erlang term model: every value that can live in a mailbox and cross the
 * distribution wire.
 *
 * | Erlang            | TypeScript                                              |
 * |-------------------|---------------------------------------------------------|
 * | integer           | `number` (safe integer) or `bigint` (beyond 2^53)       |
 * | float             | a non-integral `number`, or `Float` (keeps `1.0` float) |
 * | atom              | `Atom` (interned: `Atom.make("ok") === Atom.make("ok")`) |
 * | tuple             | `Tuple`                                                 |
 * | proper list / nil | `ReadonlyArray<Term>` (`[]` is nil)                     |
 * | improper list     | `ImproperList`                                          |
 * | binary            | `Uint8Array`                                            |
 * | bitstring         | `Bitstring`                                             |
 * | map               | `TermMap` (any term as key)                             |
 * | pid, ref, port    | `Pid`, `Ref`, `Port`                                    |
 * | `fun M:F/A`       | `Export`                                                |
 * | other funs        | `Fun` (opaque; round-trips but cannot run)              |
 *
 * @since 0.1.0
 */
import * as Equal from "effect/Equal"
import * as Hash from "effect/Hash"
import * as internal from "./internal/term.js"

// ---------------------------------------------------------------------------
// Atom
// ---------------------------------------------------------------------------

const atomTable = new Map<string, Atom>()

/**
 * An interned atom: two atoms with the same text are the same object, so `===` works.
 * It implements `Equal`/`Hash` (by its text), so it can key a `HashMap` or `HashSet`.
 *
 * @since 0.1.0
 * @category models
 */
export class Atom implements Equal.Equal {
  readonly _tag = "Atom" as const
  private constructor(readonly name: string) {}
  [Equal.symbol](that: Equal.Equal): boolean {
    return this === that
  }
  [Hash.symbol](): number {
    return Hash.cached(this, Hash.string(this.name))
  }
  /**
   * The atom with this text (at most 255 characters, as in Erlang). Atoms are never
   * freed. Local code is not limited: the cap on the atom table (`maxAtoms` of the
   * ETF decoder and of `DistNode`) applies to atoms that come from outside, and the
   * atoms made here count toward it, so that once local code has filled the table,
   * input that brings new atoms is refused (a frame closes its connection) while the
   * node keeps running. Do not make atoms from unbounded input (as `list_to_atom`).
   *
   * @since 0.1.0
   */
  static make(name: string): Atom {
    let atom = atomTable.get(name)
    if (atom === undefined) {
      atom = new Atom(name)
      atomTable.set(name, atom)
    }
    return atom
  }
  /**
   * How many atoms exist: the size of the process-wide atom table. Atoms are never
   * freed (as in Erlang).
   *
   * @since 0.1.0
   */
  static get count(): number {
    return atomTable.size
  }
  /**
   * The atom with this text if it exists, or when fewer than `limit` atoms exist (it is
   * then created); otherwise `undefined`. The decoders of external terms (`Etf.decode`,
   * distribution frames) make their atoms with it, so that input from outside cannot
   * grow the table past their `maxAtoms`. `Atom.make` (local code) has no limit: its
   * atoms count toward the table all the same.
   *
   * @since 0.1.0
   */
  static makeWithin(name: string, limit: number): Atom | undefined {
    let atom = atomTable.get(name)
    if (atom === undefined) {
      if (atomTable.size >= limit) return undefined
      atom = new Atom(name)
      atomTable.set(name, atom)
    }
    return atom
  }
  toString(): string {
    return internal.formatAtom(this.name)
  }
}

/**
 * Shorthand for `Atom.make`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const atom = (name: string): Atom => Atom.make(name)

// ---------------------------------------------------------------------------
// Float
// ---------------------------------------------------------------------------

/**
 * A float that must stay a float. A non-integral JS number is already a float; wrap
 * integral values (`1.0`, `-0.0`, `1.0e300`) in `Float` so that they are not
 * encoded as integers. The ETF decoder returns integral floats as `Float`.
 *
 * @since 0.1.0
 * @category models
 */
export class Float {
  readonly _tag = "Float" as const
  constructor(readonly value: number) {}
  toString(): string {
    return internal.formatFloat(this.value)
  }
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const float = (value: number): Float => new Float(value)

// ---------------------------------------------------------------------------
// Containers
// ---------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export class Tuple {
  readonly _tag = "Tuple" as const
  constructor(readonly elements: ReadonlyArray<Term>) {}
  get size(): number {
    return this.elements.length
  }
  /** Element at a zero-based index. */
  at(index: number): Term | undefined {
    return this.elements[index]
  }
  toString(): string {
    return format(this)
  }
}

/**
 * `tuple(a, b, c)` is `{a, b, c}`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const tuple = (...elements: ReadonlyArray<Term>): Tuple => new Tuple(elements)

/**
 * A list whose last tail is not `[]`, e.g. `[1, 2 | three]`.
 *
 * @since 0.1.0
 * @category models
 */
export class ImproperList {
  readonly _tag = "ImproperList" as const
  /** `elements` is non-empty and `tail` is not a list. */
  constructor(readonly elements: ReadonlyArray<Term>, readonly tail: Term) {}
  toString(): string {
    return format(this)
  }
}

/**
 * `improperList([a, b], c)` is `[a, b | c]`. A list tail is flattened, so the
 * result is a proper list when the final tail is `[]`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const improperList = (elements: ReadonlyArray<Term>, tail: Term): ReadonlyArray<Term> | ImproperList => {
  if (Array.isArray(tail)) return [...elements, ...(tail as ReadonlyArray<Term>)]
  if (tail instanceof ImproperList) return new ImproperList([...elements, ...tail.elements], tail.tail)
  if (elements.length === 0) throw new TypeError("an improper list needs at least one element")
  return new ImproperList(elements, tail)
}

/**
 * A bitstring whose length is not a whole number of bytes. `bits` is the number of
 * bits used in the last byte (1..8); the unused low bits of the last byte are zero.
 *
 * @since 0.1.0
 * @category models
 */
export class Bitstring {
  readonly _tag = "Bitstring" as const
  constructor(readonly bytes: Uint8Array, readonly bits: number) {}
  /** Length in bits. */
  get bitLength(): number {
    return this.bytes.length === 0 ? 0 : (this.bytes.length - 1) * 8 + this.bits
  }
  toString(): string {
    return format(this)
  }
}

/**
 * An Erlang map. Keys can be any term and are compared with Erlang's exact
 * equality (`=:=`).
 *
 * @since 0.1.0
 * @category models
 */
export class TermMap {
  readonly _tag = "TermMap" as const
  private index: Map<string, number> | undefined
  constructor(readonly entries: ReadonlyArray<readonly [Term, Term]>) {}
  get size(): number {
    return this.entries.length
  }
  get(key: Term): Term | undefined {
    if (this.entries.length < 8) {
      for (const [k, v] of this.entries) if (equals(k, key)) return v
      return undefined
    }
    if (this.index === undefined) {
      this.index = new Map()
      this.entries.forEach(([k], i) => this.index!.set(internal.keyOf(k), i))
    }
    const i = this.index.get(internal.keyOf(key))
    return i === undefined ? undefined : this.entries[i]![1]
  }
  has(key: Term): boolean {
    return this.get(key) !== undefined
  }
  /** A new map with `key` set to `value`. */
  set(key: Term, value: Term): TermMap {
    const out = this.entries.filter(([k]) => !equals(k, key))
    out.push([key, value])
    return new TermMap(out)
  }
  toString(): string {
    return format(this)
  }
}

/**
 * `map([[k1, v1], [k2, v2]])`, or `map({ a: 1 })` with atom keys.
 *
 * @since 0.1.0
 * @category constructors
 */
export const map = (
  entries: ReadonlyArray<readonly [Term, Term]> | { readonly [key: string]: Term }
): TermMap => {
  if (Array.isArray(entries)) {
    // the last value of a key wins; keys are found by their `=:=` text, so this is linear
    const out: Array<readonly [Term, Term]> = []
    const at = new Map<string, number>()
    for (const [k, v] of entries as ReadonlyArray<readonly [Term, Term]>) {
      const key = internal.keyOf(k)
      const i = at.get(key)
      if (i !== undefined) out[i] = [k, v]
      else {
        at.set(key, out.length)
        out.push([k, v])
      }
    }
    return new TermMap(out)
  }
  return new TermMap(Object.entries(entries).map(([k, v]) => [Atom.make(k), v] as const))
}

// ---------------------------------------------------------------------------
// Identifiers
// ---------------------------------------------------------------------------

/**
 * A process identifier. It carries its node's name and creation (incarnation), so
 * a pid sent to another node still names the process that made it. It implements
 * `Equal`/`Hash` as `equals` compares pids, so it can key a `HashMap` or `HashSet`.
 *
 * @since 0.1.0
 * @category models
 */
export class Pid implements Equal.Equal {
  readonly _tag = "Pid" as const
  constructor(
    readonly node: Atom,
    readonly id: number,
    readonly serial: number,
    readonly creation: number
  ) {}
  [Equal.symbol](that: Equal.Equal): boolean {
    return that instanceof Pid && that.id === this.id && that.serial === this.serial && that.node === this.node &&
      that.creation === this.creation
  }
  [Hash.symbol](): number {
    let h = Hash.hash(this.node)
    h = (h * 53) ^ Hash.number(this.id)
    h = (h * 53) ^ Hash.number(this.serial)
    return Hash.optimize((h * 53) ^ Hash.number(this.creation))
  }
  toString(): string {
    return internal.formatPid(this)
  }
}

/**
 * A reference. `ids` are the opaque 32-bit words (1 to 5 of them). It implements
 * `Equal`/`Hash` as `equals` compares refs (missing high words count as zero), so it
 * can key a `HashMap` or `HashSet`.
 *
 * @since 0.1.0
 * @category models
 */
export class Ref implements Equal.Equal {
  readonly _tag = "Ref" as const
  constructor(readonly node: Atom, readonly creation: number, readonly ids: ReadonlyArray<number>) {}
  [Equal.symbol](that: Equal.Equal): boolean {
    return that instanceof Ref && internal.equals(this, that)
  }
  [Hash.symbol](): number {
    let h = (Hash.hash(this.node) * 53) ^ Hash.number(this.creation)
    // high zero words do not count (as in `equals`)
    let n = this.ids.length
    while (n > 1 && this.ids[n - 1] === 0) n--
    for (let i = 0; i < n; i++) h = (h * 53) ^ Hash.number(this.ids[i]!)
    return Hash.optimize(h)
  }
  toString(): string {
    return internal.formatRef(this)
  }
}

/**
 * A port identifier (only ever received from Erlang; a TS node has no ports).
 *
 * @since 0.1.0
 * @category models
 */
export class Port {
  readonly _tag = "Port" as const
  constructor(readonly node: Atom, readonly id: bigint, readonly creation: number) {}
  toString(): string {
    return internal.formatPort(this)
  }
}

/**
 * An external fun, `fun Module:Function/Arity`.
 *
 * @since 0.1.0
 * @category models
 */
export class Export {
  readonly _tag = "Export" as const
  constructor(readonly module: Atom, readonly fun: Atom, readonly arity: number) {}
  toString(): string {
    return format(this)
  }
}

/**
 * A local Erlang fun received from another node. JS cannot run it, so it is kept
 * as its encoded bytes (everything after the NEW_FUN_EXT tag) and sent back as is.
 *
 * @since 0.1.0
 * @category models
 */
export class Fun {
  readonly _tag = "Fun" as const
  constructor(
    readonly module: Atom,
    readonly arity: number,
    readonly index: number,
    readonly uniq: Uint8Array,
    /** The full NEW_FUN_EXT body, after the tag byte. */
    readonly bytes: Uint8Array
  ) {}
  toString(): string {
    return format(this)
  }
}

// ---------------------------------------------------------------------------
// Term
// ---------------------------------------------------------------------------

/**
 * Any Erlang term.
 *
 * @since 0.1.0
 * @category models
 */
export type Term =
  | number
  | bigint
  | Float
  | Atom
  | Tuple
  | ReadonlyArray<Term>
  | ImproperList
  | Uint8Array
  | Bitstring
  | TermMap
  | Pid
  | Ref
  | Port
  | Export
  | Fun

/**
 * The atoms everyone needs.
 *
 * @since 0.1.0
 * @category constants
 */
export const atoms = {
  ok: Atom.make("ok"),
  error: Atom.make("error"),
  true: Atom.make("true"),
  false: Atom.make("false"),
  undefined: Atom.make("undefined"),
  normal: Atom.make("normal"),
  kill: Atom.make("kill"),
  killed: Atom.make("killed"),
  noproc: Atom.make("noproc"),
  noconnection: Atom.make("noconnection"),
  EXIT: Atom.make("EXIT"),
  DOWN: Atom.make("DOWN"),
  process: Atom.make("process"),
  timeout: Atom.make("timeout"),
  badarg: Atom.make("badarg"),
  nonode: Atom.make("nonode@nohost")
} as const

/**
 * A UTF-8 binary from a JS string: `binary("hi")` is `<<"hi">>`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const binary = (text: string): Uint8Array => internal.utf8Encode(text)

/**
 * A charlist (Erlang string) from a JS string: `charlist("hi")` is `"hi"`, the list `[104, 105]`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const charlist = (text: string): ReadonlyArray<number> => Array.from(text, (c) => c.codePointAt(0)!)

/**
 * The text of a binary (UTF-8) or of a charlist, or `undefined` for other terms.
 *
 * @since 0.1.0
 * @category getters
 */
export const toText = (t: Term): string | undefined => internal.toText(t)

/**
 * `true` or `false` as atoms.
 *
 * @since 0.1.0
 * @category constructors
 */
export const boolean = (b: boolean): Atom => b ? atoms.true : atoms.false

// ---------------------------------------------------------------------------
// Guards
// ---------------------------------------------------------------------------

/** @since 0.1.0 @category guards */
export const isAtom = (u: unknown): u is Atom => u instanceof Atom
/** @since 0.1.0 @category guards */
export const isTuple = (u: unknown): u is Tuple => u instanceof Tuple
/** @since 0.1.0 @category guards */
export const isPid = (u: unknown): u is Pid => u instanceof Pid
/** @since 0.1.0 @category guards */
export const isRef = (u: unknown): u is Ref => u instanceof Ref
/** @since 0.1.0 @category guards */
export const isList = (u: unknown): u is ReadonlyArray<Term> => Array.isArray(u)
/** @since 0.1.0 @category guards */
export const isBinary = (u: unknown): u is Uint8Array => u instanceof Uint8Array
/** @since 0.1.0 @category guards */
export const isMap = (u: unknown): u is TermMap => u instanceof TermMap
/** @since 0.1.0 @category guards */
export const isInteger = (u: unknown): u is number | bigint =>
  (typeof u === "number" && Number.isInteger(u)) || typeof u === "bigint"
/** @since 0.1.0 @category guards */
export const isFloat = (u: unknown): u is number | Float =>
  u instanceof Float || (typeof u === "number" && !Number.isInteger(u) && Number.isFinite(u))
/** `{Tag, ...}` with the given atom tag and (optionally) arity. @since 0.1.0 @category guards */
export const isTagged = (u: unknown, tag: Atom | string, arity?: number): u is Tuple =>
  u instanceof Tuple && u.elements.length > 0 &&
  u.elements[0] === (typeof tag === "string" ? Atom.make(tag) : tag) &&
  (arity === undefined || u.elements.length === arity)

/**
 * Whether a JS value is a term (recursively). Numbers must be finite.
 *
 * @since 0.1.0
 * @category guards
 */
export const isTerm = (u: unknown): u is Term => internal.isTerm(u, 0)

// ---------------------------------------------------------------------------
// Order and printing
// ---------------------------------------------------------------------------

/**
 * Exact equality, Erlang's `=:=` (so `1` and `Float(1)` differ; `1` and `1n` are the same integer).
 *
 * @since 0.1.0
 * @category equivalence
 */
export const equals: (a: Term, b: Term) => boolean = internal.equals

/**
 * Erlang's term order: number < atom < reference < fun < port < pid < tuple < map
 * < nil < list < bitstring. Returns -1, 0 or 1. As in Erlang, `1` and `1.0` compare
 * equal here (use `equals` for `=:=`).
 *
 * @since 0.1.0
 * @category ordering
 */
export const compare: (a: Term, b: Term) => -1 | 0 | 1 = internal.compare

/**
 * How a node prints pids, refs and ports: its own with node number 0 (`<0.42.0>`),
 * another node's with a number it gives that node (`<12345.42.0>`), as an Erlang
 * node's shell prints them. Each `ProcessRuntime` has one (`runtime.localNode`), so
 * several nodes in one JS process each print their own pids as `<0.N.S>`.
 *
 * @since 0.1.0
 * @category formatting
 */
export interface LocalNode {
  readonly node: Atom
  readonly creation: number
  /** The number this node prints for pids of `node` with `creation` (0 for itself). */
  readonly nodeNumber: (node: Atom, creation: number) => number
}

/**
 * The printing view of `node` with `creation`: 0 for itself (and for `nonode@nohost`,
 * whose pids stay local), and for every other node (name and creation) a distinct
 * five-digit number derived from its name, so the same node usually prints alike everywhere.
 *
 * @since 0.1.0
 * @category formatting
 */
export const makeLocalNode: (node: Atom, creation: number) => LocalNode = internal.makeLocalNode

/**
 * Prints a term in Erlang syntax: `{echo,<<"hi">>}`, `'Quoted atom'`, `<0.42.0>`.
 *
 * Pids, refs and ports print as the node of the running fiber prints them (the
 * `ProcessRuntime` in its context: inside a process, or in code given a node's
 * services); outside any node, `nonode@nohost`'s pids are 0 and other nodes get their
 * number. `String(pid)` and `` `${pid}` `` follow the same rule. `formatWith` names the node.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (t: Term): string => internal.format(t)

/**
 * `format` as `local` prints: `Term.formatWith(t, runtime.localNode)`, or
 * `pids.map(Term.formatWith(runtime.localNode))` (`undefined` is `format`'s default).
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatWith: {
  (local: LocalNode | undefined): (t: Term) => string
  (t: Term, local: LocalNode | undefined): string
} = function(): any {
  if (arguments.length >= 2) return internal.format(arguments[0], arguments[1])
  const local = arguments[0] as LocalNode | undefined
  return (t: Term) => internal.format(t, local)
} as any
