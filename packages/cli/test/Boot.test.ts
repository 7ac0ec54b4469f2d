/**
 * The executable's start-up V8 settings (`internal/boot.ts`): while the node starts the
 * young generation keeps its size, afterwards it grows again as V8 grows it; a flag the
 * user gave node is left alone. Each case runs in a child node (V8 flags are per process).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { execFile } from "node:child_process"
import * as path from "node:path"

const BOOT = path.join(import.meta.dirname, "..", "src", "internal", "boot.ts")

/** Allocates ~200k retained objects (survivors make V8 grow the young generation), then reports its size. */
const child = `
import * as v8 from "node:v8"
const Boot = await import(${JSON.stringify(BOOT)})
const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size
const churn = () => { const keep = []; for (let i = 0; i < 200000; i++) keep.push({ i, s: "x" + i }); return keep.length }
Boot.begin()
const before = newSpace()
churn()
const during = newSpace()
Boot.end()
churn()
console.log(JSON.stringify({ before, during, after: newSpace() }))
`

const youngGeneration = (nodeFlags: ReadonlyArray<string>) =>
  Effect.async<{ readonly before: number; readonly during: number; readonly after: number }, Error>((resume) => {
    const proc = execFile(
      process.execPath,
      [...nodeFlags, "--import", "tsx", "--input-type=module", "-e", child],
      { timeout: 60_000 },
      (e, stdout, stderr) =>
        resume(e === null ? Effect.succeed(JSON.parse(stdout)) : Effect.fail(new Error(`${e.message}\n${stderr}`)))
    )
    return Effect.sync(() => proc.kill("SIGKILL"))
  })

describe("Boot", () => {
  it.effect(
    "the young generation does not grow during start-up, and grows again after it",
    () =>
      Effect.gen(function*() {
        const { after, before, during } = yield* youngGeneration([])
        expect(during).toBe(before)
        expect(after).toBeGreaterThan(during)
      }),
    60_000
  )

  it.effect("a growth factor given on node's command line is left alone", () =>
    Effect.gen(function*() {
      const { before, during } = yield* youngGeneration(["--semi-space-growth-factor=2"])
      expect(during).toBeGreaterThan(before)
    }), 60_000)
})
