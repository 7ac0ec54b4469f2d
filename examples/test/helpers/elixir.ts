/**
 * Test helper: run Elixir (`elixir --sname ...`) against the nodes of a test.
 *
 * `elixirInstalled` throws under `CI` when `elixir` is missing (the Elixir interop test must
 * not be skipped there; `.ci/run` installs Debian's `elixir`), and otherwise warns loudly once.
 */
import { spawn, spawnSync } from "node:child_process"

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
  new Promise((resolve, reject) => {
    const child = spawn("elixir", ["--sname", options.sname, "--cookie", options.cookie, "-e", code], {
      env: { ...process.env, ERL_EPMD_PORT: String(options.epmdPort) },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    const timeoutMs = options.timeoutMs ?? 60_000
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`elixir timed out after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, timeoutMs)
    child.on("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(stdout)
      else reject(new Error(`elixir exited with ${code}\nstdout: ${stdout}\nstderr: ${stderr}`))
    })
  })
