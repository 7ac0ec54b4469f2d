/**
 * Interop with real `erl` (OTP 25+): ping both ways, the chapter's echo both ways, a
 * wrong cookie both ways (typed error on our side, OTP's log line on erl's side), and
 * erl's log stays free of distribution errors on the happy paths.
 */
import * as Process from "@effect-otp/process/Process"
import { RemoteName } from "@effect-otp/process/Signal"
import { Atom, binary, format, isTagged, tuple } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Handshake from "../src/Handshake.js"
import * as NetKernel from "../src/NetKernel.js"
import { erlAvailable, runErl, uniqueName } from "./helpers/erl.js"
import {
  buildNode,
  collectLogs,
  expectCleanErlLog,
  host,
  nodeLayer,
  printedNode,
  startPeer,
  tsEcho
} from "./helpers/tsnode.js"

describe.skipIf(!erlAvailable())("Interop with real erl: ping, echo, cookies", () => {
  it.scopedLive(
    "TS pings erl (pong), sees it in nodes(hidden), and erl's echo answers; erl logs no error",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const e = uniqueName("e")
        const erl = yield* startPeer(e, cookie)
        const ctx = yield* buildNode(uniqueName("ts"), cookie)
        const result = yield* Effect.gen(function*() {
          const pong = yield* NetKernel.ping(`${e}@${host}`)
          const hidden = yield* NetKernel.nodes("hidden")
          const visible = yield* NetKernel.nodes()
          const reply = yield* Process.run(Effect.gen(function*() {
            const self = yield* Process.self
            yield* Process.send(
              new RemoteName({ name: Atom.make("echo"), node: Atom.make(`${e}@${host}`) }),
              tuple(self, binary("hello from ts"))
            )
            return yield* Process.receive((m) => isTagged(m, "echo", 2) ? Option.some(m) : Option.none(), {
              after: "5 seconds"
            })
          }))
          // the same through the `{Name, Node}` tuple form
          const reply2 = yield* Process.run(Effect.gen(function*() {
            const self = yield* Process.self
            yield* Process.send(tuple(Atom.make("echo"), Atom.make(`${e}@${host}`)), tuple(self, 42))
            return yield* Process.receive((m) => isTagged(m, "echo", 2) ? Option.some(m) : Option.none(), {
              after: "5 seconds"
            })
          }))
          return { pong, hidden: hidden.map((n) => n.name), visible, reply, reply2 }
        }).pipe(Effect.provide(ctx))
        expect(result.pong).toBe("pong")
        expect(result.hidden).toEqual([`${e}@${host}`])
        expect(result.visible).toEqual([])
        expect(Option.map(result.reply, format)).toEqual(Option.some(`{echo,<<"hello from ts">>}`))
        expect(Option.map(result.reply2, format)).toEqual(Option.some(`{echo,42}`))
        expectCleanErlLog(erl)
      }),
    30_000
  )

  it.scopedLive(
    "erl pings TS (pong) and a TS echo process answers erl; erl logs no error",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const t = uniqueName("ts")
        const ctx = yield* buildNode(t, cookie)
        yield* tsEcho.pipe(Effect.provide(ctx))
        const out = yield* Effect.promise(() =>
          runErl(
            `R = net_adm:ping('${t}@${host}'), io:format("ping=~p~n", [R]), ` +
              `io:format("hidden=~p~n", [nodes(hidden)]), ` +
              `{echo, '${t}@${host}'} ! {self(), {hi, [1,2,3], <<"bin">>, 1.5, -7, 12345678901234567890}}, ` +
              `receive X -> io:format("got=~p~n", [X]) after 5000 -> io:format("timeout~n") end, halt().`,
            { args: ["-sname", uniqueName("e"), "-setcookie", cookie] }
          )
        )
        expect(out.stdout).toContain("ping=pong")
        expect(out.stdout).toContain(`hidden=[${printedNode(t)}]`)
        expect(out.stdout).toContain(`got={echo,{hi,[1,2,3],<<"bin">>,1.5,-7,12345678901234567890}}`)
        expect(`${out.stdout}${out.stderr}`).not.toMatch(/ERROR REPORT|Connection attempt|invalid|^\*\* /im)
      }),
    30_000
  )

  it.scopedLive(
    "a visible TS node: erl lists it in nodes(), pings and echoes work both ways; erl logs no error",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const e = uniqueName("e")
        const t = uniqueName("ts")
        const erl = yield* startPeer(e, cookie)
        const ctx = yield* buildNode(t, cookie, { hidden: false })
        yield* tsEcho.pipe(Effect.provide(ctx))
        expect(yield* NetKernel.ping(`${e}@${host}`).pipe(Effect.provide(ctx))).toBe("pong")
        expect((yield* NetKernel.nodes().pipe(Effect.provide(ctx))).map((n) => n.name)).toEqual([`${e}@${host}`])
        // a second erl node, visible too, sees the TS node in nodes() after its ping
        const out = yield* Effect.promise(() =>
          runErl(
            `R = net_adm:ping('${t}@${host}'), io:format("ping=~p nodes=~p~n", [R, nodes()]), ` +
              `{echo, '${t}@${host}'} ! {self(), visible}, ` +
              `receive X -> io:format("got=~p~n", [X]) after 5000 -> io:format("timeout~n") end, halt().`,
            { args: ["-sname", uniqueName("e"), "-setcookie", cookie] }
          )
        )
        expect(out.stdout).toContain(`ping=pong nodes=[${printedNode(t)}`)
        expect(out.stdout).toContain("got={echo,visible}")
        expect(`${out.stdout}${out.stderr}`).not.toMatch(/ERROR REPORT|Connection attempt|invalid|^\*\* /im)
        expectCleanErlLog(erl)
      }),
    30_000
  )

  it.scopedLive(
    "TS with a wrong cookie: ping is pang, connect fails with AuthenticationFailed, erl logs the rejection",
    () =>
      Effect.gen(function*() {
        const e = uniqueName("e")
        const t = uniqueName("ts")
        const erl = yield* startPeer(e, uniqueName("right"))
        const ctx = yield* buildNode(t, uniqueName("wrong"))
        const pang = yield* NetKernel.ping(`${e}@${host}`).pipe(Effect.provide(ctx))
        expect(pang).toBe("pang")
        const exit = yield* Effect.exit(NetKernel.connect(`${e}@${host}`).pipe(Effect.provide(ctx)))
        expect(Exit.isFailure(exit)).toBe(true)
        const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
        expect(Option.isSome(error)).toBe(true)
        const ce = Option.getOrThrow(error)
        expect(ce._tag).toBe("ConnectError")
        expect(ce.node).toBe(`${e}@${host}`)
        expect(ce.cause).toBeInstanceOf(Handshake.HandshakeError)
        expect((ce.cause as Handshake.HandshakeError).reason).toBe("AuthenticationFailed")
        expect((ce.cause as Handshake.HandshakeError).step).toBe("recvChallengeAck")
        expect(yield* NetKernel.nodes("connected").pipe(Effect.provide(ctx))).toEqual([])
        // OTP 25 (the acceptor) logs:
        //   =ERROR REPORT==== ... ===
        //   ** Connection attempt from node t@box rejected. Invalid challenge reply. **
        yield* Effect.promise(() => erl.waitFor("Invalid challenge reply", 5_000))
        const log = `${erl.stdout()}${erl.stderr()}`
        expect(log).toContain(`** Connection attempt from node ${printedNode(t)} rejected. Invalid challenge reply. **`)
        expect(log).toContain("=ERROR REPORT")
      }),
    30_000
  )

  it.scopedLive(
    "erl with a wrong cookie gets pang; TS refuses it with AuthenticationFailed and stays up",
    () =>
      Effect.gen(function*() {
        const t = uniqueName("ts")
        const cookie = uniqueName("right")
        const logs: Array<string> = []
        const ctx = yield* Layer.build(nodeLayer(t, cookie).pipe(Layer.provide(collectLogs(logs))))
        const bad = yield* Effect.promise(() =>
          runErl(`io:format("ping=~p~n", [net_adm:ping('${t}@${host}')]), halt().`, {
            args: ["-sname", uniqueName("e"), "-setcookie", uniqueName("wrong")]
          })
        )
        expect(bad.stdout).toContain("ping=pang")
        // OTP 25 as the initiator prints nothing about the failure (only the acceptor logs)
        expect(`${bad.stdout}${bad.stderr}`).not.toContain("ERROR REPORT")
        expect(logs.some((l) => l.includes("recvChallengeReply") && l.includes("AuthenticationFailed"))).toBe(true)
        expect(logs.join("\n")).not.toContain(cookie)
        expect(yield* NetKernel.nodes("connected").pipe(Effect.provide(ctx))).toEqual([])
        // the node still accepts a peer with the right cookie
        const good = yield* Effect.promise(() =>
          runErl(`io:format("ping=~p~n", [net_adm:ping('${t}@${host}')]), halt().`, {
            args: ["-sname", uniqueName("e"), "-setcookie", cookie]
          })
        )
        expect(good.stdout).toContain("ping=pong")
      }),
    30_000
  )
})
