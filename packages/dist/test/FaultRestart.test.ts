/**
 * Fault suite: a peer restarts with the same name (a new creation). The new incarnation
 * connects; pids of the old creation are dead: a link gets `noproc`/`noconnection`, a
 * monitor `noproc`/`noconnection`, and a message sent to an old pid is dropped. The
 * new node runs the same code, so its process has the same number as the old pid; it
 * would see the message if the creation were ignored, and must not.
 */
import * as Process from "@effect-otp/process/Process"
import { RemoteName } from "@effect-otp/process/Signal"
import { Atom, atom, format, isTagged, Pid, type Term, Tuple, tuple } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as NetKernel from "../src/NetKernel.js"
import { erlAvailable, startErlScoped, uniqueName } from "./helpers/erl.js"
import { subScope } from "./helpers/fault.js"
import { host, nodeLayer } from "./helpers/tsnode.js"

/** `{target, Node} ! {self(), whoami}` and the pid in the `{target, Pid}` answer. */
const whoami = (node: Atom) =>
  Process.run(Effect.gen(function*() {
    const self = yield* Process.self
    yield* Process.send(new RemoteName({ name: Atom.make("target"), node }), tuple(self, atom("whoami")))
    const got = yield* Process.receive((m) => isTagged(m, "target", 2) ? Option.some(m.elements[1]) : Option.none(), {
      after: "10 seconds"
    })
    return Option.getOrThrow(got) as Pid
  }))

/** Links to and monitors `pid` from a process trapping exits; the two messages it gets. */
const linkAndMonitor = (pid: Pid) =>
  Process.run(Effect.gen(function*() {
    yield* Process.trapExit(true)
    yield* Process.link(pid)
    yield* Process.monitor(pid)
    const a = yield* Process.receive(() => true, { after: "5 seconds" })
    const b = yield* Process.receive(() => true, { after: "5 seconds" })
    return [a, b].map((m) => Option.match(m, { onNone: () => "timeout", onSome: (t) => format(t as Term) })).sort()
  }))

const expectDeadPid = (messages: ReadonlyArray<string>) => {
  expect(messages).toHaveLength(2)
  expect(messages[0]).toMatch(/^\{'DOWN',#Ref<[\d.]+>,process,<[\d.]+>,(noproc|noconnection)\}$/)
  expect(messages[1]).toMatch(/^\{'EXIT',<[\d.]+>,(noproc|noconnection)\}$/)
}

/** Waits for the nodedown of `node` on a subscription taken before (`NetKernel.subscribeEvents`). */
const nodedown = (events: Stream.Stream<NetKernel.NodeEvent>, node: Atom) =>
  events.pipe(Stream.filter((e) => e._tag === "nodedown" && e.node.name === node.name), Stream.runHead)

/** The TS `target` process: answers whoami, records every other message (and completes `received` on the first). */
const target = (got: Array<string>, received?: Deferred.Deferred<void>) =>
  Process.spawn(
    Effect.forever(Effect.flatMap(Process.receive(), (m) => {
      if (
        m instanceof Tuple && m.elements.length === 2 && m.elements[0] instanceof Pid &&
        m.elements[1] === atom("whoami")
      ) {
        return Effect.flatMap(
          Process.self,
          (self) => Effect.ignore(Process.send(m.elements[0] as Pid, tuple(atom("target"), self)))
        )
      }
      got.push(format(m as Term))
      return received === undefined ? Effect.void : Deferred.succeed(received, undefined)
    })),
    { name: "target" }
  )

describe("peer restart with the same name", () => {
  it.scopedLive(
    "TS peer: the new incarnation connects, old pids are dead and get nothing",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const bName = uniqueName("b")
        const ctxA = yield* Layer.build(nodeLayer(uniqueName("a"), cookie))
        const b = Atom.make(`${bName}@${host}`)

        const scope1 = yield* subScope
        const ctxB1 = yield* Layer.build(nodeLayer(bName, cookie)).pipe(Scope.extend(scope1))
        const got1: Array<string> = []
        yield* target(got1).pipe(Effect.provide(ctxB1))
        const oldPid = yield* whoami(b).pipe(Effect.provide(ctxA))
        const events = yield* NetKernel.subscribeEvents({ hidden: true }).pipe(Effect.provide(ctxA))
        yield* Scope.close(scope1, Exit.void)
        yield* nodedown(events, b)
        expect(yield* NetKernel.nodes("connected").pipe(Effect.provide(ctxA))).toEqual([])

        const ctxB2 = yield* Layer.build(nodeLayer(bName, cookie))
        const got2: Array<string> = []
        const received = yield* Deferred.make<void>()
        yield* target(got2, received).pipe(Effect.provide(ctxB2))
        const newPid = yield* whoami(b).pipe(Effect.provide(ctxA))
        expect((yield* NetKernel.nodes("connected").pipe(Effect.provide(ctxA))).map(String)).toEqual([String(b)])
        expect(newPid.creation).not.toBe(oldPid.creation)
        expect([newPid.id, newPid.serial]).toEqual([oldPid.id, oldPid.serial])

        yield* Effect.gen(function*() {
          yield* Effect.orDie(Process.send(oldPid, atom("stale")))
          yield* Effect.orDie(Process.send(newPid, atom("fresh")))
        }).pipe(Effect.provide(ctxA))
        yield* Deferred.await(received)
        expect(got2).toEqual(["fresh"])
        expectDeadPid(yield* linkAndMonitor(oldPid).pipe(Effect.provide(ctxA)))
        expect(got2).toEqual(["fresh"])
      }),
    60_000
  )

  it.scopedLive.skipIf(!erlAvailable())(
    "erl peer: the new incarnation connects, old pids are dead and get nothing",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const e = uniqueName("e")
        const peer = Atom.make(`${e}@${host}`)
        const start = startErlScoped({
          args: ["-sname", e, "-setcookie", cookie],
          eval: `register(target, spawn(fun T() -> receive
                     {From, whoami} -> From ! {target, self()}, T();
                     M -> io:format("target got ~w~n", [M]), T() end end)),
                 io:format("ready~n").`,
          ready: "ready"
        })
        const ctx = yield* Layer.build(nodeLayer(uniqueName("ts"), cookie))
        const erl1 = yield* start
        const oldPid = yield* whoami(peer).pipe(Effect.provide(ctx))
        const events = yield* NetKernel.subscribeEvents({ hidden: true }).pipe(Effect.provide(ctx))
        yield* Effect.promise(() => erl1.kill())
        yield* nodedown(events, peer)
        expect(yield* NetKernel.nodes("connected").pipe(Effect.provide(ctx))).toEqual([])

        const erl2 = yield* start
        const newPid = yield* whoami(peer).pipe(Effect.provide(ctx))
        expect((yield* NetKernel.nodes("connected").pipe(Effect.provide(ctx))).map(String)).toEqual([String(peer)])
        expect(newPid.creation).not.toBe(oldPid.creation)
        expect([newPid.id, newPid.serial]).toEqual([oldPid.id, oldPid.serial])

        yield* Effect.gen(function*() {
          yield* Effect.orDie(Process.send(oldPid, atom("stale")))
          yield* Effect.orDie(Process.send(newPid, atom("fresh")))
        }).pipe(Effect.provide(ctx))
        yield* Effect.promise(() => erl2.waitFor("target got fresh", 5_000))
        expectDeadPid(yield* linkAndMonitor(oldPid).pipe(Effect.provide(ctx)))
        expect(erl2.stdout()).not.toContain("stale")
        expect(erl2.stdout()).not.toMatch(/ERROR REPORT/)
      }),
    60_000
  )
})
