/**
 * Admission of connections that have proven nothing yet (a TLS handshake in progress,
 * a distribution handshake before its challenge reply): at most `perAddress` from one
 * address and `total` in all. When the total is reached, the address holding the most
 * makes room (its oldest is evicted) while it holds more than the newcomer's address
 * would after admission: one address can never starve the others.
 *
 * Addresses are grouped as an attacker would have to spread them: IPv4 by address,
 * IPv6 by /64 (one host often owns a whole /64), IPv4-mapped IPv6 as IPv4.
 */
import * as net from "node:net"

/** A pending connection's place; give it back when the connection is settled. */
export interface PendingSlot {
  readonly address: string
  readonly release: () => void
}

interface Entry extends PendingSlot {
  readonly evict: () => void
}

/** Why a connection was not admitted. */
export type Refusal = "AddressFull" | "Full"

/** The /64 prefix of an IPv6 address, the address itself for IPv4. */
export const addressGroup = (host: string | undefined): string => {
  if (host === undefined) return "?"
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host)
  if (mapped !== null) return mapped[1]!
  if (net.isIPv6(host)) {
    const zone = host.indexOf("%")
    const bare = zone >= 0 ? host.slice(0, zone) : host
    const [head, tail] = bare.includes("::") ? bare.split("::") as [string, string] : [bare, undefined]
    const left = head === "" ? [] : head.split(":")
    const right = tail === undefined || tail === "" ? [] : tail.split(":")
    const groups = tail === undefined
      ? left
      : [...left, ...Array.from({ length: 8 - left.length - right.length }, () => "0"), ...right]
    return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, "")).join(":")}::/64`
  }
  return host
}

export class PendingLimiter {
  private readonly byAddress = new Map<string, Array<Entry>>()
  private count = 0

  constructor(readonly perAddress: number, readonly total: number) {}

  /** Connections pending now. */
  get size(): number {
    return this.count
  }

  /** Pending connections from `host`'s address group now. */
  pendingFrom(host: string | undefined): number {
    return this.byAddress.get(addressGroup(host))?.length ?? 0
  }

  /**
   * Admit a connection from `host`; `evict` closes it if it must make room later.
   * On success, call `release` once the connection is settled (idempotent).
   */
  admit(host: string | undefined, evict: () => void): PendingSlot | Refusal {
    const address = addressGroup(host)
    const mine = this.byAddress.get(address)?.length ?? 0
    if (mine >= this.perAddress) return "AddressFull"
    if (this.count >= this.total) {
      let victim: Array<Entry> | undefined
      for (const list of this.byAddress.values()) {
        if (victim === undefined || list.length > victim.length) victim = list
      }
      if (victim === undefined || victim.length <= mine + 1) return "Full"
      const oldest = victim[0]!
      oldest.release()
      oldest.evict()
    }
    let released = false
    const entry: Entry = {
      address,
      evict,
      release: () => {
        if (released) return
        released = true
        const list = this.byAddress.get(address)
        if (list === undefined) return
        const i = list.indexOf(entry)
        if (i >= 0) {
          list.splice(i, 1)
          this.count--
        }
        if (list.length === 0) this.byAddress.delete(address)
      }
    }
    const list = this.byAddress.get(address)
    if (list === undefined) this.byAddress.set(address, [entry])
    else list.push(entry)
    this.count++
    return entry
  }
}
