/**
 * TLS distribution against real `erl -proto_dist inet_tls -ssl_dist_optfile FILE`: the
 * same optfile configures both, ping and messages flow both ways, and the checks agree
 * with OTP's (expired certificates, host names, missing client certificates, plaintext
 * peers).
 */
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { format } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as DistNode from "../src/DistNode.js"
import * as Epmd from "../src/Epmd.js"
import * as NetKernel from "../src/NetKernel.js"
import * as SslDistConf from "../src/SslDistConf.js"
import { erlAvailable, runErl, uniqueName } from "./helpers/erl.js"
import { opensslAvailable, type Pki, pkiScoped, type SideConf, strict, writeOptfile } from "./helpers/tls.js"
import { collectLogs, echoRoundTrip, expectCleanErlLog, host, nodeLayer, startPeer, tsEcho } from "./helpers/tsnode.js"

/** A TS node whose TLS transport comes from an ssl_dist_optfile. */
const buildTlsNode = (name: string, cookie: string, optfile: string, logs?: Array<string>) =>
  Layer.build(
    DistNode.layer({ hidden: true, name, cookie }).pipe(
      Layer.provide(Layer.merge(SslDistConf.layerTransport(optfile), Epmd.layerAuto())),
      Layer.provideMerge(ProcessRuntime.layer)
    )
  ).pipe(logs !== undefined ? Effect.provide(collectLogs(logs)) : (x) => x)

const tlsArgs = (optfile: string) => ["-proto_dist", "inet_tls", "-ssl_dist_optfile", optfile]

const conf = (pki: Pki, name: string, sides: { server: SideConf; client: SideConf }) =>
  writeOptfile(pki, `${name}_${Math.random().toString(36).slice(2, 8)}`, sides.server, sides.client)

/** One-shot erl over TLS: ping the TS node, send `{self(), hi}` to its echo, print both. */
const erlPingsAndEchoes = (tsNode: string, cookie: string, optfile: string) =>
  Effect.promise(() =>
    runErl(
      `R = net_adm:ping('${tsNode}'), io:format("ping=~p~n", [R]), ` +
        `case R of pong -> {echo, '${tsNode}'} ! {self(), hi}, ` +
        `receive X -> io:format("got=~p~n", [X]) after 5000 -> io:format("timeout~n") end; _ -> ok end, halt().`,
      { args: ["-sname", uniqueName("e"), "-setcookie", cookie, ...tlsArgs(optfile)] }
    )
  )

describe.skipIf(!erlAvailable() || !opensslAvailable())("TLS distribution with real erl", () => {
  it.scopedLive(
    "TS pings erl over TLS and exchanges messages with it (one optfile for both)",
    () =>
      Effect.gen(function*() {
        const pki = yield* pkiScoped
        const file = conf(pki, "both", strict(pki.node, pki.cacert))
        const cookie = uniqueName("c")
        const e = uniqueName("e")
        const erl = yield* startPeer(e, cookie, { args: tlsArgs(file) })
        const ctx = yield* buildTlsNode(uniqueName("ts"), cookie, file)
        const result = yield* Effect.gen(function*() {
          const pong = yield* NetKernel.ping(`${e}@${host}`)
          const reply = yield* echoRoundTrip(`${e}@${host}`, "hello over tls")
          return { pong, reply }
        }).pipe(Effect.provide(ctx))
        expect(result.pong).toBe("pong")
        expect(Option.map(result.reply, format)).toEqual(Option.some(`{echo,<<"hello over tls">>}`))
        expectCleanErlLog(erl)
      }),
    60_000
  )

  it.scopedLive("erl pings TS over TLS and a TS echo process answers it", () =>
    Effect.gen(function*() {
      const pki = yield* pkiScoped
      const file = conf(pki, "both", strict(pki.node, pki.cacert))
      const cookie = uniqueName("c")
      const t = uniqueName("ts")
      const ctx = yield* buildTlsNode(t, cookie, file)
      yield* tsEcho.pipe(Effect.provide(ctx))
      const out = yield* erlPingsAndEchoes(`${t}@${host}`, cookie, file)
      expect(out.stdout).toContain("ping=pong")
      expect(out.stdout).toContain("got={echo,hi}")
    }), 60_000)

  it.scopedLive(
    "an erl client with an expired certificate is refused by TS (and says so in TS's log)",
    () =>
      Effect.gen(function*() {
        const pki = yield* pkiScoped
        const cookie = uniqueName("c")
        const t = uniqueName("ts")
        const logs: Array<string> = []
        yield* buildTlsNode(t, cookie, conf(pki, "ts", strict(pki.node, pki.cacert)), logs)
        const out = yield* erlPingsAndEchoes(`${t}@${host}`, cookie, conf(pki, "erl", strict(pki.expired, pki.cacert)))
        expect(out.stdout).toContain("ping=pang")
        expect(logs.join("\n")).toContain("the certificate has expired (CERT_HAS_EXPIRED)")
      }),
    60_000
  )

  it.scopedLive("TS refuses an erl server with an expired certificate", () =>
    Effect.gen(function*() {
      const pki = yield* pkiScoped
      const cookie = uniqueName("c")
      const e = uniqueName("e")
      yield* startPeer(e, cookie, { args: tlsArgs(conf(pki, "erl", strict(pki.expired, pki.cacert))) })
      const ctx = yield* buildTlsNode(uniqueName("ts"), cookie, conf(pki, "ts", strict(pki.node, pki.cacert)))
      const error = yield* Effect.flip(NetKernel.connect(`${e}@${host}`)).pipe(Effect.provide(ctx))
      expect(error.message).toContain("the certificate has expired (CERT_HAS_EXPIRED)")
    }), 60_000)

  it.scopedLive(
    "host names: erl, like TS, refuses a server certificate that does not name the host",
    () =>
      Effect.gen(function*() {
        const pki = yield* pkiScoped
        const cookie = uniqueName("c")
        // a TS server with a certificate for other.invalid: erl (verify_peer) refuses it
        const t = uniqueName("ts")
        const logs: Array<string> = []
        yield* buildTlsNode(t, cookie, conf(pki, "ts", strict(pki.otherHost, pki.cacert)), logs)
        const out = yield* erlPingsAndEchoes(`${t}@${host}`, cookie, conf(pki, "erl", strict(pki.node, pki.cacert)))
        expect(out.stdout).toContain("ping=pang")
        expect(logs.join("\n")).toContain("it may not trust our certificate")
        // an erl server with the same certificate: TS refuses it too
        const e = uniqueName("e")
        yield* startPeer(e, cookie, { args: tlsArgs(conf(pki, "erl2", strict(pki.otherHost, pki.cacert))) })
        const ctx = yield* buildTlsNode(uniqueName("ts"), cookie, conf(pki, "ts2", strict(pki.node, pki.cacert)))
        const error = yield* Effect.flip(NetKernel.connect(`${e}@${host}`)).pipe(Effect.provide(ctx))
        expect(error.message).toMatch(/does not name the host|does not match certificate's altnames/)
      }),
    60_000
  )

  it.scopedLive(
    "a TS client without a certificate is refused by erl with fail_if_no_peer_cert",
    () =>
      Effect.gen(function*() {
        const pki = yield* pkiScoped
        const cookie = uniqueName("c")
        const e = uniqueName("e")
        yield* startPeer(e, cookie, { args: tlsArgs(conf(pki, "erl", strict(pki.node, pki.cacert))) })
        const s = strict(pki.node, pki.cacert)
        const file = conf(pki, "ts", { server: s.server, client: { cacertfile: pki.cacert, verify: "verify_peer" } })
        const ctx = yield* buildTlsNode(uniqueName("ts"), cookie, file)
        const error = yield* Effect.flip(NetKernel.connect(`${e}@${host}`)).pipe(Effect.provide(ctx))
        expect(error._tag).toBe("ConnectError")
      }),
    60_000
  )

  it.scopedLive(
    "plaintext peers both ways: plain erl -> TS over TLS, and TS over TLS -> plain erl",
    () =>
      Effect.gen(function*() {
        const pki = yield* pkiScoped
        const cookie = uniqueName("c")
        const file = conf(pki, "both", strict(pki.node, pki.cacert))
        const t = uniqueName("ts")
        const logs: Array<string> = []
        const ctx = yield* buildTlsNode(t, cookie, file, logs)
        // plain erl dials the TLS node
        const out = yield* Effect.promise(() =>
          runErl(`io:format("ping=~p~n", [net_adm:ping('${t}@${host}')]), halt().`, {
            args: ["-sname", uniqueName("e"), "-setcookie", cookie]
          })
        )
        expect(out.stdout).toContain("ping=pang")
        expect(logs.join("\n")).toContain("the peer does not speak TLS")
        // the TLS node dials a plain erl
        const e = uniqueName("e")
        yield* startPeer(e, cookie, { args: ["-kernel", "net_setuptime", "2"] })
        const error = yield* Effect.flip(NetKernel.connect(`${e}@${host}`)).pipe(Effect.provide(ctx))
        expect(error.message).toMatch(/TLS handshake|does not speak TLS/)
        // a plain TS node cannot reach an erl over TLS either
        const f = uniqueName("f")
        yield* startPeer(f, cookie, { args: tlsArgs(file) })
        const plain = yield* Layer.build(nodeLayer(uniqueName("plain"), cookie))
        expect(yield* NetKernel.ping(`${f}@${host}`).pipe(Effect.provide(plain))).toBe("pang")
      }),
    60_000
  )
})
