import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Etf from "../src/Etf.js"
import { runFuzz, seedCorpus } from "./fuzz/fuzz.js"

describe("Etf decoder fuzzing", () => {
  it("the seed corpus decodes", () => {
    for (const b of seedCorpus(42)) expect(Either.isRight(Etf.decode(b))).toBe(true)
  })

  it("100k random and mutated inputs: only DecodeError or success, never another exception", () => {
    const s = runFuzz(100_000, 20261126)
    expect(s.failures).toEqual([])
    expect(s.failureCount).toBe(0)
    // both outcomes were exercised
    expect(s.decoded).toBeGreaterThan(1_000)
    expect(s.decodeErrors).toBeGreaterThan(50_000)
    expect(s.reasons.size).toBeGreaterThan(20)
  }, 120_000)
})
