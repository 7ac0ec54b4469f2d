/**
 * vitest global setup: make sure the system `epmd` runs (when Erlang is installed)
 * before any test starts a node. Otherwise the first TypeScript node of a test run
 * would start its embedded epmd on port 4369 and `erl` nodes of other test files
 * would register with it, losing their names when that TS node stops.
 */
import { spawnSync } from "node:child_process"

export default function setup(): void {
  const r = spawnSync("epmd", ["-daemon"], { stdio: "ignore" })
  if (r.error !== undefined && process.env.CI) {
    // interop tests will fail loudly on their own (erlAvailable); nothing to do here
  }
}
