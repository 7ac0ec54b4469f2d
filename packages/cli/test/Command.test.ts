import * as NodeContext from "@effect/platform-node/NodeContext"
import { afterAll, afterEach, describe, expect, it } from "@effect/vitest"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type NodeOptions, normalizeArgv, run as runCommand, validate } from "../src/Command.js"
import { parseCommon } from "../src/internal/options.js"
import { killAll, run } from "./helpers/shell.js"
import { makePki, opensslAvailable } from "./helpers/tls.js"

afterEach(killAll)

/**
 * The command in this process (what `bin` runs, minus starting the node): the exit code
 * and what went to stdout and stderr.
 */
const runInProcess = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    const err: Array<string> = []
    const line = (to: Array<string>) => (...xs: ReadonlyArray<unknown>) => to.push(xs.map(String).join(" "))
    const code = yield* Console.consoleWith((base) =>
      Console.withConsole(runCommand(args, () => Effect.void), {
        ...base,
        log: (...xs) => Effect.sync(() => line(out)(...xs)),
        error: (...xs) => Effect.sync(() => line(err)(...xs)),
        unsafe: { ...base.unsafe, log: line(out), error: line(err) }
      })
    )
    return { code, stdout: out.join("\n"), stderr: err.join("\n") }
  }).pipe(Effect.provide(NodeContext.layer))

const flags = {
  sname: Option.none<string>(),
  name: Option.none<string>(),
  setcookie: Option.none<Redacted.Redacted<string>>(),
  hidden: false,
  netTicktime: Option.none<number>(),
  epmdPort: Option.none<number>(),
  noshell: false,
  eval: Option.none<string>(),
  connectAll: Option.none<string>(),
  protoDist: Option.none<string>(),
  sslDistOptfile: Option.none<string>()
}

/** What a node is started with, comparable (the cookie revealed, no transport). */
const comparable = (o: NodeOptions) => ({
  ...o,
  name: Option.map(o.name, (n) => ({ ...n, cookie: Redacted.value(n.cookie) })),
  tls: Option.map(o.tls, (t) => t.optfile)
})

describe("Command", () => {
  it.effect("parseCommon (the start-up path without @effect/cli) gives @effect/cli's options, or leaves the line to it", () =>
    Effect.gen(function*() {
      const same: ReadonlyArray<ReadonlyArray<string>> = [
        [],
        ["--noshell"],
        ["--sname", "alice", "--setcookie", "secret"],
        ["-sname", "alice@h", "-setcookie", "s", "-hidden", "-noshell", "-net_ticktime", "20", "-epmd_port", "4370"],
        ["--name=bob@127.0.0.1", "--setcookie=c", "--connect-all", "false", "--eval", "1 + 1"],
        ["--setcookie", "c", "--hidden", "--proto-dist", "tcp"]
      ]
      for (const argv of same) {
        let viaCli: NodeOptions | undefined
        const code = yield* runCommand(argv, (o) => Effect.sync(() => void (viaCli = o))).pipe(
          Effect.provide(NodeContext.layer)
        )
        expect(code, argv.join(" ")).toBe(0)
        const flags = parseCommon(argv)
        expect(flags, argv.join(" ")).toBeDefined()
        expect(comparable(yield* validate(flags!))).toEqual(comparable(viaCli!))
      }
      const left: ReadonlyArray<ReadonlyArray<string>> = [
        ["--help"],
        ["--version"],
        ["--sname"],
        ["--sname", "a", "--sname", "b"],
        ["--snam", "a"],
        ["alice"],
        ["--net-ticktime", "x"],
        ["--noshell=false"],
        ["--eval", "-1"]
      ]
      for (const argv of left) expect(parseCommon(argv), argv.join(" ")).toBeUndefined()
    }))

  it("normalizeArgv: erl's single-dash and underscore spellings, values untouched", () => {
    expect(normalizeArgv(["-sname", "alice", "-setcookie", "-x", "-hidden", "-net_ticktime", "5", "--eval", "-1"]))
      .toEqual(["--sname", "alice", "--setcookie", "-x", "--hidden", "--net-ticktime", "5", "--eval", "-1"])
    expect(normalizeArgv(["--sname=alice", "-noshell", "-unknown"])).toEqual(["--sname=alice", "--noshell", "-unknown"])
    expect(normalizeArgv(["-proto_dist", "inet_tls", "-ssl_dist_optfile", "f", "-connect_all", "false"])).toEqual(
      ["--proto-dist", "inet_tls", "--ssl-dist-optfile", "f", "--connect-all", "false"]
    )
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
      const o = yield* validate({ ...flags, sname: Option.some("a@box") }, { home })
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
  const newBad: typeof bad = [
    [["--sname", "a", "--proto-dist", "tls"], /^effect-otp: --proto-dist tls needs --ssl-dist-optfile FILE/],
    [["-sname", "a", "-proto_dist", "inet_tls"], /^effect-otp: --proto-dist tls needs --ssl-dist-optfile FILE/],
    [
      ["--sname", "a", "--ssl-dist-optfile", "x.conf"],
      /^effect-otp: --ssl-dist-optfile is only used with --proto-dist tls$/
    ],
    [
      ["--sname", "a", "--proto-dist", "udp"],
      /^effect-otp: --proto-dist must be tls \(erl's inet_tls\) or tcp \(inet_tcp\), got "udp"$/
    ],
    [["--sname", "a", "--connect-all", "maybe"], /^effect-otp: --connect-all must be true or false, got "maybe"$/],
    [["-sname", "a", "-connect_all"], /^effect-otp: --connect-all needs a value \(see --help\)$/],
    [
      ["--sname", "a", "--setcookie", "c", "--proto-dist", "tls", "--ssl-dist-optfile", "/nonexistent/ssl.conf"],
      /^effect-otp: --ssl-dist-optfile: ssl_dist_optfile \/nonexistent\/ssl\.conf: cannot read: ENOENT/
    ]
  ]
  const pki = opensslAvailable() ? makePki() : undefined
  afterAll(() => pki?.remove())
  const tlsBad: typeof bad = pki === undefined ? [] : [
    [
      ["--sname", "a", "--setcookie", "c", "--proto-dist", "tls", "--ssl-dist-optfile", pki.missingCertOptfile],
      /^effect-otp: --ssl-dist-optfile: TLS distribution options \(server\): cannot read certfile .*missing\.pem: ENOENT/
    ],
    [
      ["-sname", "a", "-setcookie", "c", "-proto_dist", "inet_tls", "-ssl_dist_optfile", `${pki.dir}/node.ext`],
      /^effect-otp: --ssl-dist-optfile: ssl_dist_optfile .*node\.ext: line 1, column \d+: /
    ]
  ]
  const inProcess = [...bad.filter(([, , env]) => env === undefined), ...tlsBad, ...newBad]
  for (const [args, message] of inProcess) {
    it.effect(`bad flags ${args.join(" ")}: one line, exit code 2`, () =>
      Effect.gen(function*() {
        const r = yield* runInProcess(args)
        expect(r.code).toBe(2)
        expect(r.stdout).toBe("")
        const lines = r.stderr.split("\n")
        expect(lines, r.stderr).toHaveLength(1)
        expect(lines[0]).toMatch(message)
      }))
  }
  // as a process: what bin prints and its exit code
  for (const [args, message, env] of [...bad.filter(([, , env]) => env !== undefined), newBad[0]!]) {
    it(`bad flags ${args.join(" ")}${env ? " (bad home)" : ""}, from bin: one line, exit code 2`, async () => {
      const r = await run(args, "", env)
      expect(r.code).toBe(2)
      expect(r.stdout).toBe("")
      const lines = r.stderr.trimEnd().split("\n")
      expect(lines, r.stderr).toHaveLength(1)
      expect(lines[0]).toMatch(message)
    })
  }

  it.effect("validate: --connect-all false; --proto-dist tls loads the optfile into a transport", () =>
    Effect.gen(function*() {
      const o = yield* validate({ ...flags, sname: Option.some("a@box"), setcookie: Option.some(Redacted.make("c")) })
      expect(o.connectAll).toBe(true)
      expect(Option.isNone(o.tls)).toBe(true)
      const f = yield* validate({
        ...flags,
        sname: Option.some("a@box"),
        setcookie: Option.some(Redacted.make("c")),
        connectAll: Option.some("false")
      })
      expect(f.connectAll).toBe(false)
      if (pki === undefined) return
      const t = yield* validate({
        ...flags,
        sname: Option.some("a@box"),
        setcookie: Option.some(Redacted.make("c")),
        protoDist: Option.some("inet_tls"),
        sslDistOptfile: Option.some(pki.optfile)
      })
      expect(Option.map(t.tls, (x) => x.optfile)).toEqual(Option.some(pki.optfile))
      expect(typeof Option.getOrThrow(t.tls).transport.listen).toBe("function")
    }))

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
        "--eval",
        "--connect-all",
        "--proto-dist",
        "--ssl-dist-optfile"
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
