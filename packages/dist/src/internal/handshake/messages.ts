/**
 * Handshake messages (protocol version 6), without their 2- or 4-byte length prefix.
 * Pure functions over `Uint8Array`: every decoder checks each length against the
 * bytes left and returns a value or a `MessageError` with an offset.
 */
import * as Data from "effect/Data"

export class MessageError extends Data.TaggedClass("MessageError")<{
  readonly offset: number
  readonly reason: string
}> {}

export interface SendName {
  readonly _tag: "SendName"
  readonly flags: bigint
  readonly creation: number
  readonly name: string
}

export interface Status {
  readonly _tag: "Status"
  /** `ok`, `ok_simultaneous`, `nok`, `not_allowed`, `alive`, `true`, `false`, or `named` */
  readonly status: string
  /** Only for `named:` */
  readonly name?: string
  readonly creation?: number
}

export interface Challenge {
  readonly _tag: "Challenge"
  readonly flags: bigint
  readonly challenge: number
  readonly creation: number
  readonly name: string
}

export interface ChallengeReply {
  readonly _tag: "ChallengeReply"
  readonly challenge: number
  readonly digest: Uint8Array
}

export interface ChallengeAck {
  readonly _tag: "ChallengeAck"
  readonly digest: Uint8Array
}

export const TAG_NAME = 0x4e // 'N'
export const TAG_NAME_OLD = 0x6e // 'n'
export const TAG_STATUS = 0x73 // 's'
export const TAG_REPLY = 0x72 // 'r'
export const TAG_ACK = 0x61 // 'a'

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength)

const text = (b: Uint8Array, start: number, end: number): string | MessageError => {
  try {
    return decoder.decode(b.subarray(start, end))
  } catch {
    return new MessageError({ offset: start, reason: "name is not valid UTF-8" })
  }
}

const expectTag = (b: Uint8Array, tag: number, what: string): MessageError | undefined => {
  if (b.length === 0) return new MessageError({ offset: 0, reason: `empty message, expected ${what}` })
  if (b[0] !== tag) {
    return new MessageError({
      offset: 0,
      reason: `expected ${what} ('${String.fromCharCode(tag)}'), got byte ${b[0]}`
    })
  }
  return undefined
}

// ---------------------------------------------------------------------------
// send_name: 'N', Flags u64, Creation u32, Nlen u16, Name
// ---------------------------------------------------------------------------

export const encodeSendName = (m: Omit<SendName, "_tag">): Uint8Array => {
  const name = encoder.encode(m.name)
  const out = new Uint8Array(15 + name.length)
  const v = view(out)
  out[0] = TAG_NAME
  v.setBigUint64(1, m.flags)
  v.setUint32(9, m.creation >>> 0)
  v.setUint16(13, name.length)
  out.set(name, 15)
  return out
}

/** Decodes the new `'N'` form; the old `'n'` form (OTP 23/24 without epmd) is refused. */
export const decodeSendName = (b: Uint8Array): SendName | MessageError => {
  if (b[0] === TAG_NAME_OLD) {
    return new MessageError({ offset: 0, reason: "old 'n' send_name (protocol version 5) is not supported" })
  }
  const bad = expectTag(b, TAG_NAME, "send_name")
  if (bad) return bad
  if (b.length < 15) return new MessageError({ offset: b.length, reason: "send_name truncated" })
  const v = view(b)
  const end = 15 + v.getUint16(13)
  if (end > b.length) return new MessageError({ offset: 13, reason: "send_name name length exceeds message" })
  const name = text(b, 15, end)
  if (name instanceof MessageError) return name
  // Trailing bytes are ignored, as OTP does.
  return { _tag: "SendName", flags: v.getBigUint64(1), creation: v.getUint32(9), name }
}

// ---------------------------------------------------------------------------
// status: 's' + text
// ---------------------------------------------------------------------------

export const encodeStatus = (status: string): Uint8Array => {
  const t = encoder.encode(status)
  const out = new Uint8Array(1 + t.length)
  out[0] = TAG_STATUS
  out.set(t, 1)
  return out
}

const NAMED = encoder.encode("named:")

export const decodeStatus = (b: Uint8Array): Status | MessageError => {
  const bad = expectTag(b, TAG_STATUS, "status")
  if (bad) return bad
  const isNamed = b.length >= 1 + NAMED.length && NAMED.every((c, i) => b[1 + i] === c)
  if (isNamed) {
    const at = 1 + NAMED.length
    if (b.length < at + 2) return new MessageError({ offset: b.length, reason: "named: status truncated" })
    const end = at + 2 + view(b).getUint16(at)
    if (end + 4 > b.length) return new MessageError({ offset: at, reason: "named: status name length" })
    const name = text(b, at + 2, end)
    if (name instanceof MessageError) return name
    return { _tag: "Status", status: "named", name, creation: view(b).getUint32(end) }
  }
  let status = ""
  for (let i = 1; i < b.length; i++) {
    const c = b[i]!
    if (c < 0x20 || c > 0x7e) return new MessageError({ offset: i, reason: "status is not printable ASCII" })
    status += String.fromCharCode(c)
  }
  return { _tag: "Status", status }
}

// ---------------------------------------------------------------------------
// challenge: 'N', Flags u64, Challenge u32, Creation u32, Nlen u16, Name
// ---------------------------------------------------------------------------

export const encodeChallenge = (m: Omit<Challenge, "_tag">): Uint8Array => {
  const name = encoder.encode(m.name)
  const out = new Uint8Array(19 + name.length)
  const v = view(out)
  out[0] = TAG_NAME
  v.setBigUint64(1, m.flags)
  v.setUint32(9, m.challenge >>> 0)
  v.setUint32(13, m.creation >>> 0)
  v.setUint16(17, name.length)
  out.set(name, 19)
  return out
}

export const decodeChallenge = (b: Uint8Array): Challenge | MessageError => {
  if (b[0] === TAG_NAME_OLD) {
    return new MessageError({ offset: 0, reason: "old 'n' challenge (protocol version 5) is not supported" })
  }
  const bad = expectTag(b, TAG_NAME, "challenge")
  if (bad) return bad
  if (b.length < 19) return new MessageError({ offset: b.length, reason: "challenge truncated" })
  const v = view(b)
  const end = 19 + v.getUint16(17)
  if (end > b.length) return new MessageError({ offset: 17, reason: "challenge name length exceeds message" })
  const name = text(b, 19, end)
  if (name instanceof MessageError) return name
  return { _tag: "Challenge", flags: v.getBigUint64(1), challenge: v.getUint32(9), creation: v.getUint32(13), name }
}

// ---------------------------------------------------------------------------
// challenge reply: 'r', Challenge u32, Digest 16; challenge ack: 'a', Digest 16
// ---------------------------------------------------------------------------

export const encodeChallengeReply = (m: Omit<ChallengeReply, "_tag">): Uint8Array => {
  const out = new Uint8Array(21)
  out[0] = TAG_REPLY
  view(out).setUint32(1, m.challenge >>> 0)
  out.set(m.digest.subarray(0, 16), 5)
  return out
}

export const decodeChallengeReply = (b: Uint8Array): ChallengeReply | MessageError => {
  const bad = expectTag(b, TAG_REPLY, "challenge reply")
  if (bad) return bad
  if (b.length !== 21) {
    return new MessageError({ offset: Math.min(b.length, 21), reason: `challenge reply has ${b.length} bytes, not 21` })
  }
  return { _tag: "ChallengeReply", challenge: view(b).getUint32(1), digest: b.slice(5, 21) }
}

export const encodeChallengeAck = (digest: Uint8Array): Uint8Array => {
  const out = new Uint8Array(17)
  out[0] = TAG_ACK
  out.set(digest.subarray(0, 16), 1)
  return out
}

export const decodeChallengeAck = (b: Uint8Array): ChallengeAck | MessageError => {
  const bad = expectTag(b, TAG_ACK, "challenge ack")
  if (bad) return bad
  if (b.length !== 17) {
    return new MessageError({ offset: Math.min(b.length, 17), reason: `challenge ack has ${b.length} bytes, not 17` })
  }
  return { _tag: "ChallengeAck", digest: b.slice(1, 17) }
}

// ---------------------------------------------------------------------------
// framing helpers
// ---------------------------------------------------------------------------

/** Prefix a handshake message with its 2- or 4-byte length. */
export const frame = (payload: Uint8Array, header: 2 | 4): Uint8Array => {
  const out = new Uint8Array(header + payload.length)
  const v = view(out)
  if (header === 2) v.setUint16(0, payload.length)
  else v.setUint32(0, payload.length)
  out.set(payload, header)
  return out
}
