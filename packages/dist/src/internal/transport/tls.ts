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
import { AcceptQueue, defectText, guarded, reporterOf } from "./carrier.js"
import { TransportError } from "./error.js"
import { addressGroup, PendingLimiter, type PendingSlot } from "./pending.js"
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

const isSelfIssued = (cert: tls.PeerCertificate): boolean =>
  JSON.stringify(cert.subject) === JSON.stringify(cert.issuer)

/**
 * The intermediate CA certificates between the peer's certificate and the root that
 * verified it (self-issued ones not counted, as in OTP's `depth`).
 */
const intermediates = (socket: tls.TLSSocket): number => {
  let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true)
  let count = 0
  const seen = new Set<tls.DetailedPeerCertificate>()
  while (cert !== undefined && Object.keys(cert).length > 0 && !seen.has(cert)) {
    seen.add(cert)
    const issuer: tls.DetailedPeerCertificate | undefined = cert.issuerCertificate
    if (issuer === undefined || issuer === cert || seen.has(issuer)) break
    if (!isSelfIssued(issuer)) count++
    cert = issuer
  }
  return count
}

/** With `verify_peer`, a verified chain longer than `depth` allows: why it is refused. */
const tooDeep = (side: Side, socket: tls.TLSSocket): string | undefined => {
  if (!side.verifyPeer) return undefined
  const n = intermediates(socket)
  return n > side.depth
    ? `its certificate chain has ${n} intermediate CA certificate${n === 1 ? "" : "s"}, more than depth ${side.depth}`
    : undefined
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
  return tooDeep(side, socket)
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
    const report = reporterOf(runtime, "TlsTransport")
    const queue = new AcceptQueue<tls.TLSSocket>((socket) => socket.destroy())
    /** Raw sockets in their TLS handshake, admitted per address (one address cannot take every slot). */
    const pending = new PendingLimiter(resolved.maxPendingHandshakesPerAddress, resolved.maxPendingHandshakes)
    const slots = new WeakMap<net.Socket, PendingSlot>()
    /** A defect in a listener callback closes that socket and is logged; it never escapes. */
    const onDefect = (what: string) => (defect: unknown, socket: net.Socket) => {
      socket.destroy()
      report(`TLS distribution: closed a connection after a defect in the ${what} callback: ${defectText(defect)}`)
    }
    const server = yield* Effect.acquireRelease(
      Effect.async<tls.Server, TransportError>((resume) => {
        const server = tls.createServer({
          ...side.context,
          requestCert: side.verifyPeer,
          // We check the peer ourselves after the handshake, so that refusals are logged.
          rejectUnauthorized: false,
          handshakeTimeout: Math.max(1, Duration.toMillis(resolved.handshakeTimeout))
        })
        server.on(
          "connection",
          guarded((raw: net.Socket) => {
            const key = addressText(raw.remoteAddress, raw.remotePort)
            const slot = pending.admit(raw.remoteAddress, () => raw.destroy())
            if (typeof slot === "string") {
              warn(
                slot === "AddressFull"
                  ? `TLS distribution: too many pending TLS handshakes from ${
                    addressGroup(raw.remoteAddress)
                  }; refused ${key}`
                  : `TLS distribution: too many pending TLS handshakes; refused ${key}`
              )
              raw.destroy()
              return
            }
            slots.set(raw, slot)
            raw.once("close", slot.release)
            raw.setNoDelay(true)
          }, onDefect("connection"))
        )
        /** The raw socket under a TLS socket gives its pending slot back. */
        const settled = (socket: tls.TLSSocket) => {
          const raw = (socket as unknown as { readonly _parent?: net.Socket })._parent
          const slot = raw !== undefined ? slots.get(raw) : slots.get(socket)
          slot?.release()
        }
        server.on(
          "secureConnection",
          guarded((socket: tls.TLSSocket) => {
            const key = addressText(socket.remoteAddress, socket.remotePort)
            // Until a carrier wraps it, an error must not become an uncaught exception.
            socket.on("error", () => {})
            settled(socket)
            const why = refusal(side, socket)
            if (why !== undefined) {
              warn(`TLS distribution: refused a connection from ${key}: ${why}`)
              socket.destroy()
              return
            }
            queue.push(socket)
          }, onDefect("secureConnection"))
        )
        server.on(
          "tlsClientError",
          guarded((err: Error, socket: tls.TLSSocket) => {
            const key = addressText(socket.remoteAddress, socket.remotePort)
            settled(socket)
            warn(`TLS distribution: refused a connection from ${key}: TLS handshake failed: ${describe(err, "server")}`)
            socket.destroy()
          }, (defect, _err, socket) => onDefect("tlsClientError")(defect, socket))
        )
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
      Effect.interruptible(Effect.map(queue.take(address), (socket) => new TlsCarrier(socket, report))),
      (carrier) => carrier.close
    )
    return { host: bound.address, port: bound.port, accept }
  })

const connect = (resolved: Resolved) => (address: Address): Effect.Effect<Carrier, TransportError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.interruptible(
      Effect.flatMap(Effect.runtime<never>(), (runtime) =>
        Effect.async<TlsCarrier, TransportError>((resume) => {
          const side = resolved.client
          const where = addressText(address.host, address.port)
          const name = side.sni === "disable" ? undefined : side.sni ?? address.host
          const socket = tls.connect({
            ...side.context,
            host: address.ip ?? address.host,
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
          socket.once(
            "secureConnect",
            guarded(() => {
              if (settled) return
              const deep = tooDeep(side, socket)
              if (deep !== undefined) return fail(`the server's certificate was refused: ${deep}`)
              settled = true
              clearTimeout(timer)
              socket.off("error", onError)
              resume(Effect.succeed(new TlsCarrier(socket, reporterOf(runtime, "TlsTransport"))))
            }, (defect) => fail(`a defect after the TLS handshake: ${defectText(defect)}`, defect))
          )
          return Effect.sync(() => {
            settled = true
            clearTimeout(timer)
            socket.destroy()
          })
        }))
    ),
    (carrier) => carrier.close
  )

/** @internal */
export const make = (options: TlsOptions): Effect.Effect<Context.Tag.Service<Transport>, TlsConfigError> =>
  Effect.flatMap(resolve(options), (resolved) =>
    Effect.as(
      Effect.forEach(
        resolved.warnings,
        (w) => Effect.logWarning(`TLS distribution: ${w}`).pipe(Effect.annotateLogs("module", "TlsTransport")),
        { discard: true }
      ),
      { listen: listen(resolved), connect: connect(resolved) }
    ))
