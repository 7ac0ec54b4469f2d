import * as NodeName from "@effect-otp/dist/NodeName"
import * as Term from "@effect-otp/process/Term"
import * as Either from "effect/Either"
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { erlAvailable as erlRuns, uniqueName } from "../../../dist/test/helpers/erl.js"

const here = path.dirname(fileURLToPath(import.meta.url))
/** The development entry point: it registers `tsx` and imports `src/bin.ts`. */
export const BIN = path.resolve(here, "../../bin/effect-otp.mjs")
export const REPO = path.resolve(here, "../../../..")

/**
 * How the tests start the shell: `src/bin.ts`, what `BIN` runs, under the repository's
 * TypeScript loader for test processes (`scripts/ts-loader.mjs`), which loads it with about
 * half the CPU time of `tsx` (a second less per shell, and the tests start dozens). One test
 * (`--noshell` in Command.test.ts) starts `BIN` itself.
 */
export const shellArgv = (args: ReadonlyArray<string>): Array<string> => [
  "--import",
  path.join(REPO, "scripts", "ts-loader.mjs"),
  path.resolve(here, "../../src/bin.ts"),
  ...args
]

const children = new Set<ChildProcessWithoutNullStreams>()

/** Kills every child still running (call from afterEach). */
export const killAll = () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
      try {
        process.kill(c.pid, "SIGKILL")
      } catch {
        // already gone
      }
    }
  }
  children.clear()
}

export interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the command to completion with the given stdin. */
export const run = (args: ReadonlyArray<string>, input = "", env: NodeJS.ProcessEnv = {}): Promise<Result> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, shellArgv(args), { cwd: REPO, env: { ...process.env, ...env } })
    children.add(child)
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    child.on("error", reject)
    child.on("close", (code) => {
      children.delete(child)
      resolve({ code, stdout, stderr })
    })
    child.stdin.end(input)
  })

/** A shell driven line by line: `eval` types a line and returns its output up to the next prompt. */
export class Shell {
  readonly child: ChildProcessWithoutNullStreams
  transcript = ""
  stderr = ""
  private n = 1
  private waiters: Array<() => void> = []
  readonly exited: Promise<number | null>

  constructor(
    readonly args: ReadonlyArray<string>,
    readonly prefix: string,
    env: NodeJS.ProcessEnv = {},
    command: readonly [string, ReadonlyArray<string>] = [process.execPath, shellArgv(args)]
  ) {
    this.child = spawn(command[0], command[1], { cwd: REPO, env: { ...process.env, ...env } })
    children.add(this.child)
    this.child.stdout.on("data", (d) => {
      this.transcript += d
      for (const w of this.waiters.splice(0)) w()
    })
    this.child.stderr.on("data", (d) => {
      this.stderr += d
      for (const w of this.waiters.splice(0)) w()
    })
    this.exited = new Promise((resolve) =>
      this.child.on("close", (code) => {
        children.delete(this.child)
        for (const w of this.waiters.splice(0)) w()
        resolve(code)
      })
    )
  }

  private prompt(n: number) {
    return `${this.prefix}${n}> `
  }

  /**
   * Waits until the transcript contains `text` (after `from`). The limit only turns a hang
   * into an error that shows the transcript: it is just under the test timeout (60 s), since
   * a node starting on a busy machine may take 20 s and more to show its first prompt.
   */
  async waitFor(text: string, from = 0, what = text, timeoutMs = 55_000): Promise<number> {
    const deadline = Date.now() + timeoutMs
    const timer = setInterval(() => {
      for (const w of this.waiters.splice(0)) w()
    }, 500)
    try {
      return await this.waitLoop(text, from, what, deadline)
    } finally {
      clearInterval(timer)
    }
  }

  private async waitLoop(text: string, from: number, what: string, deadline: number): Promise<number> {
    for (;;) {
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${JSON.stringify(what)}\n--- stdout\n${this.transcript}\n--- stderr\n${this.stderr}`
        )
      }
      const i = this.transcript.indexOf(text, from)
      if (i >= 0) return i
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(
          `shell exited while waiting for ${
            JSON.stringify(what)
          }\n--- stdout\n${this.transcript}\n--- stderr\n${this.stderr}`
        )
      }
      await new Promise<void>((r) => this.waiters.push(r))
    }
  }

  /** Waits for the first prompt. */
  async ready(): Promise<void> {
    await this.waitFor(this.prompt(1))
  }

  /** Waits for `text`, then for the prompt shown again after it (e.g. after the shell process died). */
  async waitForPrompt(text: string): Promise<void> {
    const i = await this.waitFor(text)
    await this.waitFor(this.prompt(this.n), i)
  }

  /** Types a line; returns what was printed before the next prompt. */
  async eval(line: string): Promise<string> {
    await this.waitFor(this.prompt(this.n))
    // the last one: a prompt is shown again after an asynchronous message (a dead shell process)
    const start = this.transcript.lastIndexOf(this.prompt(this.n)) + this.prompt(this.n).length
    this.n++
    this.child.stdin.write(`${line}\n`)
    const end = await this.waitFor(this.prompt(this.n), start, `${this.prompt(this.n)} after ${line}`)
    return this.transcript.slice(start, end).trim()
  }

  /** Types a line that ends the shell (q()). */
  async quit(line = "q()"): Promise<number | null> {
    this.child.stdin.write(`${line}\n`)
    return this.exited
  }
}

/** A unique node name or cookie. */
export const unique: (prefix: string) => string = uniqueName

/**
 * The host part of short node names here, derived as the node derives it
 * (`NodeName.localHost`, what `--sname alice` and `erl -sname alice` complete it with).
 */
export const HOST: string = Either.getOrThrow(NodeName.localHost())

/** How erl and the shell print the node `alive@HOST`: an atom, quoted when it must be (`'a@laptop-42'`). */
export const printedNode = (alive: string): string => Term.format(Term.atom(`${alive}@${HOST}`))

/** Whether `erl` runs here (required under CI; otherwise the erl tests are skipped loudly): the repository's one check. */
export const erlAvailable = erlRuns()

/** A TS shell on a named node. */
export const tsShell = (name: string, cookie: string, extra: ReadonlyArray<string> = []) =>
  new Shell(["--sname", name, "--setcookie", cookie, ...extra], `(${name}@${HOST})`)

/** A real `erl -sname` shell on pipes, driven like `Shell`. */
export class ErlShell extends Shell {
  constructor(name: string, cookie: string, extra: ReadonlyArray<string> = []) {
    super([], `(${name}@${HOST})`, {}, ["erl", ["-sname", name, "-setcookie", cookie, ...extra]])
  }
}

/** `flush()` until a message has arrived (it crosses the network); `erl` takes `flush().`. */
export const flushUntil = async (sh: Shell, text: string, line = "flush()"): Promise<string> => {
  for (let i = 0; i < 100; i++) {
    const out = await sh.eval(line)
    if (out !== "ok") return out
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`no message came (${text})\n${sh.transcript}`)
}
