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
    this.byKey.set(k, { p, mode })
  }

  /** A brief alias (`addBrief`) of `p` stays: an ordinary alias from now on, if it is still active. */
  keep(p: ProcessImpl, k: AliasKey): void {
    if (this.byKey.get(k)?.p === p) (p.aliases ??= new Set()).add(k)
  }

  /** Removes a brief alias (`addBrief`). */
  dropBrief(k: AliasKey): void {
    this.byKey.delete(k)
  }

  /** Deactivates alias `k` of `p`; `true` if it was active. */
  remove(p: ProcessImpl, k: AliasKey | undefined): boolean {
    if (k === undefined) return false
    const e = this.byKey.get(k)
    if (e === undefined || e.p !== p) return false
    this.byKey.delete(k)
    unaliased(p, k)
    return true
  }

  /** The process alias `k` belongs to, while it is active. */
  owner(k: AliasKey | undefined): ProcessImpl | undefined {
    return k === undefined ? undefined : this.byKey.get(k)?.p
  }

  /**
   * A message arrives through alias `k`: its process (`undefined` when the alias is not
   * active: the message is dropped, as erts does), and its mode. A `reply` or
   * `reply_demonitor` alias is deactivated by it.
   */
  receive(k: AliasKey): AliasEntry | undefined {
    const e = this.byKey.get(k)
    if (e === undefined) return undefined
    if (e.mode === "reply" || e.mode === "reply_demonitor") {
      this.byKey.delete(k)
      unaliased(e.p, k)
    }
    return e
  }

  /** A process died: its aliases end with it. */
  onDeath(p: ProcessImpl): void {
    if (p.aliases === undefined) return
    for (const k of p.aliases) this.byKey.delete(k)
    p.aliases = undefined
  }
}
