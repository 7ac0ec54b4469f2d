/**
 * vitest global setup: a directory for the run's `erlc` output, shared by the test files
 * (`compileErl` in packages/dist/test/helpers/erl.ts compiles each set of Erlang sources
 * once per run instead of once per file) and the run's throwaway PKI (`makePki` in
 * packages/dist/test/helpers/tls.ts generates its keys and certificates once per run). Its
 * path is passed in an environment variable, which the test workers inherit; the directory
 * is removed when the run ends.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const ENV = "EFFECT_OTP_ERLC_CACHE"

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), "effect-otp-erlc-"))
  process.env[ENV] = dir
  return () => {
    rmSync(dir, { recursive: true, force: true })
    delete process.env[ENV]
  }
}
