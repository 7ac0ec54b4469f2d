/**
 * The Effect runner around the pure handshake machine: reads length-prefixed
 * handshake messages from a carrier, applies `net_setuptime` per step, asks the
 * policy callbacks, and keeps the bytes read past the last message.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Flags from "../../Flags.js"
import type { AcceptOptions, CommonOptions, InitiateOptions } from "../../Handshake.js"
import type { Carrier } from "../../Transport.js"
import type { TransportError } from "../transport/error.js"
import { randomChallenge } from "./digest.js"
import * as machine from "./machine.js"
import { HandshakeError, type HandshakeResult, type HandshakeStep, type PolicyDecision } from "./machine.js"
import { frame } from "./messages.js"

/** Handshake messages are small; refuse anything bigger (only 4-byte framing can claim more). */
const MAX_HANDSHAKE_MESSAGE = 0xffff

/** Accumulates bytes and cuts length-prefixed messages; what is left is the tail. */
class FrameReader {
  private buf: Uint8Array = new Uint8Array(0)
  constructor(readonly header: 2 | 4) {}

  append(chunk: Uint8Array): void {
    if (this.buf.length === 0) {
      this.buf = chunk
      return
    }
    const out = new Uint8Array(this.buf.length + chunk.length)
    out.set(this.buf, 0)
    out.set(chunk, this.buf.length)
    this.buf = out
  }

  /** The next message, `undefined` when more bytes are needed, or `"TooLarge"`. */
  take(): Uint8Array | undefined | "TooLarge" {
    const b = this.buf
    if (b.length < this.header) return undefined
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
    const len = this.header === 2 ? v.getUint16(0) : v.getUint32(0)
    if (len > MAX_HANDSHAKE_MESSAGE) return "TooLarge"
    const end = this.header + len
    if (b.length < end) return undefined
    this.buf = b.subarray(end)
    return b.subarray(this.header, end)
  }

  rest(): Uint8Array {
    return this.buf.slice()
  }
}

const closedError = (step: HandshakeStep, peer: string | undefined) => (cause: TransportError) =>
  step === "recvChallengeAck"
    ? new HandshakeError({
      step,
      reason: "AuthenticationFailed",
      peer,
      detail: "the peer closed the connection after our challenge reply (the cookies probably differ)",
      cause
    })
    : new HandshakeError({ step, reason: "Closed", peer, detail: "the connection closed", cause })

const readMessage = (carrier: Carrier, reader: FrameReader, step: HandshakeStep, peer: string | undefined) =>
  Effect.gen(function*() {
    while (true) {
      const m = reader.take()
      if (m === "TooLarge") {
        return yield* new HandshakeError({ step, reason: "Malformed", peer, detail: "handshake message too large" })
      }
      if (m !== undefined) return m
      const chunk = yield* Effect.mapError(carrier.read, closedError(step, peer))
      reader.append(chunk)
    }
  })

const drive = (
  carrier: Carrier,
  start: machine.Step,
  role: "initiator" | "acceptor",
  setupTime: Duration.Duration,
  decideFor: (state: machine.State) => Effect.Effect<machine.Decision>,
  /** acceptor: the limit for the first message (send_name), at most `setupTime` */
  firstMessageTime?: Duration.Duration
): Effect.Effect<HandshakeResult, HandshakeError> =>
  Effect.gen(function*() {
    const reader = new FrameReader(carrier.framing)
    let step = start
    let stepName: HandshakeStep = role === "initiator" ? "sendName" : "recvName"
    while (true) {
      const peer = step._tag === "Next" ? step.state.hs.otherNode : undefined
      if (step.send.length > 0) {
        yield* carrier.writev(step.send.map((m) => frame(m, carrier.framing))).pipe(
          Effect.mapError(closedError(stepName, peer))
        )
      }
      if (step._tag === "Failed") return yield* step.error
      if (step._tag === "Done") {
        yield* Effect.logDebug("handshake complete").pipe(
          Effect.annotateLogs({
            peer: step.result.peerName,
            flags: Flags.toHex(step.result.flags),
            hidden: String(step.result.hidden)
          })
        )
        return { ...step.result, tail: reader.rest() }
      }
      const state = step.state
      stepName = machine.stepOf(state)
      const current = stepName
      const advance = machine.awaitsMessage(state)
        ? Effect.map(readMessage(carrier, reader, current, peer), (m) => machine.onMessage(state, m))
        : Effect.map(decideFor(state), (d) => machine.decide(state, d))
      const first = state._tag === "AwaitName" && firstMessageTime !== undefined &&
        Duration.lessThan(firstMessageTime, setupTime)
      const limit = first ? firstMessageTime : setupTime
      step = yield* advance.pipe(
        Effect.timeoutFail({
          duration: limit,
          onTimeout: () =>
            new HandshakeError({
              step: current,
              reason: "HandshakeTimeout",
              peer,
              detail: first
                ? `no send_name within ${Duration.format(limit)} (firstMessageTimeout, shorter than net_setuptime)`
                : `no progress within net_setuptime (${Duration.format(limit)})`
            })
        })
      )
      yield* Effect.logTrace(
        `handshake ${current}: ${state._tag} -> ${step._tag === "Next" ? step.state._tag : step._tag}`
      )
    }
  }).pipe(
    Effect.tapError((e) =>
      Effect.zipRight(
        Effect.logDebug(e.message).pipe(Effect.annotateLogs({ step: e.step, reason: e.reason })),
        carrier.close
      )
    ),
    Effect.annotateLogs({ module: "Handshake", role })
  )

const ourFlags = (o: CommonOptions) => o.flags ?? Flags.recommended({ hidden: o.hidden ?? true })
const setupTimeOf = (o: CommonOptions) => Duration.decode(o.setupTime ?? Duration.seconds(7))

export const initiate = (carrier: Carrier, options: InitiateOptions): Effect.Effect<HandshakeResult, HandshakeError> =>
  Effect.suspend(() => {
    const hs = machine.makeHsData({
      role: "initiator",
      thisNode: options.thisNode,
      thisFlags: ourFlags(options),
      thisCreation: options.creation,
      cookie: options.cookie,
      requiredFlags: options.requiredFlags,
      otherNode: options.peer,
      thisChallenge: randomChallenge()
    })
    return drive(carrier, machine.initiatorStart(hs), "initiator", setupTimeOf(options), (state) => {
      const peer = state.hs.otherNode!
      return Effect.map(options.onAlive ? options.onAlive(peer) : Effect.succeed(true), (answer) => ({
        _tag: "Alive" as const,
        answer
      }))
    }).pipe(Effect.annotateLogs({ peer: options.peer }))
  })

export const accept = (carrier: Carrier, options: AcceptOptions): Effect.Effect<HandshakeResult, HandshakeError> =>
  Effect.suspend(() => {
    const hs = machine.makeHsData({
      role: "acceptor",
      thisNode: options.thisNode,
      thisFlags: ourFlags(options),
      thisCreation: options.creation,
      cookie: options.cookie,
      requiredFlags: options.requiredFlags,
      thisChallenge: randomChallenge()
    })
    return drive(carrier, machine.acceptorStart(hs), "acceptor", setupTimeOf(options), (state) => {
      const hs = state.hs
      if (state._tag === "AwaitOldDown") {
        return Effect.as(options.onAliveConfirmed ? options.onAliveConfirmed(hs.otherNode!) : Effect.void, {
          _tag: "OldDown" as const
        })
      }
      const policy = options.policy
        ? options.policy(hs.otherNode!, hs.otherFlags, hs.otherCreation)
        : Effect.succeed<PolicyDecision>("ok")
      return Effect.map(policy, (decision) => ({ _tag: "Policy" as const, decision }))
    }, options.firstMessageTimeout === undefined ? undefined : Duration.decode(options.firstMessageTimeout))
  })
