/**
 * Chapter 22, "Spawning Processes on Remote Nodes" (`npm run example:remote-spawn`):
 *
 * ```erlang
 * (alice@host)1> Pid = spawn('bob@host', fun() -> io:format("I'm running on ~p!~n", [node()]) end).
 * <12345.89.0>
 * %% "I'm running on bob@host!" prints on bob's console
 * ```
 *
 * alice runs in this OS process, bob in another one (`peer.ts`). A TypeScript node cannot
 * ship a closure, so bob publishes the fun's body as `chapter:hello/0` and alice spawns it
 * by name, as Erlang's `spawn(Node, Module, Function, Args)` does (a SPAWN_REQUEST on the
 * wire). The pid alice gets back belongs to bob, and bob's console (relayed here as
 * `[bob] ...`) shows the line. alice also monitors it, to see it end with `normal`.
 */
import * as Rpc from "@effect-otp/dist/Rpc"
import * as Process from "@effect-otp/process/Process"
import { format, type Tuple } from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { pathToFileURL } from "node:url"
import { localNode, main, nameOf, print, startPeer } from "./cluster.js"

/** The example's program; `print`s the transcript. */
export const remoteSpawn = Effect.gen(function*() {
  const alice = yield* Layer.build(localNode(nameOf("alice")))
  const bob = yield* startPeer(nameOf("bob"), { label: "bob" })
  yield* Process.run(Effect.gen(function*() {
    print(`(alice)1> Pid = spawn('${bob.node}', chapter, hello, []).`)
    const pid = yield* Rpc.spawn(bob.node, "chapter", "hello", [])
    print(`${format(pid)}   %% a pid of ${pid.node.name}, not of this node`)
    yield* bob.waitFor(/^I'm running on /)
    print(
      `(alice)2> {_, Ref} = spawn_monitor('${bob.node}', chapter, hello, []), receive {'DOWN', Ref, ...} = D -> D end.`
    )
    const [pid2, ref] = yield* Rpc.spawnMonitor(bob.node, "chapter", "hello", [])
    const down = yield* Process.receive((m): m is Tuple => Process.isDownMessage(m, ref), { after: "10 seconds" })
    yield* bob.waitFor(/^I'm running on /)
    print(down._tag === "Some" ? format(down.value) : `no 'DOWN' from ${format(pid2)} within 10 s`)
  })).pipe(Effect.provide(alice))
})

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) main(remoteSpawn)
