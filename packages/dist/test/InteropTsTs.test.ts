/**
 * TS <-> TS: two (or three) TS nodes in one OS process, each a DistNode over its own
 * ProcessRuntime, sharing an embedded epmd on a free port. Ping, nodes(), the echo,
 * remote pid passing, nodeup/nodedown, and a wrong cookie. No `erl` needed.
 */
import * as Process from "@effect-otp/process/Process"
import { Atom, format, isTagged, Pid, type Term, Tuple, tuple } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Handshake from "../src/Handshake.js"
import * as NetKernel from "../src/NetKernel.js"
import { uniqueName } from "./helpers/erl.js"
import { cluster, escapeRegExp, expectTagged, host, printedNode } from "./helpers/tsnode.js"

const a = Atom.make

/** `echo`: `{From, Msg}` -> `From ! {echo, Msg}`; `{send_to, Pid, Msg}` -> `Pid ! Msg`. */
const relay = Process.spawn(
  Effect.forever(Effect.flatMap(Process.receive(), (m) => {
    if (isTagged(m, "send_to", 3)) return Effect.ignore(Process.send(m.elements[1] as Pid, m.elements[2]!))
    if (m instanceof Tuple && m.elements.length === 2) {
      return Effect.ignore(Process.send(m.elements[0] as Pid, tuple(a("echo"), m.elements[1]!)))
    }
    return Effect.void
  })),
  { name: "echo" }
)

describe("Interop TS <-> TS in one process", () => {
  it.scopedLive("ping both ways, nodes() on both sides (hidden, as the test helper makes them), echo", () =>
    Effect.gen(function*() {
      const node = yield* cluster
      const cookie = uniqueName("c")
      const t1 = uniqueName("ts")
      const t2 = uniqueName("ts")
      const ctx1 = yield* node(t1, cookie)
      const ctx2 = yield* node(t2, cookie)
      yield* relay.pipe(Effect.provide(ctx2))
      expect(yield* NetKernel.ping(`${t2}@${host}`).pipe(Effect.provide(ctx1))).toBe("pong")
      expect(yield* NetKernel.ping(`${t1}@${host}`).pipe(Effect.provide(ctx2))).toBe("pong")
      const names = (ctx: typeof ctx1, kind: NetKernel.NodeKind) =>
        NetKernel.nodes(kind).pipe(Effect.map((ns) => ns.map((n) => n.name)), Effect.provide(ctx))
      expect(yield* names(ctx1, "hidden")).toEqual([`${t2}@${host}`])
      expect(yield* names(ctx2, "hidden")).toEqual([`${t1}@${host}`])
      expect(yield* names(ctx1, "visible")).toEqual([])
      expect(yield* names(ctx1, "this")).toEqual([`${t1}@${host}`])
      const reply = yield* Process.run(Effect.gen(function*() {
        const self = yield* Process.self
        yield* Process.send(tuple(a("echo"), a(`${t2}@${host}`)), tuple(self, tuple(a("hi"), 1.5, [1, 2], self)))
        return yield* expectTagged("echo", 2)
      })).pipe(Effect.provide(ctx1))
      const [, payload] = reply.elements
      expect(isTagged(payload, "hi", 4)).toBe(true)
      expect(format((payload as Tuple).elements[1]!)).toBe("1.5")
      expect((payload as Tuple).elements[3]).toBeInstanceOf(Pid)
      expect(((payload as Tuple).elements[3] as Pid).node.name).toBe(`${t1}@${host}`)
    }), 30_000)

  it.scopedLive("visible nodes list each other in nodes() and see nodeup/nodedown", () =>
    Effect.gen(function*() {
      const node = yield* cluster
      const cookie = uniqueName("c")
      const t1 = uniqueName("ts")
      const t2 = uniqueName("ts")
      const ctx1 = yield* node(t1, cookie, { hidden: false })
      const ctx2 = yield* node(t2, cookie, { hidden: false })
      const events = yield* Deferred.make<ReadonlyArray<string>>()
      // a process on t2 that watches node events with reasons
      yield* Process.spawn(Effect.gen(function*() {
        const self = yield* Process.self
        yield* NetKernel.monitorNodes(self, { nodedownReason: true })
        const seen: Array<string> = []
        while (seen.length < 2) seen.push(format((yield* Process.receive()) as Term))
        yield* Deferred.succeed(events, seen)
      })).pipe(Effect.provide(ctx2))
      expect(yield* NetKernel.ping(`${t2}@${host}`).pipe(Effect.provide(ctx1))).toBe("pong")
      expect((yield* NetKernel.nodes().pipe(Effect.provide(ctx1))).map((n) => n.name)).toEqual([`${t2}@${host}`])
      expect((yield* NetKernel.nodes().pipe(Effect.provide(ctx2))).map((n) => n.name)).toEqual([`${t1}@${host}`])
      expect(yield* NetKernel.disconnect(`${t2}@${host}`).pipe(Effect.provide(ctx1))).toBe(true)
      const seen = yield* Deferred.await(events).pipe(Effect.timeout("5 seconds"))
      expect(seen[0]).toBe(`{nodeup,${printedNode(t1)},[]}`)
      expect(seen[1]).toMatch(
        new RegExp(`^\\{nodedown,${escapeRegExp(printedNode(t1))},\\[\\{nodedown_reason,\\w+\\}\\]\\}$`)
      )
    }), 30_000)

  it.scopedLive("remote pids pass between TS nodes, including a pid of a third TS node", () =>
    Effect.gen(function*() {
      const node = yield* cluster
      const cookie = uniqueName("c")
      const [t1, t2, t3] = [uniqueName("ts"), uniqueName("ts"), uniqueName("ts")]
      const ctx1 = yield* node(t1, cookie)
      const ctx2 = yield* node(t2, cookie)
      const ctx3 = yield* node(t3, cookie)
      yield* relay.pipe(Effect.provide(ctx2))
      const inbox3 = yield* Deferred.make<unknown>()
      const onT3 = yield* Process.spawn(Effect.flatMap(Process.receive(), (m) => Deferred.succeed(inbox3, m))).pipe(
        Effect.provide(ctx3)
      )
      const back = yield* Process.run(Effect.gen(function*() {
        const self = yield* Process.self
        // t2 gets our pid inside a message and sends to it directly
        yield* Process.send(tuple(a("echo"), a(`${t2}@${host}`)), tuple(a("send_to"), self, tuple(a("back"), self)))
        const msg = yield* expectTagged("back", 2)
        // t2 gets a pid of t3 and sends to it (connecting to t3 on demand)
        yield* Process.send(tuple(a("echo"), a(`${t2}@${host}`)), tuple(a("send_to"), onT3, a("from_t2")))
        return msg
      })).pipe(Effect.provide(ctx1))
      expect((back.elements[1] as Pid).node.name).toBe(`${t1}@${host}`)
      expect(yield* Deferred.await(inbox3).pipe(Effect.timeout("5 seconds"))).toBe(a("from_t2"))
      expect((yield* NetKernel.nodes("hidden").pipe(Effect.provide(ctx2))).map((n) => n.name).sort()).toEqual(
        [`${t1}@${host}`, `${t3}@${host}`].sort()
      )
      expect((yield* NetKernel.nodes("hidden").pipe(Effect.provide(ctx1))).map((n) => n.name)).toEqual([
        `${t2}@${host}`
      ])
    }), 30_000)

  it.scopedLive(
    "a wrong cookie: pang, ConnectError with AuthenticationFailed, the acceptor logs it, no connection",
    () =>
      Effect.gen(function*() {
        const node = yield* cluster
        const [t1, t2] = [uniqueName("ts"), uniqueName("ts")]
        const logs2: Array<string> = []
        const ctx1 = yield* node(t1, uniqueName("c1"))
        const ctx2 = yield* node(t2, uniqueName("c2"), {}, logs2)
        expect(yield* NetKernel.ping(`${t2}@${host}`).pipe(Effect.provide(ctx1))).toBe("pang")
        const exit = yield* Effect.exit(NetKernel.connect(`${t2}@${host}`).pipe(Effect.provide(ctx1)))
        const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
        const ce = Option.getOrThrow(error)
        expect(ce.reason).toBe("Handshake")
        expect((ce.cause as Handshake.HandshakeError).reason).toBe("AuthenticationFailed")
        expect(logs2.some((l) => l.includes("recvChallengeReply") && l.includes("AuthenticationFailed"))).toBe(true)
        expect(yield* NetKernel.nodes("connected").pipe(Effect.provide(ctx1))).toEqual([])
        expect(yield* NetKernel.nodes("connected").pipe(Effect.provide(ctx2))).toEqual([])
        // and the other way round
        expect(yield* NetKernel.ping(`${t1}@${host}`).pipe(Effect.provide(ctx2))).toBe("pang")
      }),
    30_000
  )
})
