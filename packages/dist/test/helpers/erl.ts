/**
 * Test helper: run real Erlang (`erl`) processes.
 *
 * - `erlAvailable` tells whether `erl` can run. When it cannot, it throws under
 *   `CI=true` (interop tests must not be skipped there) and otherwise prints a loud
 *   message once and returns `false`: use it as `describe.skipIf(!erlAvailable())`.
 * - `runErl` runs a one-shot `erl -noshell -eval ...` and resolves with its output.
 * - `compileErl` compiles Erlang modules with `erlc`, once per test run.
 * - `startErl` starts a long-running node, waits for a ready marker on stdout and
 *   returns a handle that kills it by pid. `startErlScoped` is the same as an Effect
 *   whose scope kills the node.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { erlProbe } from "./erlProbe.js"

let available: boolean | undefined

/**
 * Whether `erl` runs here. Missing `erl` throws when `process.env.CI` is set, and
 * otherwise logs a loud warning (once) and returns `false`.
 */
export const erlAvailable = (): boolean => {
  if (available === undefined) {
    const probe = erlProbe()
    available = probe.ok
    if (!available) {
      const why = probe.why
      if (process.env.CI) throw new Error(`erl is required under CI but does not run: ${why}`)

      console.warn(
        `\n${"!".repeat(72)}\n!! erl is not available (${why.trim()}):\n!! SKIPPING the tests against real Erlang.\n${
          "!".repeat(72)
        }\n`
      )
    }
  }
  return available
}

/** A unique short name for test nodes and cookies: `t_<random>`. */
export const uniqueName = (prefix = "t"): string => `${prefix}_${Math.random().toString(36).slice(2, 10)}`

/** Quotes a JS string as an Erlang string literal. */
export const erlString = (s: string): string => JSON.stringify(s)

/** The `key=value` lines an erl script printed (e.g. `io:format("got=~w~n", [X])`), by key. */
export const erlLines = (stdout: string): Record<string, string> =>
  Object.fromEntries(
    stdout.split("\n").filter((l) => l.includes("=")).map((l) => {
      const i = l.indexOf("=")
      return [l.slice(0, i), l.slice(i + 1)]
    })
  )

const withEnv = (env: Readonly<Record<string, string>> | undefined): NodeJS.ProcessEnv =>
  env === undefined ? process.env : { ...process.env, ...env }

const extraArgs = (extra: ReadonlyArray<string> | undefined): Array<string> =>
  extra === undefined ? [] : ["-extra", ...extra]

export interface RunErlOptions {
  /** Extra `erl` arguments placed before `-eval` (e.g. `["-sname", "t_x", "-setcookie", "c"]`). */
  readonly args?: ReadonlyArray<string>
  /** Plain arguments after `-extra` (read with `init:get_plain_arguments()`). */
  readonly extra?: ReadonlyArray<string>
  /** Kill the process after this long (default 60 s). */
  readonly timeoutMs?: number
  /** Extra environment variables (e.g. `{ ERL_EPMD_PORT: "4370" }`), merged over `process.env`. */
  readonly env?: Readonly<Record<string, string>>
}

export interface ErlResult {
  readonly stdout: string
  readonly stderr: string
  readonly code: number | null
}

/**
 * Runs `erl -noshell <args> -eval <code>` and resolves when it exits. The code should
 * end with `halt().` (else `init:stop()` is appended). Rejects on a non-zero exit or
 * a timeout (the process is killed by pid).
 */
export const runErl = (code: string, options: RunErlOptions = {}): Promise<ErlResult> => {
  const evalCode = /halt\(\d*\)\.\s*$|init:stop\(\)\.\s*$/.test(code)
    ? code
    : `${code.replace(/\.\s*$/, "")}, init:stop().`
  const argv = ["-noshell", ...(options.args ?? []), "-eval", evalCode, ...extraArgs(options.extra)]
  return new Promise((resolve, reject) => {
    const child = spawn("erl", argv, { stdio: ["ignore", "pipe", "pipe"], env: withEnv(options.env) })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    const timer = setTimeout(() => {
      killPid(child.pid)
      reject(new Error(`erl timed out after ${options.timeoutMs ?? 60_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, options.timeoutMs ?? 60_000)
    child.on("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      if (code === 0) resolve({ stdout, stderr, code })
      else reject(new Error(`erl exited with ${code}\nstdout: ${stdout}\nstderr: ${stderr}`))
    })
  })
}

export interface StartErlOptions {
  /** `erl` arguments (e.g. `["-sname", name, "-setcookie", cookie]`); `-noshell` is added. */
  readonly args?: ReadonlyArray<string>
  /** Code for `-eval`; it should print the ready marker when the node is ready. */
  readonly eval?: string
  /** Text (or pattern) on stdout that means "ready" (default: resolve at once). */
  readonly ready?: string | RegExp
  /** How long to wait for the marker (default 30 s). */
  readonly timeoutMs?: number
  /** Plain arguments after `-extra`. */
  readonly extra?: ReadonlyArray<string>
  /** Extra environment variables (e.g. `{ ERL_EPMD_PORT: "4370" }`), merged over `process.env`. */
  readonly env?: Readonly<Record<string, string>>
}

export interface ErlNode {
  readonly pid: number
  readonly process: ChildProcess
  /** Everything written to stdout so far. */
  readonly stdout: () => string
  /** Everything written to stderr so far. */
  readonly stderr: () => string
  /** Resolves when stdout (from the start) matches; rejects on timeout or exit. */
  readonly waitFor: (marker: string | RegExp, timeoutMs?: number) => Promise<string>
  /** Resolves with the exit code when the OS process exits. */
  readonly exited: Promise<number | null>
  /** Kills the OS process by pid (SIGKILL) and waits for it to exit. Idempotent. */
  readonly kill: () => Promise<void>
}

const killPid = (pid: number | undefined): void => {
  if (pid === undefined) return
  try {
    process.kill(pid, "SIGKILL")
  } catch {
    // already gone
  }
}

/**
 * Starts a long-running `erl -noshell` and waits for `ready` on stdout. The caller
 * must call `kill()` (in a finalizer); `startErlScoped` does that for you.
 */
export const startErl = async (options: StartErlOptions = {}): Promise<ErlNode> => {
  const argv = [
    "-noshell",
    ...(options.args ?? []),
    ...(options.eval !== undefined ? ["-eval", options.eval] : []),
    ...extraArgs(options.extra)
  ]
  const child = spawn("erl", argv, { stdio: ["pipe", "pipe", "pipe"], env: withEnv(options.env) })
  let out = ""
  let err = ""
  const waiters = new Set<() => void>()
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    out += d
    for (const w of waiters) w()
  })
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d))
  let exitCode: number | null | undefined
  const exited = new Promise<number | null>((resolve) => {
    child.on("exit", (code) => {
      exitCode = code
      resolve(code)
      for (const w of waiters) w()
    })
    child.on("error", () => {
      exitCode = null
      resolve(null)
      for (const w of waiters) w()
    })
  })
  const matches = (m: string | RegExp): boolean => typeof m === "string" ? out.includes(m) : m.test(out)
  const waitFor = (marker: string | RegExp, timeoutMs = options.timeoutMs ?? 30_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (matches(marker)) {
          done()
          resolve(out)
        } else if (exitCode !== undefined) {
          done()
          reject(
            new Error(`erl exited (${exitCode}) before printing ${String(marker)}\nstdout: ${out}\nstderr: ${err}`)
          )
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`erl did not print ${String(marker)} within ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`))
      }, timeoutMs)
      const done = () => {
        clearTimeout(timer)
        waiters.delete(check)
      }
      waiters.add(check)
      check()
    })
  const node: ErlNode = {
    pid: child.pid ?? -1,
    process: child,
    stdout: () => out,
    stderr: () => err,
    waitFor,
    exited,
    kill: async () => {
      if (exitCode === undefined) {
        killPid(child.pid)
        await exited
      }
    }
  }
  if (options.ready !== undefined) {
    try {
      await waitFor(options.ready)
    } catch (e) {
      await node.kill()
      throw e
    }
  }
  return node
}

/** `startErl` as a scoped Effect: the node is killed when the scope closes. */
export const startErlScoped = (options: StartErlOptions = {}): Effect.Effect<ErlNode, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({ try: () => startErl(options), catch: (e) => e instanceof Error ? e : new Error(String(e)) }),
    (node) => Effect.promise(() => node.kill())
  )

/**
 * The environment variable naming the test run's `erlc` output cache (set by the vitest
 * global setup, `scripts/vitest-erlc-cache.ts`, and removed when the run ends).
 */
export const ERLC_CACHE_ENV = "EFFECT_OTP_ERLC_CACHE"

const compiled = new Map<string, string>()

/**
 * A directory holding `<module>.beam` for each module given (name -> Erlang source), for
 * `erl -pa`. The same sources are compiled once per test run: the beams go into the run's
 * cache (under a hash of the sources), shared by every test file. Without that cache (a file
 * run outside vitest) they go into a directory of this process, removed when it exits.
 */
export const compileErl = (modules: Readonly<Record<string, string>>): string => {
  const names = Object.keys(modules).sort()
  const hash = createHash("sha256")
  for (const name of names) hash.update(`${name}\0${modules[name]}\0`)
  const key = hash.digest("hex").slice(0, 24)
  const known = compiled.get(key)
  if (known !== undefined) return known
  const cache = process.env[ERLC_CACHE_ENV]
  const dir = cache !== undefined && existsSync(cache) ? join(cache, key) : undefined
  if (dir === undefined || !existsSync(dir)) {
    const work = mkdtempSync(join(dir === undefined ? tmpdir() : cache!, dir === undefined ? "erlc-" : "tmp-"))
    const sources = names.map((name) => {
      const file = join(work, `${name}.erl`)
      writeFileSync(file, modules[name]!)
      return file
    })
    const r = spawnSync("erlc", ["-o", work, ...sources], { encoding: "utf8" })
    if (r.status !== 0) {
      rmSync(work, { recursive: true, force: true })
      throw new Error(`erlc failed: ${r.error?.message ?? ""}${r.stdout}${r.stderr}`)
    }
    if (dir === undefined) {
      process.once("exit", () => rmSync(work, { recursive: true, force: true }))
      compiled.set(key, work)
      return work
    }
    try {
      // atomic: a test file compiling the same sources at the same time keeps its own or ours
      renameSync(work, dir)
    } catch {
      rmSync(work, { recursive: true, force: true })
    }
  }
  compiled.set(key, dir)
  return dir
}
