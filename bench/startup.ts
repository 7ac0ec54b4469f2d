/**
 * Start-up and idle memory of a node, as a user runs it: the built `effect-otp` executable
 * (`npx effect-otp --sname X --noshell` runs `packages/cli/dist/bin/effect-otp.mjs`, one
 * bundle with its own effect, with plain node) beside `erl -sname X -noshell`. Measured
 * from spawn to the name being registered in EPMD (NAMES requests every 5 ms), the CPU
 * time the process used until then (`/proc/PID/stat`: less sensitive to a loaded machine
 * than the wall time), then the RSS after 2 s idle (`/proc/PID/status`).
 *
 * The packages are built first when the executable is missing or older than a source file
 * (`npm run build`).
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { repoRoot, run } from "./harness.js"

/** The packages bundled into the executable, and its build script. */
const SOURCES = [
  ...["process", "dist", "gen-server", "global", "cli"].map((p) => path.join(repoRoot, "packages", p, "src")),
  path.join(repoRoot, "packages", "cli", "scripts")
]

const newest = (dir: string): number => {
  let t = 0
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name)
    t = Math.max(t, entry.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs)
  }
  return t
}

/** Builds the packages when needed; returns the path of the CLI's executable. */
export const prepareCli = async (log: (s: string) => void): Promise<string> => {
  const bin = path.join(repoRoot, "packages", "cli", "dist", "bin", "effect-otp.mjs")
  const stale = !fs.existsSync(bin) || SOURCES.some((dir) => newest(dir) > fs.statSync(bin).mtimeMs)
  if (stale) {
    log("startup: npm run build")
    await run("npm", ["run", "build"], { timeoutMs: 900_000 })
  }
  return bin
}

/** The names registered in the EPMD on 4369 (empty when none answers). */
const epmdNames = (): Promise<string> =>
  new Promise((resolve) => {
    const socket = net.connect(4369, "127.0.0.1")
    const chunks: Array<Buffer> = []
    socket.on("connect", () => socket.write(Buffer.from([0, 1, 110]))) // NAMES_REQ
    socket.on("data", (d) => chunks.push(d))
    socket.on("close", () => resolve(Buffer.concat(chunks).subarray(4).toString("latin1")))
    socket.on("error", () => resolve(""))
  })

/** CPU time (user + system, all threads) a process has used, in seconds (Linux clock ticks: 1/100 s). */
const cpuSeconds = (pid: number): number => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  // the fields after "(command) ": state is field 3, utime and stime are fields 14 and 15
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/**
 * Spawns `cmd` (its args with `NAME` replaced), waits until NAME is in EPMD: seconds to
 * register, CPU seconds used until then, idle RSS in MB.
 */
export const measure = async (
  cmd: string,
  args: ReadonlyArray<string>,
  name: string
): Promise<{ readonly start_s: number; readonly start_cpu_s: number; readonly idle_rss_mb: number }> => {
  const t0 = performance.now()
  const child = spawn(cmd, args.map((a) => a.replace("NAME", name)), { stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr.on("data", (d) => (stderr += d))
  let exited = false
  child.on("exit", () => (exited = true))
  try {
    for (;;) {
      if ((await epmdNames()).includes(`name ${name} at`)) break
      if (exited) throw new Error(`${cmd} exited before registering: ${stderr}`)
      if (performance.now() - t0 > 60_000) throw new Error(`${cmd} did not register in 60 s: ${stderr}`)
      await new Promise((r) => setTimeout(r, 5))
    }
    const start_s = (performance.now() - t0) / 1000
    const start_cpu_s = cpuSeconds(child.pid!)
    await new Promise((r) => setTimeout(r, 2000))
    const status = fs.readFileSync(`/proc/${child.pid}/status`, "utf8")
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN)
    return { start_s, start_cpu_s, idle_rss_mb: rss / 1024 }
  } finally {
    if (!exited) child.kill("SIGKILL")
  }
}
