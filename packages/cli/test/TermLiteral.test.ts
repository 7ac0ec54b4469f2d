/**
 * The shell's `TermLiteral` is `@effect-otp/process/TermLiteral` (its tests live in
 * packages/process/test/TermLiteral.test.ts).
 */
import * as ProcessTermLiteral from "@effect-otp/process/TermLiteral"
import { describe, expect, it } from "@effect/vitest"
import { TermLiteral } from "../src/index.js"

describe("TermLiteral (CLI)", () => {
  it("re-exports the process package's parser", () => {
    expect(TermLiteral.t).toBe(ProcessTermLiteral.t)
    expect(TermLiteral.parse).toBe(ProcessTermLiteral.parse)
    expect(TermLiteral.fromJs).toBe(ProcessTermLiteral.fromJs)
    expect(TermLiteral.TermSyntaxError).toBe(ProcessTermLiteral.TermSyntaxError)
    expect(TermLiteral.consult).toBe(ProcessTermLiteral.consult)
  })
})
