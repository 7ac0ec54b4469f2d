/**
 * `npm test`: the typecheck (`tsc -b`, what `npm run check` runs) and `vitest run`, side by
 * side instead of one after the other: much of the test run waits on other OS processes
 * (erl, TS nodes, npm), and the typecheck runs in that idle time. The typecheck's output is
 * printed when both are done; the exit code is the typecheck's if it failed, else vitest's.
 *
 * The typecheck also emits each package's `build/esm` and `build/dts`, which is what
 * `npm run build` compiles: packages/cli/test/Pack.test.ts waits for it to end (the file
 * named by `EFFECT_OTP_TYPECHECK_EXIT` appears, holding tsc's exit code) and then runs
 * `npm run build`, whose `tsc -b` finds everything up to date, instead of compiling the
 * same sources a second time (and into the same files) while the typecheck runs.
 *
 *     node scripts/test.mjs [vitest arguments...]
 */
import { spawn } from "node:child_process"
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { setPriority, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const bin = (name) => join(root, "node_modules", ".bin", name)

/**
 * The typecheck's CPU priority (nice): the tests' own. At a lower one (10) it got a tenth of a
 * core beside the busy test workers and took 2.5 minutes, and Pack.test, which waits for it, then
 * ended last; its CPU time is the same either way (about 30 s).
 */
const PRIORITY = 0

const children = new Set()
const run = (file, args, stdio, priority = 0, env = process.env) =>
  new Promise((resolve) => {
    const child = spawn(file, args, { cwd: root, stdio, env })
    children.add(child)
    if (priority !== 0 && child.pid !== undefined) {
      try {
        setPriority(child.pid, priority)
      } catch {
        // not allowed here: it runs at normal priority
      }
    }
    let output = ""
    child.stdout?.on("data", (d) => (output += d))
    child.stderr?.on("data", (d) => (output += d))
    child.on("error", (e) => {
      children.delete(child)
      resolve({ code: 1, output: `${output}${e.message}\n` })
    })
    child.on("close", (code, signal) => {
      children.delete(child)
      resolve({ code: code ?? (signal !== null ? 1 : 0), output })
    })
  })

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    for (const child of children) {
      try {
        if (child.pid !== undefined) process.kill(child.pid, signal)
      } catch {
        // already gone
      }
    }
  })
}

/** Where the typecheck's exit code is written when it ends (see above). */
const statusDir = mkdtempSync(join(tmpdir(), "effect-otp-typecheck-"))
const statusFile = join(statusDir, "exit")
process.on("exit", () => rmSync(statusDir, { recursive: true, force: true }))

const started = performance.now()
const typecheckDone = run(bin("tsc"), ["-b", "tsconfig.json"], ["ignore", "pipe", "pipe"], PRIORITY).then((r) => {
  // atomically: the file appears complete
  writeFileSync(`${statusFile}.tmp`, String(r.code))
  renameSync(`${statusFile}.tmp`, statusFile)
  return { ...r, seconds: (performance.now() - started) / 1000 }
})
const tests = await run(bin("vitest"), ["run", ...process.argv.slice(2)], "inherit", 0, {
  ...process.env,
  EFFECT_OTP_TYPECHECK_EXIT: statusFile
})
const check = await typecheckDone

process.stdout.write(
  check.code === 0
    ? `\ntypecheck (tsc -b): ok in ${check.seconds.toFixed(1)} s\n`
    : `\ntypecheck (tsc -b) FAILED (exit ${check.code}):\n${check.output}\n`
)
process.exit(check.code !== 0 ? check.code : tests.code)
