/**
 * The README's API tour, as tests: every snippet in the README is here, so the README
 * cannot drift from the API. Keep the two in step.
 */
import { DistNode, NetKernel } from "@effect-otp/dist"
import { Process, ProcessRuntime, Term } from "@effect-otp/process"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { erlAvailable, startErlScoped, uniqueName } from "./helpers/erl.js"
import { host } from "./helpers/tsnode.js"

describe("README tour", () => {
  it.live("processes: spawn, register, send, selective receive", () =>
    Effect.gen(function*() {
      // --- tour: processes ---
      const echo = Effect.forever(
        Effect.flatMap(Process.receive(), (msg) => {
          if (Term.isTuple(msg) && Term.isPid(msg.at(0))) {
            return Process.send(msg.at(0) as Term.Pid, Term.tuple(Term.atom("echo"), msg.at(1)!))
          }
          return Effect.void
        })
      )
      const reply = yield* Effect.gen(function*() {
        yield* Process.spawn(echo, { name: "echo" })
        return yield* Process.run(Effect.gen(function*() {
          const self = yield* Process.self
          yield* Process.send("echo", Term.tuple(self, Term.binary("hi")))
          return yield* Process.receive((m) => Term.isTagged(m, "echo", 2))
        }))
      }).pipe(Effect.provide(ProcessRuntime.layer))
      // Term.format(reply) === '{echo,<<"hi">>}'
      // --- end ---
      expect(Term.format(reply as Term.Term)).toBe(`{echo,<<"hi">>}`)
    }))

  it.live("links: a trapping parent gets {'EXIT', Pid, Reason}", () =>
    Effect.gen(function*() {
      // --- tour: links ---
      const parent = Effect.gen(function*() {
        yield* Process.trapExit(true)
        const child = yield* Process.spawnLink(Process.exit(Term.atom("boom")))
        const exit = yield* Process.receive(Process.isExitMessage)
        return { child, exit: Term.format(exit as Term.Term) } // {'EXIT',<0.N.0>,boom}
      })
      const result = yield* Process.run(parent).pipe(Effect.provide(ProcessRuntime.layer))
      // --- end ---
      expect(result.exit).toBe(`{'EXIT',${result.child.toString()},boom}`)
    }))

  it.scopedLive.skipIf(!erlAvailable())(
    "distribution: a TS node pings erl and talks to its registered echo",
    () =>
      Effect.gen(function*() {
        const bob = uniqueName("bob")
        const cookie = uniqueName("secret")
        yield* startErlScoped({
          args: ["-sname", bob, "-setcookie", cookie],
          eval:
            `register(echo, spawn(fun Loop() -> receive {From, Msg} -> From ! {echo, Msg}, Loop() end end)), io:format("ready~n").`,
          ready: "ready"
        })
        const bobNode = `${bob}@${host}`
        // --- tour: distribution ---
        const Alice = DistNode.layerDefault({ hidden: true, name: uniqueName("alice"), cookie }).pipe(
          Layer.provideMerge(ProcessRuntime.layer)
        )
        const program = Effect.gen(function*() {
          const pong = yield* NetKernel.ping(bobNode) // "pong"
          const reply = yield* Process.run(Effect.gen(function*() {
            const self = yield* Process.self
            // {echo, 'bob@host'} ! {self(), "hello from alice!"}
            yield* Process.send(
              Term.tuple(Term.atom("echo"), Term.atom(bobNode)),
              Term.tuple(self, Term.charlist("hello from alice!"))
            )
            return yield* Process.receive(Term.isTuple, { after: "5 seconds" })
          }))
          return { pong, reply: Option.map(reply, Term.format) } // {echo,"hello from alice!"}
        })
        const result = yield* program.pipe(Effect.provide(Alice))
        // --- end ---
        expect(result).toEqual({ pong: "pong", reply: Option.some(`{echo,"hello from alice!"}`) })
      }),
    30_000
  )
})
