import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { RemoteName } from "@effect-otp/process/Signal"
import { Atom, binary, format, isTagged, Tuple, tuple } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as DistNode from "../src/DistNode.js"
import * as NetKernel from "../src/NetKernel.js"
import { erlAvailable, runErl, startErlScoped, uniqueName } from "./helpers/erl.js"

const host = "vm"
const nodeLayer = (name: string, cookie: string, extra: Partial<DistNode.Options> = {}) =>
  DistNode.layer({ name, cookie, ...extra }).pipe(Layer.provideMerge(ProcessRuntime.layer))

const echoErl =
  `register(echo, spawn(fun Loop() -> receive {From, Msg} -> From ! {echo, Msg}, Loop() end end)), io:format("ready~n").`

describe.skipIf(!erlAvailable())("DistNode with real erl", () => {
  it.scopedLive("TS pings erl, sends to a registered name and gets the echo back", () =>
    Effect.gen(function*() {
      const cookie = uniqueName("c")
      const e = uniqueName("e")
      const t = uniqueName("ts")
      yield* startErlScoped({ args: ["-sname", e, "-setcookie", cookie], eval: echoErl, ready: "ready" })
      const ctx = yield* Layer.build(nodeLayer(t, cookie))
      const result = yield* Effect.gen(function*() {
        const pong = yield* NetKernel.ping(`${e}@${host}`)
        const hidden = yield* NetKernel.nodes("hidden")
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
        return { pong, hidden: hidden.map((n) => n.name), reply }
      }).pipe(Effect.provide(ctx))
      expect(result.pong).toBe("pong")
      expect(result.hidden).toContain(`${e}@${host}`)
      expect(Option.map(result.reply, format)).toEqual(Option.some(`{echo,<<"hello from ts">>}`))
    }), 30_000)

  it.scopedLive("erl pings TS (pong) and a TS echo process answers erl", () =>
    Effect.gen(function*() {
      const cookie = uniqueName("c")
      const t = uniqueName("ts")
      const ctx = yield* Layer.build(nodeLayer(t, cookie))
      yield* Process.spawn(
        Effect.forever(Effect.flatMap(Process.receive(), (m) =>
          m instanceof Tuple && m.elements.length === 2
            ? Effect.orDie(Process.send(m.elements[0] as any, tuple(Atom.make("echo"), m.elements[1]!)))
            : Effect.void)),
        { name: "echo" }
      ).pipe(Effect.provide(ctx))
      const out = yield* Effect.promise(() =>
        runErl(
          `R = net_adm:ping('${t}@${host}'), io:format("ping=~p~n", [R]), {echo, '${t}@${host}'} ! {self(), hi}, receive X -> io:format("got=~p~n", [X]) after 5000 -> io:format("timeout~n") end, halt().`,
          { args: ["-sname", uniqueName("e"), "-setcookie", cookie] }
        )
      )
      expect(out.stdout).toContain("ping=pong")
      expect(out.stdout).toContain("got={echo,hi}")
    }), 30_000)

  it.scopedLive("a wrong cookie gives pang both ways", () =>
    Effect.gen(function*() {
      const e = uniqueName("e")
      const t = uniqueName("ts")
      yield* startErlScoped({ args: ["-sname", e, "-setcookie", "right"], eval: echoErl, ready: "ready" })
      const ctx = yield* Layer.build(nodeLayer(t, "wrong"))
      const pang = yield* NetKernel.ping(`${e}@${host}`).pipe(Effect.provide(ctx))
      expect(pang).toBe("pang")
      const out = yield* Effect.promise(() =>
        runErl(`io:format("ping=~p~n", [net_adm:ping('${t}@${host}')]), halt().`, {
          args: ["-sname", uniqueName("e"), "-setcookie", "right"]
        })
      )
      expect(out.stdout).toContain("ping=pang")
    }), 30_000)
})
