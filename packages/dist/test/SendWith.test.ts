/**
 * `Process.sendWith` (erlang:send/3) over the distribution: `noconnect` answers
 * `noconnect` and sets up no connection to a node that is not connected; `nosuspend`
 * answers `nosuspend` instead of waiting when the connection is busy (a receiver that
 * stopped reading: its mailbox backlog limit is 1 and its process never receives).
 * Against real erl both ways: TS's `sendWith` to an erl node, and erl's `erlang:send/3` to a
 * TS node (erl's `nosuspend` once the TS node stops reading a flood).
 */
import * as Process from "@effect-otp/process/Process"
import { RemoteName } from "@effect-otp/process/Signal"
import { Atom } from "@effect-otp/process/Term"
import type { Term } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as NetKernel from "../src/NetKernel.js"
import { erlAvailable, erlLines as lines, runErl, startErlScoped, uniqueName } from "./helpers/erl.js"
import { buildNode, cluster, host } from "./helpers/tsnode.js"

describe("Process.sendWith over the distribution", () => {
  it.scopedLive(
    "noconnect does not connect; nosuspend does not wait for a busy connection",
    () =>
      Effect.gen(function*() {
        const node = yield* cluster
        const cookie = uniqueName("c")
        const a = uniqueName("ts")
        const b = uniqueName("ts")
        const ctxA = yield* node(a, cookie)
        const ctxB = yield* node(b, cookie, { maxMailboxBacklog: 1, maxInboundBytes: 64 * 1024 })
        // on B: `sink` never receives (B's reader stops once it holds more than one message)
        yield* Process.spawn(Process.receive(() => false), { name: "sink" }).pipe(Effect.provide(ctxB))
        const bNode = Atom.make(`${b}@${host}`)
        const sink = new RemoteName({ name: Atom.make("sink"), node: bNode })
        const out = yield* Process.run(Effect.gen(function*() {
          const first = yield* Process.sendWith(sink, 1, { noconnect: true })
          const connectedAfterNoconnect = (yield* NetKernel.nodes("connected")).length
          const second = yield* Process.sendWith(sink, 2, {})
          yield* NetKernel.connect(bNode)
          const third = yield* Process.sendWith(sink, 3, { noconnect: true })
          // flood until the connection is busy
          const big = new Uint8Array(256 * 1024)
          let sent = 0
          let result: Process.SendWithResult = "ok"
          while (sent < 400) {
            result = yield* Process.sendWith(sink, big, { nosuspend: true })
            if (result !== "ok") break
            sent++
          }
          return { first, connectedAfterNoconnect, second, third, result, sent }
        })).pipe(Effect.provide(ctxA))
        expect(out.first).toBe("noconnect")
        expect(out.connectedAfterNoconnect).toBe(0)
        expect(out.second).toBe("ok")
        expect(out.third).toBe("ok")
        expect(out.result).toBe("nosuspend")
        expect(out.sent).toBeGreaterThan(0)
      }),
    60_000
  )
})

describe.skipIf(!erlAvailable())("Process.sendWith / erlang:send/3 against real erl", () => {
  it.scopedLive(
    "TS → erl: noconnect does not connect (the message is not sent); then ok, in order",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const erlName = uniqueName("erl")
        const ctx = yield* buildNode(uniqueName("ts"), cookie)
        const erl = yield* startErlScoped({
          args: ["-sname", erlName, "-setcookie", cookie],
          eval: `register(sink, self()), io:format("ready~n"),
          Loop = fun L() -> receive M -> io:format("got=~p nodes=~p~n", [M, length(nodes(connected))]), L() end end,
          Loop().`,
          ready: "ready"
        })
        const sink = new RemoteName({ name: Atom.make("sink"), node: Atom.make(`${erlName}@${host}`) })
        const out = yield* Process.run(Effect.gen(function*() {
          const lost = yield* Process.sendWith(sink, Atom.make("lost"), { noconnect: true })
          const lostBoth = yield* Process.sendWith(sink, Atom.make("lost"), { noconnect: true, nosuspend: true })
          const connected = (yield* NetKernel.nodes("connected")).length
          const second = yield* Process.sendWith(sink, Atom.make("second"), {})
          const third = yield* Process.sendWith(sink, Atom.make("third"), { noconnect: true })
          const fourth = yield* Process.sendWith(sink, Atom.make("fourth"), { nosuspend: true })
          const fifth = yield* Process.sendWith(sink, Atom.make("fifth"), { noconnect: true, nosuspend: true })
          return { lost, lostBoth, connected, second, third, fourth, fifth }
        })).pipe(Effect.provide(ctx))
        expect(out).toEqual({
          lost: "noconnect",
          lostBoth: "noconnect",
          connected: 0,
          second: "ok",
          third: "ok",
          fourth: "ok",
          fifth: "ok"
        })
        yield* Effect.promise(() => erl.waitFor("got=fifth"))
        const got = erl.stdout().split("\n").filter((l) => l.startsWith("got="))
        expect(got).toEqual(["got=second nodes=1", "got=third nodes=1", "got=fourth nodes=1", "got=fifth nodes=1"])
      }),
    60_000
  )

  it.scopedLive("erl → TS: noconnect, then ok; nosuspend once the TS node stops reading", () =>
    Effect.gen(function*() {
      const cookie = uniqueName("c")
      const ts = uniqueName("ts")
      // the node stops reading once a process holds more than one message (`hole` never receives)
      const ctx = yield* buildNode(ts, cookie, { maxMailboxBacklog: 1, maxInboundBytes: 64 * 1024 })
      const got = yield* Queue.unbounded<Term>()
      yield* Effect.gen(function*() {
        yield* Process.spawn(Effect.forever(Effect.flatMap(Process.receive(), (m) => Queue.offer(got, m as Term))), {
          name: "sink"
        })
        yield* Process.spawn(Process.receive(() => false), { name: "hole" })
      }).pipe(Effect.provide(ctx))
      const out = yield* Effect.promise(() =>
        runErl(
          `N = '${ts}@${host}',
          io:format("lost=~w~n", [erlang:send({sink, N}, lost, [noconnect])]),
          io:format("lost_nodes=~w~n", [nodes(connected)]),
          true = net_kernel:connect_node(N),
          io:format("third=~w~n", [erlang:send({sink, N}, third, [noconnect])]),
          io:format("fourth=~w~n", [erlang:send({sink, N}, fourth, [nosuspend])]),
          Big = binary:copy(<<0>>, 256 * 1024),
          Flood = fun F(I) when I >= 400 -> {I, ok};
                      F(I) -> case erlang:send({hole, N}, Big, [nosuspend]) of ok -> F(I + 1); R -> {I, R} end
                  end,
          {Sent, Result} = Flood(0),
          io:format("flood=~w sent_some=~w~n", [Result, Sent > 0]),
          halt().`,
          { args: ["-sname", uniqueName("erl"), "-setcookie", cookie] }
        )
      )
      const r = lines(out.stdout)
      expect(r.lost).toBe("noconnect")
      expect(r.lost_nodes).toBe("[]")
      expect(r.third).toBe("ok")
      expect(r.fourth).toBe("ok")
      expect(r.flood).toBe("nosuspend sent_some=true")
      expect(yield* Queue.take(got)).toBe(Atom.make("third"))
      expect(yield* Queue.take(got)).toBe(Atom.make("fourth"))
      expect(yield* Queue.size(got)).toBe(0)
    }), 60_000)
})
