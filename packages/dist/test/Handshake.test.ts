import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as crypto from "node:crypto"
import * as Flags from "../src/Flags.js"
import * as Handshake from "../src/Handshake.js"
import { digest } from "../src/internal/handshake/digest.js"
import * as M from "../src/internal/handshake/messages.js"
import * as Transport from "../src/Transport.js"

const cookie = (s: string) => Redacted.make(s)

interface PairOptions {
  readonly a?: Partial<Handshake.InitiateOptions>
  readonly b?: Partial<Handshake.AcceptOptions>
  readonly framing?: 2 | 4
}

/** Runs both roles over an in-memory pair: a@h1 dials b@h1. */
const handshakePair = (o: PairOptions = {}) =>
  Effect.gen(function*() {
    const [ca, cb] = yield* Transport.memoryPair(o.framing !== undefined ? { framing: o.framing } : undefined)
    const [a, b] = yield* Effect.all([
      Effect.either(Handshake.initiate(ca, {
        thisNode: "a@h1",
        cookie: cookie("secret"),
        creation: 11,
        peer: "b@h1",
        ...o.a
      })),
      Effect.either(Handshake.accept(cb, {
        thisNode: "b@h1",
        cookie: cookie("secret"),
        creation: 22,
        ...o.b
      }))
    ], { concurrency: 2 })
    return { a, b, ca, cb }
  })

const left = <A, E>(e: Either.Either<A, E>): E => {
  if (Either.isRight(e)) throw new Error("expected a failure")
  return e.left
}
const right = <A, E>(e: Either.Either<A, E>): A => {
  if (Either.isLeft(e)) throw new Error(`expected success, got ${String(e.left)}`)
  return e.right
}

describe("Handshake", () => {
  describe("messages", () => {
    it("send_name round trip and byte layout", () => {
      const bytes = M.encodeSendName({ flags: Flags.RECOMMENDED, creation: 0x01020304, name: "a@h1" })
      expect(Array.from(bytes.subarray(0, 15))).toEqual([
        78,
        0,
        0,
        0,
        0x0d,
        0x07,
        0x4f,
        0x5f,
        0xbc,
        1,
        2,
        3,
        4,
        0,
        4
      ])
      expect(M.decodeSendName(bytes)).toEqual({
        _tag: "SendName",
        flags: Flags.RECOMMENDED,
        creation: 0x01020304,
        name: "a@h1"
      })
      // trailing bytes are ignored
      expect(M.decodeSendName(new Uint8Array([...bytes, 9, 9]))).toMatchObject({ name: "a@h1" })
    })

    it("challenge, reply, ack and status round trip", () => {
      const ch = { flags: 0xd074f5fbdn, challenge: 0xdeadbeef, creation: 7, name: "b@h1" }
      expect(M.decodeChallenge(M.encodeChallenge(ch))).toEqual({ _tag: "Challenge", ...ch })
      const d = new Uint8Array(16).map((_, i) => i)
      expect(M.decodeChallengeReply(M.encodeChallengeReply({ challenge: 5, digest: d }))).toEqual({
        _tag: "ChallengeReply",
        challenge: 5,
        digest: d
      })
      expect(M.decodeChallengeAck(M.encodeChallengeAck(d))).toEqual({ _tag: "ChallengeAck", digest: d })
      expect(M.decodeStatus(M.encodeStatus("ok_simultaneous"))).toEqual({ _tag: "Status", status: "ok_simultaneous" })
    })

    it("decoders report truncation and bad lengths with an offset", () => {
      const name = M.encodeSendName({ flags: 1n, creation: 1, name: "a@h1" })
      expect(M.decodeSendName(name.subarray(0, 10))).toMatchObject({ _tag: "MessageError", offset: 10 })
      expect(M.decodeSendName(name.subarray(0, 17))).toMatchObject({ _tag: "MessageError", offset: 13 })
      expect(M.decodeSendName(new Uint8Array([110, 0, 5]))).toMatchObject({ _tag: "MessageError", offset: 0 })
      expect(M.decodeSendName(new Uint8Array(0))).toBeInstanceOf(M.MessageError)
      const ch = M.encodeChallenge({ flags: 1n, challenge: 1, creation: 1, name: "b@h1" })
      expect(M.decodeChallenge(ch.subarray(0, 20))).toMatchObject({ _tag: "MessageError", offset: 17 })
      expect(M.decodeChallengeReply(new Uint8Array(20).fill(114))).toBeInstanceOf(M.MessageError)
      expect(M.decodeChallengeAck(new Uint8Array(18).fill(97))).toBeInstanceOf(M.MessageError)
      expect(M.decodeStatus(new Uint8Array([115, 0]))).toBeInstanceOf(M.MessageError)
    })

    it("digest is MD5(cookie ++ decimal challenge)", () => {
      // erlang:md5("secret3735928559")
      const hex = Buffer.from(digest(cookie("secret"), 0xdeadbeef)).toString("hex")
      expect(hex).toBe(crypto.createHash("md5").update("secret3735928559").digest("hex"))
    })
  })

  it("simultaneous connect: the greater name keeps its own attempt", () => {
    expect(Handshake.simultaneousDecision("b@h1", "a@h1")).toBe("nok")
    expect(Handshake.simultaneousDecision("a@h1", "b@h1")).toBe("ok_simultaneous")
    expect(Handshake.simultaneousDecision("a@h1", "a@h12")).toBe("ok_simultaneous")
    expect(Handshake.simultaneousDecision("Z@h1", "a@h1")).toBe("ok_simultaneous")
  })

  describe("runner, both roles in memory", () => {
    it.scoped("completes and negotiates flags", () =>
      Effect.gen(function*() {
        const { a, b } = yield* handshakePair({ b: { hidden: false } })
        const ra = right(a)
        const rb = right(b)
        expect(ra.peerName).toBe("b@h1")
        expect(ra.peer.name).toBe("b@h1")
        expect(ra.peerCreation).toBe(22)
        expect(ra.peerFlags).toBe(Flags.RECOMMENDED_PUBLISHED)
        expect(ra.flags).toBe(Flags.RECOMMENDED)
        expect(ra.hidden).toBe(false)
        expect(rb.peerName).toBe("a@h1")
        expect(rb.peerCreation).toBe(11)
        expect(rb.hidden).toBe(true)
        expect(rb.flags).toBe(Flags.RECOMMENDED)
        expect(ra.role).toBe("initiator")
        expect(rb.role).toBe("acceptor")
        expect(ra.tail.length).toBe(0)
      }))

    it.scoped("works with 4-byte handshake framing (TLS style)", () =>
      Effect.gen(function*() {
        const { a, b } = yield* handshakePair({ framing: 4 })
        expect(right(a).peerName).toBe("b@h1")
        expect(right(b).peerName).toBe("a@h1")
      }))

    it.scoped("acceptor fails in recvChallengeReply when the cookies differ", () =>
      Effect.gen(function*() {
        const { a, b, cb } = yield* handshakePair({ a: { cookie: cookie("wrongsecret") } })
        const eb = left(b)
        expect([eb.step, eb.reason]).toEqual(["recvChallengeReply", "AuthenticationFailed"])
        expect(eb.message).not.toContain("secret")
        expect(JSON.stringify(eb)).not.toContain("secret")
        const ea = left(a)
        // the acceptor closes without an answer: the initiator reports it as a bad cookie too
        expect([ea.step, ea.reason]).toEqual(["recvChallengeAck", "AuthenticationFailed"])
        expect(ea.message).not.toContain("secret")
        expect(cb.isClosed()).toBe(true)
      }))

    it.scoped("logs every step at trace/debug level and never logs the cookie", () =>
      Effect.gen(function*() {
        const logs: Array<string> = []
        const logger = Logger.make(({ annotations, message }) => {
          logs.push(`${String(message)} ${JSON.stringify(HashMap.toEntries(annotations))}`)
        })
        yield* handshakePair({ a: { cookie: cookie("supersecret1") }, b: { cookie: cookie("supersecret2") } }).pipe(
          Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
          Logger.withMinimumLogLevel(LogLevel.All)
        )
        expect(logs.some((l) => l.includes("recvName") && l.includes("acceptor"))).toBe(true)
        expect(logs.some((l) => l.includes("AuthenticationFailed"))).toBe(true)
        expect(logs.join("\n")).not.toContain("supersecret")
      }))

    it.scoped("the acceptor names missing flags and answers not_allowed", () =>
      Effect.gen(function*() {
        const flags = Flags.RECOMMENDED & ~(Flags.DFLAG_HANDSHAKE_23 | Flags.DFLAG_MAP_TAG)
        const { a, b } = yield* handshakePair({ a: { flags } })
        const eb = left(b)
        expect([eb.step, eb.reason]).toEqual(["recvName", "MissingFlags"])
        expect(eb.detail).toContain("MAP_TAG")
        expect(eb.detail).toContain("HANDSHAKE_23")
        expect(eb.peer).toBe("a@h1")
        const ea = left(a)
        expect([ea.step, ea.reason]).toEqual(["recvStatus", "NotAllowed"])
      }))

    it.scoped("the initiator names flags missing from the challenge", () =>
      Effect.gen(function*() {
        const { a } = yield* handshakePair({
          a: { requiredFlags: Flags.MANDATORY_26 },
          b: { flags: Flags.MANDATORY_25 }
        })
        const ea = left(a)
        expect([ea.step, ea.reason]).toEqual(["recvChallenge", "MissingFlags"])
        expect(ea.detail).toContain("V4_NC")
        expect(ea.detail).toContain("UNLINK_ID")
      }))

    it.scoped("the initiator refuses a challenge from another name than the one dialled", () =>
      Effect.gen(function*() {
        const { a, b } = yield* handshakePair({ b: { thisNode: "c@h1" } })
        const ea = left(a)
        expect([ea.step, ea.reason]).toEqual(["recvChallenge", "NameMismatch"])
        expect(ea.detail).toContain("c@h1")
        expect(left(b).reason).toBe("Closed")
      }))

    it.scoped("policy nok: the initiator stops with Nok", () =>
      Effect.gen(function*() {
        const seen: Array<unknown> = []
        const { a, b } = yield* handshakePair({
          b: {
            policy: (name, flags, creation) => {
              seen.push([name, flags, creation])
              return Effect.succeed("nok")
            }
          }
        })
        expect(seen).toEqual([["a@h1", Flags.RECOMMENDED, 11]])
        expect([left(a).step, left(a).reason]).toEqual(["recvStatus", "Nok"])
        expect([left(b).step, left(b).reason]).toEqual(["markPending", "Nok"])
      }))

    it.scoped("policy not_allowed", () =>
      Effect.gen(function*() {
        const { a, b } = yield* handshakePair({ b: { policy: () => Effect.succeed("not_allowed") } })
        expect(left(a).reason).toBe("NotAllowed")
        expect(left(b).reason).toBe("NotAllowed")
      }))

    it.scoped("policy ok_simultaneous completes", () =>
      Effect.gen(function*() {
        const { a, b } = yield* handshakePair({ b: { policy: () => Effect.succeed("ok_simultaneous") } })
        expect(right(a).peerName).toBe("b@h1")
        expect(right(b).peerName).toBe("a@h1")
      }))

    it.scoped("alive answered true: the acceptor drops the old connection, then completes", () =>
      Effect.gen(function*() {
        const events: Array<string> = []
        const { a, b } = yield* handshakePair({
          a: {
            onAlive: (peer) => Effect.sync(() => (events.push(`onAlive ${peer}`), true))
          },
          b: {
            policy: () => Effect.succeed("alive"),
            onAliveConfirmed: (peer) => Effect.sync(() => void events.push(`old down ${peer}`))
          }
        })
        expect(right(a).peerName).toBe("b@h1")
        expect(right(b).peerName).toBe("a@h1")
        expect(events).toEqual(["onAlive b@h1", "old down a@h1"])
      }))

    it.scoped("alive answered true without the cookie: the old connection is never dropped", () =>
      Effect.gen(function*() {
        const events: Array<string> = []
        const { a, b } = yield* handshakePair({
          a: { cookie: cookie("not the cookie"), onAlive: () => Effect.succeed(true) },
          b: {
            policy: () => Effect.succeed("alive"),
            onAliveConfirmed: (peer) => Effect.sync(() => void events.push(`old down ${peer}`))
          }
        })
        expect(left(a).reason).toBe("AuthenticationFailed")
        expect([left(b).step, left(b).reason]).toEqual(["recvChallengeReply", "AuthenticationFailed"])
        expect(events).toEqual([])
      }))

    it.scoped("alive answered true: the old connection goes after the reply is verified, before the ack", () =>
      Effect.gen(function*() {
        const [ca, cb] = yield* Transport.memoryPair()
        const fa = yield* Effect.fork(Handshake.initiate(ca, {
          thisNode: "a@h1",
          cookie: cookie("secret"),
          creation: 11,
          peer: "b@h1",
          onAlive: () => Effect.succeed(true)
        }))
        const oldDown = yield* Deferred.make<void>()
        const asked = yield* Deferred.make<void>()
        const fb = yield* Effect.fork(Handshake.accept(cb, {
          thisNode: "b@h1",
          cookie: cookie("secret"),
          creation: 22,
          policy: () => Effect.succeed("alive"),
          onAliveConfirmed: () => Effect.zipRight(Deferred.succeed(asked, undefined), Deferred.await(oldDown))
        }))
        // the peer has proven the cookie; until the old connection is gone, no ack
        yield* Deferred.await(asked)
        expect(fa.unsafePoll()).toBeNull()
        yield* Deferred.succeed(oldDown, undefined)
        expect((yield* Fiber.join(fa)).peerName).toBe("b@h1")
        expect((yield* Fiber.join(fb)).peerName).toBe("a@h1")
      }))

    it.scoped("a peer that sends our own node name is refused before authentication", () =>
      Effect.gen(function*() {
        let asked = false
        const { a, b } = yield* handshakePair({
          a: { thisNode: "b@h1" },
          b: { policy: () => Effect.sync(() => (asked = true, "ok" as const)) }
        })
        expect([left(a).step, left(a).reason]).toEqual(["recvStatus", "NotAllowed"])
        expect([left(b).step, left(b).reason, left(b).detail]).toEqual([
          "recvName",
          "NotAllowed",
          "the peer claims our own node name"
        ])
        expect(asked).toBe(false)
      }))

    it.scoped("firstMessageTimeout cuts a silent peer before net_setuptime", () =>
      Effect.gen(function*() {
        const [_ca, cb] = yield* Transport.memoryPair()
        const fiber = yield* Effect.fork(Handshake.accept(cb, {
          thisNode: "b@h1",
          cookie: cookie("c"),
          creation: 1,
          setupTime: "7 seconds",
          firstMessageTimeout: "2 seconds"
        }))
        yield* TestClock.adjust("1999 millis")
        expect(fiber.unsafePoll()).toBeNull()
        yield* TestClock.adjust("1 millis")
        const e = left(yield* Effect.either(Fiber.join(fiber)))
        expect([e.step, e.reason]).toEqual(["recvName", "HandshakeTimeout"])
        expect(e.detail).toContain("firstMessageTimeout")
      }))

    it.scoped("alive answered false: both sides stop with NameInUse", () =>
      Effect.gen(function*() {
        const { a, b } = yield* handshakePair({
          a: { onAlive: () => Effect.succeed(false) },
          b: { policy: () => Effect.succeed("alive") }
        })
        expect([left(a).step, left(a).reason]).toEqual(["recvStatus", "NameInUse"])
        expect([left(b).step, left(b).reason]).toEqual(["recvStatus", "NameInUse"])
      }))

    it.scoped("a silent peer times out after net_setuptime in the current step", () =>
      Effect.gen(function*() {
        const [_ca, cb] = yield* Transport.memoryPair()
        const fiber = yield* Effect.fork(
          Handshake.accept(cb, { thisNode: "b@h1", cookie: cookie("c"), creation: 1, setupTime: "3 seconds" })
        )
        yield* TestClock.adjust("2999 millis")
        expect(fiber.unsafePoll()).toBeNull()
        yield* TestClock.adjust("1 millis")
        const e = left(yield* Effect.either(Fiber.join(fiber)))
        expect([e.step, e.reason]).toEqual(["recvName", "HandshakeTimeout"])
        expect(cb.isClosed()).toBe(true)
      }))

    it.scoped("the timer restarts at each step; a stuck policy times out in markPending", () =>
      Effect.gen(function*() {
        const [ca, cb] = yield* Transport.memoryPair()
        const fa = yield* Effect.fork(
          Handshake.initiate(ca, { thisNode: "a@h1", cookie: cookie("c"), creation: 1, peer: "b@h1" })
        )
        const fb = yield* Effect.fork(
          Handshake.accept(cb, { thisNode: "b@h1", cookie: cookie("c"), creation: 2, policy: () => Effect.never })
        )
        yield* TestClock.adjust("7 seconds")
        const eb = left(yield* Effect.either(Fiber.join(fb)))
        expect([eb.step, eb.reason, eb.peer]).toEqual(["markPending", "HandshakeTimeout", "a@h1"])
        const ea = left(yield* Effect.either(Fiber.join(fa)))
        expect(ea.step).toBe("recvStatus")
      }))

    it.scoped("garbage from the peer is Malformed", () =>
      Effect.gen(function*() {
        const [ca, cb] = yield* Transport.memoryPair()
        yield* ca.write(new Uint8Array([0, 3, 1, 2, 3]))
        const e = left(
          yield* Effect.either(Handshake.accept(cb, { thisNode: "b@h1", cookie: cookie("c"), creation: 1 }))
        )
        expect([e.step, e.reason]).toEqual(["recvName", "Malformed"])
      }))

    it.scoped("a message split across many chunks is reassembled", () =>
      Effect.gen(function*() {
        const [ca, cb] = yield* Transport.memoryPair()
        const fb = yield* Effect.fork(Handshake.accept(cb, { thisNode: "b@h1", cookie: cookie("c"), creation: 1 }))
        const bytes = M.frame(M.encodeSendName({ flags: 1n, creation: 1, name: "a@h1" }), 2)
        for (const byte of bytes) yield* ca.write(new Uint8Array([byte]))
        // flags 1n lacks the mandatory set: proves the name was decoded
        const e = left(yield* Effect.either(Fiber.join(fb)))
        expect([e.step, e.reason, e.peer]).toEqual(["recvName", "MissingFlags", "a@h1"])
      }))

    it.scoped("bytes after the challenge ack are kept as the tail", () =>
      Effect.gen(function*() {
        const [ca, cb] = yield* Transport.memoryPair()
        const fa = yield* Effect.fork(
          Handshake.initiate(ca, { thisNode: "a@h1", cookie: cookie("c"), creation: 1, peer: "b@h1" })
        )
        // A scripted acceptor using the pure machine; it writes the ack and a frame in one chunk.
        let step = Handshake.acceptorStart(
          Handshake.makeHsData({
            role: "acceptor",
            thisNode: "b@h1",
            thisFlags: Flags.RECOMMENDED,
            thisCreation: 2,
            cookie: cookie("c"),
            thisChallenge: 42
          })
        )
        let buf = new Uint8Array(0)
        while (step._tag === "Next") {
          const state = step.state
          if (step.send.length > 0) yield* cb.writev(step.send.map((m) => M.frame(m, 2)))
          if (!Handshake.awaitsMessage(state)) {
            step = Handshake.decide(state, { _tag: "Policy", decision: "ok" })
            continue
          }
          while (buf.length < 2 || buf.length < 2 + (buf[0]! << 8 | buf[1]!)) {
            const chunk = yield* cb.read
            buf = new Uint8Array([...buf, ...chunk])
          }
          const len = buf[0]! << 8 | buf[1]!
          const msg = buf.slice(2, 2 + len)
          buf = buf.slice(2 + len)
          step = Handshake.onMessage(state, msg)
        }
        expect(step._tag).toBe("Done")
        const ack = M.frame(step.send[0]!, 2)
        yield* cb.write(new Uint8Array([...ack, 0, 0, 0, 0, 0, 0, 0, 2, 112, 131]))
        const ra = yield* Fiber.join(fa)
        expect(Array.from(ra.tail)).toEqual([0, 0, 0, 0, 0, 0, 0, 2, 112, 131])
      }))
  })
})
