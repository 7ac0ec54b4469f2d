/**
 * The packages as a user gets them: `npm run build`, `npm pack` of each `dist/`, then a
 * fresh project installs the tarballs (the CLI and what it depends on) with an effect 3.x patch other than the
 * repository's pin (the packages take effect as a peer, so the project has one copy of it).
 * From the installed tarballs: `npx effect-otp --help`, a `--noshell` node, and a program
 * that starts a node with `DistNode.layerDefault` and pings it.
 *
 * Needs the npm registry (for effect and the `@effect/*` peers).
 */
import * as Epmd from "@effect-otp/dist/Epmd"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { REPO, unique } from "./helpers/shell.js"

/** An effect 3.x patch other than the repository's pin, at the lower bound of the packages' peer range. */
const EFFECT = "3.22.2"
const PACKAGES = ["process", "dist", "gen-server", "global", "cli"] as const

const exec = (file: string, args: ReadonlyArray<string>, cwd: string, timeoutMs = 300_000) =>
  Effect.async<{ readonly stdout: string; readonly stderr: string }, Error>((resume) => {
    const child = execFile(
      file,
      args,
      { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (e, stdout, stderr) =>
        resume(
          e === null
            ? Effect.succeed({ stdout, stderr })
            : Effect.fail(new Error(`${file} ${args.join(" ")}: ${e.message}\n${stdout}\n${stderr}`))
        )
    )
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** A temporary directory, removed with the scope. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "effect-otp-pack-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** A child process killed (SIGKILL) with the scope if it still runs. */
const spawnScoped = (file: string, args: ReadonlyArray<string>, cwd: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(file, args, { cwd, stdio: ["ignore", "pipe", "pipe"] })
      let output = ""
      child.stdout!.on("data", (d) => (output += d))
      child.stderr!.on("data", (d) => (output += d))
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
      return { child, exited, output: () => output }
    }),
    ({ child }) =>
      Effect.sync(() => void (child.exitCode === null && child.signalCode === null && child.kill("SIGKILL")))
  )

/** Every installed copy of `effect` (its version and where it is). */
const effectCopies = (dir: string): Array<string> => {
  const found: Array<string> = []
  const walk = (nm: string) => {
    if (!fs.existsSync(nm)) return
    for (const entry of fs.readdirSync(nm)) {
      const scoped = entry.startsWith("@")
      for (const name of scoped ? fs.readdirSync(path.join(nm, entry)).map((n) => `${entry}/${n}`) : [entry]) {
        const pkg = path.join(nm, name)
        if (name === "effect") {
          found.push(`${JSON.parse(fs.readFileSync(path.join(pkg, "package.json"), "utf8")).version} ${pkg}`)
        }
        walk(path.join(pkg, "node_modules"))
      }
    }
  }
  walk(path.join(dir, "node_modules"))
  return found
}

/** The program a user writes: the default node, a ping to the CLI's node, rpc on it. */
const program = `
import { DistNode, NetKernel, Rpc } from "@effect-otp/dist"
import { ProcessRuntime } from "@effect-otp/process"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

const [name, cookie, peer] = process.argv.slice(2)
const node = DistNode.layerDefault({ hidden: true, name, cookie }).pipe(Layer.provideMerge(ProcessRuntime.layer))
Effect.gen(function*() {
  const self = (yield* NetKernel.node).name
  const target = peer + self.slice(self.indexOf("@"))
  const pong = yield* NetKernel.ping(target)
  const remote = yield* Rpc.call(target, "erlang", "node", [])
  console.log("ping=" + pong + " rpc=" + String(remote))
}).pipe(Effect.provide(node), Effect.runPromise).then(() => process.exit(0), (e) => {
  console.error(e)
  process.exit(1)
})
`

/**
 * Under `npm test` (scripts/test.mjs), its typecheck (`tsc -b`) runs beside the tests and emits what
 * `npm run build` compiles, into the same files: waits until it has ended (the file named by
 * `EFFECT_OTP_TYPECHECK_EXIT` appears), so that the build finds its `tsc -b` up to date instead of
 * compiling everything a second time at once. Without that variable (vitest run directly) there is
 * nothing to wait for and the build compiles what is not up to date itself.
 */
const typecheckEnded = Effect.suspend(() => {
  const file = process.env.EFFECT_OTP_TYPECHECK_EXIT
  return file === undefined ? Effect.void : Effect.sync(() => fs.existsSync(file)).pipe(
    Effect.repeat({ until: (exists) => exists, schedule: Schedule.spaced("100 millis") }),
    Effect.asVoid
  )
})

/** Probes EPMD until `name` is registered there (fails if the node exits first). */
const registered = (name: string, node: { readonly output: () => string; readonly exited: Promise<number | null> }) =>
  Effect.raceFirst(
    Epmd.names("127.0.0.1", Epmd.DEFAULT_PORT).pipe(
      Effect.filterOrFail((names) => names.some((n) => n.name === name)),
      Effect.retry(Schedule.spaced("50 millis"))
    ),
    Effect.flatMap(
      Effect.promise(() => node.exited),
      (code) => Effect.fail(new Error(`the node exited with ${code} before registering:\n${node.output()}`))
    )
  )

describe("packed packages", () => {
  it.scopedLive(
    "install from the tarballs with another effect patch; npx effect-otp runs a node",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const tarballs = path.join(dir, "tarballs")
        const app = path.join(dir, "app")
        fs.mkdirSync(tarballs)
        fs.mkdirSync(app)
        yield* typecheckEnded
        yield* exec("npm", ["run", "build"], REPO, 600_000)
        // the five `npm pack` at once (each is mostly npm starting up)
        yield* Effect.forEach(PACKAGES, (p) => {
          const dist = path.join(REPO, "packages", p, "dist")
          const bin = JSON.parse(fs.readFileSync(path.join(dist, "package.json"), "utf8")).bin ?? {}
          for (const file of Object.values<string>(bin)) expect(fs.existsSync(path.join(dist, file)), file).toBe(true)
          return exec("npm", ["pack", "--silent", "--pack-destination", tarballs], dist)
        }, { concurrency: "unbounded", discard: true })
        const files = fs.readdirSync(tarballs).map((f) => path.join(tarballs, f))
        expect(files).toHaveLength(PACKAGES.length)
        fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }))
        const root = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")).devDependencies
        yield* exec("npm", [
          "install",
          // registry metadata from npm's cache when it has it (no revalidation round trips)
          "--prefer-offline",
          "--no-audit",
          "--no-fund",
          "--ignore-scripts",
          "--loglevel=error",
          ...files,
          `effect@${EFFECT}`,
          ...["@effect/platform", "@effect/platform-node", "@effect/cli"].map((p) => `${p}@${root[p]}`)
        ], app)
        // one copy of effect, the project's
        expect(effectCopies(app)).toEqual([`${EFFECT} ${path.join(app, "node_modules", "effect")}`])

        const help = yield* exec("npx", ["--no", "--", "effect-otp", "--help"], app, 120_000)
        expect(help.stdout).toContain("--sname")
        expect(help.stdout).toContain("--noshell")

        // a --noshell node from the installed bin (what npx runs), then a program pinging it
        const name = unique("pk")
        const cookie = unique("c")
        const node = yield* spawnScoped(
          path.join(app, "node_modules", ".bin", "effect-otp"),
          ["--sname", name, "--setcookie", cookie, "--noshell"],
          app
        )
        yield* registered(name, node)
        fs.writeFileSync(path.join(app, "ping.mjs"), program)
        const ping = yield* exec("node", ["ping.mjs", unique("pp"), cookie, name], app, 120_000)
        expect(ping.stdout).toContain("ping=pong")
        expect(ping.stdout).toMatch(new RegExp(`rpc='?${name}@`)) // erl's printing quotes a host with '-'
        node.child.kill("SIGTERM")
        expect(yield* Effect.promise(() => node.exited)).toBe(0)
      }),
    900_000
  )
})
