import { afterEach, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { normalizeArgv, validate } from "../src/Command.js"
import { killAll, run } from "./helpers/shell.js"

afterEach(killAll)

const flags = {
  sname: Option.none<string>(),
  name: Option.none<string>(),
  setcookie: Option.none<Redacted.Redacted<string>>(),
  hidden: false,
  netTicktime: Option.none<number>(),
  epmdPort: Option.none<number>(),
  noshell: false,
  eval: Option.none<string>()
}

describe("Command", () => {
  it("normalizeArgv: erl's single-dash and underscore spellings, values untouched", () => {
    expect(normalizeArgv(["-sname", "alice", "-setcookie", "-x", "-hidden", "-net_ticktime", "5", "--eval", "-1"]))
      .toEqual(["--sname", "alice", "--setcookie", "-x", "--hidden", "--net-ticktime", "5", "--eval", "-1"])
    expect(normalizeArgv(["--sname=alice", "-noshell", "-unknown"])).toEqual(["--sname=alice", "--noshell", "-unknown"])
  })

  it.effect("validate: a short name is completed with the host; --setcookie is the cookie", () =>
    Effect.gen(function*() {
      const o = yield* validate({ ...flags, sname: Option.some("alice"), setcookie: Option.some(Redacted.make("c1")) })
      const name = Option.getOrThrow(o.name)
      expect(name.node).toBe(`alice@${os.hostname().split(".")[0]}`)
      expect(name.mode).toBe("short")
      expect(Redacted.value(name.cookie)).toBe("c1")
      const plain = yield* validate(flags)
      expect(Option.isNone(plain.name)).toBe(true)
    }))

  it.effect("validate: the cookie file is read (and created) under home", () =>
    Effect.gen(function*() {
      const home = fs.mkdtempSync(path.join(os.tmpdir(), "cli-home-"))
      const o = yield* validate({ ...flags, sname: Option.some("a@vm") }, { home })
      const cookie = Redacted.value(Option.getOrThrow(o.name).cookie)
      expect(cookie).toMatch(/^[A-Z]{20}$/)
      expect(fs.readFileSync(path.join(home, ".erlang.cookie"), "utf8")).toBe(cookie)
      fs.rmSync(home, { recursive: true })
    }))

  const home = fs.mkdtempSync(path.join(os.tmpdir(), "cli-badhome-"))
  fs.writeFileSync(path.join(home, ".erlang.cookie"), "OPEN", { mode: 0o644 })
  fs.chmodSync(path.join(home, ".erlang.cookie"), 0o644)

  const bad: ReadonlyArray<[ReadonlyArray<string>, RegExp, NodeJS.ProcessEnv?]> = [
    [["--sname", "bad!name"], /^effect-otp: --sname: invalid node name "bad!name": the part before '@'/],
    [["-sname", "a@b.c"], /^effect-otp: --sname: invalid short node name "a@b\.c": the host contains a '\.'/],
    [["--name", "alice@"], /^effect-otp: --name: invalid node name "alice@": empty host/],
    [["--sname", "a", "--name", "b@x.y"], /^effect-otp: --sname and --name cannot be used together$/],
    [["--net-ticktime", "x"], /^effect-otp: 'x' is not a integer \(see --help\)$/],
    [["--net-ticktime", "0"], /^effect-otp: --net-ticktime must be a positive number of seconds, got 0$/],
    [["--epmd-port", "70000"], /^effect-otp: --epmd-port must be a port number \(1\.\.65535\), got 70000$/],
    [["--bogus"], /^effect-otp: Received unknown argument: '--bogus' \(see --help\)$/],
    [["-sname", "alice", "-setcookie"], /^effect-otp: --setcookie needs a value \(see --help\)$/],
    [["--sname", "alice", "--setcookie", "bad\u0100cookie"], /^effect-otp: --setcookie: invalid cookie/],
    [["--sname", "alice"], /^effect-otp: cookie file .*\.erlang\.cookie must be accessible by its owner only/, {
      HOME: home
    }],
    [["--sname", "alice"], /^effect-otp: cannot create cookie file \/nonexistent\/dir\/\.erlang\.cookie/, {
      HOME: "/nonexistent/dir"
    }]
  ]
  for (const [args, message, env] of bad) {
    it(`bad flags ${args.join(" ")}${env ? " (bad home)" : ""}: one line, exit code 2`, async () => {
      const r = await run(args, "", env)
      expect(r.code).toBe(2)
      expect(r.stdout).toBe("")
      const lines = r.stderr.trimEnd().split("\n")
      expect(lines, r.stderr).toHaveLength(1)
      expect(lines[0]).toMatch(message)
    })
  }

  it("--help shows every flag with an example", async () => {
    const r = await run(["--help"])
    expect(r.code).toBe(0)
    for (
      const flag of [
        "--sname",
        "--name",
        "--setcookie",
        "--hidden",
        "--net-ticktime",
        "--epmd-port",
        "--noshell",
        "--eval"
      ]
    ) {
      expect(r.stdout).toContain(flag)
      expect(r.stdout).toMatch(new RegExp(`Example: ${flag}`))
    }
  })

  it("--eval runs code and exits; a failing --eval exits 1", async () => {
    const r = await run(["--eval", "Effect.sync(() => console.log('from eval', Term.format(t`{a, ${self()}}`)))"])
    expect(r.stderr).toBe("")
    expect(r.code).toBe(0)
    expect(r.stdout).toBe("from eval {a,<0.1.0>}\n")
    const s = await run(["--eval", "const x = await Promise.resolve(2); console.log(x * 21)"])
    expect(s.stdout).toBe("42\n")
    const f = await run(["--eval", "Effect.fail(new Error('nope'))"])
    expect(f.code).toBe(1)
    expect(f.stderr).toBe("effect-otp: --eval: nope\n")
  })

  it("--noshell runs until SIGTERM, then exits cleanly", async () => {
    const { spawn } = await import("node:child_process")
    const { BIN, REPO } = await import("./helpers/shell.js")
    const child = spawn(process.execPath, [BIN, "--noshell", "--eval", "console.log('up')"], { cwd: REPO })
    try {
      let out = ""
      await new Promise<void>((resolve) =>
        child.stdout.on("data", (d) => {
          out += d
          if (out.includes("up")) resolve()
        })
      )
      const code = new Promise((resolve) => child.on("close", (c, s) => resolve(c ?? s)))
      child.kill("SIGTERM")
      expect(await code).toBe(0)
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL")
    }
  })
})
