/**
 * `npm run demo` end to end: runs `tsx examples/src/demo.ts` as a child process on a
 * private epmd port (so the demo hosts its own embedded epmd), with suffixed node names
 * and its own cookie, then checks the transcript, the exit code, that every node's OS
 * process is gone and that no demo name is left in any epmd.
 */
import * as Epmd from "@effect-otp/dist/Epmd"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { erlProbe } from "../../packages/dist/test/helpers/erlProbe.js"
import { freePort, root, runProcess } from "./helpers/script.js"

/**
 * Runs the demo (`npm run demo`'s command: `tsx` from `node_modules/.bin`, without the CPU
 * second of an `npx` in front); interrupts it (SIGINT, by pid) past the default 100 s.
 */
const runDemo = (env: Record<string, string>) =>
  runProcess(path.join(root, "node_modules", ".bin", "tsx"), ["examples/src/demo.ts"], {
    env,
    timeoutSignal: "SIGINT"
  })

/** Running, not a zombie waiting to be reaped. */
const isRunning = (pid: number): boolean => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return !/^\d+ \(.*\) Z /.test(stat)
  } catch {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
}

const hasEpmd = spawnSync("epmd", ["-help"]).error === undefined
// the test run's probe (made once by the vitest global setup), not an erl of our own
const erlInstalled = erlProbe().ok
if (!erlInstalled) {
  if (process.env.CI) throw new Error("erl is required under CI (the demo's part 2)")
  console.warn(
    `\n${"!".repeat(72)}\n!! erl is not installed: the demo test only checks that part 2 is skipped\n${
      "!".repeat(72)
    }\n`
  )
}

describe("npm run demo", () => {
  it.live("replays chapter 22 over real OS processes and cleans up", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const suffix = `_t${Math.random().toString(36).slice(2, 8)}`
      const run = yield* Effect.promise(() =>
        runDemo({ DEMO_EPMD_PORT: String(port), DEMO_SUFFIX: suffix, DEMO_COOKIE: `c${suffix}` })
      )
      const out = run.stdout
      const context = `stdout:\n${out}\nstderr:\n${run.stderr}`
      expect(run.code, context).toBe(0)

      // part 0
      expect(out).toMatch(/\{'EXIT',<0\.\d+\.0>,badarith\}/)
      expect(out).toMatch(/\{'DOWN',#Ref<[\d.]+>,process,<0\.\d+\.0>,badarith\}/)
      // part 1
      expect(out).toContain(`embedded one on port ${port}`)
      expect(out).toMatch(
        new RegExp(`\\(alice${suffix}@[^)]+\\)1> net_adm:ping\\('bob${suffix}@[^']+'\\)\\.\\npong\\n`)
      )
      expect(out).toMatch(new RegExp(`\\(alice${suffix}@[^)]+\\)2> nodes\\(\\)\\.\\n\\['?bob${suffix}@[^\\]]+\\]\\n`))
      expect(out).toContain(`Shell got {echo,"hello from alice!"}`)
      expect(out).toMatch(/send_work\(Pid, \{square, 7\}\)\.\n49\n/)
      expect(out).toMatch(/send_work\(Pid, \{sleep, 1500\}, 1000\)\.\n\{error,timeout\}\n/)
      expect(out).toMatch(/receive \{result, Late\} -> Late end\..*\n\{slept,1500\}\n/)
      // part 2
      if (erlInstalled) {
        expect(out).toMatch(
          new RegExp(`\\(carol${suffix}@[^)]+\\)1> net_adm:ping\\('alice${suffix}@[^']+'\\)\\.\\npong\\n`)
        )
        // carol dialled alice only: global connected her to bob (the transitive mesh)
        expect(out).toMatch(new RegExp(`\\(carol${suffix}@[^)]+\\)\\d+> global:sync\\(\\)\\.\\nok\\n`))
        expect(out).toMatch(
          new RegExp(
            `\\(carol${suffix}@[^)]+\\)\\d+> lists:sort\\(nodes\\(\\)\\)\\.\\n\\['?alice${suffix}@[^,]+,'?bob${suffix}@[^\\]]+\\]\\n`
          )
        )
        expect(out).toMatch(
          new RegExp(
            `\\(bob${suffix}@[^)]+\\)\\d+> nodes\\(\\)\\. .*\\n\\['?alice${suffix}@[^,]+,'?carol${suffix}@[^\\]]+\\]\\n`
          )
        )
        expect(out).not.toMatch(/net_adm:ping\('carol/)
        // global names across the mesh, both ways
        expect(out).toMatch(/global:register_name\(carol_worker, whereis\(worker\)\)\.\nyes\n/)
        expect(out).toMatch(/global:register_name\(bob_echo, whereis\(echo\)\)\.\nyes\n/)
        expect(out).toContain("Shell got {result,25}")
        expect(out).toContain(`Shell got {echo,"hello via global"}`)
        expect(out).toMatch(/lists:sort\(global:registered_names\(\)\)\.\n\[bob_echo,carol_worker\]\n/)
        expect(out).toContain(`Shell got {echo,"hello from carol!"}`)
        expect(out).toMatch(/send_work\(Carol, \{square, 12\}\)\.\n144\n/)
        expect(out).toMatch(/send_work\(Carol, \{sleep, 1500\}, 1000\)\.\n\{error,timeout\}\n/)
        expect(out).toMatch(/send_work\(Bob, \{square, 9\}\)\.\n81\n/)
      } else {
        expect(out).toContain("Part 2: an Erlang node — SKIPPED")
      }
      // part 3: dist_kv across the cluster
      expect(out).toMatch(/\(alice[^)]*\)\d+> dist_kv:start_link\(\)\.\n\{ok,<0\.\d+\.0>\}\n/)
      expect(out).toMatch(/\(bob[^)]*\)\d+> dist_kv:start_link\(\)\.\n\{ok,<0\.\d+\.0>\}\n/)
      expect(out).toMatch(/\(alice[^)]*\)\d+> dist_kv:put\(greeting, "hello world"\)\.\nok\n/)
      expect(out).toMatch(/\(bob[^)]*\)\d+> dist_kv:get\(greeting\)\.\n"hello world"\n/)
      expect(out).toMatch(/\(alice[^)]*\)\d+> dist_kv:get\(answer\)\.\n42\n/)
      expect(out).toMatch(/\(alice[^)]*\)\d+> dist_kv:get\(missing\)\.\nundefined\n/)
      if (erlInstalled) {
        expect(out).toMatch(
          /\(carol[^)]*\)\d+> c\("examples\/erlang\/dist_kv\.erl"\), dist_kv:start_link\(\)\.\n\{ok,<0\.\d+\.0>\}\n/
        )
        expect(out).toMatch(/\(carol[^)]*\)\d+> dist_kv:get\(greeting\)\.\n"hello world"\n/)
        expect(out).toMatch(/\(alice[^)]*\)\d+> dist_kv:get\(lang\)\.\nerlang\n/)
        expect(out).toMatch(/\(bob[^)]*\)\d+> dist_kv:get\(lang\)\.\nerlang\n/)
        expect(out).toMatch(/\(carol[^)]*\)\d+> dist_kv:get\(answer\)\.\n42\n/)
      }
      // shutdown: the nodes' OS processes are gone, and so are their names
      expect(out).toContain("all exited")
      expect(out).toContain("are gone from epmd.")
      const pids = [...out.matchAll(/OS pid (\d+)/g)].map((m) => Number(m[1]))
      expect(pids.length).toBe(erlInstalled ? 3 : 2)
      for (const pid of pids) expect(isRunning(pid), `node OS process ${pid}`).toBe(false)
      // the embedded epmd lived in the demo's process: nothing listens on its port any more
      expect(yield* Epmd.probe(port)).toBe(false)
      if (hasEpmd) {
        const names = spawnSync("epmd", ["-names"], { encoding: "utf8" }).stdout ?? ""
        expect(names).not.toContain(suffix)
      }
    }), 120_000)

  it.scopedLive("fails with a clear message when a node name is taken", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const suffix = `_t${Math.random().toString(36).slice(2, 8)}`
      // an epmd in this process, where "alice<suffix>" is already registered
      yield* Epmd.serve({ port, host: "127.0.0.1" })
      yield* Epmd.register({ name: `alice${suffix}`, port: 1, epmdPort: port })
      const run = yield* Effect.promise(() =>
        runDemo({ DEMO_EPMD_PORT: String(port), DEMO_SUFFIX: suffix, DEMO_NO_ERL: "1" })
      )
      expect(run.code, run.stdout + run.stderr).toBe(1)
      expect(run.stderr).toContain(
        `the node name(s) alice${suffix} are already registered with the epmd on port ${port}`
      )
      expect(run.stdout).toContain(`using the epmd already running on port ${port}`)
      expect(run.stdout).not.toContain("OS pid")
    }), 60_000)
})
