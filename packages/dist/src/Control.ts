/**
 * Control messages of a connected distribution channel (docs/wire-protocol.md, "Connected state"), as a pure
 * codec over frame payloads (the bytes after the 4-byte length; ticks excluded).
 *
 * - Decoding accepts the pass-through form `112, 131 Control [131 Message]` (what OTP
 *   sends when neither DIST_HDR_ATOM_CACHE nor FRAGMENTS is negotiated) and a
 *   `131, 68, 0` header with no atom-cache refs. Fragments (`131,69/70`) are refused,
 *   and so are compressed terms (tag 80: erts closes such a connection with `bad_dist_ext`).
 * - What one frame may cost is bounded (`FrameLimits`): the estimated heap size of its
 *   decoded terms, and the atoms it may add to the atom table.
 * - Every op is checked for arity and element types; a bad frame is a `ControlError`
 *   with a truncated hex dump.
 * - Encoding produces pass-through `112` frames, with `''` in the unused fields.
 *
 * Old and new forms are kept apart (`Send` vs `SendSender`, `Exit` vs `PayloadExit`...);
 * the receiver treats them alike.
 *
 * @since 0.1.0
 */
import type { Term } from "@effect-otp/process/Term"
import type * as Either from "effect/Either"
import * as internal from "./internal/control/codec.js"
import type { Writer } from "./internal/etf/encode.js"

export {
  /**
   * A frame that is not a valid control message: `reason` ("Malformed", "UnknownOp",
   * "BadArity", "BadElement", "MissingPayload", "UnexpectedPayload", "NotEncodable",
   * "BadDistExt" for a compressed term, "AtomLimit", "TermBytes"),
   * `detail`, `hex` (the first 64 bytes of the frame) and the `offset` when known.
   *
   * @since 0.1.0
   * @category errors
   */
  ControlError
} from "./internal/control/codec.js"

/**
 * @since 0.1.0
 * @category errors
 */
export type ControlErrorReason = internal.ControlErrorReason

/**
 * The `{Module, Function, Arity}` of a SPAWN_REQUEST.
 *
 * @since 0.1.0
 * @category models
 */
export type Mfa = internal.Mfa

/**
 * Every control message, tagged by op:
 *
 * | `_tag` | op | second term (`Frame.message`) |
 * |---|---|---|
 * | Link, Unlink, GroupLeader, NodeLink | 1, 4, 7, 5 | – |
 * | Send, SendTT | 2, 12 | message |
 * | Exit, Exit2, ExitTT, Exit2TT | 3, 8, 13, 18 | – (reason in the tuple) |
 * | RegSend, RegSendTT | 6, 16 | message |
 * | MonitorP, DemonitorP, MonitorPExit | 19, 20, 21 | – |
 * | SendSender, SendSenderTT | 22, 23 | message |
 * | PayloadExit(TT), PayloadExit2(TT) | 24–27 | exit reason |
 * | PayloadMonitorPExit | 28 | exit reason |
 * | SpawnRequest, SpawnRequestTT | 29, 30 | argument list |
 * | SpawnReply, SpawnReplyTT | 31, 32 | – |
 * | AliasSend, AliasSendTT | 33, 34 | message |
 * | UnlinkId, UnlinkIdAck | 35, 36 | – |
 *
 * @since 0.1.0
 * @category models
 */
export type ControlMessage = internal.ControlMessage

/**
 * A decoded frame.
 *
 * @since 0.1.0
 * @category models
 */
export type Frame = internal.Frame

/**
 * Decode a frame payload.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeFrame: (
  payload: Uint8Array,
  limits?: FrameLimits
) => Either.Either<Frame, internal.ControlError> = internal.decodeFrame

/**
 * What decoding one frame may cost: `maxTermBytes` (estimated heap bytes of the control
 * message and the message together) and `maxAtoms` (no new atom once the atom table
 * holds that many). Both default to the `Etf` decoder's defaults. A frame over a limit
 * is a `ControlError` with reason "TermBytes" or "AtomLimit".
 *
 * @since 0.1.0
 * @category decoding
 */
export type FrameLimits = internal.FrameLimits

/**
 * Check an already decoded control tuple (and second term) and convert it to a `Frame`.
 *
 * @since 0.1.0
 * @category decoding
 */
export const fromTerms: (control: Term, message: Term | undefined) => Either.Either<Frame, internal.ControlError> = (
  control,
  message
) => internal.fromTerms(control, message)

/**
 * The pass-through frame payload (no length prefix) for a control message and, for
 * "+M" ops, its second term.
 *
 * @throws EncodeError when a value is not a term.
 * @since 0.1.0
 * @category encoding
 */
export const encodeFrame: (control: ControlMessage, message?: Term) => Uint8Array = internal.encodeFrame

/**
 * `encodeFrame` returning a `ControlError` ("NotEncodable") instead of throwing.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeFrameEither: (
  control: ControlMessage,
  message?: Term
) => Either.Either<Uint8Array, internal.ControlError> = internal.encodeFrameEither

/**
 * Append a frame payload to an `Etf.Writer` (e.g. after a length placeholder).
 *
 * @throws EncodeError when a value is not a term (the writer is left unchanged).
 * @since 0.1.0
 * @category encoding
 */
export const encodeFrameInto: (writer: Writer, control: ControlMessage, message?: Term) => void =
  internal.encodeFrameInto

/**
 * The control tuple of a message, e.g. `{6, From, '', Name}` for RegSend.
 *
 * @since 0.1.0
 * @category encoding
 */
export const toTuple: (control: ControlMessage) => Term = internal.toTuple

/**
 * The op number of a tag (e.g. `opOf("RegSend") === 6`).
 *
 * @since 0.1.0
 * @category utils
 */
export const opOf: (tag: ControlMessage["_tag"]) => number = internal.opOf

/**
 * Whether an op carries a second term.
 *
 * @since 0.1.0
 * @category utils
 */
export const hasPayload: (tag: ControlMessage["_tag"]) => boolean = internal.hasPayload

/**
 * Hex of the first `limit` (64) bytes, for logs.
 *
 * @since 0.1.0
 * @category utils
 */
export const hexDump: (bytes: Uint8Array, limit?: number) => string = internal.hexDump
