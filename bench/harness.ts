/**
 * Benchmark harness: runs each workload in a fresh OS process (a fresh `node` for
 * TypeScript, a fresh BEAM for Erlang), parses the `RESULT name key=value ...` line
 * it prints, and prints our figure next to Erlang's with the ratio.
 */
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
/** `bench/`, also when this module runs compiled from `bench/build/`. */
export const benchDir = path.basename(here) === "build" ? path.dirname(here) : here
export const repoRoot = path.resolve(benchDir, "..")

export type Result = Readonly<Record<string, number>>

/** Two full collections (the workload runs with `node --expose-gc`). */
const gc = (): void => {
  const g = (globalThis as { gc?: () => void }).gc
  if (g === undefined) throw new Error("run node with --expose-gc")
  g()
  g()
}

/** `heapUsed` after `gc()`. */
export const heapUsed = (): number => {
  gc()
  return process.memoryUsage().heapUsed
}

/** Milliseconds, for timing. */
export const now = (): number => performance.now()

export const parseResult = (stdout: string, name?: string): Result | undefined => {
  for (const line of stdout.split("\n")) {
    const m = /^RESULT (\S+)(.*)$/.exec(line.trim())
    if (!m || (name !== undefined && m[1] !== name)) continue
    const out: Record<string, number> = {}
    for (const kv of m[2]!.trim().split(/\s+/)) {
      const [k, v] = kv.split("=")
      if (k !== undefined && v !== undefined && v !== "" && !Number.isNaN(Number(v))) out[k] = Number(v)
    }
    return out
  }
  return undefined
}

export interface RunOptions {
  readonly cwd?: string
  readonly env?: NodeJS.ProcessEnv
  readonly timeoutMs?: number
}

/** Runs a command to completion and returns its stdout (stderr is passed through on failure). */
export const run = (cmd: string, args: ReadonlyArray<string>, options: RunOptions = {}): Promise<string> =>
  new Promise((resolve, reject) => {
    const child = spawn(cmd, args as Array<string>, {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    child.stdout.on("data", (d) => (out += d))
    child.stderr.on("data", (d) => (err += d))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 300_000)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve(out)
      else reject(new Error(`${cmd} ${args.join(" ")} exited ${code ?? signal}\n${out}\n${err}`))
    })
  })

/** A long-running child (a server node); killed by `stop`. */
export const start = (cmd: string, args: ReadonlyArray<string>, ready: RegExp, options: RunOptions = {}) =>
  new Promise<{ readonly stop: () => void; readonly output: () => string }>((resolve, reject) => {
    const child = spawn(cmd, args as Array<string>, {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    const stop = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    }
    process.once("exit", stop)
    const timer = setTimeout(() => {
      stop()
      reject(new Error(`${cmd} did not become ready:\n${out}`))
    }, options.timeoutMs ?? 30_000)
    const onData = (d: Buffer) => {
      out += d
      if (ready.test(out)) {
        clearTimeout(timer)
        resolve({ stop, output: () => out })
      }
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.on("close", (code) => {
      clearTimeout(timer)
      // gone: nothing to kill at exit (and no listener piling up over many runs)
      process.removeListener("exit", stop)
      reject(new Error(`${cmd} exited ${code} before ready:\n${out}`))
    })
  })

export const erlAvailable = (): boolean => spawnSync("erl", ["-version"], { stdio: "ignore" }).status === 0

/** Compiles the Erlang benchmark modules into a temp dir; returns that dir. */
export const compileErlang = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-otp-bench-"))
  for (const f of ["bench_local.erl", "bench_dist.erl", "bench_etf.erl", "bench_gen_server.erl", "bench_global.erl"]) {
    const r = spawnSync("erlc", ["-o", dir, path.join(benchDir, "erlang", f)], { encoding: "utf8" })
    if (r.status !== 0) throw new Error(`erlc ${f} failed: ${r.stderr}`)
  }
  return dir
}

export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** Median, min and max of the runs of one workload. */
export interface Stat {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly runs: number
}

export const stat = (xs: ReadonlyArray<number>): Stat | undefined =>
  xs.length === 0
    ? undefined
    : { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: xs.length }

export interface Row {
  readonly workload: string
  readonly unit: string
  readonly ours: Stat | undefined
  readonly erlang: Stat | undefined
  /** true when a higher figure is better (throughput); false for time and memory */
  readonly higherIsBetter: boolean
  readonly target?: string
  /** whether the target is met (printed as "ok" / "MISSED"); undefined when it cannot be judged */
  readonly met?: boolean | undefined
}

const fmtNum = (n: number): string =>
  n >= 100 ? Math.round(n).toLocaleString("en-US") : n >= 1 ? n.toPrecision(3) : n.toPrecision(2)

export const fmtStat = (s: Stat | undefined): string =>
  s === undefined
    ? "—"
    : s.runs === 1
    ? fmtNum(s.median)
    : `${fmtNum(s.median)} (${fmtNum(s.min)}–${fmtNum(s.max)})`

/** "ratio" is always "how many Erlangs we are": > 1 means faster or smaller than Erlang (medians). */
export const ratio = (r: Pick<Row, "ours" | "erlang" | "higherIsBetter">): number | undefined =>
  r.ours === undefined || r.erlang === undefined || r.ours.median === 0 || r.erlang.median === 0
    ? undefined
    : r.higherIsBetter
    ? r.ours.median / r.erlang.median
    : r.erlang.median / r.ours.median

export const printTable = (title: string, rows: ReadonlyArray<Row>): void => {
  const header = ["workload", "unit", "effect-otp", "Erlang/OTP", "ratio (x Erlang)", "target", "met"]
  const body = rows.map((r) => {
    const q = ratio(r)
    return [
      r.workload,
      r.unit,
      fmtStat(r.ours),
      fmtStat(r.erlang),
      q === undefined ? "—" : `${q.toFixed(2)}x`,
      r.target ?? "",
      r.met === undefined ? "" : r.met ? "ok" : "MISSED"
    ]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()
  console.log(`\n${title}`)
  console.log(line(header))
  console.log(widths.map((w) => "-".repeat(w)).join("  "))
  for (const b of body) console.log(line(b))
}
