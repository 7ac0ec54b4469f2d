/**
 * TLS distribution: the `ssl_dist_optfile` parser, option checks, the TLS carrier, TS↔TS
 * nodes over TLS, and the refusals (wrong CA, expired, no certificate, wrong host name,
 * plaintext peers both ways). Certificates are made at test time with `openssl`.
 */
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { format } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as path from "node:path"
import * as DistNode from "../src/DistNode.js"
import * as Epmd from "../src/Epmd.js"
import type { TcpCarrier } from "../src/internal/transport/tcp.js"
import * as NetKernel from "../src/NetKernel.js"
import * as SslDistConf from "../src/SslDistConf.js"
import * as Transport from "../src/Transport.js"
import { uniqueName } from "./helpers/erl.js"
import { type CertFiles, opensslAvailable, optfileText, type Pki, pkiScoped, strict } from "./helpers/tls.js"
import { collectLogs, echoRoundTrip, host, nodeLayer, tsEcho } from "./helpers/tsnode.js"

// ---------------------------------------------------------------------------
// ssl_dist_optfile parsing (pure)
// ---------------------------------------------------------------------------

const parseOk = (text: string) => {
  const r = SslDistConf.parse(text)
  if (Either.isLeft(r)) throw new Error(r.left.message)
  return r.right
}

const parseErr = (text: string) => {
  const r = SslDistConf.parse(text)
  if (Either.isRight(r)) throw new Error(`parsed: ${JSON.stringify(r.right)}`)
  return r.left
}

describe("SslDistConf.parse", () => {
  it("reads the documented format into server and client options", () => {
    const conf = parseOk(`
%% ssl_dist.conf, as in the OTP "Using SSL for Erlang Distribution" guide
[{server,
  [{certfile, "/etc/dist/node.pem"},
   {keyfile, "/etc/dist/node.key"},
   {cacertfile, "/etc/dist/ca.pem"},
   {secure_renegotiate, true},   % no effect here
   {verify, verify_peer},
   {fail_if_no_peer_cert, true}]},
 {client,
  [{certfile, "/etc/dist/node.pem"},
   {keyfile, "/etc/dist/node.key"},
   {cacertfile, "/etc/dist/ca.pem"},
   {secure_renegotiate, true},
   {verify, verify_peer}]}].
`)
    expect(conf.options).toEqual({
      server: {
        certfile: "/etc/dist/node.pem",
        keyfile: "/etc/dist/node.key",
        cacertfile: "/etc/dist/ca.pem",
        verify: "verify_peer",
        failIfNoPeerCert: true
      },
      client: {
        certfile: "/etc/dist/node.pem",
        keyfile: "/etc/dist/node.key",
        cacertfile: "/etc/dist/ca.pem",
        verify: "verify_peer"
      }
    })
    expect(conf.ignored).toEqual(["server: secure_renegotiate", "client: secure_renegotiate"])
  })

  it("understands Erlang literal syntax: quoted atoms, escapes, adjacent strings, char lists, binaries", () => {
    const conf = parseOk(
      `[{'server', [{certfile, "/a/" "b.pem"}, {keyfile, [$/, $k | "ey"]}, {cacertfile, <<"/ca\\x2epem">>},` +
        ` {password, "p\\"w\\101\\x{263A}"}, {verify, 'verify_peer'}, {versions, ['tlsv1.2', 'tlsv1.3']},` +
        ` {ciphers, ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256"]}, {depth, 16#0a}]},` +
        ` {client, [{server_name_indication, disable}]}]  .  % trailing comment`
    )
    expect(conf.options.server).toEqual({
      certfile: "/a/b.pem",
      keyfile: "/key",
      cacertfile: "/ca.pem",
      password: "p\"wA\u263A",
      verify: "verify_peer",
      versions: ["tlsv1.2", "tlsv1.3"],
      ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256",
      depth: 10
    })
    expect(conf.options.client).toEqual({ serverNameIndication: "disable" })
    expect(conf.ignored).toEqual([])
  })

  it("an empty list and an empty side are fine", () => {
    expect(parseOk("[].").options).toEqual({})
    expect(parseOk("[{client, []}].").options).toEqual({ client: {} })
  })

  it("refuses options that would change the checks, naming them", () => {
    const e = parseErr(`[{server, [{verify_fun, {inet_tls_dist, verify_client, []}}]}].`)
    expect(e.reason).toBe("Unsupported")
    expect(e.message).toContain("verify_fun")
    expect(parseErr(`[{client, [{crl_check, peer}]}].`).message).toContain("crl_check")
    expect(parseErr(`[{client, [{versions, ['tlsv1.1']}]}].`).message).toContain("tlsv1.1")
  })

  it("refuses bad values and shapes with the place of the error", () => {
    expect(parseErr(`[{server, [{verify, maybe}]}].`).message).toContain("verify must be verify_peer or verify_none")
    expect(parseErr(`[{client, [{fail_if_no_peer_cert, true}]}].`).message).toContain("server option")
    expect(parseErr(`[{server, [{certfile, 42}]}].`).message).toContain("certfile must be a string")
    expect(parseErr(`[{server, []}, {server, []}].`).message).toContain("twice")
    expect(parseErr(`[{other, []}].`).reason).toBe("Invalid")
    expect(parseErr(`{server, []}.`).reason).toBe("Invalid")
    const syntax = parseErr(`[{server,\n  [{certfile, File}]}].`)
    expect(syntax.reason).toBe("Syntax")
    expect(syntax.message).toContain("line 2")
    expect(syntax.message).toContain("variables")
    expect(parseErr(`[{server, []}]`).message).toContain("expected '.'")
    expect(parseErr(`[{server, [{certfile, "x}]}].`).message).toContain("unterminated string")
    expect(parseErr(`[]. [].`).message).toContain("only one term")
    expect(parseErr(`[{server, [{certfile, os:getenv("X")}]}].`).message).toContain("function calls")
  })

  it("the test helper's files parse back to what they say", () => {
    const conf = parseOk(optfileText(
      {
        certfile: "/x/n.pem",
        keyfile: "/x/n.key",
        cacertfile: "/x/ca.pem",
        verify: "verify_peer",
        failIfNoPeerCert: true
      },
      { cacertfile: "/x/ca.pem", verify: "verify_none" }
    ))
    expect(conf.options.server?.failIfNoPeerCert).toBe(true)
    expect(conf.options.client).toEqual({ cacertfile: "/x/ca.pem", verify: "verify_none" })
  })

  it.effect("load reads latin-1 unless a coding comment says utf-8, and reports missing files", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "ssldistconf-"))
      try {
        const latin1 = path.join(dir, "l.conf")
        fs.writeFileSync(latin1, Buffer.from(`[{client, [{certfile, "/caf\xe9.pem"}]}].`, "latin1"))
        const utf8 = path.join(dir, "u.conf")
        fs.writeFileSync(utf8, `%% -*- coding: utf-8 -*-\n[{client, [{certfile, "/café☺.pem"}]}].`, "utf8")
        expect((yield* SslDistConf.load(latin1)).client?.certfile).toBe("/café.pem")
        expect((yield* SslDistConf.load(utf8)).client?.certfile).toBe("/café☺.pem")
        const missing = yield* Effect.flip(SslDistConf.load(path.join(dir, "nope.conf")))
        expect(missing.reason).toBe("ReadFailed")
        expect(missing.message).toContain("nope.conf")
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }))
})

// ---------------------------------------------------------------------------
// TLS transport and nodes (needs openssl)
// ---------------------------------------------------------------------------

/** Options as a TS node would take them from an ssl_dist_optfile. */
const tlsOptions = (files: CertFiles | undefined, ca: string, extra: Partial<Transport.TlsOptions> = {}) => {
  const s = strict(files, ca)
  return { server: s.server, client: s.client, ...extra } as Transport.TlsOptions
}

/** Builds a TS node over TLS for the current scope (with its logs collected into `logs`). */
const buildTls = (name: string, cookie: string, options: Transport.TlsOptions, logs?: Array<string>) => {
  const layer = DistNode.layer({ hidden: true, name, cookie }).pipe(
    Layer.provide(Layer.merge(Transport.layerTls(options), Epmd.layerAuto())),
    Layer.provideMerge(ProcessRuntime.layer)
  )
  return Layer.build(layer).pipe(logs !== undefined ? Effect.provide(collectLogs(logs)) : (x) => x)
}

/** The failure of `NetKernel.connect` (the test fails if it connects). */
const connectError = (node: string) => Effect.flip(NetKernel.connect(node))

describe.skipIf(!opensslAvailable())("TLS transport", () => {
  it.scopedLive("carriers: 4-byte framing and bytes both ways", () =>
    Effect.gen(function*() {
      const pki = yield* pkiScoped
      const transport = yield* Transport.makeTls(tlsOptions(pki.node, pki.cacert))
      const listener = yield* transport.listen({ host: "127.0.0.1" })
      const [client, server] = yield* Effect.all([
        transport.connect({ host: "localhost", port: listener.port }),
        listener.accept
      ], { concurrency: 2 })
      expect(client.framing).toBe(4)
      expect(server.framing).toBe(4)
      // TLS carriers write through the TLS socket's stream, never on its handle
      expect([(client as TcpCarrier).writesDirect, (server as TcpCarrier).writesDirect]).toEqual([false, false])
      yield* client.write(new Uint8Array([0, 0, 0, 3, 1, 2, 3]))
      expect(Array.from(yield* server.read)).toEqual([0, 0, 0, 3, 1, 2, 3])
      yield* server.writev([new Uint8Array([9]), new Uint8Array([8, 7])])
      let got: Array<number> = []
      while (got.length < 3) got = got.concat(Array.from(yield* client.read))
      expect(got).toEqual([9, 8, 7])
    }), 30_000)

  it.scopedLive(
    "TLS 1.3 when both sides allow it (the default is 1.2 only, as inet_tls_dist)",
    () =>
      Effect.gen(function*() {
        const pki = yield* pkiScoped
        const s = strict(pki.node, pki.cacert)
        const v13 = ["tlsv1.3"] as const
        const transport = yield* Transport.makeTls({
          server: { ...s.server, versions: v13 },
          client: { ...s.client, versions: v13 }
        })
        const listener = yield* transport.listen({ host: "127.0.0.1" })
        const [client, server] = yield* Effect.all([
          transport.connect({ host, ip: "127.0.0.1", port: listener.port }),
          listener.accept
        ], { concurrency: 2 })
        yield* client.write(new Uint8Array([0, 0, 0, 1, 42]))
        expect(Array.from(yield* server.read)).toEqual([0, 0, 0, 1, 42])
        // a 1.2-only client cannot talk to a 1.3-only server
        const old = yield* Transport.makeTls({ client: s.client })
        const e = yield* Effect.flip(old.connect({ host, ip: "127.0.0.1", port: listener.port }))
        expect(e.reason).toBe("ConnectFailed")
      }),
    30_000
  )

  it.effect("bad options fail when the transport is made, with OTP's reasons", () =>
    Effect.gen(function*() {
      const noCa = yield* Effect.flip(Transport.makeTls({ client: { verify: "verify_peer" } }))
      expect(noCa.message).toContain("verify_peer needs a cacertfile")
      const failNone = yield* Effect.flip(
        Transport.makeTls({ server: { certfile: "/x", failIfNoPeerCert: true } })
      )
      expect(failNone.message).toContain("fail_if_no_peer_cert needs {verify, verify_peer}")
      const missing = yield* Effect.flip(Transport.makeTls({ server: { certfile: "/nonexistent/node.pem" } }))
      expect(missing.reason).toBe("ReadFailed")
      expect(missing.message).toContain("/nonexistent/node.pem")
    }))

  it.scoped("a key that does not fit the certificate is refused at once", () =>
    Effect.gen(function*() {
      const pki = yield* pkiScoped
      const e = yield* Effect.flip(Transport.makeTls({
        server: { certfile: pki.node.certfile, keyfile: pki.wrongCa.keyfile }
      }))
      expect(e.reason).toBe("BadCertificate")
    }))

  it.scopedLive("listening needs server options", () =>
    Effect.gen(function*() {
      const transport = yield* Transport.makeTls({})
      const e = yield* Effect.flip(transport.listen({}))
      expect(e.reason).toBe("ListenFailed")
      expect(e.message).toContain("without server options")
    }), 30_000)

  it.scopedLive(
    "TS nodes over TLS (one config file): ping and echo, dialling and accepting",
    () =>
      Effect.gen(function*() {
        const pki = yield* pkiScoped
        const s = strict(pki.node, pki.cacert)
        const file = path.join(pki.dir, "both.conf")
        fs.writeFileSync(file, optfileText(s.server, s.client))
        const cookie = uniqueName("c")
        const a = uniqueName("ta")
        const b = uniqueName("tb")
        const c = uniqueName("tc")
        const mk = (name: string) =>
          Layer.build(
            DistNode.layer({ hidden: true, name, cookie }).pipe(
              Layer.provide(Layer.merge(SslDistConf.layerTransport(file), Epmd.layerAuto())),
              Layer.provideMerge(ProcessRuntime.layer)
            )
          )
        const ctxA = yield* mk(a)
        const ctxB = yield* mk(b)
        const ctxC = yield* mk(c)
        yield* tsEcho.pipe(Effect.provide(ctxA))
        yield* tsEcho.pipe(Effect.provide(ctxB))
        // A dials B
        expect(yield* NetKernel.ping(`${b}@${host}`).pipe(Effect.provide(ctxA))).toBe("pong")
        const fromA = yield* echoRoundTrip(`${b}@${host}`, "a to b").pipe(Effect.provide(ctxA))
        expect(Option.map(fromA, format)).toEqual(Option.some(`{echo,<<"a to b">>}`))
        // B answers over the connection it accepted
        const fromB = yield* echoRoundTrip(`${a}@${host}`, "b to a").pipe(Effect.provide(ctxB))
        expect(Option.map(fromB, format)).toEqual(Option.some(`{echo,<<"b to a">>}`))
        // C dials A: A accepts
        const fromC = yield* echoRoundTrip(`${a}@${host}`, "c to a").pipe(Effect.provide(ctxC))
        expect(Option.map(fromC, format)).toEqual(Option.some(`{echo,<<"c to a">>}`))
        const onA = (yield* NetKernel.nodes("connected").pipe(Effect.provide(ctxA))).map((n) => n.name).sort()
        expect(onA).toEqual([`${b}@${host}`, `${c}@${host}`].sort())
      }),
    30_000
  )

  it.scopedLive(
    "verify_none (OTP's default) checks nothing: an expired server certificate is accepted",
    () =>
      Effect.gen(function*() {
        const pki = yield* pkiScoped
        const cookie = uniqueName("c")
        const srv = uniqueName("srv")
        yield* buildTls(srv, cookie, { server: { ...pki.expired } })
        const ctxC = yield* buildTls(uniqueName("cli"), cookie, { server: { ...pki.node } })
        expect(yield* NetKernel.ping(`${srv}@${host}`).pipe(Effect.provide(ctxC))).toBe("pong")
      }),
    30_000
  )

  describe("refusals", () => {
    /**
     * A server node `srv` with `server` identity and a client node `cli` with `client`
     * identity (undefined: no certificate); both trust `ca` unless told otherwise.
     * Returns the client's connect error and the server's logs.
     */
    const attempt = (
      pki: Pki,
      server: Transport.TlsOptions,
      client: Transport.TlsOptions
    ) =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const srv = uniqueName("srv")
        const logs: Array<string> = []
        yield* buildTls(srv, cookie, server, logs)
        const ctxC = yield* buildTls(uniqueName("cli"), cookie, client)
        const error = yield* connectError(`${srv}@${host}`).pipe(Effect.provide(ctxC))
        void pki
        return { error, logs }
      })

    it.scopedLive(
      "a client certificate from another CA: the server refuses it and says why",
      () =>
        Effect.gen(function*() {
          const pki = yield* pkiScoped
          const { error, logs } = yield* attempt(
            pki,
            tlsOptions(pki.node, pki.cacert),
            tlsOptions(pki.wrongCa, pki.cacert)
          )
          expect(error._tag).toBe("ConnectError")
          yield* waitForLog(logs, /refused a connection/)
          expect(logs.join("\n")).toMatch(/certificate was refused: .*not signed by a trusted CA/)
        }),
      30_000
    )

    it.scopedLive(
      "a server certificate from another CA: the client refuses it and says why",
      () =>
        Effect.gen(function*() {
          const pki = yield* pkiScoped
          const { error } = yield* attempt(
            pki,
            // the server trusts our CA for clients, but presents a certificate of another CA
            tlsOptions(pki.wrongCa, pki.cacert),
            tlsOptions(pki.node, pki.cacert)
          )
          expect(error.reason).toBe("PeerUnreachable")
          expect(error.message).toMatch(/TLS handshake failed: .*(trusted CA|CA we do not trust)/)
        }),
      30_000
    )

    it.scopedLive("an expired client certificate: the server refuses it", () =>
      Effect.gen(function*() {
        const pki = yield* pkiScoped
        const { error, logs } = yield* attempt(
          pki,
          tlsOptions(pki.node, pki.cacert),
          tlsOptions(pki.expired, pki.cacert)
        )
        expect(error._tag).toBe("ConnectError")
        yield* waitForLog(logs, /refused a connection/)
        expect(logs.join("\n")).toContain("the certificate has expired (CERT_HAS_EXPIRED)")
      }), 30_000)

    it.scopedLive("an expired server certificate: the client refuses it", () =>
      Effect.gen(function*() {
        const pki = yield* pkiScoped
        const { error } = yield* attempt(
          pki,
          tlsOptions(pki.expired, pki.cacert),
          tlsOptions(pki.node, pki.cacert)
        )
        expect(error.message).toContain("the certificate has expired (CERT_HAS_EXPIRED)")
      }), 30_000)

    it.scopedLive(
      "no client certificate when fail_if_no_peer_cert: refused; accepted without it",
      () =>
        Effect.gen(function*() {
          const pki = yield* pkiScoped
          const { error, logs } = yield* attempt(
            pki,
            tlsOptions(pki.node, pki.cacert),
            { server: strict(pki.node, pki.cacert).server, client: { cacertfile: pki.cacert, verify: "verify_peer" } }
          )
          expect(error._tag).toBe("ConnectError")
          yield* waitForLog(logs, /refused a connection/)
          expect(logs.join("\n")).toContain("the peer sent no certificate (fail_if_no_peer_cert)")
          // verify_peer without fail_if_no_peer_cert lets a client without a certificate in
          const cookie = uniqueName("c")
          const srv = uniqueName("srv")
          yield* buildTls(srv, cookie, {
            server: { ...pki.node, cacertfile: pki.cacert, verify: "verify_peer", failIfNoPeerCert: false }
          })
          const ctxC = yield* buildTls(uniqueName("cli"), cookie, {
            server: strict(pki.node, pki.cacert).server,
            client: { cacertfile: pki.cacert, verify: "verify_peer" }
          })
          expect(yield* NetKernel.ping(`${srv}@${host}`).pipe(Effect.provide(ctxC))).toBe("pong")
        }),
      30_000
    )

    it.scopedLive(
      "a server certificate for another host name: refused unless SNI is disabled",
      () =>
        Effect.gen(function*() {
          const pki = yield* pkiScoped
          const { error } = yield* attempt(
            pki,
            tlsOptions(pki.otherHost, pki.cacert),
            tlsOptions(pki.node, pki.cacert)
          )
          expect(error.message).toMatch(/does not name the host|does not match certificate's altnames/)
          const cookie = uniqueName("c")
          const srv = uniqueName("srv")
          yield* buildTls(srv, cookie, tlsOptions(pki.otherHost, pki.cacert))
          const s = strict(pki.node, pki.cacert)
          const ctxC = yield* buildTls(uniqueName("cli"), cookie, {
            server: s.server,
            client: { ...s.client, serverNameIndication: "disable" }
          })
          expect(yield* NetKernel.ping(`${srv}@${host}`).pipe(Effect.provide(ctxC))).toBe("pong")
        }),
      30_000
    )

    it.scopedLive(
      "a plaintext node dialling a TLS node: the TLS side refuses it as not TLS",
      () =>
        Effect.gen(function*() {
          const pki = yield* pkiScoped
          const cookie = uniqueName("c")
          const srv = uniqueName("srv")
          const logs: Array<string> = []
          yield* buildTls(srv, cookie, tlsOptions(pki.node, pki.cacert), logs)
          const ctxPlain = yield* Layer.build(nodeLayer(uniqueName("plain"), cookie))
          const error = yield* connectError(`${srv}@${host}`).pipe(Effect.provide(ctxPlain))
          expect(error._tag).toBe("ConnectError")
          yield* waitForLog(logs, /refused a connection/)
          expect(logs.join("\n")).toContain("the peer does not speak TLS")
        }),
      30_000
    )

    it.scopedLive(
      "a TLS node dialling a plaintext node: the TLS handshake fails with a clear error",
      () =>
        Effect.gen(function*() {
          const pki = yield* pkiScoped
          const cookie = uniqueName("c")
          const plain = uniqueName("plain")
          yield* Layer.build(nodeLayer(plain, cookie, { setupTime: "2 seconds" }))
          const ctxC = yield* buildTls(
            uniqueName("cli"),
            cookie,
            tlsOptions(pki.node, pki.cacert, {
              handshakeTimeout: "2 seconds"
            })
          )
          const error = yield* connectError(`${plain}@${host}`).pipe(Effect.provide(ctxC))
          expect(error.message).toMatch(
            /TLS handshake did not complete|closed the connection during the TLS handshake|does not speak TLS/
          )
        }),
      30_000
    )
  })
})

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

/** Waits (polling, up to 10 s) until a collected log line matches. */
const waitForLog = (logs: Array<string>, pattern: RegExp) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      if (pattern.test(logs.join("\n"))) return
      yield* Effect.sleep("50 millis")
    }
    expect(logs.join("\n")).toMatch(pattern)
  })
