/**
 * Chapter 22, "Location Transparency" (`npm run example:send-work`):
 *
 * ```erlang
 * %% This function works with any Pid — local or remote
 * send_work(Pid, Work) ->
 *     Pid ! {work, self(), Work},
 *     receive {result, Result} -> Result after 5000 -> {error, timeout} end.
 * ```
 *
 * One `sendWork` (`sendWork.ts`) against three workers: a local pid, a pid on bob (a
 * TypeScript node in another OS process, `peer.ts`) and, when `erl` is installed, a pid on
 * carol (an Erlang node running `examples/erlang/send_work.erl`). Then carol runs the
 * chapter's Erlang `send_work/2` against the TypeScript pids.
 */
import * as Process from "@effect-otp/process/Process"
import { RemoteName } from "@effect-otp/process/Signal"
import { Atom, atom, format, type Pid, type Term, tuple } from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { pathToFileURL } from "node:url"
import { erlAvailable, erlEval, localNode, main, nameOf, print, startErl, startPeer } from "./cluster.js"
import { demoWork, sendWork, worker } from "./sendWork.js"

const square = (n: number): Term => tuple(atom("square"), n)
const workerOn = (node: string) => new RemoteName({ name: atom("worker"), node: Atom.make(node) })

/** The example's program; `print`s the transcript. */
export const locationTransparency = Effect.gen(function*() {
  const withErl = erlAvailable()
  const alice = yield* Layer.build(localNode(nameOf("alice")))
  const [bob, carol] = yield* Effect.all([
    startPeer(nameOf("bob"), { label: "bob" }),
    withErl ? Effect.asSome(startErl(nameOf("carol"), ["send_work"])) : Effect.succeedNone
  ], { concurrency: "unbounded" })
  yield* Process.run(Effect.gen(function*() {
    print(`(alice)1> Local = spawn(fun worker/0).`)
    const local = yield* Process.spawn(worker(demoWork))
    print(format(local))
    print(`(alice)2> Bob = send_work({worker, '${bob.node}'}, self).   %% a pid on a TypeScript node`)
    const bobPid = (yield* sendWork(workerOn(bob.node), atom("self"))) as Pid
    print(format(bobPid))
    const targets: Array<[string, Pid]> = [["Local", local], ["Bob", bobPid]]
    if (carol._tag === "Some") {
      print(`(alice)3> Carol = send_work({worker, '${carol.value.node}'}, self).   %% a pid on an Erlang node`)
      yield* erlEval(carol.value.node, "send_work:start_worker().")
      const carolPid = (yield* sendWork(workerOn(carol.value.node), atom("self"))) as Pid
      print(format(carolPid))
      targets.push(["Carol", carolPid])
    } else {
      print(`%% carol (an Erlang node) SKIPPED: ${process.env.EXAMPLE_NO_ERL === "1" ? "EXAMPLE_NO_ERL=1" : "no erl"}`)
    }
    let n = 6
    for (const [name, pid] of targets) {
      print(`(alice)${n - 2}> send_work(${name}, {square, ${n}}).`)
      print(format(yield* sendWork(pid, square(n))))
      n++
    }
    if (carol._tag === "Some") {
      const c = carol.value.node
      print(`(carol)1> send_work:send_work(Local, {square, 11}).   %% Erlang code, a pid on alice`)
      print(format(yield* erlEval(c, "send_work:send_work(Local, {square, 11}).", { Local: local })))
      print(`(carol)2> send_work:send_work(Bob, {square, 12}).   %% Erlang code, a pid on bob`)
      print(format(yield* erlEval(c, "send_work:send_work(Bob, {square, 12}).", { Bob: bobPid })))
    }
  })).pipe(Effect.provide(alice))
})

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) main(locationTransparency)
