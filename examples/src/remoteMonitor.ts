/**
 * Chapter 22, "Monitoring Remote Nodes", the process half (`npm run example:remote-monitor`):
 *
 * ```erlang
 * Ref = monitor(process, {echo, 'bob@host'}).
 * %% If bob's echo process dies OR bob disconnects:
 * receive {'DOWN', Ref, process, _, Reason} -> io:format("Echo is down: ~p~n", [Reason]) end.
 * ```
 *
 * alice runs in this OS process, bob (with the chapter's registered `echo`) in another one
 * (`peer.ts`). First the echo dies (alice sends it an exit signal `kill`): the `'DOWN'`
 * says `killed`. Then bob starts a new echo, alice monitors it by name again, and bob's OS
 * process is killed: the `'DOWN'` says `noconnection`.
 */
import * as Rpc from "@effect-otp/dist/Rpc"
import * as Process from "@effect-otp/process/Process"
import { RemoteName } from "@effect-otp/process/Signal"
import { Atom, atom, format, isPid, type Ref, type Term, type Tuple } from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { pathToFileURL } from "node:url"
import { ExampleError, localNode, main, nameOf, print, startPeer } from "./cluster.js"

/** `receive {'DOWN', Ref, process, _, Reason} -> ... end` (within 30 s); returns the message. */
const down = (ref: Ref) =>
  Effect.flatMap(
    Process.receive((m): m is Tuple => Process.isDownMessage(m, ref), { after: "30 seconds" }),
    Option.match({
      onNone: () => Effect.fail(new ExampleError({ detail: `no 'DOWN' for ${format(ref)} within 30 s` })),
      onSome: Effect.succeed
    })
  )

const reasonOf = (d: Tuple): Term => d.elements[4]!

/** The example's program; `print`s the transcript. */
export const remoteMonitor = Effect.gen(function*() {
  const alice = yield* Layer.build(localNode(nameOf("alice")))
  const bob = yield* startPeer(nameOf("bob"), { label: "bob" })
  const echo = new RemoteName({ name: atom("echo"), node: Atom.make(bob.node) })
  yield* Process.run(Effect.gen(function*() {
    print(`(alice)1> Ref = monitor(process, {echo, '${bob.node}'}).`)
    const ref = yield* Process.monitor(echo)
    print(format(ref))
    print(`(alice)2> exit(rpc:call('${bob.node}', erlang, whereis, [echo]), kill).   %% the echo dies`)
    const pid = yield* Rpc.call(bob.node, "erlang", "whereis", [atom("echo")])
    if (!isPid(pid)) return yield* new ExampleError({ detail: `no echo on ${bob.node}: ${format(pid)}` })
    yield* Process.exit(pid, atom("kill"))
    print("true")
    print(
      `(alice)3> receive {'DOWN', Ref, process, _, Reason} = D -> io:format("Echo is down: ~p~n", [Reason]), D end.`
    )
    const d1 = yield* down(ref)
    print(`Echo is down: ${format(reasonOf(d1))}`)
    print(format(d1))

    print(`(alice)4> rpc:call('${bob.node}', chapter, start_echo, []).   %% a new echo on bob`)
    print(format(yield* Rpc.call(bob.node, "chapter", "start_echo", [])))
    print(`(alice)5> Ref2 = monitor(process, {echo, '${bob.node}'}).`)
    const ref2 = yield* Process.monitor(echo)
    print(format(ref2))
    print(`%% kill -9 ${bob.pid}   (bob's OS process dies)`)
    yield* bob.kill
    print(
      `(alice)6> receive {'DOWN', Ref2, process, _, Reason} = D -> io:format("Echo is down: ~p~n", [Reason]), D end.`
    )
    const d2 = yield* down(ref2)
    print(`Echo is down: ${format(reasonOf(d2))}`)
    print(format(d2))
  })).pipe(Effect.provide(alice))
})

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) main(remoteMonitor)
