/**
 * `npm run bench [-- --quick] [--runs N] [--only local|dist|etf|gen-server|startup|global] [--source]`
 *
 * Runs every workload in a fresh OS process, our figure beside Erlang/OTP's measured in
 * the same run (when `erl` is installed), median (min–max) over the runs.
 *
 * The workloads run on the compiled packages (`tsc -b bench/tsconfig.json`, so `packages/X/build/esm`,
 * loaded through `bench/built.mjs`), which is the code the published `@effect-otp/*` packages hold.
 * `--source` runs them on the TypeScript sources through tsx instead: tsx compiles with esbuild's
 * `keepNames`, which names every closure with a call when it is created, a cost the published
 * packages do not have.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Result, Row, Stat } from "./harness.js"
import { compileErlang, erlAvailable, parseResult, printTable, ratio, run, start, stat } from "./harness.js"
import { measure, prepareCli } from "./startup.js"

const argv = process.argv.slice(2)
const flag = (name: string) => argv.includes(name)
const option = (name: string): string | undefined => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] : undefined
}
const quick = flag("--quick")
const runs = Number(option("--runs") ?? (quick ? 1 : 3))
const only = option("--only")
const hasErl = !flag("--no-erl") && erlAvailable()
const erlDir = hasErl ? compileErlang() : undefined
const rand = () => crypto.randomBytes(4).toString("hex")

const source = flag("--source")
const nodeArgs = ["--expose-gc", "--max-old-space-size=12000", "--import", source ? "tsx" : "./bench/built.mjs"]
/** The worker script `name` (`bench/<name>.ts`), as run: compiled unless `--source`. */
const script = (name: string) => source ? `bench/${name}.ts` : `bench/build/${name}.js`

const log = (s: string) => process.stderr.write(`${s}\n`)

/** Runs `f` `runs` times; collects the results that came back (a failed run is reported and skipped). */
const repeat = async (label: string, f: () => Promise<Result | undefined>, times = runs) => {
  const out: Array<Result> = []
  for (let i = 0; i < times; i++) {
    try {
      const r = await f()
      if (r === undefined) log(`  ${label}: no RESULT line`)
      else out.push(r)
    } catch (e) {
      log(`  ${label}: run ${i + 1} failed: ${String(e).slice(0, 2000)}`)
    }
  }
  log(`  ${label}: ${out.map((r) => JSON.stringify(r)).join(" ")}`)
  return out
}
const pick = (rs: ReadonlyArray<Result>, key: string, scale = 1): Stat | undefined =>
  stat(rs.map((r) => r[key]).filter((x): x is number => x !== undefined).map((x) => x * scale))

// ---------------------------------------------------------------------------------- local

const tsLocal = (kase: string, n: number) => async () =>
  parseResult(await run("node", [...nodeArgs, script("local"), kase, String(n)], { timeoutMs: 600_000 }))

const erlLocal = (kase: string, n: number) => async () =>
  erlDir === undefined ? undefined : parseResult(
    await run("erl", ["+P", "2000000", "-noshell", "-pa", erlDir, "-run", "bench_local", "main", kase, String(n)], {
      timeoutMs: 300_000
    })
  )

const atLeast = (r: Omit<Row, "met">, x: number): Row => {
  const q = ratio(r)
  return { ...r, met: q === undefined ? undefined : q >= x }
}

const local = async (): Promise<void> => {
  // the 1M spawn takes minutes on the TS side today: full runs only
  const spawnNs = quick ? [100_000] : [100_000, 1_000_000]
  const nPing = quick ? 200_000 : 1_000_000
  const nOne = 1_000_000
  const rows: Array<Row> = []
  for (const n of spawnNs) {
    log(`local: spawn ${n}`)
    // the TS 1M spawn takes 1-2 minutes per run today: one run unless --runs is given
    const times = n === 1_000_000 && option("--runs") === undefined ? 1 : runs
    const ts = await repeat(`ts spawn ${n}`, tsLocal("spawn", n), times)
    const tsU = await repeat(`ts spawn_unsafe ${n}`, tsLocal("spawn_unsafe", n), times)
    const erl = hasErl ? await repeat(`erl spawn ${n}`, erlLocal("spawn_bench", n), times) : []
    const k = n / 1000 >= 1000 ? `${n / 1e6}M` : `${n / 1000}k`
    const spawnRow: Row = {
      workload: `spawn ${k} waiting procs (Process.spawn)`,
      unit: "s",
      ours: pick(ts, "ready_us", 1e-6),
      erlang: pick(erl, "ready_us", 1e-6),
      higherIsBetter: false
    }
    rows.push(n === 1_000_000 ? atLeast({ ...spawnRow, target: "ratio >= 1.0" }, 1) : spawnRow)
    rows.push({
      workload: `spawn ${k} waiting procs (unsafeSpawn, unsafe)`,
      unit: "s",
      ours: pick(tsU, "ready_us", 1e-6),
      erlang: pick(erl, "ready_us", 1e-6),
      higherIsBetter: false
    })
    const mem = pick(ts, "bytes_per_proc")
    rows.push({
      workload: `memory per waiting proc (${k})`,
      unit: "B",
      ours: mem,
      erlang: pick(erl, "bytes_per_proc_excl_list"),
      higherIsBetter: false,
      target: "<= 1,500 B",
      met: mem === undefined ? undefined : mem.median <= 1500
    })
  }
  log(`local: pingpong ${nPing}`)
  const pp = await repeat("ts pingpong", tsLocal("pingpong", nPing))
  const ppE = hasErl ? await repeat("erl pingpong", erlLocal("pingpong", nPing)) : []
  rows.push(atLeast({
    workload: `ping-pong, ${nPing / 1000}k round trips`,
    unit: "rt/s",
    ours: pick(pp, "rt_per_s"),
    erlang: pick(ppE, "rt_per_s"),
    higherIsBetter: true,
    target: "ratio >= 1.0"
  }, 1))
  log(`local: oneway ${nOne}`)
  const ow = await repeat("ts oneway", tsLocal("oneway", nOne))
  const owU = await repeat("ts oneway_unsafe", tsLocal("oneway_unsafe", nOne))
  const owE = hasErl ? await repeat("erl oneway", erlLocal("oneway", nOne)) : []
  rows.push(atLeast({
    workload: `one-way {msg, I}, ${nOne / 1e6}M msgs (Process.send)`,
    unit: "msg/s",
    ours: pick(ow, "msgs_per_s"),
    erlang: pick(owE, "msgs_per_s"),
    higherIsBetter: true,
    target: "ratio >= 0.5"
  }, 0.5))
  rows.push({
    workload: `one-way, sync unsafeSend loop (unsafe)`,
    unit: "msg/s",
    ours: pick(owU, "msgs_per_s"),
    erlang: pick(owE, "msgs_per_s"),
    higherIsBetter: true
  })
  printTable(`Local workloads (issue 3), ${runs} run(s) each, median (min–max)`, rows)
}

// ---------------------------------------------------------------------------------- dist

interface Server {
  readonly node: string
  readonly cookie: string
  readonly stop: () => void
}

/** An erl server node (`bench_dist server`), with extra emulator flags if given (e.g. `+sbwt none`). */
const startErlServer = async (flags: ReadonlyArray<string> = []): Promise<Server> => {
  const name = `b_${rand()}`
  const cookie = `c_${rand()}`
  const s = await start(
    "erl",
    [...flags, "-sname", name, "-setcookie", cookie, "-noshell", "-pa", erlDir!, "-run", "bench_dist", "server"],
    /ready/
  )
  return { node: `${name}@${os.hostname()}`, cookie, stop: s.stop }
}

/** A TS server node running `worker` (`bench/dist.ts` unless told). */
const startTsServer = async (worker = script("dist")): Promise<Server> => {
  const name = `b_${rand()}`
  const cookie = `c_${rand()}`
  const s = await start("node", [...nodeArgs, worker, "server", name, cookie], /ready/)
  return { node: `${name}@${os.hostname()}`, cookie, stop: s.stop }
}

type Client = (server: Server, kase: string, args: ReadonlyArray<number>) => Promise<string>

/** An erl client node (`bench_dist client`), with extra emulator flags if given. */
const erlClientWith = (flags: ReadonlyArray<string>): Client => (server, kase, args) =>
  run("erl", [
    ...flags,
    "-sname",
    `a_${rand()}`,
    "-setcookie",
    server.cookie,
    "-noshell",
    "-pa",
    erlDir!,
    "-run",
    "bench_dist",
    "client",
    server.node,
    kase,
    ...args.map(String)
  ], { timeoutMs: 600_000 })

const erlClient: Client = erlClientWith([])

/** A TS client node running `worker`'s client cases. */
const tsClientOf = (worker: string): Client => (server, kase, args) =>
  run("node", [
    ...nodeArgs,
    worker,
    "client",
    `a_${rand()}`,
    server.cookie,
    server.node,
    kase,
    ...args.map(String)
  ], { timeoutMs: 600_000 })

const tsClient: Client = tsClientOf(script("dist"))

interface DistCounts {
  readonly ping: number
  readonly one64: number
  readonly one1k: number
  readonly one64k: number
}

interface PairResult {
  readonly counts: DistCounts
  readonly connect: Array<Result>
  readonly ping: Array<Result>
  readonly one64: Array<Result>
  readonly one1k: Array<Result>
  readonly one64k: Array<Result>
}

const pairing = async (
  label: string,
  startServer: () => Promise<Server>,
  client: Client,
  counts: DistCounts
): Promise<PairResult> => {
  log(`dist: ${label}`)
  const server = await startServer()
  const connect: Array<Result> = []
  const one = (kase: string, args: ReadonlyArray<number>, name: string) => async () => {
    const out = await client(server, kase, args)
    const c = parseResult(out, "dist_client_first_ping")
    if (c !== undefined) connect.push(c)
    return parseResult(out, name)
  }
  try {
    await repeat(`${label} connect`, one("connect", [1], "dist_client_first_ping"))
    const ping = await repeat(`${label} pingpong`, one("pingpong", [counts.ping], "dist_pingpong"))
    const one64 = await repeat(`${label} oneway 64`, one("oneway", [counts.one64, 64], "dist_oneway"))
    const one1k = await repeat(`${label} oneway 1KiB`, one("oneway", [counts.one1k, 1024], "dist_oneway"))
    const one64k = await repeat(`${label} oneway 64KiB`, one("oneway", [counts.one64k, 65536], "dist_oneway"))
    return { counts, connect, ping, one64, one1k, one64k }
  } finally {
    server.stop()
  }
}

const kOf = (n: number) => n >= 1e6 ? `${n / 1e6}M` : `${n / 1000}k`

const dist = async (): Promise<void> => {
  const erlCounts: DistCounts = quick
    ? { ping: 50_000, one64: 200_000, one1k: 50_000, one64k: 5_000 }
    : { ping: 200_000, one64: 1_000_000, one1k: 200_000, one64k: 20_000 }
  const tsCounts: DistCounts = quick
    ? { ping: 10_000, one64: 100_000, one1k: 20_000, one64k: 2_000 }
    : { ping: 50_000, one64: 1_000_000, one1k: 200_000, one64k: 20_000 }
  const ee = hasErl ? await pairing("erl<->erl", startErlServer, erlClient, erlCounts) : undefined
  const te = hasErl ? await pairing("TS client -> erl server", startErlServer, tsClient, tsCounts) : undefined
  const tt = await pairing("TS client -> TS server", startTsServer, tsClient, tsCounts)
  const et = hasErl ? await pairing("erl client -> TS server", startTsServer, erlClient, erlCounts) : undefined
  const rows: Array<Row> = []
  const pairs: Array<[string, PairResult | undefined]> = [["TS->erl", te], ["TS->TS", tt], ["erl->TS", et]]
  for (const [name, p] of pairs) {
    if (p === undefined) continue
    rows.push(atLeast({
      workload: `${name} remote ping-pong (TS ${kOf(p.counts.ping)}, erl ${kOf(erlCounts.ping)} rt)`,
      unit: "rt/s",
      ours: pick(p.ping, "rt_per_s"),
      erlang: ee && pick(ee.ping, "rt_per_s"),
      higherIsBetter: true,
      target: "ratio >= 1.0"
    }, 1))
  }
  for (const [name, p] of pairs) {
    if (p === undefined) continue
    rows.push(atLeast({
      workload: `${name} one-way 64 B, ${kOf(p.counts.one64)} msgs (erl ${kOf(erlCounts.one64)})`,
      unit: "msg/s",
      ours: pick(p.one64, "msgs_per_s"),
      erlang: ee && pick(ee.one64, "msgs_per_s"),
      higherIsBetter: true,
      target: "ratio >= 1.0"
    }, 1))
    rows.push({
      workload: `${name} one-way 64 B payload`,
      unit: "MB/s",
      ours: pick(p.one64, "payload_MB_per_s"),
      erlang: ee && pick(ee.one64, "payload_MB_per_s"),
      higherIsBetter: true
    })
  }
  for (const [name, p] of pairs) {
    if (p === undefined) continue
    rows.push({
      workload: `${name} one-way 1 KiB, ${kOf(p.counts.one1k)} msgs (erl ${kOf(erlCounts.one1k)})`,
      unit: "msg/s",
      ours: pick(p.one1k, "msgs_per_s"),
      erlang: ee && pick(ee.one1k, "msgs_per_s"),
      higherIsBetter: true
    })
    rows.push({
      workload: `${name} one-way 1 KiB payload`,
      unit: "MB/s",
      ours: pick(p.one1k, "payload_MB_per_s"),
      erlang: ee && pick(ee.one1k, "payload_MB_per_s"),
      higherIsBetter: true
    })
  }
  for (const [name, p] of pairs) {
    if (p === undefined) continue
    rows.push({
      workload: `${name} one-way 64 KiB, ${kOf(p.counts.one64k)} msgs (erl ${kOf(erlCounts.one64k)})`,
      unit: "msg/s",
      ours: pick(p.one64k, "msgs_per_s"),
      erlang: ee && pick(ee.one64k, "msgs_per_s"),
      higherIsBetter: true
    })
    rows.push(atLeast({
      workload: `${name} one-way 64 KiB payload`,
      unit: "MB/s",
      ours: pick(p.one64k, "payload_MB_per_s"),
      erlang: ee && pick(ee.one64k, "payload_MB_per_s"),
      higherIsBetter: true,
      target: "ratio >= 0.5"
    }, 0.5))
  }
  for (const [name, p] of pairs) {
    if (p === undefined) continue
    rows.push({
      workload: `${name} fresh connect (first ping, all client runs)`,
      unit: "ms",
      ours: pick(p.connect, "us", 1e-3),
      erlang: ee && pick(ee.connect, "us", 1e-3),
      higherIsBetter: false
    })
  }
  printTable(
    `Distribution workloads (issue 4), loopback, ${runs} run(s) each; Erlang column = erl<->erl; median (min–max)`,
    rows
  )
}

// ---------------------------------------------------------------------------------- etf

const etfTerms: ReadonlyArray<readonly [string, string]> = [
  ["map_4k_tuple_keys", "map of 4k {user, N} keys (70 KB)"],
  ["map_20k_int_keys", "map of 20k integer keys (199 KB)"],
  ["list_50k_records", "list of 50k records {user, N, <<..>>, ...} (2.2 MB)"],
  ["binary_1mib", "1 MiB binary"]
]

/**
 * The codec on everyday large terms: `bench_etf:gen` writes the bytes with
 * `term_to_binary(T, [{minor_version, 2}])`; Erlang's BIFs and our `Etf` decode those
 * same bytes and encode the decoded term, each in a fresh OS process per run.
 */
const etf = async (): Promise<void> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-otp-etf-"))
  try {
    if (erlDir === undefined) {
      log("etf: erl not found, no terms to decode (the ETF rows need erl's term_to_binary)")
      return
    }
    await run("erl", ["-noshell", "-pa", erlDir, "-run", "bench_etf", "gen", dir], { timeoutMs: 120_000 })
    const ts = await repeat("ts etf", async () => {
      const out = await run("node", [...nodeArgs, script("etf"), dir], { timeoutMs: 600_000 })
      return collect(out)
    })
    const erl = await repeat("erl etf", async () => {
      const out = await run("erl", ["-noshell", "-pa", erlDir, "-run", "bench_etf", "main", dir], {
        timeoutMs: 600_000
      })
      return collect(out)
    })
    const rows: Array<Row> = []
    for (const [name, what] of etfTerms) {
      for (const [dir, target] of [["decode", 1], ["encode", 0.5]] as const) {
        rows.push(atLeast({
          workload: `${dir} ${what}`,
          unit: "ops/s",
          ours: pick(ts, `${name}_${dir}`),
          erlang: pick(erl, `${name}_${dir}`),
          higherIsBetter: true,
          target: `ratio >= ${target.toFixed(1)}`
        }, target))
      }
    }
    // as connections use the codec (no target: Erlang's column is the plain BIF)
    for (const [name, what] of etfTerms) {
      rows.push({
        workload: `decode, binaries as views (copyBinaries: false): ${what}`,
        unit: "ops/s",
        ours: pick(ts, `${name}_decode_views`),
        erlang: pick(erl, `${name}_decode`),
        higherIsBetter: true
      })
      rows.push({
        workload: `encode into a reused Etf.Writer: ${what}`,
        unit: "ops/s",
        ours: pick(ts, `${name}_encode_writer`),
        erlang: pick(erl, `${name}_encode`),
        higherIsBetter: true
      })
    }
    printTable(
      `ETF codec (issue 9): Etf.decode / Etf.encode vs binary_to_term / term_to_binary on the same bytes, ${runs} run(s) each, median (min–max)`,
      rows
    )
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** The `RESULT etf_<name>_<dir> ... ops_per_s=X` lines of one run, as one Result keyed `<name>_<dir>`. */
const collect = (out: string): Result | undefined => {
  const r: Record<string, number> = {}
  for (const line of out.split("\n")) {
    const m = /^RESULT etf_(\S+) .*ops_per_s=([\d.]+)/.exec(line.trim())
    if (m !== null) r[m[1]!] = Number(m[2])
  }
  return Object.keys(r).length === 0 ? undefined : r
}

// ---------------------------------------------------------------------------------- startup

const startup = async (): Promise<void> => {
  const bin = await prepareCli(log)
  log("startup: effect-otp --sname --noshell / erl -sname -noshell, alternately")
  const cookie = `c_${rand()}`
  let ts: Array<Result> = []
  let erl: Array<Result> = []
  // one of each per round, so that both see the same load on the machine
  for (let i = 0; i < runs; i++) {
    ts = ts.concat(
      await repeat(
        "ts startup",
        () => measure("node", [bin, "--sname", "NAME", "--setcookie", cookie, "--noshell"], `s_${rand()}`),
        1
      )
    )
    if (hasErl) {
      erl = erl.concat(
        await repeat(
          "erl startup",
          () => measure("erl", ["-sname", "NAME", "-setcookie", cookie, "-noshell"], `s_${rand()}`),
          1
        )
      )
    }
  }
  const time = pick(ts, "start_s")
  const rss = pick(ts, "idle_rss_mb")
  const load = os.loadavg().map((l) => l.toFixed(2)).join(" ")
  printTable(`Start-up (issue 10), ${runs} run(s) each, median (min–max), load average ${load}`, [
    {
      workload: "start to registered in EPMD (effect-otp --sname --noshell)",
      unit: "s",
      ours: time,
      erlang: pick(erl, "start_s"),
      higherIsBetter: false,
      target: "<= 0.5 s",
      met: time === undefined ? undefined : time.median <= 0.5
    },
    {
      workload: "CPU time until registered (user + system)",
      unit: "s",
      ours: pick(ts, "start_cpu_s"),
      erlang: pick(erl, "start_cpu_s"),
      higherIsBetter: false
    },
    {
      workload: "idle RSS of that node",
      unit: "MB",
      ours: rss,
      erlang: pick(erl, "idle_rss_mb"),
      higherIsBetter: false,
      target: "<= 60 MB",
      met: rss === undefined ? undefined : rss.median <= 60
    }
  ])
}

// ---------------------------------------------------------------------------------- gen_server (issue 11 §5)

const tsGs = (kase: string, n: number) => async () =>
  parseResult(await run("node", [...nodeArgs, script("genServer"), "local", kase, String(n)], { timeoutMs: 900_000 }))

const erlGs = (module: "bench_local" | "bench_gen_server", kase: string, n: number) => async () =>
  erlDir === undefined ? undefined : parseResult(
    await run("erl", ["+P", "2000000", "-noshell", "-pa", erlDir, "-run", module, "main", kase, String(n)], {
      timeoutMs: 300_000
    })
  )

/** A TS node with rpc and a gen_server registered as `gs` (`ping` -> `pong`), as `bench_dist server`. */
const startTsGsServer = () => startTsServer(script("genServer"))

const tsGsClient: Client = tsClientOf(script("genServer"))

const remoteCalls = async (label: string, startServer: () => Promise<Server>, client: Client, n: number) => {
  log(`gen-server: ${label}`)
  const server = await startServer()
  try {
    return await repeat(
      `${label} gs_call`,
      async () => parseResult(await client(server, "gs_call", [n]), "dist_gs_call")
    )
  } finally {
    server.stop()
  }
}

const genServer = async (): Promise<void> => {
  // both sides make the same number of calls: a TS client making a tenth of erl's measured
  // mostly V8's tier-up (its first ~2,500 calls cost several times the steady state)
  const erlCall = quick ? 200_000 : 1_000_000
  const tsCall = erlCall
  const nCast = quick ? 200_000 : 1_000_000
  const erlIdle = 100_000
  const tsIdle = quick ? 10_000 : 50_000
  const erlRemote = quick ? 50_000 : 200_000
  const tsRemote = erlRemote
  const rows: Array<Row> = []

  log(`gen-server: local call`)
  const call = await repeat("ts gs_call", tsGs("gs_call", tsCall))
  const callE = hasErl ? await repeat("erl gs_call", erlGs("bench_local", "gs_call", erlCall)) : []
  rows.push(atLeast({
    workload: `local call, ${kOf(tsCall)} sequential (erl ${kOf(erlCall)})`,
    unit: "call/s",
    ours: pick(call, "calls_per_s"),
    erlang: pick(callE, "calls_per_s"),
    higherIsBetter: true,
    target: "ratio >= 0.5"
  }, 0.5))
  const callInf = await repeat("ts gs_call_infinity", tsGs("gs_call_infinity", tsCall))
  rows.push({
    workload: `local call, timeout infinity (no timer per call)`,
    unit: "call/s",
    ours: pick(callInf, "calls_per_s"),
    erlang: pick(callE, "calls_per_s"),
    higherIsBetter: true
  })
  log(`gen-server: local cast`)
  const cast = await repeat("ts gs_cast", tsGs("gs_cast", nCast))
  const castE = hasErl ? await repeat("erl gs_cast", erlGs("bench_local", "gs_cast", nCast)) : []
  rows.push(atLeast({
    workload: `local cast, ${kOf(nCast)} + a final call`,
    unit: "cast/s",
    ours: pick(cast, "casts_per_s"),
    erlang: pick(castE, "casts_per_s"),
    higherIsBetter: true,
    target: "ratio >= 0.5"
  }, 0.5))
  log(`gen-server: idle memory`)
  const idle = await repeat("ts idle_mem", tsGs("idle_mem", tsIdle))
  const idleE = hasErl ? await repeat("erl idle_mem", erlGs("bench_gen_server", "idle_mem", erlIdle)) : []
  const mem = pick(idle, "bytes_per_server")
  rows.push({
    workload: `memory per idle gen_server (${kOf(tsIdle)}; erl ${kOf(erlIdle)})`,
    unit: "B",
    ours: mem,
    erlang: pick(idleE, "bytes_per_server"),
    higherIsBetter: false,
    target: "<= 1,000 B",
    met: mem === undefined ? undefined : mem.median <= 1000
  })
  rows.push({
    workload: `gen_server start + first call (same runs)`,
    unit: "µs",
    ours: pick(idle, "us_per_start"),
    erlang: pick(idleE, "us_per_start"),
    higherIsBetter: false
  })

  const ee = hasErl ? await remoteCalls("erl<->erl", () => startErlServer(), erlClient, erlRemote) : []
  // the anchors' faster Erlang baseline: no scheduler busy-waiting on either node
  const sbwt = ["+sbwt", "none", "+sbwtdcpu", "none", "+sbwtdio", "none"]
  const eeNoBusyWait = hasErl
    ? await remoteCalls("erl<->erl +sbwt none", () => startErlServer(sbwt), erlClientWith(sbwt), erlRemote)
    : []
  const pairs: Array<[string, ReadonlyArray<Result>]> = [
    ["TS->TS", await remoteCalls("TS client -> TS server", startTsGsServer, tsGsClient, tsRemote)]
  ]
  if (hasErl) {
    pairs.push(["TS->erl", await remoteCalls("TS client -> erl server", () => startErlServer(), tsGsClient, tsRemote)])
    pairs.push(["erl->TS", await remoteCalls("erl client -> TS server", startTsGsServer, erlClient, erlRemote)])
  }
  for (const [name, rs] of pairs) {
    rows.push(atLeast({
      workload: `${name} remote call by pid (TS client ${kOf(tsRemote)}, erl client ${kOf(erlRemote)})`,
      unit: "call/s",
      ours: pick(rs, "calls_per_s"),
      erlang: pick(ee, "calls_per_s"),
      higherIsBetter: true,
      target: "ratio >= 1.0"
    }, 1))
  }
  if (hasErl) {
    rows.push({
      workload: `erl<->erl remote call, +sbwt none on both nodes`,
      unit: "call/s",
      ours: undefined,
      erlang: pick(eeNoBusyWait, "calls_per_s"),
      higherIsBetter: true
    })
  }
  printTable(
    `gen_server workloads (issue 11), ${runs} run(s) each; remote rows: Erlang column = erl<->erl; median (min–max)`,
    rows
  )
}

// ---------------------------------------------------------------------------------- global (issue 12 §5)

/** 3 nodes of one kind: two idle peers (own OS processes) and the measuring one, which connects to both. */
const globalRun = (kind: "ts" | "erl", n: number) => async (): Promise<Result | undefined> => {
  const cookie = `c_${rand()}`
  const peerNames = [`gp_${rand()}`, `gq_${rand()}`]
  const peers = await Promise.all(peerNames.map((name) =>
    kind === "ts"
      ? start("node", [...nodeArgs, script("global"), "peer", name, cookie], /peer ready/)
      : start(
        "erl",
        ["-sname", name, "-setcookie", cookie, "-noshell", "-pa", erlDir!, "-run", "bench_global", "peer"],
        /peer ready/
      )
  ))
  try {
    const nodes = peerNames.map((p) => `${p}@${os.hostname()}`)
    const me = `gm_${rand()}`
    const out = kind === "ts"
      ? await run("node", [...nodeArgs, script("global"), "main", me, cookie, ...nodes, String(n)], {
        timeoutMs: 600_000
      })
      : await run(
        "erl",
        [
          "-sname",
          me,
          "-setcookie",
          cookie,
          "-noshell",
          "-pa",
          erlDir!,
          "-run",
          "bench_global",
          "main",
          ...nodes,
          String(n)
        ],
        { timeoutMs: 600_000 }
      )
    return parseResult(out, "global_reg")
  } finally {
    for (const p of peers) p.stop()
  }
}

const global = async (): Promise<void> => {
  const n = quick ? 200 : 1000
  log(`global: register_name + whereis_name, 3 nodes`)
  const ts = await repeat("ts global_reg", globalRun("ts", n))
  const erl = hasErl ? await repeat("erl global_reg", globalRun("erl", n)) : []
  printTable(
    `global (issue 12), 3 nodes each (TS: 3 TS nodes; Erlang: 3 erl nodes), ${runs} run(s), median (min–max)`,
    [
      atLeast({
        workload: `global:register_name, ${n} names, each on all 3 nodes`,
        unit: "reg/s",
        ours: pick(ts, "register_per_s"),
        erlang: pick(erl, "register_per_s"),
        higherIsBetter: true,
        target: "ratio >= 1.0"
      }, 1),
      {
        workload: `global:whereis_name (a local lookup), ${n} names x 100, first pass`,
        unit: "op/s",
        ours: pick(ts, "whereis_first_per_s"),
        erlang: pick(erl, "whereis_first_per_s"),
        higherIsBetter: true
      },
      atLeast({
        workload: `global:whereis_name, the same ${n} x 100 again (second pass)`,
        unit: "op/s",
        ours: pick(ts, "whereis_per_s"),
        erlang: pick(erl, "whereis_per_s"),
        higherIsBetter: true,
        target: "ratio >= 1.0"
      }, 1)
    ]
  )
}

const main = async () => {
  const t0 = Date.now()
  console.log(
    `effect-otp benchmarks (${quick ? "quick" : "full"}, ${runs} run(s) per workload), node ${process.version}, ` +
      `${os.cpus().length} cpus, loadavg ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`
  )
  if (!hasErl) console.log("erl not found: Erlang/OTP figures are shown as — (install erlang-base to compare)")
  if (source) console.log("--source: our workloads run on the TypeScript sources through tsx")
  else if (only !== "startup") {
    log("compiling the packages and the workloads: tsc -b bench/tsconfig.json")
    await run("npx", ["tsc", "-b", "bench/tsconfig.json"], { timeoutMs: 900_000 })
    console.log("our workloads run on the compiled packages (packages/*/build/esm), as published")
  }
  if (only === undefined || only === "local") await local()
  if (only === undefined || only === "dist") await dist()
  if (only === undefined || only === "etf") await etf()
  if (only === undefined || only === "gen-server") await genServer()
  if (only === undefined || only === "startup") await startup()
  if (only === undefined || only === "global") await global()
  console.log(`\ndone in ${((Date.now() - t0) / 1000).toFixed(0)} s`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
