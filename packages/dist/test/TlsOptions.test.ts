/**
 * TLS says what it verifies: a node that verifies no peer warns at start,
 * naming the option to set; `depth`, `signature_algs`, `supported_groups`/`eccs` and
 * `client_renegotiation` are honoured (each shown to change what connects) or refused at
 * start with a clear error, never dropped. Certificates are made with `openssl`.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as tls from "node:tls"
import * as SslDistConf from "../src/SslDistConf.js"
import * as Transport from "../src/Transport.js"
import { opensslAvailable, pkiScoped, strict } from "./helpers/tls.js"
import { collectLogs } from "./helpers/tsnode.js"

const parse = (text: string) => SslDistConf.parse(text)

describe("ssl_dist_optfile: the options that used to be dropped", () => {
  it("depth, signature_algs, supported_groups, eccs and client_renegotiation are read, not ignored", () => {
    const r = parse(
      `[{server, [{certfile, "/c.pem"}, {depth, 2}, {signature_algs, [rsa_pss_rsae_sha256, {sha256, ecdsa}]},` +
        ` {supported_groups, [x25519, secp256r1]}, {eccs, [secp256r1]}, {client_renegotiation, false}]},` +
        ` {client, [{depth, 0}, {signature_algs, [{sha, rsa}]}]}].`
    )
    if (Either.isLeft(r)) throw new Error(r.left.message)
    expect(r.right.options.server).toEqual({
      certfile: "/c.pem",
      depth: 2,
      signatureAlgs: ["rsa_pss_rsae_sha256", "ECDSA+SHA256"],
      supportedGroups: ["x25519", "secp256r1"],
      eccs: ["secp256r1"],
      clientRenegotiation: false
    })
    expect(r.right.options.client).toEqual({ depth: 0, signatureAlgs: ["RSA+SHA1"] })
    expect(r.right.ignored).toEqual([])
  })

  it("refuses bad values of these options with the place of the error", () => {
    const err = (text: string) => {
      const r = parse(text)
      if (Either.isRight(r)) throw new Error(`parsed: ${JSON.stringify(r.right)}`)
      return r.left.message
    }
    expect(err(`[{server, [{depth, -1}]}].`)).toContain("depth must be a non-negative integer")
    expect(err(`[{server, [{signature_algs, [{md5, rsa}]}]}].`)).toContain("{md5,rsa}")
    expect(err(`[{server, [{eccs, []}]}].`)).toContain("eccs must be a non-empty list")
    expect(err(`[{client, [{client_renegotiation, true}]}].`)).toContain("server option")
    expect(err(`[{server, [{client_renegotiation, maybe}]}].`)).toContain("true or false")
    // no way to honour it here: refused rather than dropped
    expect(err(`[{client, [{signature_algs_cert, [rsa_pss_rsae_sha256]}]}].`)).toContain(
      "signature_algs_cert is not supported"
    )
  })
})

/** A raw `node:tls` client (TLS 1.2) that connects and asks to renegotiate; the outcome. */
const renegotiate = (port: number) =>
  Effect.async<string>((resume) => {
    const socket = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false, maxVersion: "TLSv1.2" }, () => {
      socket.renegotiate({ rejectUnauthorized: false }, (err) => {
        socket.destroy()
        resume(Effect.succeed(err ? "refused" : "renegotiated"))
      })
    })
    socket.on("error", () => {
      socket.destroy()
      resume(Effect.succeed("refused"))
    })
    return Effect.sync(() => socket.destroy())
  })

describe.skipIf(!opensslAvailable())("TLS options at work", () => {
  it.effect("a name OpenSSL does not know, or options that contradict, fail when the transport is made", () =>
    Effect.gen(function*() {
      const msg = (o: Transport.TlsOptions) => Effect.map(Effect.flip(Transport.makeTls(o)), (e) => e.message)
      expect(yield* msg({ client: { signatureAlgs: ["bogus_alg"] } })).toContain(
        `signature_algs: OpenSSL does not know the signature algorithm "bogus_alg"`
      )
      expect(yield* msg({ client: { supportedGroups: ["nope"] } })).toContain(
        `supported_groups: OpenSSL does not know the group "nope"`
      )
      expect(
        yield* msg({ client: { versions: ["tlsv1.2", "tlsv1.3"], eccs: ["secp384r1"], supportedGroups: ["x25519"] } })
      ).toContain("eccs and supported_groups differ")
      expect(yield* msg({ client: { clientRenegotiation: false } })).toContain(
        "client_renegotiation is a server option"
      )
      expect(yield* msg({ client: { depth: -1 } })).toContain("depth must be a non-negative integer")
    }))

  it.scoped("a node that verifies no peer logs a warning at start, naming the option to set", () =>
    Effect.gen(function*() {
      const pki = yield* pkiScoped
      const warnings = (o: Transport.TlsOptions) =>
        Effect.gen(function*() {
          const logs: Array<string> = []
          yield* Transport.makeTls(o).pipe(Effect.provide(collectLogs(logs)))
          return logs.filter((l) => l.startsWith("WARN"))
        })
      // OTP 25's defaults: verify_none both ways (kept, so ssl_dist.conf files mean the same)
      const none = yield* warnings({ server: { ...pki.node } })
      expect(none.some((l) => l.includes("server side verifies no peer") && l.includes("{verify, verify_peer}")))
        .toBe(true)
      expect(none.some((l) => l.includes("client side verifies no peer") && l.includes("{verify, verify_peer}")))
        .toBe(true)
      const s = strict(pki.node, pki.cacert)
      const half = yield* warnings({ server: { ...s.server, failIfNoPeerCert: false }, client: s.client })
      expect(half.length).toBe(1)
      expect(half[0]).toContain("{fail_if_no_peer_cert, true}")
      expect(yield* warnings({ server: s.server, client: s.client })).toEqual([])
    }))

  it.scopedLive(
    "depth: one intermediate CA passes depth 1 and is refused with depth 0, on both sides",
    () =>
      Effect.gen(function*() {
        const pki = yield* pkiScoped
        const plain = strict(pki.node, pki.cacert)
        const chained = strict(pki.chained, pki.cacert)

        // server side: the client's chain is root -> ica -> leaf
        const serverLogs: Array<string> = []
        const strictServer = yield* Transport.makeTls({ server: { ...plain.server, depth: 0 } })
        const l0 = yield* strictServer.listen({ host: "127.0.0.1" }).pipe(Effect.provide(collectLogs(serverLogs)))
        const dialler = yield* Transport.makeTls({ client: chained.client })
        // the server refuses right after the TLS handshake: the client sees a close, early or late
        const refused = yield* Effect.either(dialler.connect({ host: "127.0.0.1", port: l0.port }))
        if (Either.isRight(refused)) yield* refused.right.closed
        expect(serverLogs.some((l) => l.includes("1 intermediate CA certificate, more than depth 0"))).toBe(true)
        const l1 = yield* (yield* Transport.makeTls({ server: { ...plain.server, depth: 1 } })).listen({
          host: "127.0.0.1"
        })
        const [ok] = yield* Effect.all([dialler.connect({ host: "127.0.0.1", port: l1.port }), l1.accept], {
          concurrency: 2
        })
        expect(ok.isClosed()).toBe(false)

        // client side: the server presents the chain
        const chainServer = yield* (yield* Transport.makeTls({ server: chained.server })).listen({ host: "127.0.0.1" })
        const client0 = yield* Transport.makeTls({ client: { ...plain.client, depth: 0 } })
        const e = yield* Effect.flip(client0.connect({ host: "127.0.0.1", port: chainServer.port }))
        expect(e.message).toContain("more than depth 0")
        const client1 = yield* Transport.makeTls({ client: { ...plain.client, depth: 1 } })
        yield* Effect.all([client1.connect({ host: "127.0.0.1", port: chainServer.port }), chainServer.accept], {
          concurrency: 2
        })
      }),
    30_000
  )

  it.scopedLive(
    "signature_algs: a server that may only sign with RSA-PSS cannot use its ECDSA key",
    () =>
      Effect.gen(function*() {
        const pki = yield* pkiScoped
        const client = yield* Transport.makeTls({})
        const pss =
          yield* (yield* Transport.makeTls({ server: { ...pki.node, signatureAlgs: ["rsa_pss_rsae_sha256"] } }))
            .listen({ host: "127.0.0.1" })
        const e = yield* Effect.flip(client.connect({ host: "127.0.0.1", port: pss.port }))
        expect(e.reason).toBe("ConnectFailed")
        const ecdsa = yield* (yield* Transport.makeTls({
          server: { ...pki.node, signatureAlgs: ["ecdsa_secp256r1_sha256"] }
        })).listen({ host: "127.0.0.1" })
        yield* Effect.all([client.connect({ host: "127.0.0.1", port: ecdsa.port }), ecdsa.accept], { concurrency: 2 })
      }),
    30_000
  )

  it.scopedLive(
    "supported_groups (TLS 1.3) and eccs (TLS 1.2): without a common group, no connection",
    () =>
      Effect.gen(function*() {
        const pki = yield* pkiScoped
        const v13 = ["tlsv1.3"] as const
        const s13 =
          yield* (yield* Transport.makeTls({ server: { ...pki.node, versions: v13, supportedGroups: ["x448"] } }))
            .listen({ host: "127.0.0.1" })
        const other = yield* Transport.makeTls({ client: { versions: v13, supportedGroups: ["x25519"] } })
        expect((yield* Effect.flip(other.connect({ host: "127.0.0.1", port: s13.port }))).reason).toBe("ConnectFailed")
        const same = yield* Transport.makeTls({ client: { versions: v13, supportedGroups: ["x448"] } })
        yield* Effect.all([same.connect({ host: "127.0.0.1", port: s13.port }), s13.accept], { concurrency: 2 })

        const s12 = yield* (yield* Transport.makeTls({ server: { ...pki.node, eccs: ["secp384r1"] } }))
          .listen({ host: "127.0.0.1" })
        const p256 = yield* Transport.makeTls({ client: { eccs: ["secp256r1"] } })
        expect((yield* Effect.flip(p256.connect({ host: "127.0.0.1", port: s12.port }))).reason).toBe("ConnectFailed")
        const both = yield* Transport.makeTls({ client: { eccs: ["secp384r1", "secp256r1"] } })
        yield* Effect.all([both.connect({ host: "127.0.0.1", port: s12.port }), s12.accept], { concurrency: 2 })
      }),
    30_000
  )

  it.scopedLive(
    "client_renegotiation: false refuses a client's renegotiation; true (the default) allows it",
    () =>
      Effect.gen(function*() {
        const pki = yield* pkiScoped
        const no = yield* (yield* Transport.makeTls({ server: { ...pki.node, clientRenegotiation: false } })).listen({
          host: "127.0.0.1"
        })
        expect(yield* renegotiate(no.port)).toBe("refused")
        const yes = yield* (yield* Transport.makeTls({ server: { ...pki.node, clientRenegotiation: true } })).listen({
          host: "127.0.0.1"
        })
        expect(yield* renegotiate(yes.port)).toBe("renegotiated")
        const byDefault = yield* (yield* Transport.makeTls({ server: { ...pki.node } })).listen({ host: "127.0.0.1" })
        expect(yield* renegotiate(byDefault.port)).toBe("renegotiated")
      }),
    30_000
  )
})
