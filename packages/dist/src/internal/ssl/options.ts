/**
 * TLS distribution options (the `ssl_dist_optfile` subset we honour), their
 * validation against OTP's rules, and the Node `tls` settings they turn into.
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { constants } from "node:crypto"
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
  /**
   * With `verify_peer`: the most intermediate CA certificates allowed between the peer's
   * certificate and a trusted root (`depth`); 0 means the peer is signed by the root
   * itself. Default 10, as OTP.
   */
  readonly depth?: number | undefined
  /**
   * The signature algorithms offered and accepted (`signature_algs`), as OTP names them:
   * TLS 1.3 schemes (`rsa_pss_rsae_sha256`, `ecdsa_secp256r1_sha256`, `ed25519`, ...) or
   * `SIGN+HASH` pairs for TLS 1.2 (`RSA+SHA256`, from OTP's `{sha256, rsa}`). Default:
   * OpenSSL's.
   */
  readonly signatureAlgs?: ReadonlyArray<string> | undefined
  /**
   * The key exchange groups for TLS 1.3 (`supported_groups`: `x25519`, `secp256r1`,
   * `ffdhe2048`, ...). OpenSSL keeps one list for both versions: with TLS 1.2 enabled too,
   * it also limits the TLS 1.2 curves.
   */
  readonly supportedGroups?: ReadonlyArray<string> | undefined
  /** The elliptic curves for TLS 1.2 (`eccs`); the same single OpenSSL list as `supportedGroups`. */
  readonly eccs?: ReadonlyArray<string> | undefined
  /**
   * Server only: whether a client may start a renegotiation (`client_renegotiation`,
   * TLS 1.2; TLS 1.3 has none). Default true, as OTP (Node limits its rate).
   */
  readonly clientRenegotiation?: boolean | undefined
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
  /**
   * TLS handshakes in progress on the listener at most (default 64). When they are all
   * taken, the address holding the most gives up its oldest for a newcomer from an
   * address holding fewer.
   */
  readonly maxPendingHandshakes?: number | undefined
  /** TLS handshakes in progress from one address (an IPv6 /64) at most (default 8). */
  readonly maxPendingHandshakesPerAddress?: number | undefined
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
  /** With `verifyPeer`: the most intermediate certificates allowed (OTP's `depth`). */
  readonly depth: number
  /** Options for `tls.createSecureContext` / `tls.createServer` / `tls.connect`. */
  readonly context: tls.SecureContextOptions
}

/** @internal */
export interface Resolved {
  readonly server: Side | undefined
  readonly client: Side
  readonly handshakeTimeout: Duration.Duration
  readonly maxPendingHandshakes: number
  readonly maxPendingHandshakesPerAddress: number
  /** What the node verifies nobody for, as warnings to log at start (empty when it verifies both ways). */
  readonly warnings: ReadonlyArray<string>
}

/** OTP's default `depth`. */
const DEFAULT_DEPTH = 10

/** Each name OpenSSL accepts for `option`, or the first it refuses. */
const checkNames = (
  names: ReadonlyArray<string>,
  make: (name: string) => tls.SecureContextOptions
): string | undefined => {
  for (const name of names) {
    if (name.length === 0 || name.includes(":")) return name
    try {
      tls.createSecureContext(make(name))
    } catch {
      return name
    }
  }
  return undefined
}

/** The group list for OpenSSL, which has one list for TLS 1.2 curves and TLS 1.3 groups. */
const groupList = (
  o: TlsSideOptions,
  has12: boolean,
  has13: boolean
): { readonly groups?: ReadonlyArray<string> | undefined; readonly conflict?: string | undefined } => {
  const eccs = has12 ? o.eccs : undefined
  const groups = has13 ? o.supportedGroups : undefined
  if (eccs !== undefined && groups !== undefined) {
    const same = eccs.length === groups.length && eccs.every((e) => groups.includes(e))
    return same
      ? { groups }
      : {
        conflict: "eccs and supported_groups differ, but OpenSSL has one list for TLS 1.2 curves and TLS 1.3 " +
          "groups: give the same names in both, or enable one TLS version only"
      }
  }
  return { groups: groups ?? eccs ?? o.supportedGroups ?? o.eccs }
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
    if (o.clientRenegotiation !== undefined && side === "client") {
      // OTP: {option, server_only, client_renegotiation}
      return yield* invalid("client_renegotiation is a server option")
    }
    if (o.clientRenegotiation !== undefined && typeof o.clientRenegotiation !== "boolean") {
      return yield* invalid(`client_renegotiation must be true or false, not ${String(o.clientRenegotiation)}`)
    }
    const depth = o.depth ?? DEFAULT_DEPTH
    if (!Number.isInteger(depth) || depth < 0) {
      return yield* invalid(`depth must be a non-negative integer, not ${String(o.depth)}`)
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
    if (o.signatureAlgs !== undefined) {
      if (o.signatureAlgs.length === 0) return yield* invalid("signature_algs is empty")
      const bad = checkNames(o.signatureAlgs, (sigalgs) => ({ sigalgs }))
      if (bad !== undefined) {
        return yield* invalid(`signature_algs: OpenSSL does not know the signature algorithm ${JSON.stringify(bad)}`)
      }
      context.sigalgs = o.signatureAlgs.join(":")
    }
    for (const [option, list] of [["supported_groups", o.supportedGroups], ["eccs", o.eccs]] as const) {
      if (list === undefined) continue
      if (list.length === 0) return yield* invalid(`${option} is empty`)
      const bad = checkNames(list, (ecdhCurve) => ({ ecdhCurve }))
      if (bad !== undefined) return yield* invalid(`${option}: OpenSSL does not know the group ${JSON.stringify(bad)}`)
    }
    const groups = groupList(o, has12, has13)
    if (groups.conflict !== undefined) return yield* invalid(groups.conflict)
    if (groups.groups !== undefined) context.ecdhCurve = groups.groups.join(":")
    if (o.clientRenegotiation === false) {
      context.secureOptions = (context.secureOptions ?? 0) | constants.SSL_OP_NO_RENEGOTIATION
    }
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
      depth,
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
    const perAddress = options.maxPendingHandshakesPerAddress ?? 8
    if (!Number.isInteger(perAddress) || perAddress < 1) {
      return yield* new TlsConfigError({
        reason: "Invalid",
        detail: "maxPendingHandshakesPerAddress must be a positive integer"
      })
    }
    const warnings: Array<string> = []
    if (server !== undefined && !server.verifyPeer) {
      warnings.push(
        "the server side verifies no peer (verify_none, the default of OTP 25): any client that speaks TLS " +
          "gets to the cookie check; set {verify, verify_peer}, {cacertfile, ...} and " +
          "{fail_if_no_peer_cert, true} in the server options to require a certificate from a trusted CA"
      )
    } else if (server !== undefined && !server.failIfNoPeerCert) {
      warnings.push(
        "the server side checks client certificates but accepts clients that send none; set " +
          "{fail_if_no_peer_cert, true} in the server options to require one"
      )
    }
    if (!client.verifyPeer) {
      warnings.push(
        "the client side verifies no peer (verify_none, the default of OTP 25): the nodes we dial are not " +
          "authenticated by TLS; set {verify, verify_peer} and {cacertfile, ...} in the client options"
      )
    }
    return {
      server,
      client,
      handshakeTimeout: Duration.decode(options.handshakeTimeout ?? Duration.seconds(7)),
      maxPendingHandshakes: max,
      maxPendingHandshakesPerAddress: perAddress,
      warnings
    }
  })
