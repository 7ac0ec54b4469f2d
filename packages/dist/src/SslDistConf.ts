/**
 * Reads an OTP `ssl_dist_optfile` (the file given to `erl -proto_dist inet_tls
 * -ssl_dist_optfile FILE`) into `Transport.TlsOptions`, so one file configures
 * Erlang and TypeScript nodes alike:
 *
 * ```erlang
 * [{server, [{certfile, "/etc/dist/node.pem"}, {keyfile, "/etc/dist/node.key"},
 *            {cacertfile, "/etc/dist/ca.pem"}, {verify, verify_peer},
 *            {fail_if_no_peer_cert, true}]},
 *  {client, [{certfile, "/etc/dist/node.pem"}, {keyfile, "/etc/dist/node.key"},
 *            {cacertfile, "/etc/dist/ca.pem"}, {verify, verify_peer}]}].
 * ```
 *
 * ```ts
 * DistNode.layer({ name: "alice", cookie }).pipe(
 *   Layer.provide(Layer.merge(SslDistConf.layerTransport("/etc/dist/ssl_dist.conf"), Epmd.layerAuto())),
 *   Layer.provideMerge(ProcessRuntime.layer)
 * )
 * ```
 *
 * Understood options: `certfile`, `keyfile`, `cacertfile`, `password`, `verify`,
 * `fail_if_no_peer_cert`, `versions` (tlsv1.2, tlsv1.3), `ciphers` (OpenSSL names),
 * `server_name_indication` (client: a host name or `disable`), `depth` (intermediate CAs
 * allowed with `verify_peer`, default 10), `signature_algs` (scheme atoms or `{Hash,
 * Sign}`), `supported_groups` and `eccs` (one OpenSSL list: with both TLS versions on,
 * they must name the same groups), `client_renegotiation` (server). A name OpenSSL does
 * not know is an error when the transport is made. Options with no bearing on the checks
 * (`secure_renegotiate`, `reuse_sessions`, `hibernate_after`, ...) are accepted and
 * listed in `ignored`; any other option (`verify_fun`, `crl_check`,
 * `customize_hostname_check`, `signature_algs_cert`, ...) is refused rather than silently
 * weakened. Relative
 * paths are relative to the current directory, as for `erl`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as fs from "node:fs/promises"
import * as optfile from "./internal/ssl/optfile.js"
import type { SslDistConf as Conf } from "./internal/ssl/optfile.js"
import type { TlsConfigError, TlsOptions } from "./internal/ssl/options.js"
import * as tls from "./internal/transport/tls.js"
import { Transport } from "./Transport.js"

export {
  /**
   * Why an `ssl_dist_optfile` cannot be used (unreadable, bad syntax, bad or unsupported
   * options).
   *
   * @since 0.1.0
   * @category errors
   */
  SslDistConfError
} from "./internal/ssl/optfile.js"

/**
 * A parsed file: the options, and the accepted options that have no effect here.
 *
 * @since 0.1.0
 * @category models
 */
export type SslDistConf = Conf

/**
 * Parses the text of an `ssl_dist_optfile`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse: (text: string) => Either.Either<SslDistConf, optfile.SslDistConfError> = (text) =>
  optfile.parseText(text)

/**
 * Reads and parses an `ssl_dist_optfile` (latin-1 unless a `coding: utf-8` comment says
 * otherwise, as OTP reads it). Ignored options are logged at debug level.
 *
 * @since 0.1.0
 * @category parsing
 */
export const load = (path: string): Effect.Effect<TlsOptions, optfile.SslDistConfError> =>
  Effect.gen(function*() {
    const bytes = yield* Effect.tryPromise({
      try: () => fs.readFile(path),
      catch: (cause) => new optfile.SslDistConfError({ reason: "ReadFailed", path, detail: "cannot read", cause })
    })
    const conf = optfile.parseText(bytes, path)
    if (Either.isLeft(conf)) return yield* conf.left
    if (conf.right.ignored.length > 0) {
      yield* Effect.logDebug(`ssl_dist_optfile ${path}: no effect here: ${conf.right.ignored.join(", ")}`).pipe(
        Effect.annotateLogs("module", "SslDistConf")
      )
    }
    return conf.right.options
  })

/**
 * A TLS `Transport` configured by an `ssl_dist_optfile`. `extra` adds the settings
 * that the file format has no place for.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTransport = (
  path: string,
  extra?: Pick<TlsOptions, "handshakeTimeout" | "maxPendingHandshakes">
): Layer.Layer<Transport, optfile.SslDistConfError | TlsConfigError> =>
  Layer.effect(
    Transport,
    Effect.flatMap(load(path), (options) => tls.make({ ...options, ...extra }))
  )
