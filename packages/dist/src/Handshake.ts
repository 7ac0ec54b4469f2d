/**
 * The distribution handshake (protocol version 6), OTP's `dist_util`: a pure state
 * machine for both roles and a small Effect runner over a `Transport.Carrier`.
 *
 * Initiator (we dialled): `send_name` → status → challenge → challenge reply → ack.
 * Acceptor (they dialled): `send_name` → policy (net_kernel) → status → challenge →
 * check the reply → ack. A `send_name` with our own node name is refused (`not_allowed`)
 * before any authentication. After `alive`, the old connection is dropped only once the
 * peer's challenge reply has proven the cookie.
 *
 * - Flags: we send `Flags.RECOMMENDED` (hidden, the default) or
 *   `Flags.RECOMMENDED_PUBLISHED`, and require `Flags.MANDATORY_25` from the peer (so
 *   OTP 25 peers work); the error names the missing flags.
 * - Every step has its own `net_setuptime` limit (default 7 s, `Effect.timeoutFail`, so
 *   `TestClock` drives it).
 * - On failure the runner closes the carrier. The cookie stays `Redacted`: it is
 *   unwrapped only to compute the digest and never logged or put in an error.
 *
 * Errors: one `HandshakeError` class with a `reason` ("AuthenticationFailed",
 * "NotAllowed", "MissingFlags", "HandshakeTimeout", "NameInUse", "Malformed",
 * "NameMismatch", "Nok", "Closed") and the `step` that failed (a carrier that cannot be
 * opened is the caller's `ConnectError`, before any step). "NameInUse" is the `alive` case
 * answered `false`: a live connection to that node already exists. An initiator whose
 * peer closes the connection right after our challenge reply gets "AuthenticationFailed"
 * (that is how OTP answers a wrong digest); other unexpected closes are "Closed".
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import * as machine from "./internal/handshake/machine.js"
import * as runner from "./internal/handshake/runner.js"
import type { Carrier } from "./Transport.js"

export {
  /**
   * A failed handshake: the `step` (OTP's function name, e.g. `recvChallengeReply`), a
   * `reason`, the `peer` when known, and a `detail` that never holds the cookie or a
   * digest.
   *
   * @since 0.1.0
   * @category errors
   */
  HandshakeError
} from "./internal/handshake/machine.js"

/**
 * @since 0.1.0
 * @category models
 */
export type HandshakeStep = machine.HandshakeStep

/**
 * @since 0.1.0
 * @category models
 */
export type HandshakeErrorReason = machine.HandshakeErrorReason

/**
 * What a successful handshake hands to `Connection`: the peer's name (`peer` atom and
 * `peerName`), creation and flags, our flags, the negotiated flags (ours AND theirs),
 * whether the peer is hidden, and `tail`, the bytes already read past the last
 * handshake message (4-byte framed connection data).
 *
 * @since 0.1.0
 * @category models
 */
export type HandshakeResult = machine.HandshakeResult

/**
 * net_kernel's answer to an incoming connection, sent to the peer as the status:
 * `ok`; `ok_simultaneous` (we drop our own pending attempt); `nok` (we keep our own
 * attempt, the peer gives up); `not_allowed`; `alive` (we already have a connection:
 * the peer says whether it is dead).
 *
 * @since 0.1.0
 * @category models
 */
export type PolicyDecision = machine.PolicyDecision

/**
 * The handshake state (`#hs_data{}`).
 *
 * @since 0.1.0
 * @category models
 */
export type HsData = machine.HsData

/**
 * @since 0.1.0
 * @category models
 */
export type State = machine.State

/**
 * @since 0.1.0
 * @category models
 */
export type Step = machine.Step

/**
 * @since 0.1.0
 * @category models
 */
export type Decision = machine.Decision

/**
 * Options shared by both roles.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommonOptions {
  /** Our full node name, e.g. `ts@vm`; the acceptor sends it in the challenge. */
  readonly thisNode: string
  readonly cookie: Redacted.Redacted<string>
  /** Our creation (from epmd); our pids, ports and refs must carry it. */
  readonly creation: number
  /** Default true: hidden (no PUBLISHED flag). */
  readonly hidden?: boolean | undefined
  /** Override the flags we send (default `Flags.recommended({ hidden })`). */
  readonly flags?: bigint | undefined
  /** Flags the peer must have (default `Flags.MANDATORY_25`). */
  readonly requiredFlags?: bigint | undefined
  /** `net_setuptime` per step (default 7 seconds). */
  readonly setupTime?: Duration.DurationInput | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface InitiateOptions extends CommonOptions {
  /** The full name of the node we dialled; the challenge must carry exactly this name. */
  readonly peer: string
  /**
   * The peer answered `alive` (it has a connection from us): return true if our old
   * connection is dead (the peer drops it), false to abort. Default: true.
   */
  readonly onAlive?: ((peer: string) => Effect.Effect<boolean>) | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface AcceptOptions extends CommonOptions {
  /** net_kernel's decision for this peer (default: always `ok`). */
  readonly policy?:
    | ((peerName: string, peerFlags: bigint, peerCreation: number) => Effect.Effect<PolicyDecision>)
    | undefined
  /**
   * After `alive`, the peer said its old connection is dead and its challenge reply has
   * proven the cookie: drop the old connection, and complete when it is gone. Runs
   * before the challenge ack is sent, never for a peer that fails authentication (OTP
   * drops the old connection before the challenge; an impostor could then cut it).
   * Default: nothing.
   */
  readonly onAliveConfirmed?: ((peer: string) => Effect.Effect<void>) | undefined
  /**
   * The limit for the first message (`send_name`) when shorter than `setupTime`: a
   * connection that says nothing gives its pending slot back early. Default: `setupTime`.
   */
  readonly firstMessageTimeout?: Duration.DurationInput | undefined
}

/**
 * Run the initiator side over a freshly connected carrier.
 *
 * @since 0.1.0
 * @category handshake
 */
export const initiate: (
  carrier: Carrier,
  options: InitiateOptions
) => Effect.Effect<HandshakeResult, machine.HandshakeError> = runner.initiate

/**
 * Run the acceptor side over a freshly accepted carrier.
 *
 * @since 0.1.0
 * @category handshake
 */
export const accept: (
  carrier: Carrier,
  options: AcceptOptions
) => Effect.Effect<HandshakeResult, machine.HandshakeError> = runner.accept

// ---------------------------------------------------------------------------
// Pure state machine
// ---------------------------------------------------------------------------

/**
 * Build the handshake state. `thisChallenge` is the random challenge we will send.
 *
 * @since 0.1.0
 * @category state machine
 */
export const makeHsData: typeof machine.makeHsData = machine.makeHsData

/**
 * The initiator's first step (sends `send_name`).
 *
 * @since 0.1.0
 * @category state machine
 */
export const initiatorStart: (hs: HsData) => Step = machine.initiatorStart

/**
 * The acceptor's first step (waits for `send_name`).
 *
 * @since 0.1.0
 * @category state machine
 */
export const acceptorStart: (hs: HsData) => Step = machine.acceptorStart

/**
 * Feed one handshake message (without its length prefix) to a state.
 *
 * @since 0.1.0
 * @category state machine
 */
export const onMessage: (state: State, message: Uint8Array) => Step = machine.onMessage

/**
 * Answer a state that waits for a local decision (`DecidePolicy`, `DecideAlive`,
 * `AwaitOldDown`).
 *
 * @since 0.1.0
 * @category state machine
 */
export const decide: (state: State, decision: Decision) => Step = machine.decide

/**
 * Whether a state waits for a peer message (otherwise for `decide`).
 *
 * @since 0.1.0
 * @category state machine
 */
export const awaitsMessage: (state: State) => boolean = machine.awaitsMessage

/**
 * The step a state is in, as named in errors.
 *
 * @since 0.1.0
 * @category state machine
 */
export const stepOf: (state: State) => HandshakeStep = machine.stepOf

/**
 * The simultaneous-connect rule: when a peer dials us while our own attempt to it is
 * pending, compare the names as atoms (bytewise UTF-8). If ours is greater we keep our
 * attempt and answer `nok`; otherwise we drop ours and answer `ok_simultaneous`.
 *
 * @since 0.1.0
 * @category policy
 */
export const simultaneousDecision = (thisNode: string, otherNode: string): "nok" | "ok_simultaneous" =>
  Buffer.compare(Buffer.from(thisNode, "utf8"), Buffer.from(otherNode, "utf8")) > 0 ? "nok" : "ok_simultaneous"
