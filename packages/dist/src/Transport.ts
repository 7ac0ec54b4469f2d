/**
 * The byte carrier under a distribution connection, like OTP's `inet_tcp_dist`:
 * listen, accept, connect, close. Nothing here knows about Erlang.
 *
 * - `layerTcp`: `node:net` sockets with TCP_NODELAY (not `@effect/platform`'s Socket:
 *   it costs 2-5x in throughput and has no read backpressure).
 * - `memoryPair`: two connected carriers inside one process, for deterministic tests
 *   (with `TestClock`); `MemoryCluster` runs whole nodes over in-memory carriers.
 *
 * - `layerTls` / `makeTls`: TLS over `node:tls`, like OTP's `inet_tls_dist` (options as
 *   in an `ssl_dist_optfile`; `SslDistConf` reads such a file).
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
import type { TlsConfigError, TlsOptions } from "./internal/ssl/options.js"
import type { CarrierClosed, TransportError } from "./internal/transport/error.js"
import * as memory from "./internal/transport/memory.js"
import * as tcp from "./internal/transport/tcp.js"
import * as tls from "./internal/transport/tls.js"

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

export {
  /**
   * Bad TLS options: an unreadable file, a key that does not fit its certificate, or a
   * combination OTP refuses too (e.g. `verify_peer` without `cacertfile`).
   *
   * @since 0.1.0
   * @category errors
   */
  TlsConfigError
} from "./internal/ssl/options.js"

export type {
  /**
   * TLS distribution options, as in an `ssl_dist_optfile`: `server` (accepting) and
   * `client` (dialling) sides, plus the TLS handshake time limit.
   *
   * @since 0.1.0
   * @category models
   */
  TlsOptions,
  /**
   * One side's options, named after OTP's `ssl` options (`certfile`, `keyfile`,
   * `cacertfile`, `verify`, `fail_if_no_peer_cert` as `failIfNoPeerCert`, ...).
   *
   * @since 0.1.0
   * @category models
   */
  TlsSideOptions,
  /**
   * @since 0.1.0
   * @category models
   */
  TlsVersion
} from "./internal/ssl/options.js"

/**
 * A host and port.
 *
 * @since 0.1.0
 * @category models
 */
export interface Address {
  readonly host: string
  readonly port: number
  /**
   * For `connect`: the IPv4 address `host` resolved to, when the caller resolved it (the
   * node does, with `HostResolver.getaddr`, so that an unresolvable own host name means
   * loopback as in `erl`). The socket goes to `ip`; TLS still checks the certificate
   * against `host` (OTP passes the host as `server_name_indication`).
   */
  readonly ip?: string | undefined
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
  /**
   * Optional: write chunks now, from the caller's stack, outside the runtime (TCP and TLS
   * have it). `false` when the socket asks the writer to wait for "drain" (the bytes are
   * taken all the same), `undefined` when the carrier is closed (nothing was written);
   * throws what the socket's write throws. A connection writes its first frame after an
   * idle spell this way (no hop through its writer fiber). A wrapper that changes what
   * `writev` does must leave this out (or set it `undefined`).
   */
  readonly unsafeWritev?: ((chunks: ReadonlyArray<Uint8Array>) => boolean | undefined) | undefined
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

/**
 * A TLS transport with these options, like OTP's `inet_tls_dist`: 4-byte framing from
 * the first handshake message, TLS 1.2 by default. With `verify: "verify_peer"` the
 * client checks the server's chain against its `cacertfile` and its host name against
 * the host part of the node name it dials (`x@vm` needs a certificate for `vm`); the
 * server checks client chains (and, with `failIfNoPeerCert`, that there is one) but not
 * their names. Files are read, and keys checked, when the transport is made; so are
 * `depth`, `signatureAlgs`, `supportedGroups`/`eccs` and `clientRenegotiation` (a name
 * OpenSSL does not know is a `TlsConfigError`). A side that verifies no peer (OTP 25's
 * default `verify_none`, kept so that `ssl_dist.conf` files mean what they mean for
 * `erl`) is logged as a warning naming the option to set. Refused incoming connections
 * are logged (warnings) and never reach `accept`; raw connections still in their TLS
 * handshake are capped per address (`maxPendingHandshakesPerAddress`) and in all.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeTls: (options: TlsOptions) => Effect.Effect<Context.Tag.Service<Transport>, TlsConfigError> = tls.make

/**
 * `makeTls` as a layer, for `DistNode.layer`:
 *
 * ```ts
 * DistNode.layer({ name: "alice", cookie }).pipe(
 *   Layer.provide(Layer.merge(Transport.layerTls(options), Epmd.layerAuto())),
 *   Layer.provideMerge(ProcessRuntime.layer)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTls = (options: TlsOptions): Layer.Layer<Transport, TlsConfigError> =>
  Layer.effect(Transport, tls.make(options))
