/**
 * vitest global setup, for the tests against real Erlang:
 *
 * - makes sure the system `epmd` runs (when Erlang is installed) before any test starts a
 *   node. Otherwise the first TypeScript node of a test run would start its embedded epmd
 *   on port 4369 and `erl` nodes of other test files would register with it, losing their
 *   names when that TS node stops;
 * - asks once whether `erl` runs (`probeErl`) and passes the answer to the test files in
 *   `EFFECT_OTP_ERL_PROBE` (which the test workers inherit), so that the thirty-odd files
 *   that check `erlAvailable()` do not start an `erl` each only to ask.
 */
import { spawnSync } from "node:child_process"
import { ERL_PROBE_ENV, probeErl } from "../packages/dist/test/helpers/erlProbe.js"

export default function setup(): () => void {
  const r = spawnSync("epmd", ["-daemon"], { stdio: "ignore" })
  if (r.error !== undefined && process.env.CI) {
    // interop tests will fail loudly on their own (erlAvailable); nothing to do here
  }
  process.env[ERL_PROBE_ENV] = JSON.stringify(probeErl())
  return () => {
    delete process.env[ERL_PROBE_ENV]
  }
}
