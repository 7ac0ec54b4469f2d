/**
 * A connected distribution channel, the mechanism half of OTP's `dist_util:con_loop`
 * (the policy half is NetKernel):
 *
 * - **Framing**: u32 length + payload; length 0 is a tick. The handshake's `tail` (bytes
 *   read past the last handshake message) is parsed first. A frame above
 *   `maxFrameSize` (default 128 MiB) closes this connection only ("FrameTooLarge").
 * - **Ticks**: every TickTime/4 (`tickTime` default 60 s, so 15 s) a tick is sent if no
 *   data was written in that interval; after 4 intervals in a row with nothing read the
 *   connection closes with "TickTimeout" (`net_tick_timeout`). Time is Effect's
 *   `Clock`, so `TestClock` drives it.
 * - **One writer fiber** drains a hand-rolled queue in batches, one socket write per
 *   batch; frames keep their order. `send` queues the frame and then suspends while
 *   more than `busyLimit` bytes (default 4 MiB) are pending, like a busy dist port;
 *   `unsafeSend` never blocks.
 * - **Read backpressure**: frames are handed to `onFrame` one at a time by a reader
 *   fiber; when more than `maxInboundBytes` (default 16 MiB) wait, the carrier is
 *   paused until half of that is handled. Silence is not counted while paused.
 * - A failing `onFrame` closes the connection ("Malformed" for a `ControlError`, logged
 *   with its hex dump, or "AtomLimit" / "TermBytes" when the frame was refused by a
 *   decode limit; "HandlerFailed" otherwise). The node never crashes; the reason is in
 *   `closed`.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/connection/connection.js"

export {
  /**
   * Why a connection closed, and the error of `send` on a closed connection: `reason`
   * is "Local" (we closed it), "PeerClosed", "TransportError", "TickTimeout",
   * "FrameTooLarge", "Malformed" (a compressed term included, as erts' `bad_dist_ext`),
   * "AtomLimit", "TermBytes" or "HandlerFailed"; `nodedownReason` gives OTP's
   * name for it (`net_tick_timeout`, `connection_closed`, `disconnect`).
   *
   * @since 0.1.0
   * @category errors
   */
  ConnectionClosed
} from "./internal/connection/connection.js"

/**
 * @since 0.1.0
 * @category models
 */
export type ConnectionClosedReason = internal.ConnectionClosedReason

/**
 * @since 0.1.0
 * @category models
 */
export type ConnectionOptions<E = never> = internal.ConnectionOptions<E>

/**
 * @since 0.1.0
 * @category models
 */
export type ConnectionStats = internal.ConnectionStats

/**
 * A live connection: `send`/`unsafeSend` frame payloads (an empty payload is a
 * tick), `sendControl` to encode and send a control message, `close`, `closed`
 * (completes with the `ConnectionClosed` reason), `peer`, negotiated `flags`, the
 * `handshake` result and `stats()`.
 *
 * @since 0.1.0
 * @category models
 */
export type Connection = internal.Connection

/**
 * Start a connection over a carrier that completed the handshake. The reader,
 * writer and ticker fibers live in the scope; closing the scope closes the
 * connection (reason "Local").
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <E = never>(options: ConnectionOptions<E>) => Effect.Effect<Connection, never, Scope.Scope> =
  internal.make
