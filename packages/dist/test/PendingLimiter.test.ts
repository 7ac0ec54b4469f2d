/**
 * The admission of pending handshakes: a cap per address (IPv6 per /64) and in all;
 * when full, the address holding the most gives up its oldest, so one address never
 * starves the others.
 */
import { describe, expect, it } from "@effect/vitest"
import { addressGroup, PendingLimiter } from "../src/internal/transport/pending.js"

describe("PendingLimiter", () => {
  it("groups addresses as an attacker would have to spread them", () => {
    expect(addressGroup("127.0.0.2")).toBe("127.0.0.2")
    expect(addressGroup("::ffff:127.0.0.2")).toBe("127.0.0.2")
    expect(addressGroup("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64")
    expect(addressGroup("2001:0db8:0001:0002:ffff:ffff:ffff:ffff")).toBe("2001:db8:1:2::/64")
    expect(addressGroup("2001:db8::1")).toBe("2001:db8:0:0::/64")
    expect(addressGroup("::1")).toBe("0:0:0:0::/64")
    expect(addressGroup("fe80::1%eth0")).toBe("fe80:0:0:0::/64")
    expect(addressGroup(undefined)).toBe("?")
  })

  it("caps one address, and makes the address holding the most give way when all slots are taken", () => {
    const limiter = new PendingLimiter(3, 4)
    const evicted: Array<string> = []
    const admit = (host: string, tag: string) => limiter.admit(host, () => evicted.push(tag))
    const a1 = admit("10.0.0.1", "a1")
    admit("10.0.0.1", "a2")
    admit("10.0.0.1", "a3")
    expect(admit("10.0.0.1", "a4")).toBe("AddressFull")
    expect(typeof admit("10.0.0.2", "b1")).toBe("object")
    expect(limiter.size).toBe(4)
    // full: 10.0.0.1 holds 3, the newcomer's address 1 -> the oldest of 10.0.0.1 goes
    expect(typeof admit("10.0.0.3", "c1")).toBe("object")
    expect(evicted).toEqual(["a1"])
    expect(limiter.pendingFrom("10.0.0.1")).toBe(2)
    // released slots are given back once
    if (typeof a1 === "object") a1.release()
    expect(limiter.size).toBe(4)
    // 10.0.0.1 holds 2, 10.0.0.2 would hold 2 after admission: no one gives way
    expect(admit("10.0.0.2", "b2")).toBe("Full")
    expect(evicted).toEqual(["a1"])
  })
})
