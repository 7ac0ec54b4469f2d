/**
 * Failure handling across nodes:
 * - sending a JS value with no term form to a remote pid or name is a typed
 *   `SendError("NotEncodable")` at `send`, and the connection stays up (real `erl` and TS);
 * - an authenticated peer sending unknown or malformed control messages loses only its
 *   own connection (nodedown here, its socket closed); the node and its other
 *   connections carry on, and new connections still work;
 * - a SEND from a peer addressed to a pid of another node is dropped, never relayed
 *   (as erts does: only local pids receive).
 */
import * as Process from "@effect-otp/process/Process"
import { Atom, format, Pid, type Term, tuple } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Etf from "../src/Etf.js"
import * as Handshake from "../src/Handshake.js"
import * as NetKernel from "../src/NetKernel.js"
import * as Transport from "../src/Transport.js"
import { erlAvailable, uniqueName } from "./helpers/erl.js"
import {
  cluster,
  expectCleanErlLog,
  expectTagged,
  host,
  nodeLayer,
  printed,
  startPeer,
  tsEcho
} from "./helpers/tsnode.js"

const a = Atom.make

/** The failure of an exit, or die. */
const failureOf = <A, E>(exit: Exit.Exit<A, E>): E =>
  Option.getOrThrow(Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none())

/**
 * Against a remote node running `echo`, with `pid` one of its processes and no connection
 * yet: non-terms are refused at `send` (before and after connecting), and the connection
 * stays up for later sends.
 */
const notEncodableThenWorks = (remote: string, pid: Pid) =>
  Process.run(Effect.gen(function*() {
    const self = yield* Process.self
    const echo = tuple(a("echo"), a(remote))
    // not connected yet: refused at send, nothing queued
    const before = failureOf(yield* Effect.exit(Process.send(echo, { not: "a term" })))
    // connect, then an echo round trip
    yield* Process.send(echo, tuple(self, a("first")))
    const [, first] = (yield* expectTagged("echo", 2)).elements
    // values with no term form nested in terms, to the name and to a pid
    const toName = failureOf(yield* Effect.exit(Process.send(echo, tuple(self, new Map() as unknown as Term))))
    const toPid = failureOf(yield* Effect.exit(Process.send(pid, tuple(a("x"), (() => 1) as unknown as Term))))
    const nan = failureOf(yield* Effect.exit(Process.send(echo, tuple(self, Number.NaN))))
    // the connection is still up: a later send works
    yield* Process.send(echo, tuple(self, a("after")))
    const [, after] = (yield* expectTagged("echo", 2)).elements
    return { before, first, toName, toPid, nan, after }
  }))

const expectNotEncodable = (e: unknown) => {
  expect(e).toBeInstanceOf(Process.SendError)
  expect((e as Process.SendError).reason).toBe("NotEncodable")
}

describe.skipIf(!erlAvailable())("Interop with real erl: values with no term form", () => {
  it.scopedLive(
    "send of a non-term to an erl name or pid is SendError(NotEncodable); the connection stays up",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const e = uniqueName("e")
        const erl = yield* startPeer(e, cookie)
        const ctx = yield* Layer.build(nodeLayer(uniqueName("ts"), cookie))
        // an erl pid, to test the pid path too; then start again from no connection
        const erlPid = yield* Process.run(Effect.gen(function*() {
          const self = yield* Process.self
          yield* Process.send(tuple(a("peer"), a(`${e}@${host}`)), tuple(a("give_worker"), self))
          return (yield* expectTagged("worker_pid", 2)).elements[1] as Pid
        })).pipe(Effect.provide(ctx))
        expect(yield* NetKernel.disconnect(`${e}@${host}`).pipe(Effect.provide(ctx))).toBe(true)
        const out = yield* notEncodableThenWorks(`${e}@${host}`, erlPid).pipe(Effect.provide(ctx))
        expectNotEncodable(out.before)
        expectNotEncodable(out.toName)
        expectNotEncodable(out.toPid)
        expectNotEncodable(out.nan)
        expect(out.first).toBe(a("first"))
        expect(out.after).toBe(a("after"))
        expect((yield* NetKernel.nodes("hidden").pipe(Effect.provide(ctx))).map((n) => n.name)).toEqual([
          `${e}@${host}`
        ])
        expectCleanErlLog(erl)
      }),
    30_000
  )
})

describe("Interop TS <-> TS: values with no term form", () => {
  it.scopedLive(
    "send of a non-term to a TS-remote name or pid is SendError(NotEncodable); the connection stays up",
    () =>
      Effect.gen(function*() {
        const node = yield* cluster
        const cookie = uniqueName("c")
        const t2 = uniqueName("ts")
        const ctx1 = yield* node(uniqueName("ts"), cookie)
        const ctx2 = yield* node(t2, cookie)
        const echoPid = yield* tsEcho.pipe(Effect.provide(ctx2))
        const out = yield* notEncodableThenWorks(`${t2}@${host}`, echoPid).pipe(Effect.provide(ctx1))
        expectNotEncodable(out.before)
        expectNotEncodable(out.toName)
        expectNotEncodable(out.toPid)
        expectNotEncodable(out.nan)
        expect(out.first).toBe(a("first"))
        expect(out.after).toBe(a("after"))
      }),
    30_000
  )
})

// ---------------------------------------------------------------------------
// A raw peer: the handshake by hand, then arbitrary frames
// ---------------------------------------------------------------------------

const frame = (payload: Uint8Array): Uint8Array => {
  const out = new Uint8Array(4 + payload.length)
  new DataView(out.buffer).setUint32(0, payload.length)
  out.set(payload, 4)
  return out
}

const concat = (...parts: ReadonlyArray<Uint8Array | ReadonlyArray<number>>): Uint8Array => {
  const all = parts.map((p) => Uint8Array.from(p))
  const out = new Uint8Array(all.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of all) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Pass-through frame: 112, control term, optional message term (each with 131). */
const passThrough = (control: Term, message?: Term) =>
  concat([112], Etf.encode(control), message === undefined ? [] : Etf.encode(message))

/** Connects to `target` (listening on `port`) and completes the handshake as `name`. */
const rawPeer = (port: number, target: string, cookie: string) =>
  Effect.gen(function*() {
    const name = `${uniqueName("raw")}@${host}`
    const carrier = yield* Transport.tcpTransport.connect({ host: "127.0.0.1", port })
    yield* Handshake.initiate(carrier, {
      thisNode: name,
      cookie: Redacted.make(cookie),
      creation: 1 + Math.floor(Math.random() * 0xfffffff0),
      peer: target
    })
    return { name, carrier, send: (payload: Uint8Array) => carrier.write(frame(payload)) }
  })

/** A process on the node that forwards node events (hidden ones, with reasons) to a queue. */
const watchNodes = Effect.gen(function*() {
  const queue = yield* Queue.unbounded<string>()
  const ready = yield* Deferred.make<void>()
  yield* Process.spawn(Effect.gen(function*() {
    yield* NetKernel.monitorNodes(yield* Process.self, { hidden: true, nodedownReason: true })
    yield* Deferred.succeed(ready, void 0)
    while (true) yield* Queue.offer(queue, format((yield* Process.receive()) as Term))
  }))
  yield* Deferred.await(ready)
  return queue
})

const badFrames: ReadonlyArray<readonly [string, () => Uint8Array]> = [
  ["garbage bytes", () => Uint8Array.from([1, 2, 3, 4, 5])],
  ["an unknown distribution header", () => Uint8Array.from([131, 99, 0])],
  ["an unknown control operation", () => passThrough(tuple(99, a("what")))],
  ["a control tuple of the wrong shape", () => passThrough(tuple(2, a(""), a("not_a_pid")), a("m"))],
  ["a control message that is not a tuple", () => passThrough(a("hello"))],
  [
    "a truncated message term",
    () => concat([112], Etf.encode(tuple(6, new Pid(a("x@box"), 1, 0, 1), a(""), a("echo"))), [131, 104, 3, 97])
  ],
  ["an empty pass-through frame", () => Uint8Array.from([112])]
]

describe("Interop: malformed control messages from an authenticated peer", () => {
  for (const [what, bytes] of badFrames) {
    it.scopedLive(
      `${what}: only that connection closes; the node and its other connections carry on`,
      () =>
        Effect.gen(function*() {
          const node = yield* cluster
          const cookie = uniqueName("c")
          const t1 = uniqueName("ts")
          const logs: Array<string> = []
          const ctx1 = yield* node(t1, cookie, {}, logs)
          const ctx2 = yield* node(uniqueName("ts"), cookie)
          yield* tsEcho.pipe(Effect.provide(ctx1))
          const events = yield* watchNodes.pipe(Effect.provide(ctx1))
          // an ordinary connection that must survive
          const peer2 = Option.getOrThrow(
            Option.fromNullable((yield* NetKernel.nodes("this").pipe(Effect.provide(ctx2)))[0])
          ).name
          expect(yield* NetKernel.ping(`${t1}@${host}`).pipe(Effect.provide(ctx2))).toBe("pong")
          expect(yield* Queue.take(events)).toBe(`{nodeup,${printed(peer2)},[{node_type,hidden}]}`)

          const port = (yield* NetKernel.NetKernel.pipe(Effect.provide(ctx1))).port
          const raw = yield* rawPeer(port, `${t1}@${host}`, cookie)
          expect(yield* Queue.take(events)).toBe(`{nodeup,${printed(raw.name)},[{node_type,hidden}]}`)
          yield* raw.send(bytes())
          const down = yield* Queue.take(events).pipe(Effect.timeout("5 seconds"))
          expect(down.startsWith(`{nodedown,${printed(raw.name)},[`)).toBe(true)
          expect(down).toContain("{nodedown_reason,connection_closed}")
          expect(down).toContain("{node_type,hidden}")
          yield* raw.carrier.closed.pipe(Effect.timeout("5 seconds"))
          // logged as OTP does ("invalid data on distribution channel"), with a hex dump
          expect(logs.some((l) => l.startsWith("WARN") && l.includes(`connection to ${raw.name} closed: Malformed`)))
            .toBe(true)

          // the other connection still works, and so does a new one
          const echoed = yield* Process.run(Effect.gen(function*() {
            yield* Process.send(tuple(a("echo"), a(`${t1}@${host}`)), tuple(yield* Process.self, a("still")))
            return (yield* expectTagged("echo", 2)).elements[1]
          })).pipe(Effect.provide(ctx2))
          expect(echoed).toBe(a("still"))
          const ctx3 = yield* node(uniqueName("ts"), cookie)
          expect(yield* NetKernel.ping(`${t1}@${host}`).pipe(Effect.provide(ctx3))).toBe("pong")
          expect((yield* NetKernel.nodes("hidden").pipe(Effect.provide(ctx1))).map((n) => n.name)).not.toContain(
            raw.name
          )
        }),
      30_000
    )
  }

  it.scopedLive("a SEND to a pid of another node is dropped, not relayed", () =>
    Effect.gen(function*() {
      const node = yield* cluster
      const cookie = uniqueName("c")
      const t1 = uniqueName("ts")
      const t3 = uniqueName("ts")
      const ctx1 = yield* node(t1, cookie)
      const ctx3 = yield* node(t3, cookie)
      // a process on t3 that reports its first message
      const first = yield* Deferred.make<unknown>()
      const sink = yield* Process.spawn(Effect.flatMap(Process.receive(), (m) => Deferred.succeed(first, m))).pipe(
        Effect.provide(ctx3)
      )
      // on t1, `fwd` sends `marker` to the sink when told
      yield* Process.spawn(
        Effect.forever(Effect.flatMap(Process.receive(), () => Effect.ignore(Process.send(sink, a("marker"))))),
        { name: "fwd" }
      ).pipe(Effect.provide(ctx1))
      expect(yield* NetKernel.ping(`${t3}@${host}`).pipe(Effect.provide(ctx1))).toBe("pong")
      const port = (yield* NetKernel.NetKernel.pipe(Effect.provide(ctx1))).port
      const raw = yield* rawPeer(port, `${t1}@${host}`, cookie)
      // SEND {2, '', SinkPid} + relayed: if t1 relayed it, the sink would see it before the marker
      yield* raw.send(passThrough(tuple(2, a(""), sink), a("relayed")))
      yield* raw.send(passThrough(tuple(6, new Pid(a(raw.name), 1, 0, 1), a(""), a("fwd")), a("go")))
      expect(yield* Deferred.await(first).pipe(Effect.timeout("5 seconds"))).toBe(a("marker"))
      // the raw connection is still up: the misaddressed SEND was dropped, not an error
      expect((yield* NetKernel.nodes("hidden").pipe(Effect.provide(ctx1))).map((n) => n.name)).toContain(raw.name)
    }), 30_000)
})
