import { describe, expect, it } from "@effect/vitest"
import * as Flags from "../src/Flags.js"

describe("Flags", () => {
  it("the sets have the values of docs/wire-protocol.md", () => {
    expect(Flags.MANDATORY_25).toBe(0x1070f94n)
    expect(Flags.MANDATORY_26).toBe(0x403070f94n)
    expect(Flags.RECOMMENDED).toBe(0xd074f5fbcn)
    expect(Flags.RECOMMENDED_PUBLISHED).toBe(0xd074f5fbdn)
    expect(Flags.recommended()).toBe(Flags.RECOMMENDED)
    expect(Flags.recommended({ hidden: false })).toBe(Flags.RECOMMENDED_PUBLISHED)
  })

  it("MANDATORY_25_DIGEST is bit 26, not bit 36", () => {
    expect(Flags.DFLAG_MANDATORY_25_DIGEST).toBe(0x4000000n)
  })

  it("the recommended set has no atom cache, fragments or NAME_ME", () => {
    for (
      const f of [
        Flags.DFLAG_DIST_HDR_ATOM_CACHE,
        Flags.DFLAG_FRAGMENTS,
        Flags.DFLAG_ATOM_CACHE,
        Flags.DFLAG_HIDDEN_ATOM_CACHE,
        Flags.DFLAG_NAME_ME,
        Flags.DFLAG_ALTACT_SIG,
        Flags.DFLAG_PUBLISHED
      ]
    ) {
      expect(Flags.has(Flags.RECOMMENDED, f)).toBe(false)
    }
  })

  it("names lists the set bits, lowest first, and unknown bits as bitN", () => {
    expect(Flags.names(0x5n)).toEqual(["PUBLISHED", "EXTENDED_REFERENCES"])
    expect(Flags.names(Flags.DFLAG_V4_NC | (1n << 40n))).toEqual(["V4_NC", "bit40"])
    expect(Flags.names(0n)).toEqual([])
  })

  it("missing gives the required bits that are absent", () => {
    const got = Flags.MANDATORY_25
    expect(Flags.names(Flags.missing(Flags.MANDATORY_26, got))).toEqual(["UNLINK_ID", "V4_NC"])
    expect(Flags.missing(Flags.MANDATORY_25, Flags.RECOMMENDED)).toBe(0n)
  })
})
