/**
 * allow, connect_all and hidden nodes, against real `erl`.
 */
import * as Process from "@effect-otp/process/Process"
import { atom, format, type Term, tuple } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as NetKernel from "../src/NetKernel.js"
import { erlAvailable, runErl, startErlScoped, uniqueName } from "./helpers/erl.js"
import { host, nodeLayer, printed, printedNode } from "./helpers/tsnode.js"

/** An erl node that answers `{nodes, From}` with `{nodes, node(), nodes(), nodes(hidden)}`. */
const reporterErl = `register(reporter, spawn(fun L() ->
    receive {nodes, From} -> From ! {nodes, node(), nodes(), nodes(hidden)}, L() end end)),
  io:format("ready~n").`

describe.skipIf(!erlAvailable())("allow, connect_all and hidden nodes (real erl)", () => {
  it.scopedLive(
    "allow([nodes]): other nodes get not_allowed (erl sees pang), allowed ones get pong",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const t = uniqueName("ts")
        const friend = uniqueName("friend")
        const ctx = yield* Layer.build(nodeLayer(t, cookie, { allow: [`${friend}@${host}`] }))
        const ping = (name: string) =>
          Effect.promise(() =>
            runErl(`io:format("ping=~p~n", [net_adm:ping('${t}@${host}')]), halt().`, {
              args: ["-sname", name, "-setcookie", cookie]
            })
          )
        const stranger = yield* ping(uniqueName("stranger"))
        const allowed = yield* ping(friend)
        // lift the restriction at run time
        yield* NetKernel.allow(undefined).pipe(Effect.provide(ctx))
        const later = yield* ping(uniqueName("stranger"))
        // and restrict again
        yield* NetKernel.allow([`${friend}@${host}`]).pipe(Effect.provide(ctx))
        const again = yield* ping(uniqueName("stranger"))
        expect(stranger.stdout).toContain("ping=pang")
        expect(allowed.stdout).toContain("ping=pong")
        expect(later.stdout).toContain("ping=pong")
        expect(again.stdout).toContain("ping=pang")
      }),
    40_000
  )

  it.scopedLive("a hidden TS node watches a two-node erl cluster without joining it", () =>
    Effect.gen(function*() {
      const cookie = uniqueName("c")
      const a = uniqueName("a")
      const b = uniqueName("b")
      const A = `${a}@${host}`
      const B = `${b}@${host}`
      const erlA = yield* startErlScoped({
        args: ["-sname", a, "-setcookie", cookie],
        eval: reporterErl,
        ready: "ready"
      })
      yield* startErlScoped({
        args: ["-sname", b, "-setcookie", cookie],
        eval: `pong = net_adm:ping('${A}'), ${reporterErl}`,
        ready: "ready"
      })
      const t = uniqueName("ts")
      const T = `${t}@${host}`
      const ctx = yield* Layer.build(nodeLayer(t, cookie, { hidden: true, connectAll: false }))
      const out = yield* Process.run(Effect.gen(function*() {
        yield* NetKernel.monitorNodes({ hidden: true, nodedownReason: true })
        expect(yield* NetKernel.ping(A)).toBe("pong")
        expect(yield* NetKernel.ping(B)).toBe("pong")
        const self = yield* Process.self
        const views: Array<string> = []
        for (const n of [A, B]) {
          yield* Effect.orDie(
            Process.send(tuple(atom("reporter"), atom(n)), tuple(atom("nodes"), self))
          )
        }
        const ups: Array<string> = []
        while (views.length < 2 || ups.length < 2) {
          const m = yield* Process.receive((x: unknown) => Option.some(format(x as Term)), { after: "10 seconds" })
          if (Option.isNone(m)) break
          if (m.value.startsWith("{nodes,")) views.push(m.value)
          else ups.push(m.value)
        }
        const visible = (yield* NetKernel.nodes()).map((n) => n.name)
        const hidden = (yield* NetKernel.nodes("hidden")).map((n) => n.name).sort()
        yield* Effect.promise(() => erlA.kill())
        const down = yield* Process.receive((x: unknown) => Option.some(format(x as Term)), { after: "10 seconds" })
        const connectAll = (yield* NetKernel.NetKernel).connectAll
        return { views: views.sort(), ups: ups.sort(), visible, hidden, down, connectAll }
      })).pipe(Effect.provide(ctx))
      expect(out.ups).toEqual(
        [`{nodeup,${printed(A)},[{node_type,hidden}]}`, `{nodeup,${printed(B)},[{node_type,hidden}]}`].sort()
      )
      // each erl node lists the other as visible and the TS node only among the hidden ones
      expect(out.views).toEqual(
        [
          `{nodes,${printed(A)},[${printed(B)}],[${printed(T)}]}`,
          `{nodes,${printed(B)},[${printed(A)}],[${printed(T)}]}`
        ].sort()
      )
      expect(out.visible).toEqual([])
      expect(out.hidden).toEqual([A, B].sort())
      expect(out.down).toEqual(
        Option.some(`{nodedown,${printed(A)},[{nodedown_reason,connection_closed},{node_type,hidden}]}`)
      )
      expect(out.connectAll).toBe(false)
    }), 40_000)

  it.scopedLive(
    "a visible TS node (hidden: false) is in erl's nodes() and erl is in its nodes()",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const a = uniqueName("a")
        const A = `${a}@${host}`
        yield* startErlScoped({ args: ["-sname", a, "-setcookie", cookie], eval: reporterErl, ready: "ready" })
        const t = uniqueName("ts")
        const ctx = yield* Layer.build(nodeLayer(t, cookie, { hidden: false }))
        const out = yield* Process.run(Effect.gen(function*() {
          expect(yield* NetKernel.ping(A)).toBe("pong")
          const self = yield* Process.self
          yield* Effect.orDie(Process.send(tuple(atom("reporter"), atom(A)), tuple(atom("nodes"), self)))
          const view = yield* Process.receive((x: unknown) => Option.some(format(x as Term)), { after: "10 seconds" })
          return {
            view,
            visible: (yield* NetKernel.nodes()).map((n) => n.name),
            hidden: (yield* NetKernel.nodes("hidden")).map((n) => n.name)
          }
        })).pipe(Effect.provide(ctx))
        expect(out.view).toEqual(Option.some(`{nodes,${printed(A)},[${printedNode(t)}],[]}`))
        expect(out.visible).toEqual([A])
        expect(out.hidden).toEqual([])
      }),
    30_000
  )
})
