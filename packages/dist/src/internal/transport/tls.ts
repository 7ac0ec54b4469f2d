/**
 * TLS carriers over `node:tls`, like OTP's `inet_tls_dist`: 4-byte framing from the
 * first handshake message, TLS 1.2 unless told otherwise, the client checking the
 * server certificate against the host part of the node name it dials (OTP passes it as
 * `server_name_indication`), and the server checking client certificates against its
 * CA only (no host name check, as OTP without a custom `verify_fun`).
 *
 * A connection that fails its TLS handshake or its certificate checks never reaches
 * `accept`: the listener logs why (a warning) and closes it.
 */
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as net from "node:net"
import * as tls from "node:tls"
import type { Address, Carrier, Listener, ListenOptions, Transport } from "../../Transport.js"
import { resolve, type Resolved, type Side, type TlsConfigError, type TlsOptions } from "../ssl/options.js"
import { AcceptQueue } from "./carrier.js"
import { TransportError } from "./error.js"
import { addressText, TcpCarrier } from "./tcp.js"

/** @internal */
export class TlsCarrier extends TcpCarrier {
  override readonly framing: 2 | 4 = 4
}

/** Readable text for OpenSSL verification codes (`socket.authorizationError`). */
const VERIFY_TEXT: Record<string, string> = {
  CERT_HAS_EXPIRED: "the certificate has expired",
  CERT_NOT_YET_VALID: "the certificate is not yet valid",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the certificate is not signed by a trusted CA (cacertfile)",
  UNABLE_TO_GET_ISSUER_CERT: "the certificate is not signed by a trusted CA (cacertfile)",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the certificate is not signed by a trusted CA (cacertfile)",
  SELF_SIGNED_CERT_IN_CHAIN: "the certificate chain ends in a CA we do not trust (cacertfile)",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the certificate is self-signed and not trusted",
  CERT_SIGNATURE_FAILURE: "the certificate signature is invalid",
  CERT_REVOKED: "the certificate is revoked"
}

const codeOf = (e: unknown): string | undefined => {
  if (typeof e === "string") return e
  if (typeof e === "object" && e !== null && "code" in e && typeof e.code === "string") return e.code
  return undefined
}

/** `reason (CODE)` for a TLS or verification error. */
const describe = (e: unknown, role: "client" | "server" = "client"): string => {
  const code = codeOf(e)
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID" && e instanceof Error) {
    return `the certificate does not name the host: ${e.message} (${code})`
  }
  const known = code !== undefined ? VERIFY_TEXT[code] : undefined
  // OpenSSL errors carry a short `reason` ("wrong version number") besides a long message.
  const reason = typeof e === "object" && e !== null && "reason" in e && typeof e.reason === "string"
    ? e.reason
    : undefined
  const text = known ?? reason ?? (e instanceof Error ? e.message : String(e))
  if (code !== undefined && /^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_/.test(code)) {
    return `the peer refused the TLS handshake with an alert: ${text} (${code}); ` +
      (role === "client"
        ? "it may require a client certificate, or not trust ours"
        : "it may not trust our certificate (its CA, validity or host name)")
  }
  if (/wrong version number|http request|packet length too long|unknown protocol|record layer failure/i.test(text)) {
    return `the peer does not speak TLS (${text})`
  }
  return code !== undefined && !text.includes(code) ? `${text} (${code})` : text
}

const subjectOf = (cert: tls.PeerCertificate): string => {
  const cn = cert.subject?.CN
  return cn !== undefined ? ` (subject CN=${Array.isArray(cn) ? cn.join(",") : cn})` : ""
}

/** Server side, after the TLS handshake: why this peer is refused, if it is. */
const refusal = (side: Side, socket: tls.TLSSocket): string | undefined => {
  if (!side.verifyPeer) return undefined
  const cert = socket.getPeerCertificate()
  const none = cert === null || cert === undefined || Object.keys(cert).length === 0
  if (none) return side.failIfNoPeerCert ? "the peer sent no certificate (fail_if_no_peer_cert)" : undefined
  if (!socket.authorized) {
    return `its certificate was refused: ${describe(socket.authorizationError)}${subjectOf(cert)}`
  }
  return undefined
}

const listen = (resolved: Resolved) => (options: ListenOptions): Effect.Effect<Listener, TransportError, Scope.Scope> =>
  Effect.gen(function*() {
    const where = addressText(options.host, options.port)
    const side = resolved.server
    if (side === undefined) {
      return yield* new TransportError({
        reason: "ListenFailed",
        address: where,
        cause: new Error("TLS transport without server options (certfile, keyfile, ...) cannot listen")
      })
    }
    const runtime = yield* Effect.runtime<never>()
    const warn = (text: string) =>
      Runtime.runFork(runtime)(Effect.logWarning(text).pipe(Effect.annotateLogs("module", "TlsTransport")))
    const queue = new AcceptQueue<tls.TLSSocket>((socket) => socket.destroy())
    /** Raw sockets in their TLS handshake, by remote address. */
    const pending = new Set<string>()
    const server = yield* Effect.acquireRelease(
      Effect.async<tls.Server, TransportError>((resume) => {
        const server = tls.createServer({
          ...side.context,
          requestCert: side.verifyPeer,
          // We check the peer ourselves after the handshake, so that refusals are logged.
          rejectUnauthorized: false,
          handshakeTimeout: Math.max(1, Duration.toMillis(resolved.handshakeTimeout))
        })
        server.on("connection", (raw: net.Socket) => {
          const key = addressText(raw.remoteAddress, raw.remotePort)
          if (pending.size >= resolved.maxPendingHandshakes) {
            warn(`TLS distribution: too many pending TLS handshakes; refused ${key}`)
            raw.destroy()
            return
          }
          pending.add(key)
          raw.once("close", () => pending.delete(key))
          raw.setNoDelay(true)
        })
        server.on("secureConnection", (socket: tls.TLSSocket) => {
          const key = addressText(socket.remoteAddress, socket.remotePort)
          pending.delete(key)
          // Until a carrier wraps it, an error must not become an uncaught exception.
          socket.on("error", () => {})
          const why = refusal(side, socket)
          if (why !== undefined) {
            warn(`TLS distribution: refused a connection from ${key}: ${why}`)
            socket.destroy()
            return
          }
          queue.push(socket)
        })
        server.on("tlsClientError", (err: Error, socket: tls.TLSSocket) => {
          const key = addressText(socket.remoteAddress, socket.remotePort)
          pending.delete(key)
          warn(`TLS distribution: refused a connection from ${key}: TLS handshake failed: ${describe(err, "server")}`)
          socket.destroy()
        })
        const onError = (cause: Error) => {
          server.close()
          resume(Effect.fail(new TransportError({ reason: "ListenFailed", address: where, cause })))
        }
        server.once("error", onError)
        const ready = () => {
          server.off("error", onError)
          server.on("error", (cause) => warn(`TLS distribution: listener error: ${cause.message}`))
          resume(Effect.succeed(server))
        }
        if (options.host !== undefined) server.listen(options.port ?? 0, options.host, ready)
        else server.listen(options.port ?? 0, ready)
      }),
      (server) =>
        Effect.sync(() => {
          queue.close(where)
          server.close()
        })
    )
    const bound = server.address() as net.AddressInfo
    const address = addressText(bound.address, bound.port)
    const accept: Effect.Effect<Carrier, TransportError, Scope.Scope> = Effect.acquireRelease(
      Effect.interruptible(Effect.map(queue.take(address), (socket) => new TlsCarrier(socket))),
      (carrier) => carrier.close
    )
    return { host: bound.address, port: bound.port, accept }
  })

const connect = (resolved: Resolved) => (address: Address): Effect.Effect<Carrier, TransportError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.interruptible(Effect.async<TlsCarrier, TransportError>((resume) => {
      const side = resolved.client
      const where = addressText(address.host, address.port)
      const name = side.sni === "disable" ? undefined : side.sni ?? address.host
      const socket = tls.connect({
        ...side.context,
        host: address.host,
        port: address.port,
        // Node refuses an IP address as SNI; the identity check then uses `host` (IP SANs).
        ...(name !== undefined && net.isIP(name) === 0 ? { servername: name } : {}),
        rejectUnauthorized: side.verifyPeer,
        checkServerIdentity: (host, cert) =>
          side.sni === "disable" ? undefined : tls.checkServerIdentity(name ?? host, cert)
      })
      let settled = false
      const fail = (text: string, cause?: unknown) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        socket.destroy()
        resume(Effect.fail(
          new TransportError({ reason: "ConnectFailed", address: where, cause: new Error(text, { cause }) })
        ))
      }
      const ms = Math.max(1, Duration.toMillis(resolved.handshakeTimeout))
      const timer = setTimeout(
        () =>
          fail(
            `TLS handshake did not complete within ${
              Duration.format(resolved.handshakeTimeout)
            } (is the peer a TLS distribution node?)`
          ),
        ms
      )
      const onError = (err: Error) => {
        const code = codeOf(err)
        fail(
          code === "ECONNREFUSED" || code === "EHOSTUNREACH" || code === "ENOTFOUND"
            ? err.message
            : code === "ECONNRESET" || /disconnected before secure TLS/.test(err.message)
            ? `the peer closed the connection during the TLS handshake (not a TLS node, or it refused our certificate): ${err.message}`
            : `TLS handshake failed: ${describe(err)}`,
          err
        )
      }
      socket.once("error", onError)
      socket.once("secureConnect", () => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        socket.off("error", onError)
        resume(Effect.succeed(new TlsCarrier(socket)))
      })
      return Effect.sync(() => {
        settled = true
        clearTimeout(timer)
        socket.destroy()
      })
    })),
    (carrier) => carrier.close
  )

/** @internal */
export const make = (options: TlsOptions): Effect.Effect<Context.Tag.Service<Transport>, TlsConfigError> =>
  Effect.map(resolve(options), (resolved) => ({ listen: listen(resolved), connect: connect(resolved) }))
