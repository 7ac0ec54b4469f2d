/**
 * Control messages of the connected state (docs/wire-protocol.md, "Connected state"): decode a frame payload into
 * `{ control, message? }` and encode one as a pass-through `112` frame. Pure.
 */
import { Atom, Pid, Ref, type Term, Tuple } from "@effect-otp/process/Term"
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as decodeEtf from "../etf/decode.js"
import * as encodeEtf from "../etf/encode.js"
import { DecodeError, EncodeError } from "../etf/errors.js"

// ---------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------

/** `{M, F, Arity}` of a SPAWN_REQUEST. */
export interface Mfa {
  readonly module: Atom
  readonly fun: Atom
  readonly arity: number
}

/** Every control message. "+M" ops carry the message (or exit reason, or argument list) in `Frame.message`. */
export type ControlMessage =
  | { readonly _tag: "Link"; readonly from: Pid; readonly to: Pid }
  | { readonly _tag: "Send"; readonly to: Pid }
  | { readonly _tag: "Exit"; readonly from: Pid; readonly to: Pid; readonly reason: Term }
  | { readonly _tag: "Unlink"; readonly from: Pid; readonly to: Pid }
  | { readonly _tag: "NodeLink" }
  | { readonly _tag: "RegSend"; readonly from: Pid; readonly toName: Atom }
  | { readonly _tag: "GroupLeader"; readonly from: Pid; readonly to: Pid }
  | { readonly _tag: "Exit2"; readonly from: Pid; readonly to: Pid; readonly reason: Term }
  | { readonly _tag: "SendTT"; readonly to: Pid; readonly traceToken: Term }
  | { readonly _tag: "ExitTT"; readonly from: Pid; readonly to: Pid; readonly traceToken: Term; readonly reason: Term }
  | { readonly _tag: "RegSendTT"; readonly from: Pid; readonly toName: Atom; readonly traceToken: Term }
  | { readonly _tag: "Exit2TT"; readonly from: Pid; readonly to: Pid; readonly traceToken: Term; readonly reason: Term }
  | { readonly _tag: "MonitorP"; readonly from: Pid; readonly to: Pid | Atom; readonly ref: Ref }
  | { readonly _tag: "DemonitorP"; readonly from: Pid; readonly to: Pid | Atom; readonly ref: Ref }
  | {
    readonly _tag: "MonitorPExit"
    readonly from: Pid | Atom
    readonly to: Pid
    readonly ref: Ref
    readonly reason: Term
  }
  | { readonly _tag: "SendSender"; readonly from: Pid; readonly to: Pid }
  | { readonly _tag: "SendSenderTT"; readonly from: Pid; readonly to: Pid; readonly traceToken: Term }
  | { readonly _tag: "PayloadExit"; readonly from: Pid; readonly to: Pid }
  | { readonly _tag: "PayloadExitTT"; readonly from: Pid; readonly to: Pid; readonly traceToken: Term }
  | { readonly _tag: "PayloadExit2"; readonly from: Pid; readonly to: Pid }
  | { readonly _tag: "PayloadExit2TT"; readonly from: Pid; readonly to: Pid; readonly traceToken: Term }
  | { readonly _tag: "PayloadMonitorPExit"; readonly from: Pid | Atom; readonly to: Pid; readonly ref: Ref }
  | {
    readonly _tag: "SpawnRequest"
    readonly reqId: Ref
    readonly from: Pid
    readonly groupLeader: Pid
    readonly mfa: Mfa
    readonly options: ReadonlyArray<Term>
  }
  | {
    readonly _tag: "SpawnRequestTT"
    readonly reqId: Ref
    readonly from: Pid
    readonly groupLeader: Pid
    readonly mfa: Mfa
    readonly options: ReadonlyArray<Term>
    readonly traceToken: Term
  }
  | {
    readonly _tag: "SpawnReply"
    readonly reqId: Ref
    readonly to: Pid
    readonly flags: number
    readonly result: Pid | Atom
  }
  | {
    readonly _tag: "SpawnReplyTT"
    readonly reqId: Ref
    readonly to: Pid
    readonly flags: number
    readonly result: Pid | Atom
    readonly traceToken: Term
  }
  | { readonly _tag: "AliasSend"; readonly from: Pid; readonly alias: Ref }
  | { readonly _tag: "AliasSendTT"; readonly from: Pid; readonly alias: Ref; readonly traceToken: Term }
  | { readonly _tag: "UnlinkId"; readonly id: number | bigint; readonly from: Pid; readonly to: Pid }
  | { readonly _tag: "UnlinkIdAck"; readonly id: number | bigint; readonly from: Pid; readonly to: Pid }

/** A decoded frame: the control message and, for "+M" ops, the second term. */
export interface Frame {
  readonly control: ControlMessage
  readonly message?: Term | undefined
}

export type ControlErrorReason =
  | "Malformed"
  | "UnknownOp"
  | "BadArity"
  | "BadElement"
  | "MissingPayload"
  | "UnexpectedPayload"
  | "NotEncodable"
  /** a compressed term (tag 80) in a frame: erts closes the connection with `bad_dist_ext` */
  | "BadDistExt"
  /** a term in the frame would add an atom past `maxAtoms` */
  | "AtomLimit"
  /** the terms of the frame would take more than `maxTermBytes` of heap */
  | "TermBytes"

/** A frame that is not a valid control message; `hex` is a truncated dump of it. */
export class ControlError extends Data.TaggedError("ControlError")<{
  readonly reason: ControlErrorReason
  readonly detail: string
  readonly hex: string
  readonly offset?: number | undefined
}> {
  override get message(): string {
    return `invalid control message (${this.reason}): ${this.detail}${this.hex ? ` [${this.hex}]` : ""}`
  }
}

const HEX_LIMIT = 64

/** Hex of the first bytes, `…(N bytes)` when longer. */
export const hexDump = (bytes: Uint8Array, limit: number = HEX_LIMIT): string => {
  let out = ""
  const n = Math.min(bytes.length, limit)
  for (let i = 0; i < n; i++) out += (i > 0 ? " " : "") + bytes[i]!.toString(16).padStart(2, "0")
  if (bytes.length > limit) out += ` …(${bytes.length} bytes)`
  return out
}

// ---------------------------------------------------------------------------
// Op table
// ---------------------------------------------------------------------------

type Kind = "pid" | "atom" | "pidOrAtom" | "ref" | "term" | "unused" | "int" | "id" | "mfa" | "list"
type Payload = "none" | "message" | "reason" | "args"

interface OpSpec {
  readonly op: number
  readonly tag: ControlMessage["_tag"]
  /** Fields after the op number, in wire order. "unused" fields are not in the model. */
  readonly fields: ReadonlyArray<readonly [string, Kind]>
  readonly payload: Payload
}

const specs: ReadonlyArray<OpSpec> = [
  { op: 1, tag: "Link", fields: [["from", "pid"], ["to", "pid"]], payload: "none" },
  { op: 2, tag: "Send", fields: [["unused", "unused"], ["to", "pid"]], payload: "message" },
  { op: 3, tag: "Exit", fields: [["from", "pid"], ["to", "pid"], ["reason", "term"]], payload: "none" },
  { op: 4, tag: "Unlink", fields: [["from", "pid"], ["to", "pid"]], payload: "none" },
  { op: 5, tag: "NodeLink", fields: [], payload: "none" },
  { op: 6, tag: "RegSend", fields: [["from", "pid"], ["unused", "unused"], ["toName", "atom"]], payload: "message" },
  { op: 7, tag: "GroupLeader", fields: [["from", "pid"], ["to", "pid"]], payload: "none" },
  { op: 8, tag: "Exit2", fields: [["from", "pid"], ["to", "pid"], ["reason", "term"]], payload: "none" },
  {
    op: 12,
    tag: "SendTT",
    fields: [["unused", "unused"], ["to", "pid"], ["traceToken", "term"]],
    payload: "message"
  },
  {
    op: 13,
    tag: "ExitTT",
    fields: [["from", "pid"], ["to", "pid"], ["traceToken", "term"], ["reason", "term"]],
    payload: "none"
  },
  {
    op: 16,
    tag: "RegSendTT",
    fields: [["from", "pid"], ["unused", "unused"], ["toName", "atom"], ["traceToken", "term"]],
    payload: "message"
  },
  {
    op: 18,
    tag: "Exit2TT",
    fields: [["from", "pid"], ["to", "pid"], ["traceToken", "term"], ["reason", "term"]],
    payload: "none"
  },
  { op: 19, tag: "MonitorP", fields: [["from", "pid"], ["to", "pidOrAtom"], ["ref", "ref"]], payload: "none" },
  { op: 20, tag: "DemonitorP", fields: [["from", "pid"], ["to", "pidOrAtom"], ["ref", "ref"]], payload: "none" },
  {
    op: 21,
    tag: "MonitorPExit",
    fields: [["from", "pidOrAtom"], ["to", "pid"], ["ref", "ref"], ["reason", "term"]],
    payload: "none"
  },
  { op: 22, tag: "SendSender", fields: [["from", "pid"], ["to", "pid"]], payload: "message" },
  { op: 23, tag: "SendSenderTT", fields: [["from", "pid"], ["to", "pid"], ["traceToken", "term"]], payload: "message" },
  { op: 24, tag: "PayloadExit", fields: [["from", "pid"], ["to", "pid"]], payload: "reason" },
  { op: 25, tag: "PayloadExitTT", fields: [["from", "pid"], ["to", "pid"], ["traceToken", "term"]], payload: "reason" },
  { op: 26, tag: "PayloadExit2", fields: [["from", "pid"], ["to", "pid"]], payload: "reason" },
  {
    op: 27,
    tag: "PayloadExit2TT",
    fields: [["from", "pid"], ["to", "pid"], ["traceToken", "term"]],
    payload: "reason"
  },
  {
    op: 28,
    tag: "PayloadMonitorPExit",
    fields: [["from", "pidOrAtom"], ["to", "pid"], ["ref", "ref"]],
    payload: "reason"
  },
  {
    op: 29,
    tag: "SpawnRequest",
    fields: [["reqId", "ref"], ["from", "pid"], ["groupLeader", "pid"], ["mfa", "mfa"], ["options", "list"]],
    payload: "args"
  },
  {
    op: 30,
    tag: "SpawnRequestTT",
    fields: [
      ["reqId", "ref"],
      ["from", "pid"],
      ["groupLeader", "pid"],
      ["mfa", "mfa"],
      ["options", "list"],
      ["traceToken", "term"]
    ],
    payload: "args"
  },
  {
    op: 31,
    tag: "SpawnReply",
    fields: [["reqId", "ref"], ["to", "pid"], ["flags", "int"], ["result", "pidOrAtom"]],
    payload: "none"
  },
  {
    op: 32,
    tag: "SpawnReplyTT",
    fields: [["reqId", "ref"], ["to", "pid"], ["flags", "int"], ["result", "pidOrAtom"], ["traceToken", "term"]],
    payload: "none"
  },
  { op: 33, tag: "AliasSend", fields: [["from", "pid"], ["alias", "ref"]], payload: "message" },
  {
    op: 34,
    tag: "AliasSendTT",
    fields: [["from", "pid"], ["alias", "ref"], ["traceToken", "term"]],
    payload: "message"
  },
  { op: 35, tag: "UnlinkId", fields: [["id", "id"], ["from", "pid"], ["to", "pid"]], payload: "none" },
  { op: 36, tag: "UnlinkIdAck", fields: [["id", "id"], ["from", "pid"], ["to", "pid"]], payload: "none" }
]

const byOp: Array<OpSpec | undefined> = []
const byTag = new Map<string, OpSpec>()
for (const s of specs) {
  byOp[s.op] = s
  byTag.set(s.tag, s)
}

/** The op number of a control message. */
export const opOf = (tag: ControlMessage["_tag"]): number => byTag.get(tag)!.op

/** Whether the op carries a second term (message, exit reason or spawn arguments). */
export const hasPayload = (tag: ControlMessage["_tag"]): boolean => byTag.get(tag)!.payload !== "none"

/** Whether the op carries a message to a process (SEND, REG_SEND, ALIAS_SEND and their variants). */
export const carriesMessage = (tag: ControlMessage["_tag"]): boolean => byTag.get(tag)!.payload === "message"

const EMPTY_ATOM = Atom.make("")
const MAX_ID = (1n << 64n) - 1n

const isMfa = (t: Term): t is Tuple =>
  t instanceof Tuple && t.elements.length === 3 && t.elements[0] instanceof Atom && t.elements[1] instanceof Atom &&
  typeof t.elements[2] === "number" && Number.isInteger(t.elements[2]) && t.elements[2] >= 0 && t.elements[2] <= 255

/** Checks one element and converts it to its model value, or returns undefined. */
const fromWire = (kind: Kind, t: Term): unknown => {
  switch (kind) {
    case "pid":
      return t instanceof Pid ? t : undefined
    case "atom":
      return t instanceof Atom ? t : undefined
    case "pidOrAtom":
      return t instanceof Pid || t instanceof Atom ? t : undefined
    case "ref":
      return t instanceof Ref ? t : undefined
    case "term":
    case "unused":
      return t
    case "int":
      return typeof t === "number" && Number.isInteger(t) ? t : undefined
    case "id": {
      if (typeof t === "number") return Number.isInteger(t) && t >= 1 ? t : undefined
      if (typeof t === "bigint") return t >= 1n && t <= MAX_ID ? t : undefined
      return undefined
    }
    case "mfa":
      return isMfa(t)
        ? { module: t.elements[0] as Atom, fun: t.elements[1] as Atom, arity: t.elements[2] as number }
        : undefined
    case "list":
      return Array.isArray(t) ? t : undefined
  }
}

const toWire = (kind: Kind, v: unknown): Term => {
  switch (kind) {
    case "unused":
      return EMPTY_ATOM
    case "mfa": {
      const m = v as Mfa
      return new Tuple([m.module, m.fun, m.arity])
    }
    default:
      return v as Term
  }
}

const kindText: Record<Kind, string> = {
  pid: "a pid",
  atom: "an atom",
  pidOrAtom: "a pid or an atom",
  ref: "a reference",
  term: "a term",
  unused: "a term",
  int: "an integer",
  id: "an integer in 1..2^64-1",
  mfa: "{Module, Function, Arity}",
  list: "a proper list"
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

const PASS_THROUGH = 112
const VERSION = 131
const DIST_HEADER = 68
const DIST_FRAG_HEADER = 69
const DIST_FRAG_CONT = 70
const SMALL_TUPLE = 104

// errors are built by top-level functions: no closure per decoded frame
const termsError = (frame: Uint8Array, reason: ControlErrorReason, detail: string) =>
  new ControlError({ reason, detail, hex: hexDump(frame) })

const frameError = (payload: Uint8Array, reason: ControlErrorReason, detail: string, offset?: number) =>
  new ControlError({ reason, detail, hex: hexDump(payload), offset })

const toEither = (r: Frame | ControlError): Either.Either<Frame, ControlError> =>
  r instanceof ControlError ? Either.left(r) : Either.right(r)

const NO_BYTES = new Uint8Array(0)

/** Converts a decoded control tuple (and optional second term) to a `Frame`. */
export const fromTerms = (
  control: Term,
  message: Term | undefined,
  frame: Uint8Array = NO_BYTES
): Either.Either<Frame, ControlError> => toEither(frameOf(control, message, frame))

/**
 * The op of a plain send's control tuple (REG_SEND 6, SEND 2, SEND_SENDER 22, ALIAS_SEND
 * 33), checked as `frameOf`'s generic path would check it; 0 for anything else.
 */
const sendOp = (e: ReadonlyArray<Term>): number => {
  switch (e[0]) {
    case 6:
      return e.length === 4 && e[1] instanceof Pid && e[3] instanceof Atom ? 6 : 0
    case 2:
      return e.length === 3 && e[2] instanceof Pid ? 2 : 0
    case 22:
      return e.length === 3 && e[1] instanceof Pid && e[2] instanceof Pid ? 22 : 0
    case 33:
      return e.length === 3 && e[1] instanceof Pid && e[2] instanceof Ref ? 33 : 0
    default:
      return 0
  }
}

/** `fromTerms` without the `Either`: the frame, or the error. */
const frameOf = (control: Term, message: Term | undefined, frame: Uint8Array): Frame | ControlError => {
  if (!(control instanceof Tuple) || control.elements.length === 0) {
    return termsError(frame, "Malformed", "the control message is not a non-empty tuple")
  }
  const op = control.elements[0]
  // the sends and a call's monitors, checked as the generic path below would (same result,
  // fewer steps, and one object shape per message)
  if (message !== undefined) {
    const e = control.elements
    switch (sendOp(e)) {
      case 6:
        return { control: { _tag: "RegSend", from: e[1] as Pid, toName: e[3] as Atom }, message }
      case 2:
        return { control: { _tag: "Send", to: e[2] as Pid }, message }
      case 22:
        return { control: { _tag: "SendSender", from: e[1] as Pid, to: e[2] as Pid }, message }
      // a gen call's reply
      case 33:
        return { control: { _tag: "AliasSend", from: e[1] as Pid, alias: e[2] as Ref }, message }
    }
  } else {
    // a gen call's monitor and demonitor
    const e = control.elements
    if ((op === 19 || op === 20) && e.length === 4 && e[1] instanceof Pid && e[3] instanceof Ref) {
      const to = e[2]
      if (to instanceof Pid || to instanceof Atom) {
        return {
          control: op === 19
            ? { _tag: "MonitorP", from: e[1], to, ref: e[3] }
            : { _tag: "DemonitorP", from: e[1], to, ref: e[3] }
        }
      }
    }
  }
  const spec = typeof op === "number" ? byOp[op] : undefined
  if (spec === undefined) return termsError(frame, "UnknownOp", `unknown operation ${String(op)}`)
  if (control.elements.length !== spec.fields.length + 1) {
    return termsError(
      frame,
      "BadArity",
      `${spec.tag} (op ${spec.op}) needs ${spec.fields.length + 1} elements, got ${control.elements.length}`
    )
  }
  const out: Record<string, unknown> = { _tag: spec.tag }
  for (let i = 0; i < spec.fields.length; i++) {
    const [name, kind] = spec.fields[i]!
    const value = fromWire(kind, control.elements[i + 1]!)
    if (value === undefined) {
      return termsError(frame, "BadElement", `${spec.tag} element ${i + 2} (${name}) must be ${kindText[kind]}`)
    }
    if (kind !== "unused") out[name] = value
  }
  if (spec.payload === "none" && message !== undefined) {
    return termsError(frame, "UnexpectedPayload", `${spec.tag} takes no second term`)
  }
  if (spec.payload !== "none" && message === undefined) {
    return termsError(frame, "MissingPayload", `${spec.tag} needs a ${spec.payload} term after the control message`)
  }
  if (spec.payload === "args" && !Array.isArray(message)) {
    return termsError(frame, "BadElement", `${spec.tag} arguments must be a proper list`)
  }
  return message === undefined ? { control: out as ControlMessage } : {
    control: out as ControlMessage,
    message
  }
}

/**
 * Limits on what one frame may cost when decoded. Both default to the decoder's
 * defaults (`Etf.DecodeOptions`): `maxTermBytes` is for the control message and the
 * message together.
 */
export interface FrameLimits {
  readonly maxTermBytes?: number | undefined
  readonly maxAtoms?: number | undefined
}

/**
 * Decodes a connected-state frame payload (after its 4-byte length; not a tick):
 * `112, 131 Control [131 Message]`, or `131, 68, 0, Control [Message]` (a distribution
 * header without atom-cache refs). Fragments (`131,69/70`) are not negotiated and are
 * refused, and so are compressed terms (tag 80, as erts: `bad_dist_ext`). Binaries in
 * the terms are copies.
 */
export const decodeFrame = (payload: Uint8Array, limits?: FrameLimits): Either.Either<Frame, ControlError> =>
  toEither(decodeFrameWith(payload, Infinity, limits))

/**
 * `decodeFrame` for frames read from a connection: binaries of at least 64 KiB are views
 * of `payload` instead of copies (the frame buffers a carrier delivers are not reused).
 * @internal
 */
export const decodeFrameSharing = (payload: Uint8Array, limits?: FrameLimits): Either.Either<Frame, ControlError> =>
  toEither(decodeFrameWith(payload, SHARE_FROM, limits))

/**
 * What a frame read from a connection asks for (`decodeReceived`): a message for a local
 * pid, registered name or alias (`to` and `message`: no `Frame` built), or any other
 * control message (`frame`). One object, overwritten by every call.
 * @internal
 */
export interface Received {
  to: Pid | Atom | Ref | undefined
  message: Term | undefined
  frame: Frame | undefined
}

const received: Received = { to: undefined, message: undefined, frame: undefined }

/**
 * `decodeFrameSharing` for the connection's hot path: a plain send (SEND, REG_SEND,
 * SEND_SENDER, ALIAS_SEND) as its destination and message, anything else as its `Frame`
 * (see `Received`; valid until the next call), or the error.
 * @internal
 */
export const decodeReceived = (payload: Uint8Array, limits?: FrameLimits): Received | ControlError => {
  const terms = decodeTerms(payload, SHARE_FROM, limits)
  if (terms instanceof ControlError) return terms
  const { first, second } = terms
  if (second !== undefined && first instanceof Tuple) {
    const e = first.elements
    const op = sendOp(e)
    if (op !== 0) {
      received.to = (op === 6 ? e[3] : e[2]) as Pid | Atom | Ref
      received.message = second
      received.frame = undefined
      return received
    }
  }
  const frame = frameOf(first, second, payload)
  if (frame instanceof ControlError) return frame
  received.to = undefined
  received.message = undefined
  received.frame = frame
  return received
}

const SHARE_FROM = 64 * 1024

const limitReason = (e: DecodeError): ControlErrorReason =>
  e.limit === "Compressed" ? "BadDistExt" : e.limit === undefined ? "Malformed" : e.limit

const decodeFrameWith = (
  payload: Uint8Array,
  shareFrom: number,
  limits: FrameLimits | undefined
): Frame | ControlError => {
  const terms = decodeTerms(payload, shareFrom, limits)
  return terms instanceof ControlError ? terms : frameOf(terms.first, terms.second, payload)
}

/** The terms of a frame payload (the shared `decodePair` answer), or the error. */
const decodeTerms = (
  payload: Uint8Array,
  shareFrom: number,
  limits: FrameLimits | undefined
): decodeEtf.Pair | ControlError => {
  if (payload.length === 0) return frameError(payload, "Malformed", "empty frame", 0)
  let offset: number
  let versionByte: boolean
  if (payload[0] === PASS_THROUGH) {
    offset = 1
    versionByte = true
  } else if (payload[0] === VERSION) {
    const kind = payload[1]
    if (kind === DIST_FRAG_HEADER || kind === DIST_FRAG_CONT) {
      return frameError(payload, "Malformed", "fragmented message, but FRAGMENTS was not negotiated", 1)
    }
    if (kind !== DIST_HEADER) return frameError(payload, "Malformed", `unknown distribution header ${String(kind)}`, 1)
    if (payload.length < 3) return frameError(payload, "Malformed", "truncated distribution header", payload.length)
    if (payload[2] !== 0) {
      return frameError(
        payload,
        "Malformed",
        "atom cache refs in the header, but DIST_HDR_ATOM_CACHE was not negotiated",
        2
      )
    }
    offset = 3
    versionByte = false
  } else {
    return frameError(payload, "Malformed", `a frame starts with 112 or 131, not ${payload[0]}`, 0)
  }
  try {
    // one budget for the frame: the message gets what the control message left
    const terms = decodeEtf.decodePair(
      payload,
      offset,
      versionByte,
      shareFrom,
      limits?.maxTermBytes ?? decodeEtf.DEFAULT_MAX_TERM_BYTES,
      limits?.maxAtoms ?? decodeEtf.DEFAULT_MAX_ATOMS
    )
    if (terms.end !== payload.length) {
      return frameError(payload, "Malformed", `${payload.length - terms.end} bytes after the message`, terms.end)
    }
    return terms
  } catch (e) {
    if (e instanceof DecodeError) return frameError(payload, limitReason(e), e.reason, e.offset)
    throw e
  }
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

/** The control tuple of a message (with `''` for unused fields). */
export const toTuple = (control: ControlMessage): Tuple => {
  const spec = byTag.get(control._tag)
  if (spec === undefined) throw new EncodeError({ reason: `unknown control message ${String(control._tag)}` })
  const c = control as unknown as Record<string, unknown>
  const elements: Array<Term> = [spec.op]
  for (const [name, kind] of spec.fields) elements.push(toWire(kind, c[name]))
  return new Tuple(elements)
}

/**
 * Appends a pass-through frame payload (`112, 131 Control [131 Message]`, no length) to
 * a writer. Throws `EncodeError` when a value is not a term; the writer is then left
 * as it was.
 */
export const encodeFrameInto = (writer: encodeEtf.Writer, control: ControlMessage, message?: Term): void => {
  if (message !== undefined) {
    switch (control._tag) {
      case "Send":
      case "RegSend":
      case "SendSender":
        return encodeSendInto(writer, control, message)
    }
  }
  const spec = byTag.get(control._tag)
  if (spec === undefined) throw new EncodeError({ reason: `unknown control message ${String(control._tag)}` })
  if ((spec.payload === "none") !== (message === undefined)) {
    throw new EncodeError({
      reason: spec.payload === "none" ? `${spec.tag} takes no second term` : `${spec.tag} needs a ${spec.payload} term`
    })
  }
  // relative to base: growing the buffer moves [base, pos) to offset 0
  const start = writer.pos - writer.base
  try {
    // `112, 131, SMALL_TUPLE, N, Op, Fields...` written in place (as `encodeInto(toTuple(control))`)
    writer.ensure(4)
    const b = writer.buf
    const p = writer.pos
    const fields = spec.fields
    b[p] = PASS_THROUGH
    b[p + 1] = VERSION
    b[p + 2] = SMALL_TUPLE
    b[p + 3] = fields.length + 1
    writer.pos = p + 4
    writer.term(spec.op)
    const c = control as unknown as Record<string, unknown>
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!
      writer.term(toWire(f[1], c[f[0]]))
    }
    if (message !== undefined) encodeEtf.encodeInto(writer, message, true)
  } catch (e) {
    writer.pos = writer.base + start
    throw encodeEtf.toEncodeError(e)
  }
}

const SMALL_INTEGER = 97

/**
 * `encodeFrameInto` of a plain send (SEND, REG_SEND, SEND_SENDER), the same bytes in
 * fewer steps: no op table, no field loop, pids and atoms written without `term`'s
 * dispatch.
 */
const encodeSendInto = (
  writer: encodeEtf.Writer,
  control: Extract<ControlMessage, { _tag: "Send" | "RegSend" | "SendSender" }>,
  message: Term
): void => {
  const start = writer.pos - writer.base
  try {
    writer.ensure(6)
    const b = writer.buf
    const p = writer.pos
    b[p] = PASS_THROUGH
    b[p + 1] = VERSION
    b[p + 2] = SMALL_TUPLE
    b[p + 4] = SMALL_INTEGER
    writer.pos = p + 6
    switch (control._tag) {
      case "RegSend": {
        b[p + 3] = 4
        b[p + 5] = 6
        writePid(writer, control.from)
        writer.atom(EMPTY_ATOM)
        const name = control.toName
        if (name instanceof Atom) writer.atom(name)
        else writer.term(name)
        break
      }
      case "SendSender":
        b[p + 3] = 3
        b[p + 5] = 22
        writePid(writer, control.from)
        writePid(writer, control.to)
        break
      case "Send":
        b[p + 3] = 3
        b[p + 5] = 2
        writer.atom(EMPTY_ATOM)
        writePid(writer, control.to)
        break
    }
    writer.u8(VERSION)
    writer.term(message)
  } catch (e) {
    writer.pos = writer.base + start
    throw encodeEtf.toEncodeError(e)
  }
}

const writePid = (writer: encodeEtf.Writer, pid: Pid): void => {
  if (pid instanceof Pid) writer.pid(pid)
  else writer.term(pid)
}

const scratch = new encodeEtf.Writer(4096)

/** A pass-through frame payload (no length prefix). Throws `EncodeError` on a non-term. */
export const encodeFrame = (control: ControlMessage, message?: Term): Uint8Array => {
  scratch.reset()
  encodeFrameInto(scratch, control, message)
  const out = scratch.toUint8Array()
  if (scratch.buf.length > 1 << 20) scratch.buf = new Uint8Array(4096)
  return out
}

/** `encodeFrame` returning an `Either`. */
export const encodeFrameEither = (
  control: ControlMessage,
  message?: Term
): Either.Either<Uint8Array, ControlError> => {
  try {
    return Either.right(encodeFrame(control, message))
  } catch (e) {
    if (e instanceof EncodeError) return Either.left(notEncodable(e))
    throw e
  }
}

/** The `ControlError` for a control message or message that is not a term. */
export const notEncodable = (e: EncodeError): ControlError =>
  new ControlError({ reason: "NotEncodable", detail: e.reason, hex: "" })
