/**
 * EPMD wire packets: pure encoders and incremental decoders over `Uint8Array`.
 *
 * Requests carry a 2-byte length prefix; replies carry none. Every decoder
 * returns `NeedMore` until the bytes it needs are present, so callers can feed
 * it the growing buffer of a socket read after read.
 *
 * (internal module)
 */

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

/** (internal) */
export const ALIVE2_REQ = 120
/** (internal) */
export const ALIVE2_X_RESP = 118
/** (internal) */
export const ALIVE2_RESP = 121
/** (internal) */
export const PORT_PLEASE2_REQ = 122
/** (internal) */
export const PORT2_RESP = 119
/** (internal) */
export const NAMES_REQ = 110
/** (internal) */
export const DUMP_REQ = 100
/** (internal) */
export const KILL_REQ = 107
/** (internal) */
export const STOP_REQ = 115

/** (internal) */
export const NODE_TYPE_NORMAL = 77
/** (internal) */
export const NODE_TYPE_HIDDEN = 72
/** (internal) */
export const PROTOCOL_TCP_IPV4 = 0
/** (internal) */
export const DIST_VERSION = 6

/**
 * Longest node (alive) name accepted in a packet, in bytes: 255 characters of
 * up to 4 UTF-8 bytes, as epmd's `MAXSYMLEN`.
 *
 * (internal module)
 */
export const MAX_NAME_BYTES = 255 * 4

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

/** (internal) */
export interface NodeEntry {
  readonly name: string
  readonly port: number
  readonly nodeType: number
  readonly protocol: number
  readonly highestVersion: number
  readonly lowestVersion: number
  readonly extra: Uint8Array
}

/** (internal) */
export interface Alive2Reply {
  readonly _tag: "Alive2Reply"
  /** 118 (ALIVE2_X_RESP, u32 creation) or 121 (ALIVE2_RESP, u16 creation) */
  readonly tag: number
  readonly result: number
  readonly creation: number
}

/** (internal) */
export type Port2Reply =
  | { readonly _tag: "Found"; readonly entry: NodeEntry }
  | { readonly _tag: "NotFound"; readonly result: number }

/** (internal) */
export interface NamesReply {
  readonly epmdPort: number
  readonly names: ReadonlyArray<{ readonly name: string; readonly port: number }>
}

/** (internal) */
export type Request =
  | {
    readonly _tag: "Alive2"
    /** the fields, with the name decoded for display (bad UTF-8 replaced) */
    readonly entry: NodeEntry
    /** the name exactly as sent: epmd keeps names as bytes */
    readonly name: Uint8Array
  }
  | { readonly _tag: "PortPlease2"; readonly name: Uint8Array }
  | { readonly _tag: "Names" }
  | { readonly _tag: "Dump" }
  | { readonly _tag: "Kill" }
  | { readonly _tag: "Stop"; readonly name: string }
  | { readonly _tag: "Unknown"; readonly code: number }

/**
 * The outcome of an incremental decode: a value and the bytes after it, a
 * request for more bytes, or a malformed packet (with the offending offset).
 *
 * (internal module)
 */
export type Decoded<A> =
  | { readonly _tag: "Done"; readonly value: A; readonly rest: Uint8Array }
  | { readonly _tag: "NeedMore" }
  | { readonly _tag: "Malformed"; readonly offset: number; readonly reason: string }

const needMore: Decoded<never> = { _tag: "NeedMore" }
const done = <A>(value: A, rest: Uint8Array): Decoded<A> => ({ _tag: "Done", value, rest })
const malformed = (offset: number, reason: string): Decoded<never> => ({ _tag: "Malformed", offset, reason })

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: false })
const strictDecoder = new TextDecoder("utf-8", { fatal: true })

/** Longest node name in characters, as epmd (`verify_utf8` result at most 255). */
const MAX_NAME_CHARS = 255

/**
 * The name a node may register under, as epmd checks it: valid UTF-8, 1..255
 * characters, no NUL. Returns the text, or `undefined` for a name epmd refuses.
 *
 * (internal module)
 */
export const validName = (bytes: Uint8Array): string | undefined => {
  if (bytes.length === 0 || bytes.length > MAX_NAME_BYTES || bytes.includes(0)) return undefined
  let text: string
  try {
    text = strictDecoder.decode(bytes)
  } catch {
    return undefined
  }
  let chars = 0
  for (const _ of text) if (++chars > MAX_NAME_CHARS) return undefined
  return text
}

/** Bytes shown as text in a log line (bad UTF-8 replaced, long names cut). */
export const showName = (bytes: Uint8Array): string => {
  const text = decoder.decode(bytes.subarray(0, 64))
  return JSON.stringify(bytes.length > 64 ? `${text}...` : text)
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength)

/** Prefix a request body with its u16 length. */
const framed = (body: Uint8Array): Uint8Array => {
  if (body.length > 0xffff) throw new RangeError("EPMD request longer than 65535 bytes")
  const out = new Uint8Array(2 + body.length)
  view(out).setUint16(0, body.length)
  out.set(body, 2)
  return out
}

/** (internal) */
export const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  if (a.length === 0) return b
  if (b.length === 0) return a
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

const encodeName = (name: string): Uint8Array => {
  const bytes = encoder.encode(name)
  if (bytes.length === 0 || bytes.length > MAX_NAME_BYTES) {
    throw new RangeError(`EPMD node name must be 1..${MAX_NAME_BYTES} bytes`)
  }
  return bytes
}

const checkU16 = (n: number, what: string) => {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new RangeError(`${what} must be a u16, got ${n}`)
}

/**
 * Encode the node fields shared by ALIVE2_REQ and PORT2_RESP, from PortNo to
 * Extra.
 */
const encodeEntryBody = (entry: NodeEntry, rawName?: Uint8Array): Uint8Array => {
  checkU16(entry.port, "port")
  checkU16(entry.highestVersion, "highestVersion")
  checkU16(entry.lowestVersion, "lowestVersion")
  const name = rawName ?? encodeName(entry.name)
  if (name.length === 0 || name.length > MAX_NAME_BYTES) {
    throw new RangeError(`EPMD node name must be 1..${MAX_NAME_BYTES} bytes`)
  }
  if (entry.extra.length > 0xffff) throw new RangeError("extra longer than 65535 bytes")
  const out = new Uint8Array(10 + name.length + 2 + entry.extra.length)
  const v = view(out)
  v.setUint16(0, entry.port)
  out[2] = entry.nodeType & 0xff
  out[3] = entry.protocol & 0xff
  v.setUint16(4, entry.highestVersion)
  v.setUint16(6, entry.lowestVersion)
  v.setUint16(8, name.length)
  out.set(name, 10)
  v.setUint16(10 + name.length, entry.extra.length)
  out.set(entry.extra, 12 + name.length)
  return out
}

/**
 * Decode the node fields shared by ALIVE2_REQ and PORT2_RESP starting at
 * `offset`. Returns `NeedMore` when the bytes stop early.
 */
const decodeEntryBody = (b: Uint8Array, offset: number): Decoded<NodeEntry & { readonly rawName: Uint8Array }> => {
  if (b.length < offset + 10) return needMore
  const v = view(b)
  const port = v.getUint16(offset)
  const nodeType = b[offset + 2]!
  const protocol = b[offset + 3]!
  const highestVersion = v.getUint16(offset + 4)
  const lowestVersion = v.getUint16(offset + 6)
  const nlen = v.getUint16(offset + 8)
  if (nlen === 0 || nlen > MAX_NAME_BYTES) return malformed(offset + 8, `name length ${nlen}`)
  const nameStart = offset + 10
  if (b.length < nameStart + nlen + 2) return needMore
  const rawName = b.slice(nameStart, nameStart + nlen)
  const name = decoder.decode(rawName)
  const elen = v.getUint16(nameStart + nlen)
  const extraStart = nameStart + nlen + 2
  if (b.length < extraStart + elen) return needMore
  const extra = b.slice(extraStart, extraStart + elen)
  return done(
    { name, rawName, port, nodeType, protocol, highestVersion, lowestVersion, extra },
    b.subarray(extraStart + elen)
  )
}

// ---------------------------------------------------------------------------
// Client side: requests out, replies in
// ---------------------------------------------------------------------------

/** ALIVE2_REQ with its length prefix. */
export const encodeAlive2Req = (entry: NodeEntry): Uint8Array => {
  const body = encodeEntryBody(entry)
  const out = new Uint8Array(1 + body.length)
  out[0] = ALIVE2_REQ
  out.set(body, 1)
  return framed(out)
}

/** PORT_PLEASE2_REQ with its length prefix. */
export const encodePortPlease2Req = (name: string): Uint8Array => {
  const n = encodeName(name)
  const out = new Uint8Array(1 + n.length)
  out[0] = PORT_PLEASE2_REQ
  out.set(n, 1)
  return framed(out)
}

/** NAMES_REQ with its length prefix. */
export const encodeNamesReq = (): Uint8Array => framed(Uint8Array.of(NAMES_REQ))

/**
 * Decode ALIVE2_X_RESP (118, u32 creation) or ALIVE2_RESP (121, u16 creation).
 *
 * (internal module)
 */
export const decodeAlive2Reply = (b: Uint8Array): Decoded<Alive2Reply> => {
  if (b.length < 1) return needMore
  const tag = b[0]!
  if (tag === ALIVE2_X_RESP) {
    if (b.length < 6) return needMore
    return done({ _tag: "Alive2Reply", tag, result: b[1]!, creation: view(b).getUint32(2) }, b.subarray(6))
  }
  if (tag === ALIVE2_RESP) {
    if (b.length < 4) return needMore
    return done({ _tag: "Alive2Reply", tag, result: b[1]!, creation: view(b).getUint16(2) }, b.subarray(4))
  }
  return malformed(0, `unexpected ALIVE2 reply tag ${tag}`)
}

/**
 * Decode PORT2_RESP (119). On a non-zero result, epmd sends only the two
 * first bytes and closes.
 *
 * (internal module)
 */
export const decodePort2Reply = (b: Uint8Array): Decoded<Port2Reply> => {
  if (b.length < 2) return needMore
  if (b[0] !== PORT2_RESP) return malformed(0, `unexpected PORT_PLEASE2 reply tag ${b[0]}`)
  const result = b[1]!
  if (result !== 0) return done({ _tag: "NotFound", result }, b.subarray(2))
  const entry = decodeEntryBody(b, 2)
  if (entry._tag !== "Done") return entry
  const { rawName: _, ...fields } = entry.value
  return done({ _tag: "Found", entry: fields }, entry.rest)
}

const NAME_LINE = /^name (.+) at port (\d+)$/

/**
 * Decode a NAMES reply: u32 epmd port, then `name <n> at port <p>\n` lines
 * until epmd closes the socket. Pass `ended = true` once the socket has ended;
 * until then the reply is never complete. Lines that do not match are skipped
 * (epmd also lists "old/unused" entries in some modes).
 *
 * (internal module)
 */
export const decodeNamesReply = (b: Uint8Array, ended: boolean): Decoded<NamesReply> => {
  if (!ended) return needMore
  if (b.length < 4) return malformed(b.length, "NAMES reply shorter than 4 bytes")
  const epmdPort = view(b).getUint32(0)
  const text = decoder.decode(b.subarray(4))
  const names: Array<{ name: string; port: number }> = []
  for (const line of text.split("\n")) {
    const m = NAME_LINE.exec(line)
    if (m !== null) names.push({ name: m[1]!, port: Number(m[2]) })
  }
  return done({ epmdPort, names }, new Uint8Array(0))
}

// ---------------------------------------------------------------------------
// Server side: requests in, replies out
// ---------------------------------------------------------------------------

/**
 * Decode one length-prefixed request.
 *
 * (internal module)
 */
export const decodeRequest = (b: Uint8Array): Decoded<Request> => {
  if (b.length < 2) return needMore
  const len = view(b).getUint16(0)
  if (len === 0) return malformed(0, "empty request")
  if (b.length < 2 + len) return needMore
  const body = b.subarray(2, 2 + len)
  const rest = b.subarray(2 + len)
  const code = body[0]!
  switch (code) {
    case ALIVE2_REQ: {
      const entry = decodeEntryBody(body, 1)
      if (entry._tag === "NeedMore") return malformed(2 + len, "ALIVE2_REQ truncated")
      if (entry._tag === "Malformed") return malformed(entry.offset + 2, entry.reason)
      const { rawName, ...fields } = entry.value
      return done({ _tag: "Alive2", entry: fields, name: rawName }, rest)
    }
    case PORT_PLEASE2_REQ: {
      // epmd skips one trailing NUL
      const end = len > 1 && body[len - 1] === 0 ? len - 1 : len
      if (end < 2 || end - 1 > MAX_NAME_BYTES) return malformed(2, `PORT_PLEASE2_REQ name length ${end - 1}`)
      return done({ _tag: "PortPlease2", name: body.slice(1, end) }, rest)
    }
    case NAMES_REQ:
      return done({ _tag: "Names" }, rest)
    case DUMP_REQ:
      return done({ _tag: "Dump" }, rest)
    case KILL_REQ:
      return done({ _tag: "Kill" }, rest)
    case STOP_REQ:
      return done({ _tag: "Stop", name: decoder.decode(body.subarray(1)) }, rest)
    default:
      return done({ _tag: "Unknown", code }, rest)
  }
}

/** ALIVE2_X_RESP (118): result u8, creation u32. */
export const encodeAlive2XResp = (result: number, creation: number): Uint8Array => {
  const out = new Uint8Array(6)
  out[0] = ALIVE2_X_RESP
  out[1] = result
  view(out).setUint32(2, creation >>> 0)
  return out
}

/** ALIVE2_RESP (121): result u8, creation u16. */
export const encodeAlive2Resp = (result: number, creation: number): Uint8Array => {
  const out = new Uint8Array(4)
  out[0] = ALIVE2_RESP
  out[1] = result
  view(out).setUint16(2, creation & 0xffff)
  return out
}

/** PORT2_RESP (119), found or not; `rawName`, when given, is sent as the name bytes. */
export const encodePort2Resp = (entry: NodeEntry | undefined, rawName?: Uint8Array): Uint8Array => {
  if (entry === undefined) return Uint8Array.of(PORT2_RESP, 1)
  const body = encodeEntryBody(entry, rawName)
  const out = new Uint8Array(2 + body.length)
  out[0] = PORT2_RESP
  out[1] = 0
  out.set(body, 2)
  return out
}

/** The NAMES reply: u32 epmd port, then one text line per node (names as bytes, as epmd writes them). */
export const encodeNamesResp = (
  epmdPort: number,
  names: ReadonlyArray<{ readonly name: string | Uint8Array; readonly port: number }>
): Uint8Array => {
  const lines = names.map((n) => {
    const name = typeof n.name === "string" ? encoder.encode(n.name) : n.name
    return [encoder.encode("name "), name, encoder.encode(` at port ${n.port}\n`)]
  }).flat()
  let size = 4
  for (const l of lines) size += l.length
  const out = new Uint8Array(size)
  view(out).setUint32(0, epmdPort >>> 0)
  let at = 4
  for (const l of lines) {
    out.set(l, at)
    at += l.length
  }
  return out
}
