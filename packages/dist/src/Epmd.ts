/**
 * The Erlang Port Mapper Daemon: register our node's name and port, look up
 * other nodes' ports, list the names an epmd knows, and, when no epmd runs on
 * this host, serve as one.
 *
 * The epmd port is `ERL_EPMD_PORT` (read through `Config`) or 4369, and every
 * call can override it.
 *
 * @since 0.1.0
 */
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/epmd/client.js"
import * as error from "./internal/epmd/error.js"

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

/**
 * The default epmd port, used when neither an option nor `ERL_EPMD_PORT` says otherwise.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_PORT: number = internal.DEFAULT_PORT

/**
 * What epmd knows about a registered node (the PORT2_RESP fields).
 *
 * @since 0.1.0
 * @category models
 */
export interface NodeInfo {
  /** the alive part of the node name */
  readonly name: string
  /** the node's distribution listen port */
  readonly port: number
  /** 77 (`M`, normal) or 72 (`H`, hidden); OTP always registers 77 */
  readonly nodeType: number
  readonly hidden: boolean
  /** 0 = TCP/IPv4 */
  readonly protocol: number
  readonly highestVersion: number
  readonly lowestVersion: number
  readonly extra: Uint8Array
}

/**
 * One line of a NAMES reply.
 *
 * @since 0.1.0
 * @category models
 */
export interface NameEntry {
  readonly name: string
  readonly port: number
}

/**
 * A live registration. It lasts as long as the `Scope` that made it; closing
 * the scope closes the ALIVE2 socket, and epmd drops the name.
 *
 * @since 0.1.0
 * @category models
 */
export interface Registration {
  readonly name: string
  readonly port: number
  /** the creation (incarnation) epmd assigned; never 0 for an ALIVE2_X_RESP */
  readonly creation: number
  /** completes when the ALIVE2 socket closes, including when epmd goes away */
  readonly closed: Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RegisterOptions {
  /** the alive part of the node name (before `@`) */
  readonly name: string
  /** our distribution listen port */
  readonly port: number
  /** register with node type 72 (`H`); OTP itself always sends 77 */
  readonly hidden?: boolean | undefined
  /** the epmd host, `127.0.0.1` by default (OTP registers on the local epmd only) */
  readonly host?: string | undefined
  /** the epmd port; `ERL_EPMD_PORT` or 4369 by default */
  readonly epmdPort?: number | undefined
  /** time limit for connecting and getting the reply; 5 seconds by default */
  readonly timeout?: Duration.DurationInput | undefined
  /** the Extra field; empty by default */
  readonly extra?: Uint8Array | undefined
}

/**
 * Options for one request. A bare number is the epmd port.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestOptions {
  /** the epmd port; `ERL_EPMD_PORT` or 4369 by default */
  readonly epmdPort?: number | undefined
  /** time limit for the whole exchange; 5 seconds by default */
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ServeOptions {
  /** the port to listen on; `ERL_EPMD_PORT` or 4369 by default, 0 picks a free one */
  readonly port?: number | undefined
  /** the address to listen on; all interfaces by default, as epmd */
  readonly host?: string | undefined
  /** accept ALIVE2 from non-loopback peers (epmd's `-relaxed_command_check`) */
  readonly relaxed?: boolean | undefined
  /**
   * close a client that has not registered a name and sent nothing for this long;
   * 60 seconds by default, as epmd
   */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /**
   * open client sockets at most (256 by default); when a new client comes, the
   * unregistered one idle the longest is closed to make room
   */
  readonly maxConnections?: number | undefined
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/**
 * Why an epmd operation failed.
 *
 * @since 0.1.0
 * @category errors
 */
export type EpmdErrorReason = error.EpmdErrorReason

/**
 * An epmd operation failed: `NameInUse` (ALIVE2 refused), `Unreachable`
 * (nothing answers), `NotFound` (PORT_PLEASE2 found no such name),
 * `Malformed` (a reply that does not parse, or a request that cannot be
 * encoded), `Timeout`, or `ListenFailed` (the embedded server cannot listen;
 * `detail` holds the errno code).
 *
 * @since 0.1.0
 * @category errors
 */
export const EpmdError: typeof error.EpmdError = error.EpmdError

/**
 * @since 0.1.0
 * @category errors
 */
export type EpmdError = error.EpmdError

// ---------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------

/**
 * The epmd client as a swappable service.
 *
 * - `register`: ALIVE2; the name stays registered until the scope closes.
 * - `portPlease`: PORT_PLEASE2 on `host`; `name` is the alive part (a full
 *   `alive@host` name is accepted and its alive part used).
 * - `names`: NAMES on `host` (127.0.0.1 by default).
 *
 * @since 0.1.0
 * @category tags
 */
export const Epmd: typeof internal.Epmd = internal.Epmd

/**
 * @since 0.1.0
 * @category tags
 */
export type Epmd = internal.Epmd

/**
 * The shape of the `Epmd` service.
 *
 * @since 0.1.0
 * @category models
 */
export interface EpmdService {
  readonly register: (options: RegisterOptions) => Effect.Effect<Registration, EpmdError, Scope.Scope>
  readonly portPlease: (
    host: string,
    name: string,
    options?: number | RequestOptions
  ) => Effect.Effect<NodeInfo, EpmdError>
  readonly names: (
    host?: string,
    options?: number | RequestOptions
  ) => Effect.Effect<ReadonlyArray<NameEntry>, EpmdError>
}

/**
 * The embedded epmd server of `layerServer`: the port it listens on and the
 * names registered with it.
 *
 * @since 0.1.0
 * @category tags
 */
export const EpmdServer: typeof internal.EpmdServer = internal.EpmdServer

/**
 * @since 0.1.0
 * @category tags
 */
export type EpmdServer = internal.EpmdServer

/**
 * The shape of the `EpmdServer` service.
 *
 * @since 0.1.0
 * @category models
 */
export interface EpmdServerService {
  /** the port it listens on (useful when started with port 0) */
  readonly port: number
  /** the names registered with it now */
  readonly registered: Effect.Effect<ReadonlyArray<NameEntry>>
  /** the client sockets open now (registrations included) */
  readonly connections: Effect.Effect<number>
}

// ---------------------------------------------------------------------------
// Client functions
// ---------------------------------------------------------------------------

/**
 * Register `name` at `port` with epmd (ALIVE2_REQ). Succeeds with the
 * creation epmd assigned. Fails with `NameInUse` when epmd refuses.
 *
 * @since 0.1.0
 * @category client
 */
export const register: (options: RegisterOptions) => Effect.Effect<Registration, EpmdError, Scope.Scope> =
  internal.register

/**
 * Ask the epmd on `host` for a node's port (PORT_PLEASE2_REQ). `host` is resolved as `erl_epmd`
 * does (`HostResolver.getaddr`: the system resolver, then loopback for this machine's own name).
 *
 * @since 0.1.0
 * @category client
 */
export const portPlease: (
  host: string,
  name: string,
  options?: number | RequestOptions
) => Effect.Effect<NodeInfo, EpmdError> = internal.portPlease

/**
 * List the names registered with the epmd on `host` (NAMES_REQ), resolved as `portPlease` does.
 *
 * @since 0.1.0
 * @category client
 */
export const names: (
  host?: string,
  options?: number | RequestOptions
) => Effect.Effect<ReadonlyArray<NameEntry>, EpmdError> = internal.names

/**
 * Whether something accepts connections on `127.0.0.1:port`.
 *
 * @since 0.1.0
 * @category client
 */
export const probe: (port: number, timeout?: Duration.DurationInput) => Effect.Effect<boolean> = internal.probe

/**
 * Build the service value: the client functions with a default epmd port and timeout.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (defaults?: RequestOptions) => EpmdService = internal.makeClient

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

/**
 * Run an epmd server until the scope closes. It implements ALIVE2 (with
 * ALIVE2_X_RESP for version 6 nodes and ALIVE2_RESP for older ones),
 * PORT_PLEASE2, NAMES (so `epmd -names` works), refuses `epmd -kill`, drops
 * a name when its registering socket closes, and refuses duplicates.
 *
 * It keeps names as bytes and checks them as epmd does (UTF-8, 1..255
 * characters, no NUL). Clients that have not registered are closed after
 * `idleTimeout` of silence, and at most `maxConnections` sockets are open at
 * once. No input closes more than the socket that sent it.
 *
 * @since 0.1.0
 * @category server
 */
export const serve: (options?: ServeOptions) => Effect.Effect<EpmdServerService, EpmdError, Scope.Scope> =
  internal.serve

// ---------------------------------------------------------------------------
// Layers
// ---------------------------------------------------------------------------

/**
 * The client, on the port from `ERL_EPMD_PORT` or 4369.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Epmd, ConfigError.ConfigError> = internal.layer

/**
 * The client with a fixed default port and timeout.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient: (options?: RequestOptions) => Layer.Layer<Epmd, ConfigError.ConfigError> =
  internal.layerClient

/**
 * An embedded epmd server for the life of the layer, and a client pointed at it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerServer: (
  options?: ServeOptions & { readonly timeout?: Duration.DurationInput | undefined }
) => Layer.Layer<Epmd | EpmdServer, EpmdError | ConfigError.ConfigError> = internal.layerServer

/**
 * Use the epmd listening on the port if there is one; otherwise start an
 * embedded one for the life of the layer. If another process wins the race to
 * listen, use that one.
 *
 * Names registered through an embedded epmd by other OS processes vanish when
 * the process hosting it exits, as they would if a real epmd died.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerAuto: (
  options?: ServeOptions & { readonly timeout?: Duration.DurationInput | undefined }
) => Layer.Layer<Epmd, EpmdError | ConfigError.ConfigError> = internal.layerAuto
