/**
 * The byte carrier under a distribution connection, like OTP's `inet_tcp_dist`:
 * listen, accept, connect, close. Nothing here knows about Erlang.
 *
 * - `layerTcp`: `node:net` sockets with TCP_NODELAY (not `@effect/platform`'s Socket:
 *   it costs 2-5x in throughput and has no read backpressure).
 * - `layerMemory`: carriers in pairs inside one process, for deterministic tests
 *   (with `TestClock`); `memoryPair` makes one pair directly.
 *
 * A `Carrier` can be read in two ways: pull (`read`, used by the handshake) and then
 * push (`unsafeOnData`, used by `Connection`); bytes buffered by the pull side are
 * handed to the push handler first, so nothing is lost at the switch.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { CarrierClosed, TransportError } from "./internal/transport/error.js"
import * as memory from "./internal/transport/memory.js"
import * as tcp from "./internal/transport/tcp.js"

export {
  /**
   * Why a carrier closed: by us (`local`), by the peer (`peer`: end of stream) or by an
   * error (`error`, with the cause).
   *
   * @since 0.1.0
   * @category models
   */
  CarrierClosed,
  /**
   * @since 0.1.0
   * @category errors
   */
  TransportError
} from "./internal/transport/error.js"

/**
 * A host and port.
 *
 * @since 0.1.0
 * @category models
 */
export interface Address {
  readonly host: string
  readonly port: number
}

/**
 * One byte stream (a socket), closed by the scope that opened or accepted it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Carrier {
  /** The peer's address, when known. */
  readonly remoteAddress: Address | undefined
  /**
   * Length prefix of handshake messages: 2 over TCP; 4 over TLS (`inet_tls_dist` uses
   * `{packet,4}` from the first byte). Connected-state frames are always 4.
   */
  readonly framing: 2 | 4
  /** Pull the next chunk of bytes; fails with `Closed` at the end of the stream. */
  readonly read: Effect.Effect<Uint8Array, TransportError>
  /**
   * Switch to push mode: buffered and future chunks go to `handler`, in order, from
   * the I/O callbacks. Install it once.
   */
  readonly unsafeOnData: (handler: (chunk: Uint8Array) => void) => void
  /** Write one chunk. Completes at once unless the socket's buffer is full (then on drain). */
  readonly write: (chunk: Uint8Array) => Effect.Effect<void, TransportError>
  /** Write several chunks as one socket write (a batch). */
  readonly writev: (chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void, TransportError>
  /** Stop reading (read backpressure). Synchronous. */
  readonly pause: () => void
  /** Resume reading. Synchronous. */
  readonly resume: () => void
  /** Close now (idempotent). */
  readonly close: Effect.Effect<void>
  /** Close now, outside the runtime (idempotent). */
  readonly unsafeClose: (cause?: unknown) => void
  /** Completes when the carrier has closed, with the reason. */
  readonly closed: Effect.Effect<CarrierClosed>
  /** Whether the carrier has closed. */
  readonly isClosed: () => boolean
}

/**
 * A listening socket. `accept` waits for the next incoming carrier and ties it to the
 * caller's scope. Connections not yet accepted are closed with the listener's scope.
 *
 * @since 0.1.0
 * @category models
 */
export interface Listener {
  readonly host: string
  readonly port: number
  readonly accept: Effect.Effect<Carrier, TransportError, Scope.Scope>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ListenOptions {
  /** Default: all interfaces for TCP. */
  readonly host?: string | undefined
  /** Default 0: any free port. */
  readonly port?: number | undefined
}

/**
 * The transport service.
 *
 * @since 0.1.0
 * @category tags
 */
export class Transport extends Context.Tag("@effect-otp/dist/Transport")<Transport, {
  /** Listen for incoming carriers; the listener closes with the scope. */
  readonly listen: (options: ListenOptions) => Effect.Effect<Listener, TransportError, Scope.Scope>
  /** Open a carrier to an address; it closes with the scope. */
  readonly connect: (address: Address) => Effect.Effect<Carrier, TransportError, Scope.Scope>
}>() {}

/**
 * TCP over `node:net` (TCP_NODELAY on, 2-byte handshake framing).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTcp: Layer.Layer<Transport> = Layer.sync(Transport, () => tcp.transport)

/**
 * The TCP transport as a plain value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const tcpTransport: Context.Tag.Service<Transport> = tcp.transport

/**
 * An in-memory transport: `listen` takes a port in a registry private to this layer
 * (0 picks one), `connect` to that port makes a pair of carriers. Deterministic and
 * clock-free, for tests with `TestClock`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Transport> = Layer.sync(Transport, () => memory.make())

/**
 * A fresh in-memory transport (its own port registry), e.g. to share between several
 * nodes in one test.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: () => Context.Tag.Service<Transport> = memory.make

/**
 * Two connected in-memory carriers, closed with the scope. `framing` sets the
 * handshake framing hint (default 2).
 *
 * @since 0.1.0
 * @category constructors
 */
export const memoryPair: (options?: { readonly framing?: 2 | 4 }) => Effect.Effect<
  readonly [Carrier, Carrier],
  never,
  Scope.Scope
> = memory.pair
