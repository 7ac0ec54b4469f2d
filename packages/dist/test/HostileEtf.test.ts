/**
 * Hostile terms on the wire. A TS node runs as its own OS process
 * with a 192 MiB heap (`node --max-old-space-size=192`, the heap that a 7.7 KB
 * compressed frame used to abort); a real `erl` node is connected to it and
 * `monitor_node`s it the whole time. For each attack a raw peer completes a real
 * handshake and sends one frame. Then:
 * - the frames that must be refused closed the raw peer's connection, with a logged,
 *   typed reason;
 * - the valid but expensive ones (big maps with tuple or bignum keys, nested list tails)
 *   were decoded and delivered: `keeper` answered the raw peer;
 * - `erl` saw no nodedown, still gets `pong`, and `keeper` still answers it;
 * - the node's peak RSS (VmHWM) stayed under 512 MiB.
 */
import { Atom, Pid, type Term, TermMap, Tuple, tuple } from "@effect-otp/process/Term"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import { readFileSync } from "node:fs"
import { deflateSync } from "node:zlib"
import * as Etf from "../src/Etf.js"
import * as Handshake from "../src/Handshake.js"
import * as Transport from "../src/Transport.js"
import { erlAvailable, type ErlNode, startErlScoped, uniqueName } from "./helpers/erl.js"
import { type ChildNode, startTsPeer } from "./helpers/fault.js"

/** The stated bound on the TS node's peak resident set (its V8 heap is capped at 192 MiB). */
const RSS_BOUND = 512 * 1024 * 1024

const peakRss = (pid: number): number => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
  if (m === null) throw new Error("no VmHWM in /proc/<pid>/status")
  return Number(m[1]) * 1024
}

const u32 = (n: number): Array<number> => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]

const withLength = (payload: Uint8Array): Uint8Array => {
  const out = new Uint8Array(4 + payload.length)
  new DataView(out.buffer).setUint32(0, payload.length)
  out.set(payload, 4)
  return out
}

/** A REG_SEND pass-through frame to `keeper` with the message's bytes (version byte included) as given. */
const regSend = (from: Pid, message: Uint8Array): Uint8Array => {
  const control = Etf.encode(tuple(6, from, Atom.make(""), Atom.make("keeper")))
  const out = new Uint8Array(1 + control.length + message.length)
  out[0] = 112
  out.set(control, 1)
  out.set(message, 1 + control.length)
  return out
}

/** `{From, Term}` encoded: keeper answers `{keeper, Pid}` to `From`. */
const askKeeper = (from: Pid, payload: Uint8Array): Uint8Array => {
  // 131, SMALL_TUPLE 2, From, then the payload's term (without its version byte)
  const head = Etf.encode(tuple(from, 0))
  const out = new Uint8Array(head.length - 2 + payload.length - 1)
  out.set(head.subarray(0, head.length - 2))
  out.set(payload.subarray(1), head.length - 2)
  return out
}

const range = <A>(n: number, f: (i: number) => A): Array<A> => Array.from({ length: n }, (_, i) => f(i))
const mapOf = (keys: ReadonlyArray<Term>): TermMap => new TermMap(keys.map((k, i) => [k, i] as const))

/** `[0 | [0 | ... []]]` as nested one-element LIST_EXTs, `levels` deep. */
const nestedTails = (levels: number): Uint8Array => {
  const unit = [108, 0, 0, 0, 1, 97, 0]
  const out = new Uint8Array(1 + unit.length * levels + 1)
  out[0] = 131
  for (let i = 0; i < levels; i++) out.set(unit, 1 + i * unit.length)
  out[out.length - 1] = 106
  return out
}

/** A LIST_EXT of `n` NILs (~40 bytes of heap per input byte if decoded). */
const nils = (n: number): Uint8Array => {
  const out = new Uint8Array(6 + n + 1).fill(106)
  out.set([131, 108, ...u32(n)])
  return out
}

/** A compressed term: `n` NILs (a decompression bomb of ~n / 1000 bytes). */
const compressedNils = (n: number): Uint8Array => {
  const inner = nils(n).subarray(1)
  const z = deflateSync(inner, { level: 9 })
  return Uint8Array.from([131, 80, ...u32(inner.length), ...z])
}

/** A list of `n` atoms never seen before (made by hand: no atom is created here). */
const freshAtoms = (n: number): Uint8Array => {
  const tag = Math.random().toString(36).slice(2, 8)
  const parts: Array<number> = [131, 108, ...u32(n)]
  for (let i = 0; i < n; i++) {
    const s = `${tag}_${i}`
    parts.push(119, s.length)
    for (let j = 0; j < s.length; j++) parts.push(s.charCodeAt(j))
  }
  parts.push(106)
  return Uint8Array.from(parts)
}

/** The erl side: pings the TS node, monitors it, and on each stdin line checks it again. */
const ERL_WATCHER = `
TS = list_to_atom(hd(init:get_plain_arguments())),
pong = net_adm:ping(TS),
true = erlang:monitor_node(TS, true),
io:format("@@ready~n"),
Loop = fun L(N) ->
  case io:get_line('') of
    eof -> halt();
    _ ->
      Down = receive {nodedown, TS} -> nodedown after 0 -> up end,
      P = net_adm:ping(TS),
      {keeper, TS} ! {self(), whoami},
      K = receive {keeper, _} -> keeper_ok after 10000 -> keeper_timeout end,
      io:format("@@check ~p ~p ~p ~p~n", [N, Down, P, K]),
      L(N + 1)
  end
end,
Loop(1).`

interface Fixture {
  readonly ts: ChildNode
  readonly erl: ErlNode
  readonly cookie: string
  checks: number
}

const scope = Effect.runSync(Scope.make())
let fixture: Fixture | undefined

const setup = Effect.gen(function*() {
  const cookie = uniqueName("c")
  const ts = yield* startTsPeer(uniqueName("victim"), cookie, { execArgv: ["--max-old-space-size=192"] })
  const erl = yield* startErlScoped({
    args: ["-sname", uniqueName("watcher"), "-setcookie", cookie],
    eval: ERL_WATCHER,
    extra: [ts.node],
    ready: "@@ready"
  })
  return { ts, erl, cookie, checks: 0 }
})

/** erl: no nodedown, `pong`, and keeper answers. */
const erlStillFine = (f: Fixture) =>
  Effect.promise(async () => {
    const n = ++f.checks
    f.erl.process.stdin!.write("check\n")
    const out = await f.erl.waitFor(new RegExp(`@@check ${n} `), 30_000)
    const line = new RegExp(`@@check ${n} (\\w+) (\\w+) (\\w+)`).exec(out)!
    expect([line[1], line[2], line[3]]).toEqual(["up", "pong", "keeper_ok"])
    expect(f.ts.stdout()).not.toMatch(/@@error/)
    const peak = peakRss(f.ts.pid)
    console.log(`check ${n}: peak RSS of the TS node ${(peak / 1024 / 1024).toFixed(0)} MiB`)
    expect(peak).toBeLessThan(RSS_BOUND)
  })

/** A raw peer: a real handshake with the TS node, then raw bytes. */
const rawPeer = (f: Fixture) =>
  Effect.gen(function*() {
    const name = `${uniqueName("evil")}@${f.ts.node.slice(f.ts.node.indexOf("@") + 1)}`
    const carrier = yield* Effect.orDie(Transport.tcpTransport.connect({ host: "127.0.0.1", port: f.ts.port }))
    yield* Effect.orDie(Handshake.initiate(carrier, {
      thisNode: name,
      cookie: Redacted.make(f.cookie),
      creation: 7,
      peer: f.ts.node
    }))
    return { carrier, name, pid: new Pid(Atom.make(name), 42, 0, 7) }
  })

/** The frame is refused: the TS node closes the raw peer's connection and logs why. */
const refused = (frame: (from: Pid) => Uint8Array, log: RegExp) =>
  Effect.gen(function*() {
    const f = fixture!
    const peer = yield* rawPeer(f)
    yield* Effect.orDie(peer.carrier.write(withLength(frame(peer.pid))))
    const closed = yield* peer.carrier.closed.pipe(Effect.timeout("30 seconds"))
    expect(closed.by).toBe("peer")
    yield* Effect.promise(() =>
      new Promise<void>((resolve, reject) => {
        const deadline = Date.now() + 10_000
        const poll = () => {
          const lines = f.ts.stdout().split("\n").filter((l) => l.includes(peer.name))
          if (lines.some((l) => log.test(l))) resolve()
          else if (Date.now() > deadline) reject(new Error(`no log line ${log} for ${peer.name}:\n${f.ts.stdout()}`))
          else setTimeout(poll, 50)
        }
        poll()
      })
    )
    yield* erlStillFine(f)
  })

const KEEPER = Array.from("keeper", (c) => c.charCodeAt(0))

/** The frame is valid: it is decoded and delivered (keeper answers the raw peer), the connection stays. */
const delivered = (message: Uint8Array) =>
  Effect.gen(function*() {
    const f = fixture!
    const peer = yield* rawPeer(f)
    yield* Effect.orDie(peer.carrier.write(withLength(regSend(peer.pid, askKeeper(peer.pid, message)))))
    // read until keeper's answer `{keeper, Pid}` arrives
    let seen: Array<number> = []
    const hasAnswer = () => {
      for (let i = 0; i + KEEPER.length <= seen.length; i++) {
        if (KEEPER.every((c, j) => seen[i + j] === c)) return true
      }
      return false
    }
    while (!hasAnswer()) {
      const chunk = yield* peer.carrier.read.pipe(Effect.orDie, Effect.timeout("30 seconds"))
      seen = seen.concat(Array.from(chunk))
    }
    expect(peer.carrier.isClosed()).toBe(false)
    yield* erlStillFine(f)
    yield* peer.carrier.close
  })

describe.skipIf(!erlAvailable())("hostile terms from an authenticated peer: linear work, bounded memory", () => {
  beforeAll(async () => {
    fixture = await Effect.runPromise(Scope.extend(setup, scope))
  }, 90_000)
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }, 30_000)

  it.scopedLive(
    "a map of 14,500 {I} keys (128 KB): decoded and delivered, the node keeps ticking",
    () => delivered(Etf.encode(mapOf(range(14_500, (i) => new Tuple([i]))))),
    120_000
  )

  it.scopedLive(
    "a map of 17 bignum keys of 200 KB: decoded and delivered",
    () => delivered(Etf.encode(mapOf(range(17, (i) => (1n << 1_638_400n) + BigInt(i))))),
    120_000
  )

  it.scopedLive("a map of 4,000 {user, N} keys with a duplicate: refused as Malformed", () =>
    refused(
      (from) =>
        regSend(
          from,
          Etf.encode(
            new TermMap([
              ...range(4000, (i) => [tuple(Atom.make("user"), i), i] as const),
              [tuple(Atom.make("user"), 17), 0]
            ])
          )
        ),
      /closed: Malformed.*duplicate/
    ), 120_000)

  it.scopedLive(
    "nested LIST_EXT tails, 30,000 levels (203 KB): decoded and delivered",
    () => delivered(nestedTails(30_000)),
    120_000
  )

  it.scopedLive(
    "a 7.7 KB compressed frame that inflates to 8 MB of NILs: refused (bad_dist_ext)",
    () => refused((from) => regSend(from, compressedNils(8_000_000)), /closed: Malformed.*bad_dist_ext/),
    120_000
  )

  it.scopedLive(
    "a frame of 8 MB of NILs (~320 MB of heap): refused as TermBytes",
    () => refused((from) => regSend(from, nils(8_000_000)), /closed: TermBytes.*maxTermBytes/),
    120_000
  )

  it.scopedLive(
    "a frame with 100,000 new atoms (the default cap is 61,440 with a 192 MiB heap): refused as AtomLimit",
    () => refused((from) => regSend(from, freshAtoms(100_000)), /closed: AtomLimit.*maxAtoms/),
    120_000
  )
})
