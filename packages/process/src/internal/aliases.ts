/**
 * Process aliases (erlang:alias/1, erlang:monitor/3 `{alias, Mode}`): the table of active
 * aliases of this node, by the counter of their ref (`RuntimeImpl.aliasKey`).
 * @internal
 */
import type { ProcessImpl } from "./processTable.js"

/**
 * How an alias is deactivated: only by `unalias` (`explicit_unalias`), also by the first
 * message received through it (`reply`), also when its monitor is removed (`demonitor`),
 * or both (`reply_demonitor`: the message also removes the monitor).
 * @internal
 */
export type AliasMode = "explicit_unalias" | "reply" | "demonitor" | "reply_demonitor"

/**
 * The counter of a ref made by this node: the key of the alias and timer tables.
 * @internal
 */
export type AliasKey = number

/** An active alias: its process and how it is deactivated. */
interface AliasEntry {
  readonly p: ProcessImpl
  readonly mode: AliasMode
}

// An idle process keeps no empty tables (a served call leaves none behind).
const unaliased = (p: ProcessImpl, k: AliasKey): void => {
  const s = p.aliases
  if (s !== undefined && s.delete(k) && s.size === 0) p.aliases = undefined
}

/** @internal */
export class AliasTable {
  private readonly byKey = new Map<AliasKey, AliasEntry>()
  /**
   * The brief alias (`addBrief`), outside `byKey`: one at a time (a handler that answers a
   * call at once cannot make a call of its own), so a call answered at once touches no map.
   */
  private briefKey: AliasKey = -1
  private readonly brief: { p: ProcessImpl | undefined; mode: AliasMode } = { p: undefined, mode: "demonitor" }

  private entry(k: AliasKey): AliasEntry | undefined {
    return k === this.briefKey ? this.brief as AliasEntry : this.byKey.get(k)
  }

  add(p: ProcessImpl, k: AliasKey, mode: AliasMode): void {
    this.byKey.set(k, { p, mode })
    ;(p.aliases ??= new Set()).add(k)
  }

  /**
   * An alias of `p` for one synchronous step of `p`'s own fiber (a call answered at once:
   * see `Process.unsafeCallLocal`): `p` cannot die meanwhile, so `p.aliases` does not
   * list it (nothing allocated there). `keep` turns it into an ordinary alias,
   * `dropBrief` removes it.
   */
  addBrief(p: ProcessImpl, k: AliasKey, mode: AliasMode): void {
    if (this.briefKey !== -1) {
      this.byKey.set(k, { p, mode })
      return
    }
    this.briefKey = k
    this.brief.p = p
    this.brief.mode = mode
  }

  /** A brief alias (`addBrief`) of `p` stays: an ordinary alias from now on, if it is still active. */
  keep(p: ProcessImpl, k: AliasKey): void {
    if (k === this.briefKey) {
      this.dropBrief(k)
      this.add(p, k, this.brief.mode)
    } else if (this.byKey.get(k)?.p === p) (p.aliases ??= new Set()).add(k)
  }

  /** Removes a brief alias (`addBrief`). */
  dropBrief(k: AliasKey): void {
    if (k !== this.briefKey) {
      this.byKey.delete(k)
      return
    }
    this.briefKey = -1
    this.brief.p = undefined
  }

  /** Deactivates alias `k` of `p`; `true` if it was active. */
  remove(p: ProcessImpl, k: AliasKey | undefined): boolean {
    if (k === undefined) return false
    const e = this.entry(k)
    if (e === undefined || e.p !== p) return false
    if (k === this.briefKey) this.dropBrief(k)
    else this.byKey.delete(k)
    unaliased(p, k)
    return true
  }

  /** The process alias `k` belongs to, while it is active. */
  owner(k: AliasKey | undefined): ProcessImpl | undefined {
    return k === undefined ? undefined : this.entry(k)?.p
  }

  /**
   * A message arrives through alias `k`: its process (`undefined` when the alias is not
   * active: the message is dropped, as erts does), and its mode. A `reply` or
   * `reply_demonitor` alias is deactivated by it.
   */
  receive(k: AliasKey): AliasEntry | undefined {
    const e = this.entry(k)
    if (e === undefined) return undefined
    if (e.mode === "reply" || e.mode === "reply_demonitor") {
      const p = e.p
      if (k === this.briefKey) {
        this.dropBrief(k)
        return { p, mode: e.mode }
      }
      this.byKey.delete(k)
      unaliased(p, k)
    }
    return e
  }

  /** A process died: its aliases end with it. */
  onDeath(p: ProcessImpl): void {
    if (this.brief.p === p) this.dropBrief(this.briefKey)
    if (p.aliases === undefined) return
    for (const k of p.aliases) this.byKey.delete(k)
    p.aliases = undefined
  }
}
