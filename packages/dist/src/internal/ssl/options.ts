/**
 * TLS distribution options (the `ssl_dist_optfile` subset we honour), their
 * validation against OTP's rules, and the Node `tls` settings they turn into.
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as fs from "node:fs/promises"
import * as tls from "node:tls"

/**
 * A TLS protocol version, spelled as in OTP's `versions` option.
 *
 * @since 0.1.0
 * @category models
 */
export type TlsVersion = "tlsv1.2" | "tlsv1.3"

/**
 * The options of one side (`server` or `client`), named after OTP's `ssl` options.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsSideOptions {
  /** PEM file with our certificate (and possibly its chain). Required on the server side. */
  readonly certfile?: string | undefined
  /** PEM file with our private key; default: read it from `certfile`, as OTP does. */
  readonly keyfile?: string | undefined
  /** Passphrase of an encrypted key (`password`). */
  readonly password?: string | undefined
  /** PEM file with the trusted CA certificates. Required with `verify_peer`. */
  readonly cacertfile?: string | undefined
  /**
   * `verify_peer`: check the peer's certificate chain against `cacertfile` (and, on the
   * client, the server's host name). Default `verify_none`, as OTP 25's `ssl` for
   * distribution.
   */
  readonly verify?: "verify_peer" | "verify_none" | undefined
  /** Server only, with `verify_peer`: refuse clients that send no certificate. Default false. */
  readonly failIfNoPeerCert?: boolean | undefined
  /** Allowed versions. Default `["tlsv1.2"]`, as `inet_tls_dist` sets when none are given. */
  readonly versions?: ReadonlyArray<TlsVersion> | undefined
  /** OpenSSL cipher list (`ciphers` as a string). Default: Node's. */
  readonly ciphers?: string | undefined
  /**
   * Client only. The name the server certificate must match. Default: the host part of
   * the node name we dial (`x@vm` → `vm`), as `inet_tls_dist` passes it in
   * `server_name_indication`. `"disable"` skips the host name check (the chain is still
   * checked with `verify_peer`).
   */
  readonly serverNameIndication?: string | undefined
}

/**
 * TLS distribution options, as in an `ssl_dist_optfile`: one set for accepting
 * (`server`) and one for dialling (`client`).
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsOptions {
  readonly server?: TlsSideOptions | undefined
  readonly client?: TlsSideOptions | undefined
  /** Time limit for one TLS handshake, both ways (default 7 s, like `net_setuptime`). */
  readonly handshakeTimeout?: Duration.DurationInput | undefined
  /** TLS handshakes in progress on the listener beyond this are dropped (default 64). */
  readonly maxPendingHandshakes?: number | undefined
}

/**
 * Bad TLS options: unreadable files, a certificate and key that do not fit, or
 * option combinations that OTP refuses too.
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsConfigError extends Data.TaggedError("TlsConfigError")<{
  readonly reason: "ReadFailed" | "Invalid" | "BadCertificate"
  readonly side?: "server" | "client" | undefined
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    const cause = this.cause instanceof Error ? `: ${this.cause.message}` : ""
    return `TLS distribution options${this.side ? ` (${this.side})` : ""}: ${this.detail}${cause}`
  }
}

/** One side, checked and with its files read. @internal */
export interface Side {
  readonly verifyPeer: boolean
  readonly failIfNoPeerCert: boolean
  readonly sni: string | undefined
  /** Options for `tls.createSecureContext` / `tls.createServer` / `tls.connect`. */
  readonly context: tls.SecureContextOptions
}

/** @internal */
export interface Resolved {
  readonly server: Side | undefined
  readonly client: Side
  readonly handshakeTimeout: Duration.Duration
  readonly maxPendingHandshakes: number
}

const versionName = (v: TlsVersion): tls.SecureVersion => v === "tlsv1.3" ? "TLSv1.3" : "TLSv1.2"

const readPem = (side: "server" | "client", option: string, path: string) =>
  Effect.tryPromise({
    try: () => fs.readFile(path),
    catch: (cause) => new TlsConfigError({ reason: "ReadFailed", side, detail: `cannot read ${option} ${path}`, cause })
  })

const resolveSide = (
  side: "server" | "client",
  o: TlsSideOptions
): Effect.Effect<Side, TlsConfigError> =>
  Effect.gen(function*() {
    const invalid = (detail: string) => new TlsConfigError({ reason: "Invalid", side, detail })
    const verifyPeer = o.verify === "verify_peer"
    if (o.verify !== undefined && o.verify !== "verify_peer" && o.verify !== "verify_none") {
      return yield* invalid(`verify must be verify_peer or verify_none, not ${String(o.verify)}`)
    }
    if (o.failIfNoPeerCert === true && side === "client") {
      return yield* invalid("fail_if_no_peer_cert is a server option")
    }
    if (o.failIfNoPeerCert === true && !verifyPeer) {
      // OTP: {options, incompatible, [{verify, verify_none}, {fail_if_no_peer_cert, true}]}
      return yield* invalid("fail_if_no_peer_cert needs {verify, verify_peer}")
    }
    if (o.serverNameIndication !== undefined && side === "server") {
      return yield* invalid("server_name_indication is a client option")
    }
    if (verifyPeer && o.cacertfile === undefined) {
      // OTP: {options, incompatible, [{verify, verify_peer}, {cacerts, undefined}]}
      return yield* invalid("verify_peer needs a cacertfile")
    }
    if (side === "server" && o.certfile === undefined) {
      return yield* invalid("the server side needs a certfile")
    }
    if (o.keyfile !== undefined && o.certfile === undefined) {
      return yield* invalid("a keyfile needs a certfile")
    }
    const versions = o.versions ?? ["tlsv1.2"]
    if (versions.length === 0) return yield* invalid("versions is empty")
    for (const v of versions) {
      if (v !== "tlsv1.2" && v !== "tlsv1.3") {
        return yield* invalid(`unsupported version ${String(v)} (only tlsv1.2 and tlsv1.3)`)
      }
    }
    const has13 = versions.includes("tlsv1.3")
    const has12 = versions.includes("tlsv1.2")
    const context: {
      -readonly [K in keyof tls.SecureContextOptions]: tls.SecureContextOptions[K]
    } = {
      minVersion: versionName(has12 ? "tlsv1.2" : "tlsv1.3"),
      maxVersion: versionName(has13 ? "tlsv1.3" : "tlsv1.2")
    }
    if (o.certfile !== undefined) {
      const cert = yield* readPem(side, "certfile", o.certfile)
      context.cert = cert
      context.key = o.keyfile !== undefined ? yield* readPem(side, "keyfile", o.keyfile) : cert
    }
    if (o.password !== undefined) context.passphrase = o.password
    if (o.cacertfile !== undefined) context.ca = yield* readPem(side, "cacertfile", o.cacertfile)
    if (o.ciphers !== undefined) context.ciphers = o.ciphers
    // Fail early on a key that does not fit, a wrong passphrase or unreadable PEM.
    yield* Effect.try({
      try: () => tls.createSecureContext(context),
      catch: (cause) =>
        new TlsConfigError({
          reason: "BadCertificate",
          side,
          detail: `cannot use ${[o.certfile, o.keyfile, o.cacertfile].filter((x) => x !== undefined).join(", ")}`,
          cause
        })
    })
    return {
      verifyPeer,
      failIfNoPeerCert: o.failIfNoPeerCert === true,
      sni: o.serverNameIndication,
      context
    }
  })

/** Checks the options and reads every file once. @internal */
export const resolve = (options: TlsOptions): Effect.Effect<Resolved, TlsConfigError> =>
  Effect.gen(function*() {
    const server = options.server === undefined ? undefined : yield* resolveSide("server", options.server)
    const client = yield* resolveSide("client", options.client ?? {})
    const max = options.maxPendingHandshakes ?? 64
    if (!Number.isInteger(max) || max < 1) {
      return yield* new TlsConfigError({ reason: "Invalid", detail: "maxPendingHandshakes must be a positive integer" })
    }
    return {
      server,
      client,
      handshakeTimeout: Duration.decode(options.handshakeTimeout ?? Duration.seconds(7)),
      maxPendingHandshakes: max
    }
  })
