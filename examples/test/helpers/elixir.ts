/**
 * Test helper: run Elixir (`elixir --sname ...`) against the nodes of a test.
 *
 * `elixirInstalled` throws under `CI` when `elixir` is missing (the Elixir interop test must
 * not be skipped there; `.ci/run` installs Debian's `elixir`), and otherwise warns loudly once.
 */
import { spawnSync } from "node:child_process"
import { runProcess } from "./script.js"

let checked: boolean | undefined

/** Whether `elixir` runs here; see the module comment for CI. */
export const elixirInstalled = (): boolean => {
  if (checked === undefined) {
    const r = spawnSync("elixir", ["-e", "IO.puts(:ok)"], { encoding: "utf8", timeout: 60_000 })
    checked = r.status === 0 && r.stdout.includes("ok")
    if (!checked) {
      const why = r.error?.message ?? (r.stderr || `exit ${r.status}`)
      if (process.env.CI) throw new Error(`elixir is required under CI but does not run: ${why}`)
      console.warn(
        `\n${"!".repeat(72)}\n!! elixir is not available (${why.trim()}):\n!! SKIPPING the Elixir interop test ` +
          `(apt-get install elixir).\n${"!".repeat(72)}\n`
      )
    }
  }
  return checked
}

export interface ElixirOptions {
  /** `--sname` */
  readonly sname: string
  readonly cookie: string
  /** the epmd port (`ERL_EPMD_PORT`) */
  readonly epmdPort: number
  /** kill it (by pid) after this long; default 60 s */
  readonly timeoutMs?: number
}

/** Runs `elixir --sname S --cookie C -e code`; resolves with its stdout when it exits with 0. */
export const runElixir = (code: string, options: ElixirOptions): Promise<string> =>
  runProcess("elixir", ["--sname", options.sname, "--cookie", options.cookie, "-e", code], {
    env: { ERL_EPMD_PORT: String(options.epmdPort) },
    timeoutMs: options.timeoutMs ?? 60_000
  }).then((r) => {
    if (r.code === 0) return r.stdout
    throw new Error(`elixir exited with ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  })
