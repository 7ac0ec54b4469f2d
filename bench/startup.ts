/**
 * Start-up and idle memory of a node, as a user runs it: the built `effect-otp` CLI
 * (`npx effect-otp --sname X --noshell`, from the packed `dist/` folders, with plain
 * node) beside `erl -sname X -noshell`. Measured from spawn to the name being registered
 * in EPMD (NAMES requests every 5 ms), then the RSS after 2 s idle (`/proc/PID/status`).
 *
 * The packages are built first when `packages/cli/dist` is missing or older than a source
 * file (`npm run build`), then copied under `node_modules/.cache/effect-otp-bench/` so that
 * node resolves `@effect-otp/*` to the built packages and `effect` to the repository's.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { repoRoot, run } from "./harness.js"

const PACKAGES = ["process", "dist", "cli"] as const
const installDir = path.join(repoRoot, "node_modules", ".cache", "effect-otp-bench")

const newest = (dir: string): number => {
  let t = 0
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name)
    t = Math.max(t, entry.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs)
  }
  return t
}

/** Builds the packages when needed; returns the path of the installed CLI's executable. */
export const prepareCli = async (log: (s: string) => void): Promise<string> => {
  const built = path.join(repoRoot, "packages", "cli", "dist", "package.json")
  const stale = !fs.existsSync(built) ||
    PACKAGES.some((p) => newest(path.join(repoRoot, "packages", p, "src")) > fs.statSync(built).mtimeMs)
  if (stale) {
    log("startup: npm run build")
    await run("npm", ["run", "build"], { timeoutMs: 900_000 })
  }
  for (const p of PACKAGES) {
    const to = path.join(installDir, "node_modules", "@effect-otp", p)
    fs.rmSync(to, { recursive: true, force: true })
    fs.cpSync(path.join(repoRoot, "packages", p, "dist"), to, { recursive: true })
  }
  return path.join(installDir, "node_modules", "@effect-otp", "cli", "bin", "effect-otp.mjs")
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

/** Spawns `cmd` (its args with `NAME` replaced), waits until NAME is in EPMD: seconds to register, idle RSS in MB. */
export const measure = async (
  cmd: string,
  args: ReadonlyArray<string>,
  name: string
): Promise<{ readonly start_s: number; readonly idle_rss_mb: number }> => {
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
    await new Promise((r) => setTimeout(r, 2000))
    const status = fs.readFileSync(`/proc/${child.pid}/status`, "utf8")
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN)
    return { start_s, idle_rss_mb: rss / 1024 }
  } finally {
    if (!exited) child.kill("SIGKILL")
  }
}
