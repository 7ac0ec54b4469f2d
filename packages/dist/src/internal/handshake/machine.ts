/**
 * The handshake as a pure state machine (OTP's `dist_util`), both roles.
 *
 * Initiator (A): start → sendName → AwaitStatus → [DecideAlive] → AwaitChallenge → AwaitAck → Done
 * Acceptor (B):  start → AwaitName → DecidePolicy → [AwaitAliveStatus] → AwaitReply → [AwaitOldDown] → Done
 *
 * After `alive` (the peer claims to be a node we have a live connection to), the old
 * connection is dropped only once the peer's challenge reply has proven the cookie
 * (`AwaitOldDown`, before the ack): an impostor without the cookie never touches it.
 * OTP drops it before sending the challenge.
 *
 * Each function takes a state and a message payload (without its length prefix) and
 * returns the next state with the bytes to send, a result, or a `HandshakeError`
 * naming the step. `Decide*`/`AwaitOldDown` states need an answer from the caller
 * (net_kernel's policy), given through `decide`.
 */
import { Atom } from "@effect-otp/process/Term"
import * as Data from "effect/Data"
import type * as Redacted from "effect/Redacted"
import * as Flags from "../../Flags.js"
import { constantTimeEqual, digest } from "./digest.js"
import * as M from "./messages.js"

// ---------------------------------------------------------------------------
// Errors and results
// ---------------------------------------------------------------------------

export type HandshakeStep =
  | "sendName"
  | "recvName"
  | "markPending"
  | "recvStatus"
  | "recvChallenge"
  | "recvChallengeReply"
  | "recvChallengeAck"

export type HandshakeErrorReason =
  | "AuthenticationFailed"
  | "NotAllowed"
  | "MissingFlags"
  | "HandshakeTimeout"
  | "NameInUse"
  | "Malformed"
  | "NameMismatch"
  | "Nok"
  | "Closed"

/**
 * A failed handshake. `step` is the OTP step that failed (`recvChallengeReply`...),
 * `reason` says why. `detail` never holds the cookie or a digest.
 *
 * @since 0.1.0
 * @category errors
 */
export class HandshakeError extends Data.TaggedError("HandshakeError")<{
  readonly step: HandshakeStep
  readonly reason: HandshakeErrorReason
  readonly peer?: string | undefined
  readonly detail?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    return `handshake with ${this.peer ?? "unknown node"} failed in ${this.step}: ${this.reason}` +
      (this.detail ? ` (${this.detail})` : "")
  }
}

/**
 * What a successful handshake hands to `Connection` (Ergo's `HandshakeResult`).
 *
 * @since 0.1.0
 * @category models
 */
export interface HandshakeResult {
  readonly role: "initiator" | "acceptor"
  /** Our full node name, as sent. */
  readonly thisNode: string
  /** Our creation, as sent: local pids must carry it. */
  readonly thisCreation: number
  /** The peer's node name as an atom. */
  readonly peer: Atom
  /** The peer's node name. */
  readonly peerName: string
  readonly peerCreation: number
  /** The flags the peer sent. */
  readonly peerFlags: bigint
  /** The flags we sent. */
  readonly ourFlags: bigint
  /** Negotiated: ours AND the peer's. */
  readonly flags: bigint
  /** Whether the peer is hidden (did not send PUBLISHED). */
  readonly hidden: boolean
  /** Bytes read past the last handshake message: already 4-byte framed data. */
  readonly tail: Uint8Array
}

/**
 * net_kernel's answer to an incoming connection (the status sent to the peer).
 *
 * @since 0.1.0
 * @category models
 */
export type PolicyDecision = "ok" | "ok_simultaneous" | "nok" | "not_allowed" | "alive"

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

/**
 * All handshake state, OTP's `#hs_data{}`; updated by copy.
 *
 * @since 0.1.0
 * @category models
 */
export interface HsData {
  readonly role: "initiator" | "acceptor"
  /** Our full node name; the acceptor sends it in the challenge, so use the name peers dial. */
  readonly thisNode: string
  /** The flags we send. */
  readonly thisFlags: bigint
  readonly thisCreation: number
  readonly cookie: Redacted.Redacted<string>
  /** Flags the peer must have (MANDATORY_25 by default, so OTP 25 peers work). */
  readonly requiredFlags: bigint
  /** Initiator: the node we dialled; acceptor: the name from send_name. */
  readonly otherNode: string | undefined
  readonly otherFlags: bigint
  readonly otherCreation: number
  /** The challenge we send (random, chosen by the runner). */
  readonly thisChallenge: number
}

/**
 * @since 0.1.0
 * @category models
 */
export type State =
  // initiator
  | { readonly _tag: "AwaitStatus"; readonly hs: HsData }
  | { readonly _tag: "DecideAlive"; readonly hs: HsData }
  | { readonly _tag: "AwaitChallenge"; readonly hs: HsData }
  | { readonly _tag: "AwaitAck"; readonly hs: HsData }
  // acceptor
  | { readonly _tag: "AwaitName"; readonly hs: HsData }
  | { readonly _tag: "DecidePolicy"; readonly hs: HsData }
  | { readonly _tag: "AwaitAliveStatus"; readonly hs: HsData }
  /** the peer answered `true` to `alive`: its reply, once verified, replaces the old connection */
  | { readonly _tag: "AwaitReply"; readonly hs: HsData; readonly replacing?: boolean | undefined }
  /** the peer proved the cookie after `alive`: the old connection must go before the ack (`ack`) */
  | { readonly _tag: "AwaitOldDown"; readonly hs: HsData; readonly ack: Uint8Array }

/**
 * The outcome of one step. `send` holds handshake payloads (without length prefix),
 * to be sent in order, also before a failure (e.g. `s not_allowed`).
 *
 * @since 0.1.0
 * @category models
 */
export type Step =
  | { readonly _tag: "Next"; readonly state: State; readonly send: ReadonlyArray<Uint8Array> }
  | { readonly _tag: "Done"; readonly result: Omit<HandshakeResult, "tail">; readonly send: ReadonlyArray<Uint8Array> }
  | { readonly _tag: "Failed"; readonly error: HandshakeError; readonly send: ReadonlyArray<Uint8Array> }

/** What `decide` takes for each waiting state. */
export type Decision =
  | { readonly _tag: "Policy"; readonly decision: PolicyDecision }
  | { readonly _tag: "Alive"; readonly answer: boolean }
  | { readonly _tag: "OldDown" }

const next = (state: State, ...send: Array<Uint8Array>): Step => ({ _tag: "Next", state, send })
const fail = (
  hs: HsData,
  step: HandshakeStep,
  reason: HandshakeErrorReason,
  detail?: string,
  ...send: Array<Uint8Array>
): Step => ({ _tag: "Failed", error: new HandshakeError({ step, reason, peer: hs.otherNode, detail }), send })
const malformed = (hs: HsData, step: HandshakeStep, e: M.MessageError): Step =>
  fail(hs, step, "Malformed", `${e.reason} at offset ${e.offset}`)

const done = (hs: HsData, ...send: Array<Uint8Array>): Step => {
  const peerName = hs.otherNode!
  return {
    _tag: "Done",
    result: {
      role: hs.role,
      thisNode: hs.thisNode,
      thisCreation: hs.thisCreation,
      peer: Atom.make(peerName),
      peerName,
      peerCreation: hs.otherCreation,
      peerFlags: hs.otherFlags,
      ourFlags: hs.thisFlags,
      flags: hs.thisFlags & hs.otherFlags,
      hidden: (hs.otherFlags & Flags.DFLAG_PUBLISHED) === 0n
    },
    send
  }
}

const missingDetail = (missing: bigint) => `peer lacks mandatory flags [${Flags.names(missing).join(", ")}]`

const isNodeName = (name: string): boolean => {
  const at = name.indexOf("@")
  return at > 0 && at < name.length - 1 && name.indexOf("@", at + 1) < 0 && name.length <= 255
}

export const makeHsData = (fields: {
  readonly role: "initiator" | "acceptor"
  readonly thisNode: string
  readonly thisFlags: bigint
  readonly thisCreation: number
  readonly cookie: Redacted.Redacted<string>
  readonly requiredFlags?: bigint | undefined
  readonly otherNode?: string | undefined
  readonly thisChallenge: number
}): HsData => ({
  role: fields.role,
  thisNode: fields.thisNode,
  thisFlags: fields.thisFlags,
  thisCreation: fields.thisCreation,
  cookie: fields.cookie,
  requiredFlags: fields.requiredFlags ?? Flags.MANDATORY_25,
  otherNode: fields.otherNode,
  otherFlags: 0n,
  otherCreation: 0,
  thisChallenge: fields.thisChallenge >>> 0
})

// ---------------------------------------------------------------------------
// Initiator (handshake_we_started)
// ---------------------------------------------------------------------------

/** Starts the initiator: sends `send_name`. */
export const initiatorStart = (hs: HsData): Step =>
  next(
    { _tag: "AwaitStatus", hs },
    M.encodeSendName({ flags: hs.thisFlags, creation: hs.thisCreation, name: hs.thisNode })
  )

const recvStatus = (hs: HsData, b: Uint8Array): Step => {
  const m = M.decodeStatus(b)
  if (m instanceof M.MessageError) return malformed(hs, "recvStatus", m)
  switch (m.status) {
    case "ok":
    case "ok_simultaneous":
      return next({ _tag: "AwaitChallenge", hs })
    case "nok":
      return fail(hs, "recvStatus", "Nok", "the peer keeps its own simultaneous attempt")
    case "not_allowed":
      return fail(hs, "recvStatus", "NotAllowed", "the peer refused the connection")
    case "alive":
      return next({ _tag: "DecideAlive", hs })
    case "named":
      return fail(hs, "recvStatus", "Malformed", "unexpected named: status (NAME_ME was not requested)")
    default:
      return fail(hs, "recvStatus", "Malformed", `unknown status ${JSON.stringify(m.status)}`)
  }
}

const recvChallenge = (hs: HsData, b: Uint8Array): Step => {
  const m = M.decodeChallenge(b)
  if (m instanceof M.MessageError) return malformed(hs, "recvChallenge", m)
  if (m.name !== hs.otherNode) {
    return fail(hs, "recvChallenge", "NameMismatch", `dialled ${hs.otherNode} but the peer calls itself ${m.name}`)
  }
  const missing = Flags.missing(hs.requiredFlags, m.flags)
  if (missing !== 0n) return fail(hs, "recvChallenge", "MissingFlags", missingDetail(missing))
  const hs1: HsData = { ...hs, otherFlags: m.flags, otherCreation: m.creation }
  return next(
    { _tag: "AwaitAck", hs: hs1 },
    M.encodeChallengeReply({ challenge: hs.thisChallenge, digest: digest(hs.cookie, m.challenge) })
  )
}

const recvChallengeAck = (hs: HsData, b: Uint8Array): Step => {
  const m = M.decodeChallengeAck(b)
  if (m instanceof M.MessageError) return malformed(hs, "recvChallengeAck", m)
  if (!constantTimeEqual(m.digest, digest(hs.cookie, hs.thisChallenge))) {
    return fail(hs, "recvChallengeAck", "AuthenticationFailed", "the peer's digest does not match our cookie")
  }
  return done(hs)
}

// ---------------------------------------------------------------------------
// Acceptor (handshake_other_started)
// ---------------------------------------------------------------------------

/** Starts the acceptor: waits for `send_name`. */
export const acceptorStart = (hs: HsData): Step => next({ _tag: "AwaitName", hs })

const recvName = (hs: HsData, b: Uint8Array): Step => {
  const m = M.decodeSendName(b)
  if (m instanceof M.MessageError) return malformed(hs, "recvName", m)
  if (!isNodeName(m.name)) return fail(hs, "recvName", "Malformed", `invalid node name ${JSON.stringify(m.name)}`)
  const hs1: HsData = { ...hs, otherNode: m.name, otherFlags: m.flags, otherCreation: m.creation }
  if (m.name === hs.thisNode) {
    // refused before any authentication, as OTP does (it answers nok; not_allowed says why)
    return fail(hs1, "recvName", "NotAllowed", "the peer claims our own node name", M.encodeStatus("not_allowed"))
  }
  const missing = Flags.missing(hs.requiredFlags, m.flags)
  if (missing !== 0n) {
    return fail(hs1, "recvName", "MissingFlags", missingDetail(missing), M.encodeStatus("not_allowed"))
  }
  return next({ _tag: "DecidePolicy", hs: hs1 })
}

const sendChallenge = (hs: HsData): Uint8Array =>
  M.encodeChallenge({ flags: hs.thisFlags, challenge: hs.thisChallenge, creation: hs.thisCreation, name: hs.thisNode })

const markPending = (hs: HsData, decision: PolicyDecision): Step => {
  switch (decision) {
    case "ok":
    case "ok_simultaneous":
      return next({ _tag: "AwaitReply", hs }, M.encodeStatus(decision), sendChallenge(hs))
    case "nok":
      return fail(hs, "markPending", "Nok", "we keep our own simultaneous attempt", M.encodeStatus("nok"))
    case "not_allowed":
      return fail(hs, "markPending", "NotAllowed", "refused by policy", M.encodeStatus("not_allowed"))
    case "alive":
      return next({ _tag: "AwaitAliveStatus", hs }, M.encodeStatus("alive"))
  }
}

const recvAliveStatus = (hs: HsData, b: Uint8Array): Step => {
  const m = M.decodeStatus(b)
  if (m instanceof M.MessageError) return malformed(hs, "recvStatus", m)
  // the challenge goes out now; the old connection stays until the reply proves the cookie
  if (m.status === "true") return next({ _tag: "AwaitReply", hs, replacing: true }, sendChallenge(hs))
  if (m.status === "false") {
    return fail(hs, "recvStatus", "NameInUse", "the peer says its existing connection is alive")
  }
  return fail(hs, "recvStatus", "Malformed", `expected true or false, got ${JSON.stringify(m.status)}`)
}

const recvChallengeReply = (hs: HsData, b: Uint8Array, replacing: boolean): Step => {
  const m = M.decodeChallengeReply(b)
  if (m instanceof M.MessageError) return malformed(hs, "recvChallengeReply", m)
  if (!constantTimeEqual(m.digest, digest(hs.cookie, hs.thisChallenge))) {
    // OTP closes the socket without answering ("Invalid challenge reply").
    return fail(hs, "recvChallengeReply", "AuthenticationFailed", "invalid challenge reply (cookies differ)")
  }
  const ack = M.encodeChallengeAck(digest(hs.cookie, m.challenge))
  return replacing ? next({ _tag: "AwaitOldDown", hs, ack }) : done(hs, ack)
}

// ---------------------------------------------------------------------------
// Dispatch
// ---------------------------------------------------------------------------

/** The step a state is waiting in (for errors and timeouts). */
export const stepOf = (s: State): HandshakeStep => {
  switch (s._tag) {
    case "AwaitStatus":
    case "DecideAlive":
    case "AwaitAliveStatus":
      return "recvStatus"
    case "AwaitChallenge":
      return "recvChallenge"
    case "AwaitAck":
      return "recvChallengeAck"
    case "AwaitName":
      return "recvName"
    case "DecidePolicy":
      return "markPending"
    case "AwaitReply":
    case "AwaitOldDown":
      return "recvChallengeReply"
  }
}

/** Whether the state waits for a message from the peer (otherwise for `decide`). */
export const awaitsMessage = (s: State): boolean =>
  s._tag !== "DecideAlive" && s._tag !== "DecidePolicy" && s._tag !== "AwaitOldDown"

/** Feeds one handshake message (payload without length) to a state. */
export const onMessage = (s: State, b: Uint8Array): Step => {
  switch (s._tag) {
    case "AwaitStatus":
      return recvStatus(s.hs, b)
    case "AwaitChallenge":
      return recvChallenge(s.hs, b)
    case "AwaitAck":
      return recvChallengeAck(s.hs, b)
    case "AwaitName":
      return recvName(s.hs, b)
    case "AwaitAliveStatus":
      return recvAliveStatus(s.hs, b)
    case "AwaitReply":
      return recvChallengeReply(s.hs, b, s.replacing === true)
    case "DecideAlive":
    case "DecidePolicy":
    case "AwaitOldDown":
      return fail(s.hs, stepOf(s), "Malformed", "message received while waiting for a local decision")
  }
}

/** Gives a waiting state its answer. */
export const decide = (s: State, d: Decision): Step => {
  if (s._tag === "DecidePolicy" && d._tag === "Policy") return markPending(s.hs, d.decision)
  if (s._tag === "DecideAlive" && d._tag === "Alive") {
    return d.answer
      ? next({ _tag: "AwaitChallenge", hs: s.hs }, M.encodeStatus("true"))
      : fail(s.hs, "recvStatus", "NameInUse", "we already have a live connection to the peer", M.encodeStatus("false"))
  }
  if (s._tag === "AwaitOldDown" && d._tag === "OldDown") return done(s.hs, s.ack)
  return fail(s.hs, stepOf(s), "Malformed", `decision ${d._tag} does not fit state ${s._tag}`)
}
