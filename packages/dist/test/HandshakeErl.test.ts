/**
 * The handshake against real Erlang/OTP, both ways.
 */
import { atom, format, Pid, Ref, type Term, Tuple, tuple } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as Connection from "../src/Connection.js"
import * as Control from "../src/Control.js"
import * as Epmd from "../src/Epmd.js"
import * as Flags from "../src/Flags.js"
import * as Handshake from "../src/Handshake.js"
import * as Transport from "../src/Transport.js"
import { erlAvailable, runErl, startErlScoped, uniqueName } from "./helpers/erl.js"
import { host } from "./helpers/tsnode.js"

const creation = () => 1 + Math.floor(Math.random() * 0xfffffff0)

/** An erl node that prints every nodeup/nodedown (all node types). */
const startWatcher = (name: string, cookie: string) =>
  startErlScoped({
    args: ["-sname", name, "-setcookie", cookie],
    eval: "net_kernel:monitor_nodes(true, [{node_type, all}]), io:format(\"ready~n\"), " +
      "Loop = fun L() -> receive {E, N, _} -> io:format(\"~p ~p~n\", [E, N]), L() end end, Loop().",
    ready: "ready"
  })

/** TS dials an erl node by name. */
const dial = (erlName: string, cookie: string, tsName: string) =>
  Effect.gen(function*() {
    const info = yield* Epmd.portPlease("127.0.0.1", erlName)
    const carrier = yield* Transport.tcpTransport.connect({ host: "127.0.0.1", port: info.port })
    const result = yield* Effect.either(Handshake.initiate(carrier, {
      thisNode: `${tsName}@${host}`,
      cookie: Redacted.make(cookie),
      creation: creation(),
      peer: `${erlName}@${host}`
    }))
    return { carrier, result }
  })

/** TS listens, registers with epmd and accepts one connection. */
const listenAndAccept = (tsName: string, cookie: string) =>
  Effect.gen(function*() {
    const listener = yield* Transport.tcpTransport.listen({ host: "127.0.0.1", port: 0 })
    const reg = yield* Epmd.register({ name: tsName, port: listener.port })
    const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
      const carrier = yield* listener.accept
      const result = yield* Effect.either(Handshake.accept(carrier, {
        thisNode: `${tsName}@${host}`,
        cookie: Redacted.make(cookie),
        creation: reg.creation
      }))
      // keep the connection open until erl has printed its answer
      if (Either.isRight(result)) yield* carrier.closed
      return result
    })))
    return fiber
  })

describe.skipIf(!erlAvailable())("Handshake with real erl", () => {
  it.live("TS initiates to erl; erl reports the hidden node up", () =>
    Effect.scoped(Effect.gen(function*() {
      const erlName = uniqueName()
      const cookie = uniqueName("c")
      const tsName = uniqueName("ts")
      const erl = yield* startWatcher(erlName, cookie)
      const { result } = yield* dial(erlName, cookie, tsName)
      if (Either.isLeft(result)) throw result.left
      const r = result.right
      expect(r.peerName).toBe(`${erlName}@${host}`)
      expect(Flags.missing(Flags.MANDATORY_25, r.peerFlags)).toBe(0n)
      expect(Flags.has(r.peerFlags, Flags.DFLAG_PUBLISHED)).toBe(true)
      expect(r.hidden).toBe(false)
      expect(Flags.has(r.flags, Flags.DFLAG_PUBLISHED)).toBe(false)
      expect(r.peerCreation).toBeGreaterThan(0)
      yield* Effect.promise(() => erl.waitFor(`nodeup ${format(atom(`${tsName}@${host}`))}`))
    })), 60_000)

  it.live(
    "TS initiates with a wrong cookie: AuthenticationFailed in recvChallengeAck",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const erlName = uniqueName()
        const cookie = uniqueName("c")
        yield* startWatcher(erlName, cookie)
        const { result } = yield* dial(erlName, "not_the_cookie", uniqueName("ts"))
        if (Either.isRight(result)) throw new Error("expected a failure")
        expect([result.left.step, result.left.reason]).toEqual(["recvChallengeAck", "AuthenticationFailed"])
        expect(result.left.message).not.toContain("not_the_cookie")
      })),
    60_000
  )

  it.live("erl connects to TS: net_kernel:connect_node returns true", () =>
    Effect.scoped(Effect.gen(function*() {
      const tsName = uniqueName("ts")
      const cookie = uniqueName("c")
      const fiber = yield* listenAndAccept(tsName, cookie)
      const out = yield* Effect.promise(() =>
        runErl(`io:format("result ~p ~p~n", [net_kernel:connect_node('${tsName}@${host}'), nodes(hidden)]), halt().`, {
          args: ["-sname", uniqueName(), "-setcookie", cookie]
        })
      )
      expect(out.stdout).toContain(`result true [${format(atom(`${tsName}@${host}`))}]`)
      const r = yield* Fiber.join(fiber)
      if (Either.isLeft(r)) throw r.left
      expect(r.right.peerName).toMatch(new RegExp(`^t_.*@${host}$`))
      expect(r.right.hidden).toBe(false)
      expect(Flags.missing(Flags.MANDATORY_25, r.right.peerFlags)).toBe(0n)
    })), 60_000)

  it.live(
    "erl connects to TS with a wrong cookie: false in erl, AuthenticationFailed in TS",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const tsName = uniqueName("ts")
        const fiber = yield* listenAndAccept(tsName, uniqueName("c"))
        const out = yield* Effect.promise(() =>
          runErl(`io:format("result ~p~n", [net_kernel:connect_node('${tsName}@${host}')]), halt().`, {
            args: ["-sname", uniqueName(), "-setcookie", "wrong_cookie"]
          })
        )
        expect(out.stdout).toContain("result false")
        const r = yield* Fiber.join(fiber)
        if (Either.isRight(r)) throw new Error("expected a failure")
        expect([r.left.step, r.left.reason]).toEqual(["recvChallengeReply", "AuthenticationFailed"])
        expect(r.left.message).not.toContain("wrong_cookie")
      })),
    60_000
  )

  it.live(
    "after the handshake, erl's net_kernel answers is_auth over a Connection",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const erlName = uniqueName()
        const cookie = uniqueName("c")
        const tsName = uniqueName("ts")
        yield* startWatcher(erlName, cookie)
        const { carrier, result } = yield* dial(erlName, cookie, tsName)
        if (Either.isLeft(result)) throw result.left
        const hs = result.right
        const reply = yield* Deferred.make<Control.Frame>()
        const conn = yield* Connection.make({
          carrier,
          handshake: hs,
          onFrame: (p) => Effect.flatMap(Control.decodeFrame(p), (frame) => Deferred.succeed(reply, frame))
        })
        const me = atom(hs.thisNode)
        const self = new Pid(me, 1, 0, hs.thisCreation)
        const ref = new Ref(me, hs.thisCreation, [7, 8, 9])
        yield* conn.sendControl(
          { _tag: "RegSend", from: self, toName: atom("net_kernel") },
          tuple(atom("$gen_call"), tuple(self, ref), tuple(atom("is_auth"), me))
        )
        const frame = yield* Deferred.await(reply)
        // we offered DFLAG_SEND_SENDER (Flags.RECOMMENDED), so erts sends SEND_SENDER (dist.c: DOP_SEND only without it)
        expect(hs.flags & Flags.DFLAG_SEND_SENDER).toBe(Flags.DFLAG_SEND_SENDER)
        expect(frame.control._tag).toBe("SendSender")
        expect((frame.control as { to: Pid }).to).toEqual(self)
        expect(frame.message).toEqual(tuple(ref, atom("yes")))
      })),
    60_000
  )

  it.live("erl sends a REG_SEND to a TS name and gets the answer back", () =>
    Effect.scoped(Effect.gen(function*() {
      const tsName = uniqueName("ts")
      const cookie = uniqueName("c")
      const listener = yield* Transport.tcpTransport.listen({ host: "127.0.0.1", port: 0 })
      const reg = yield* Epmd.register({ name: tsName, port: listener.port })
      const seen = yield* Deferred.make<Control.Frame>()
      yield* Effect.forkScoped(Effect.gen(function*() {
        const carrier = yield* listener.accept
        const hs = yield* Handshake.accept(carrier, {
          thisNode: `${tsName}@${host}`,
          cookie: Redacted.make(cookie),
          creation: reg.creation
        })
        const self = new Pid(atom(hs.thisNode), 1, 0, hs.thisCreation)
        const conn: Connection.Connection = yield* Connection.make({
          carrier,
          handshake: hs,
          onFrame: (p) =>
            Effect.flatMap(Control.decodeFrame(p), (frame) =>
              Effect.gen(function*() {
                yield* Deferred.succeed(seen, frame)
                const m = frame.message
                if (frame.control._tag === "RegSend" && m instanceof Tuple && m.elements[1] instanceof Pid) {
                  const answer: Term = tuple(atom("ok"), atom("world"), frame.control.toName)
                  yield* conn.sendControl({ _tag: "SendSender", from: self, to: m.elements[1] }, answer)
                }
              }))
        })
        yield* Effect.never
      }))
      const out = yield* Effect.promise(() =>
        runErl(
          `true = net_kernel:connect_node('${tsName}@${host}'), {foo, '${tsName}@${host}'} ! {hello, self()}, ` +
            `receive M -> io:format("got ~p~n", [M]) after 10000 -> io:format("timeout~n") end, halt().`,
          { args: ["-sname", uniqueName(), "-setcookie", cookie] }
        )
      )
      expect(out.stdout).toContain("got {ok,world,foo}")
      const frame = yield* Deferred.await(seen)
      expect(frame.control).toMatchObject({ _tag: "RegSend", toName: atom("foo") })
    })), 60_000)
})
