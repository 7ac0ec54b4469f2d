/**
 * Test helpers for the examples: run an example script as its own OS process (as its npm
 * script does) on a private epmd port with unique node names and cookie, and find any OS
 * process it left behind.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { erlProbe } from "../../../packages/dist/test/helpers/erlProbe.js"

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")

/** A TCP port nothing listens on right now (the example hosts its embedded epmd there). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

/** A unique suffix for node names: `_t<random>`. */
export const uniqueSuffix = (): string => `_t${Math.random().toString(36).slice(2, 8)}`

export interface ScriptRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  readonly cwd?: string
  /** added to `process.env` */
  readonly env?: Record<string, string>
  /** past this the process gets `timeoutSignal` (by pid) and the promise rejects; default 100 s */
  readonly timeoutMs?: number
  /** default `SIGKILL` */
  readonly timeoutSignal?: NodeJS.Signals
}

/** Runs a command to its exit; resolves with its exit code and output, whatever the code. */
export const runProcess = (
  command: string,
  args: ReadonlyArray<string>,
  options: RunOptions = {}
): Promise<ScriptRun> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args as Array<string>, {
      cwd: options.cwd ?? root,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    const timeoutMs = options.timeoutMs ?? 100_000
    const timer = setTimeout(() => {
      child.kill(options.timeoutSignal ?? "SIGKILL")
      reject(new Error(`${command} took more than ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`))
    }, timeoutMs)
    child.on("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

/**
 * The repository's TypeScript loader for the processes tests start (`scripts/ts-loader.mjs`):
 * it runs the same sources as `tsx`, at about half the CPU time per process.
 */
export const tsLoader: ReadonlyArray<string> = ["--import", path.join(root, "scripts", "ts-loader.mjs")]

/**
 * Runs `examples/src/<script>` (with the TS loader; the peers it starts inherit it) with
 * `env` added; resolves when it exits. Past `timeoutMs` it is sent SIGINT (its finalizers
 * stop its peers) and the promise rejects.
 */
export const runScript = (script: string, env: Record<string, string>, timeoutMs = 100_000): Promise<ScriptRun> =>
  runProcess(process.execPath, [...tsLoader, path.join("examples", "src", script)], {
    env,
    timeoutMs,
    timeoutSignal: "SIGINT"
  })

/** The pids of live (not zombie) OS processes whose command line contains `needle` (Linux `/proc`). */
export const processesWith = (needle: string): Array<number> => {
  const found: Array<number> = []
  let entries: Array<string> = []
  try {
    entries = fs.readdirSync("/proc")
  } catch {
    return found
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8")
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8")
      if (cmd.includes(needle) && !/^\d+ \(.*\) Z /.test(stat)) found.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return found
}

/** Whether an executable file `command` is on the `PATH` (what spawning it by name finds). */
const onPath = (command: string): boolean =>
  (process.env.PATH ?? "").split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir === "" ? "." : dir, command), fs.constants.X_OK)
      return true
    } catch {
      return false
    }
  })

let erlChecked: boolean | undefined

/**
 * Whether `erl` and `erlc` run here: the test run's probe of `erl` (`erlProbe`, made once
 * by the vitest global setup) and `erlc` on the `PATH`. Missing ones throw under `CI` (the
 * Erlang parts of the examples must not be skipped there) and otherwise warn loudly, once.
 */
export const erlInstalled = (): boolean => {
  if (erlChecked === undefined) {
    erlChecked = erlProbe().ok && onPath("erlc")
    if (!erlChecked) {
      if (process.env.CI) throw new Error("erl and erlc are required under CI (the examples' Erlang nodes)")
      console.warn(
        `\n${"!".repeat(72)}\n!! erl is not installed: the examples' Erlang parts are SKIPPED\n${"!".repeat(72)}\n`
      )
    }
  }
  return erlChecked
}
