import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import { spawn, spawnSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as net from "node:net"
import * as Epmd from "../src/Epmd.js"
import * as packets from "../src/internal/epmd/packets.js"

// ---------------------------------------------------------------------------
// Local helpers: erl detection, OS processes, free ports
// ---------------------------------------------------------------------------

const hasErl = spawnSync("erl", ["-version"], { stdio: "ignore" }).status === 0
const hasEpmd = spawnSync("epmd", ["-help"], { stdio: "ignore" }).error === undefined
if (!hasErl || !hasEpmd) {
  if (process.env.CI) throw new Error("erl/epmd are required in CI")
  console.warn("\n*** erl or epmd not found: SKIPPING the Epmd interop tests ***\n")
}

const unique = (prefix: string) => `${prefix}_${crypto.randomBytes(4).toString("hex")}`

/** Start an OS process; it is killed (by pid) when the scope closes. */
const startProcess = (cmd: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: "ignore" })
      const exited = new Promise<void>((resolve) => {
        child.once("exit", () => resolve())
        child.once("error", () => resolve())
      })
      return { child, exited }
    }),
    ({ child, exited }) =>
      Effect.promise(() => {
        if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
          try {
            process.kill(child.pid, "SIGKILL")
          } catch {
            // already gone
          }
        }
        return exited
      })
  )

/** Run a command to completion (with a time limit) and return its output. */
const run = (cmd: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.promise(() =>
    new Promise<string>((resolve) => {
      const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
      let out = ""
      child.stdout.on("data", (d: Buffer) => (out += d.toString()))
      child.stderr.on("data", (d: Buffer) => (out += d.toString()))
      const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, "SIGKILL"), 30_000)
      child.once("exit", () => {
        clearTimeout(timer)
        resolve(out)
      })
    })
  )

const freePort = Effect.promise(() =>
  new Promise<number>((resolve, reject) => {
    const s = net.createServer()
    s.once("error", reject)
    s.listen({ port: 0, host: "127.0.0.1" }, () => {
      const address = s.address() as net.AddressInfo
      s.close(() => resolve(address.port))
    })
  })
)

/** Retry `check` until it holds (the OS and epmd notice closed sockets asynchronously). */
const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, check: (a: A) => boolean) =>
  effect.pipe(
    Effect.filterOrFail(check, () => "not yet" as const),
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.intersect(Schedule.recurs(100))))
  )

const entry = (over: Partial<packets.NodeEntry> = {}): packets.NodeEntry => ({
  name: "alice",
  port: 4370,
  nodeType: packets.NODE_TYPE_NORMAL,
  protocol: 0,
  highestVersion: 6,
  lowestVersion: 6,
  extra: new Uint8Array(0),
  ...over
})

// ---------------------------------------------------------------------------
// Packets
// ---------------------------------------------------------------------------

describe("Epmd packets", () => {
  it("ALIVE2_REQ has the documented layout", () => {
    const bytes = packets.encodeAlive2Req(entry({ name: "ab", port: 0x1234 }))
    expect(Array.from(bytes)).toEqual([
      0,
      15, // length
      120,
      0x12,
      0x34,
      77,
      0,
      0,
      6,
      0,
      6,
      0,
      2,
      97,
      98,
      0,
      0
    ])
  })

  it("PORT_PLEASE2_REQ and NAMES_REQ have the documented layout", () => {
    expect(Array.from(packets.encodePortPlease2Req("ab"))).toEqual([0, 3, 122, 97, 98])
    expect(Array.from(packets.encodeNamesReq())).toEqual([0, 1, 110])
  })

  it("decodes ALIVE2_X_RESP (u32 creation) and ALIVE2_RESP (u16 creation)", () => {
    const x = packets.decodeAlive2Reply(Uint8Array.of(118, 0, 0xde, 0xad, 0xbe, 0xef, 9))
    expect(x).toMatchObject({ _tag: "Done", value: { tag: 118, result: 0, creation: 0xdeadbeef } })
    if (x._tag === "Done") expect(Array.from(x.rest)).toEqual([9])
    expect(packets.decodeAlive2Reply(Uint8Array.of(121, 1, 0, 3))).toMatchObject({
      _tag: "Done",
      value: { tag: 121, result: 1, creation: 3 }
    })
    expect(packets.decodeAlive2Reply(Uint8Array.of(42))._tag).toBe("Malformed")
  })

  it("every proper prefix of a reply needs more bytes", () => {
    const replies: Array<[Uint8Array, (b: Uint8Array) => packets.Decoded<unknown>]> = [
      [packets.encodeAlive2XResp(0, 77), packets.decodeAlive2Reply],
      [packets.encodeAlive2Resp(0, 2), packets.decodeAlive2Reply],
      [packets.encodePort2Resp(entry({ extra: Uint8Array.of(1, 2, 3) })), packets.decodePort2Reply],
      [packets.encodeAlive2Req(entry()), packets.decodeRequest]
    ]
    for (const [bytes, decode] of replies) {
      for (let i = 0; i < bytes.length; i++) expect(decode(bytes.subarray(0, i))._tag).toBe("NeedMore")
      expect(decode(bytes)._tag).toBe("Done")
    }
  })

  it("PORT2_RESP with a non-zero result is NotFound after two bytes", () => {
    expect(packets.decodePort2Reply(Uint8Array.of(119, 1))).toMatchObject({
      _tag: "Done",
      value: { _tag: "NotFound", result: 1 }
    })
  })

  it("rejects a zero or oversized name length before allocating", () => {
    const zero = Uint8Array.of(119, 0, 0, 1, 77, 0, 0, 6, 0, 6, 0, 0)
    expect(packets.decodePort2Reply(zero)).toMatchObject({ _tag: "Malformed", offset: 10 })
    const huge = Uint8Array.of(119, 0, 0, 1, 77, 0, 0, 6, 0, 6, 0xff, 0xff)
    expect(packets.decodePort2Reply(huge)).toMatchObject({ _tag: "Malformed", offset: 10 })
  })

  it("a request whose body is shorter than its fields is malformed", () => {
    const body = packets.encodeAlive2Req(entry()).subarray(2)
    const short = new Uint8Array(2 + body.length - 1)
    new DataView(short.buffer).setUint16(0, body.length - 1)
    short.set(body.subarray(0, body.length - 1), 2)
    expect(packets.decodeRequest(short)._tag).toBe("Malformed")
  })

  it("decodes the NAMES reply only once the stream ended", () => {
    const bytes = packets.encodeNamesResp(4369, [{ name: "a", port: 1 }, { name: "b_c", port: 65535 }])
    expect(packets.decodeNamesReply(bytes, false)._tag).toBe("NeedMore")
    expect(packets.decodeNamesReply(bytes, true)).toMatchObject({
      _tag: "Done",
      value: { epmdPort: 4369, names: [{ name: "a", port: 1 }, { name: "b_c", port: 65535 }] }
    })
    expect(packets.decodeNamesReply(Uint8Array.of(0, 0), true)._tag).toBe("Malformed")
  })

  it.prop(
    "ALIVE2_REQ round-trips through decodeRequest, whatever the split",
    [
      FastCheck.record({
        name: FastCheck.stringMatching(/^[A-Za-z0-9_-]{1,40}$/),
        port: FastCheck.integer({ min: 0, max: 65535 }),
        nodeType: FastCheck.constantFrom(77, 72),
        highestVersion: FastCheck.integer({ min: 0, max: 65535 }),
        lowestVersion: FastCheck.integer({ min: 0, max: 65535 }),
        extra: FastCheck.uint8Array({ maxLength: 20 })
      }),
      FastCheck.nat()
    ],
    ([e, cut]) => {
      const value = entry(e)
      const bytes = packets.encodeAlive2Req(value)
      const at = cut % (bytes.length + 1)
      const first = packets.decodeRequest(bytes.subarray(0, at))
      if (at < bytes.length) expect(first._tag).toBe("NeedMore")
      const r = packets.decodeRequest(packets.concat(bytes, Uint8Array.of(1, 2)))
      expect(r).toMatchObject({ _tag: "Done", value: { _tag: "Alive2", entry: value } })
      if (r._tag === "Done") expect(Array.from(r.rest)).toEqual([1, 2])
    }
  )
})

// ---------------------------------------------------------------------------
// Client against the embedded server
// ---------------------------------------------------------------------------

describe("Epmd embedded server", () => {
  it.scopedLive("register, resolve, list, refuse a duplicate, and drop the name with the scope", () =>
    Effect.gen(function*() {
      const server = yield* Epmd.serve({ port: 0, host: "127.0.0.1" })
      const epmdPort = server.port
      const name = unique("ts")
      const scope = yield* Scope.make()
      const reg = yield* Epmd.register({ name, port: 40001, epmdPort }).pipe(Scope.extend(scope))
      expect(reg.creation).toBeGreaterThanOrEqual(4)

      const info = yield* Epmd.portPlease("127.0.0.1", name, epmdPort)
      expect(info).toMatchObject({
        name,
        port: 40001,
        nodeType: 77,
        hidden: false,
        highestVersion: 6,
        lowestVersion: 6
      })
      expect(yield* Epmd.portPlease("127.0.0.1", `${name}@somewhere`, { epmdPort })).toMatchObject({ port: 40001 })

      expect(yield* Epmd.names("127.0.0.1", epmdPort)).toContainEqual({ name, port: 40001 })

      const dup = yield* Effect.flip(Epmd.register({ name, port: 40002, epmdPort }))
      expect(dup.reason).toBe("NameInUse")
      expect(dup.message).toContain(name)

      yield* Scope.close(scope, Exit.void)
      yield* eventually(server.registered, (list) => !list.some((n) => n.name === name))
      const missing = yield* Effect.flip(Epmd.portPlease("127.0.0.1", name, epmdPort))
      expect(missing.reason).toBe("NotFound")

      // the name is free again, and gets a new creation
      const again = yield* Epmd.register({ name, port: 40003, epmdPort })
      expect(again.creation).not.toBe(reg.creation)
    }))

  it.scopedLive("registers hidden nodes with node type 72", () =>
    Effect.gen(function*() {
      const server = yield* Epmd.serve({ port: 0, host: "127.0.0.1" })
      const name = unique("h")
      yield* Epmd.register({ name, port: 40010, hidden: true, epmdPort: server.port })
      const info = yield* Epmd.portPlease("127.0.0.1", name, server.port)
      expect([info.nodeType, info.hidden]).toEqual([72, true])
    }))

  it.scopedLive("answers an old (version 5) node with ALIVE2_RESP and a small creation", () =>
    Effect.gen(function*() {
      const server = yield* Epmd.serve({ port: 0, host: "127.0.0.1" })
      const reply = yield* Effect.promise(() =>
        new Promise<Uint8Array>((resolve) => {
          const s = net.createConnection({ host: "127.0.0.1", port: server.port }, () => {
            s.write(packets.encodeAlive2Req(entry({ name: unique("old"), highestVersion: 5, lowestVersion: 5 })))
          })
          s.once("data", (d) => {
            resolve(new Uint8Array(d))
            s.destroy()
          })
        })
      )
      expect(reply[0]).toBe(121)
      expect(reply[1]).toBe(0)
      expect([1, 2, 3]).toContain((reply[2]! << 8) | reply[3]!)
    }))

  it.scopedLive("the registering socket's close is noticed; the registration's closed completes when epmd goes", () =>
    Effect.gen(function*() {
      const serverScope = yield* Scope.make()
      const server = yield* Epmd.serve({ port: 0, host: "127.0.0.1" }).pipe(Scope.extend(serverScope))
      const reg = yield* Epmd.register({ name: unique("c"), port: 40020, epmdPort: server.port })
      yield* Scope.close(serverScope, Exit.void)
      yield* reg.closed
    }))

  it.scopedLive("a second server on the same port fails with ListenFailed EADDRINUSE", () =>
    Effect.gen(function*() {
      const server = yield* Epmd.serve({ port: 0, host: "127.0.0.1" })
      const error = yield* Effect.flip(Epmd.serve({ port: server.port, host: "127.0.0.1" }))
      expect([error.reason, error.detail]).toEqual(["ListenFailed", "EADDRINUSE"])
    }))

  it.scopedLive("typed errors: Unreachable when nothing listens, Timeout when nothing answers", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const unreachable = yield* Effect.flip(Epmd.names("127.0.0.1", port))
      expect(unreachable.reason).toBe("Unreachable")
      expect(unreachable.message).toContain(String(port))

      const silent = yield* Effect.acquireRelease(
        Effect.promise(() =>
          new Promise<net.Server>((resolve) => {
            const sockets: Array<net.Socket> = []
            const s = net.createServer((c) => sockets.push(c))
            s.on("close", () => sockets.forEach((c) => c.destroy()))
            s.listen({ port: 0, host: "127.0.0.1" }, () => resolve(s))
          })
        ),
        (s) => Effect.sync(() => s.close())
      )
      const silentPort = (silent.address() as net.AddressInfo).port
      const timeout = yield* Effect.flip(
        Epmd.portPlease("127.0.0.1", "x", { epmdPort: silentPort, timeout: "200 millis" })
      )
      expect(timeout.reason).toBe("Timeout")
      const regTimeout = yield* Effect.flip(
        Epmd.register({ name: "x", port: 1, epmdPort: silentPort, timeout: "200 millis" })
      )
      expect(regTimeout.reason).toBe("Timeout")
    }))

  it.scopedLive("layerServer provides a client pointed at the embedded server", () =>
    Effect.gen(function*() {
      const { epmd, server } = yield* Effect.all({ epmd: Epmd.Epmd, server: Epmd.EpmdServer }).pipe(
        Effect.provide(Layer.fresh(Epmd.layerServer({ port: 0, host: "127.0.0.1" })))
      )
      // the layer's scope is gone here: the server has stopped
      const error = yield* Effect.flip(epmd.names())
      expect(error.reason).toBe("Unreachable")
      expect(server.port).toBeGreaterThan(0)
    }))

  it.scopedLive("layerAuto starts an embedded epmd on a free port, and concurrent starts share one", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const build = Layer.build(Layer.fresh(Epmd.layerAuto({ port })))
      const [a, b] = yield* Effect.all([build, build], { concurrency: 2 })
      const ea = a.unsafeMap.get(Epmd.Epmd.key) as Epmd.EpmdService
      const eb = b.unsafeMap.get(Epmd.Epmd.key) as Epmd.EpmdService
      const n1 = unique("a")
      const n2 = unique("b")
      yield* ea.register({ name: n1, port: 40031 })
      yield* eb.register({ name: n2, port: 40032 })
      const list = yield* ea.names()
      expect(list).toContainEqual({ name: n1, port: 40031 })
      expect(list).toContainEqual({ name: n2, port: 40032 })
      expect(yield* Epmd.probe(port)).toBe(true)
    }))
})

// ---------------------------------------------------------------------------
// Interop with real erl and epmd
// ---------------------------------------------------------------------------

describe("Epmd interop", () => {
  it.scopedLive.skipIf(!hasErl)(
    "a real erl registers with the embedded epmd and resolves our node through it",
    () =>
      Effect.gen(function*() {
        const server = yield* Epmd.serve({ port: 0 })
        const env = { ERL_EPMD_PORT: String(server.port) }
        const erlName = unique("t")
        yield* startProcess(
          "erl",
          ["-sname", erlName, "-setcookie", unique("c"), "-noshell", "-start_epmd", "false"],
          env
        )
        const listed = yield* eventually(
          Epmd.names("127.0.0.1", server.port),
          (list) => list.some((n) => n.name === erlName)
        )
        const erlPort = listed.find((n) => n.name === erlName)!.port
        expect(erlPort).toBeGreaterThan(0)
        // the real erl registered as a version 6, normal node
        expect(yield* Epmd.portPlease("127.0.0.1", erlName, server.port)).toMatchObject({
          port: erlPort,
          nodeType: 77,
          highestVersion: 6
        })

        // the real epmd binary, as a client of our server
        const epmdNames = yield* run("epmd", ["-port", String(server.port), "-names"])
        expect(epmdNames).toContain(`name ${erlName} at port ${erlPort}`)

        // erl resolves a name we registered
        const ours = unique("ts")
        yield* Epmd.register({ name: ours, port: 45678, epmdPort: server.port })
        const out = yield* run("erl", [
          "-noshell",
          "-start_epmd",
          "false",
          "-eval",
          `io:format("~p~n", [erl_epmd:port_please("${ours}", "127.0.0.1")]), io:format("~p~n", [erl_epmd:port_please("nobody_${ours}", "127.0.0.1")]), halt().`
        ], env)
        expect(out).toContain("{port,45678,6}")
        expect(out).toContain("noport")
      })
  )

  it.scopedLive.skipIf(!hasErl || !hasEpmd)(
    "registers with the system epmd, visible in epmd -names until the scope closes",
    () =>
      Effect.gen(function*() {
        yield* run("epmd", ["-daemon"])
        yield* eventually(Epmd.probe(Epmd.DEFAULT_PORT), (up) => up)
        const name = unique("ts")
        const scope = yield* Scope.make()
        const reg = yield* Epmd.register({ name, port: 45679, epmdPort: Epmd.DEFAULT_PORT }).pipe(Scope.extend(scope))
        expect(reg.creation).not.toBe(0)
        expect(yield* run("epmd", ["-names"])).toContain(`name ${name} at port 45679`)
        expect(yield* Epmd.portPlease("127.0.0.1", name, Epmd.DEFAULT_PORT)).toMatchObject({ port: 45679 })
        const dup = yield* Effect.flip(Epmd.register({ name, port: 45680, epmdPort: Epmd.DEFAULT_PORT }))
        expect(dup.reason).toBe("NameInUse")
        yield* Scope.close(scope, Exit.void)
        yield* eventually(run("epmd", ["-names"]), (out) => !out.includes(`name ${name} `))
        expect((yield* Effect.flip(Epmd.portPlease("127.0.0.1", name, Epmd.DEFAULT_PORT))).reason).toBe("NotFound")
      })
  )
})
