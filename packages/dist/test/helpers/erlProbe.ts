/**
 * Whether `erl` runs here, asked once per test run: the vitest global setup
 * (`scripts/vitest-epmd.ts`) runs `probeErl` and hands the result to the test files in
 * `EFFECT_OTP_ERL_PROBE`, so that each file does not start an `erl` of its own only to
 * ask (`erlAvailable` in `./erl.ts` reads it). No Effect here: the global setup loads it.
 */
import { spawnSync } from "node:child_process"

/** The environment variable holding the run's probe (JSON of an `ErlProbe`). */
export const ERL_PROBE_ENV = "EFFECT_OTP_ERL_PROBE"

export interface ErlProbe {
  /** `erl -noshell -eval 'io:format("ok~n"), halt().'` printed ok and exited 0. */
  readonly ok: boolean
  /** Why not (the spawn error, erl's stderr or its exit code); empty when `ok`. */
  readonly why: string
}

/** Runs `erl` once: does it start, evaluate and halt? */
export const probeErl = (): ErlProbe => {
  const r = spawnSync("erl", ["-noshell", "-eval", "io:format(\"ok~n\"), halt()."], {
    encoding: "utf8",
    timeout: 30_000
  })
  const ok = r.status === 0 && r.stdout.includes("ok")
  return { ok, why: ok ? "" : r.error?.message ?? r.stderr ?? `exit ${r.status}` }
}

/** The run's probe (from the global setup), or a probe of its own outside vitest's global setup. */
export const erlProbe = (): ErlProbe => {
  const passed = process.env[ERL_PROBE_ENV]
  if (passed !== undefined) {
    const probe: unknown = JSON.parse(passed)
    if (
      typeof probe === "object" && probe !== null && "ok" in probe && typeof probe.ok === "boolean" &&
      "why" in probe && typeof probe.why === "string"
    ) return { ok: probe.ok, why: probe.why }
  }
  return probeErl()
}
