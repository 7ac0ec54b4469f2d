/**
 * The chapter-22 examples, each run as its npm script runs it (its own OS process, with
 * bob in another one and carol an `erl` node), on a private epmd port with unique names:
 * the transcript says what the chapter says, the exit code is 0, and no OS process of the
 * run is left.
 */
import * as Epmd from "@effect-otp/dist/Epmd"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { erlInstalled, freePort, processesWith, runScript, uniqueSuffix } from "./helpers/script.js"

const withErl = erlInstalled()

/** Runs the example, checks exit code and cleanup, returns its stdout. */
const example = (script: string, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const port = yield* Effect.promise(freePort)
    const suffix = uniqueSuffix()
    const run = yield* Effect.promise(() =>
      runScript(script, {
        EXAMPLE_EPMD_PORT: String(port),
        EXAMPLE_SUFFIX: suffix,
        EXAMPLE_COOKIE: `c${suffix}`,
        ...env
      })
    )
    expect(run.code, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(0)
    expect(processesWith(suffix), "OS processes left behind").toEqual([])
    // the embedded epmd lived in the example's process
    expect(yield* Epmd.probe(port)).toBe(false)
    return { out: run.stdout, suffix }
  })

describe("chapter 22 examples", () => {
  it.live("remote spawn: \"I'm running on bob\" on bob's console, a pid of bob's", () =>
    Effect.gen(function*() {
      const { out, suffix } = yield* example("remoteSpawn.ts")
      expect(out).toMatch(new RegExp(`^\\[bob\\] I'm running on bob${suffix}@\\S+!$`, "m"))
      // the pid alice got is not one of alice's own (<0.x.y>)
      expect(out).toMatch(new RegExp(`^<[1-9]\\d*\\.\\d+\\.\\d+>   %% a pid of bob${suffix}@`, "m"))
      expect(out).toMatch(/^\{'DOWN',#Ref<[\d.]+>,process,<[1-9]\d*\.\d+\.\d+>,normal\}$/m)
      expect(out.match(/I'm running on/g)?.length).toBe(2)
    }), 120_000)

  it.live("monitor_nodes: Bob is gone! when bob is killed, Bob is back! when he returns", () =>
    Effect.gen(function*() {
      const { out, suffix } = yield* example("monitorNodes.ts")
      expect(out).toMatch(new RegExp(`^\\{nodeup,'?bob${suffix}@\\S+\\}$`, "m"))
      const gone = out.indexOf("\nBob is gone!\n")
      const back = out.indexOf("\nBob is back!\n")
      expect(gone).toBeGreaterThan(0)
      expect(back).toBeGreaterThan(gone)
      // two different OS processes were bob
      const pids = [...out.matchAll(/OS pid (\d+)/g)].map((m) => m[1])
      expect(pids.length).toBe(2)
      expect(pids[0]).not.toBe(pids[1])
    }), 120_000)

  it.live("remote monitor: DOWN killed when echo dies, noconnection when bob dies", () =>
    Effect.gen(function*() {
      const { out, suffix } = yield* example("remoteMonitor.ts")
      const name = `\\{echo,'?bob${suffix}@[^}]+\\}`
      expect(out).toMatch(new RegExp(`^\\{'DOWN',#Ref<[\\d.]+>,process,${name},killed\\}$`, "m"))
      expect(out).toMatch(new RegExp(`^\\{'DOWN',#Ref<[\\d.]+>,process,${name},noconnection\\}$`, "m"))
      expect(out.indexOf("Echo is down: killed")).toBeLessThan(out.indexOf("Echo is down: noconnection"))
    }), 120_000)

  it.live("send_work: one function over a local, a TS-remote and an erl-remote pid", () =>
    Effect.gen(function*() {
      const { out } = yield* example("locationTransparency.ts")
      expect(out).toMatch(/send_work\(Local, \{square, 6\}\)\.\n36\n/)
      expect(out).toMatch(/send_work\(Bob, \{square, 7\}\)\.\n49\n/)
      // Bob's pid belongs to another node
      expect(out).toMatch(/self\)\. {3}%% a pid on a TypeScript node\n<[1-9]\d*\.\d+\.\d+>\n/)
      if (withErl) {
        expect(out).toMatch(/self\)\. {3}%% a pid on an Erlang node\n<[1-9]\d*\.\d+\.\d+>\n/)
        expect(out).toMatch(/send_work\(Carol, \{square, 8\}\)\.\n64\n/)
        // and the other way: the chapter's Erlang send_work/2 against TS pids
        expect(out).toMatch(/send_work:send_work\(Local, \{square, 11\}\)\..*\n121\n/)
        expect(out).toMatch(/send_work:send_work\(Bob, \{square, 12\}\)\..*\n144\n/)
      } else {
        expect(out).toContain("carol (an Erlang node) SKIPPED")
      }
    }), 120_000)

  it.live("dist_kv: the chapter's session over alice, bob and the Erlang carol", () =>
    Effect.gen(function*() {
      const { out, suffix } = yield* example("distKv.ts")
      expect(out).toMatch(/dist_kv:start_link\(\)\. {3}%% bob started his at boot\n\{ok,<0\.\d+\.0>\}\n/)
      expect(out).toMatch(/dist_kv:put\(greeting, "hello world"\)\.\nok\n/)
      expect(out).toMatch(/\(alice\)4> dist_kv:get\(greeting\)\.\n"hello world"\n/)
      expect(out).toMatch(/\(bob\)1> dist_kv:get\(greeting\)\.\n"hello world"\n/)
      expect(out).toMatch(/\(alice\)6> dist_kv:get\(answer\)\.\n42\n/)
      expect(out).toMatch(/dist_kv:get\(missing\)\.\nundefined\n/)
      if (withErl) {
        expect(out).toMatch(
          new RegExp(`lists:sort\\(nodes\\(\\)\\)\\.\\n\\['?bob${suffix}@[^,]+,'?carol${suffix}@[^\\]]+\\]\\n`)
        )
        expect(out).toMatch(/\(carol\)2> dist_kv:get\(greeting\)\.\n"hello world"\n/)
        expect(out).toMatch(/\(alice\)5> dist_kv:get\(lang\)\.\n\{erlang,25\}\n/)
        expect(out).toMatch(/\(bob\)2> dist_kv:get\(lang\)\..*\n\{erlang,25\}\n/)
        expect(out).toMatch(/\(carol\)4> dist_kv:get\(answer\)\.\n42\n/)
      } else {
        expect(out).toContain("carol (an Erlang node) SKIPPED")
      }
    }), 120_000)

  it.live(
    "supervisor: one_for_one restarts only cache; past the intensity the supervisor shuts down",
    () =>
      Effect.gen(function*() {
        const { out } = yield* example("supervisor.ts")
        expect(out).toMatch(/^\{'EXIT',\{badarith,\{gen_server,call,\[cache,\{divide,1,0\}\]\}\}\}$/m)
        expect(out).toContain("%% db kept its pid: true, web kept its pid: true, cache is new: true")
        expect(out).toMatch(/the new cache answers\n3\n/)
        expect(out).toMatch(/the supervisor gave up\nshutdown\n/)
        expect(out).toMatch(/it stopped its children first\n\[undefined,undefined,undefined\]\n/)
        expect(out).toMatch(/^\{'EXIT',<0\.\d+\.0>,badarith\}$/m)
        expect(out).toMatch(/^\{'DOWN',#Ref<[\d.]+>,process,<0\.\d+\.0>,badarith\}$/m)
      }),
    120_000
  )
})
