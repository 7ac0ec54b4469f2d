/**
 * Chapter 22, "Monitoring Remote Nodes" (`npm run example:monitor-nodes`):
 *
 * ```erlang
 * net_kernel:monitor_nodes(true).
 * receive {nodedown, 'bob@host'} -> io:format("Bob is gone!~n") end.
 * receive {nodeup, 'bob@host'} -> io:format("Bob is back!~n") end.
 * ```
 *
 * alice runs in this OS process and subscribes with `NetKernel.monitorNodes()`. bob runs
 * in another OS process (`peer.ts`) and joins alice. Then bob is killed with SIGKILL (no
 * goodbye on the connection: alice sees the socket close), and started again under the
 * same name; the new bob joins alice as a restarted node rejoins its cluster.
 */
import * as NetKernel from "@effect-otp/dist/NetKernel"
import * as Process from "@effect-otp/process/Process"
import { Atom, format, isTagged, type Tuple } from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { pathToFileURL } from "node:url"
import { ExampleError, localNode, main, nameOf, print, startPeer } from "./cluster.js"

/** Receives `{tag, Node}` for this node (within 30 s). */
const nodeEvent = (tag: "nodeup" | "nodedown", node: string) =>
  Effect.flatMap(
    Process.receive(
      (m): Option.Option<Tuple> =>
        isTagged(m, tag, 2) && m.elements[1] === Atom.make(node) ? Option.some(m) : Option.none(),
      { after: "30 seconds" }
    ),
    Option.match({
      onNone: () => Effect.fail(new ExampleError({ detail: `no {${tag}, '${node}'} within 30 s` })),
      onSome: Effect.succeed
    })
  )

/** The example's program; `print`s the transcript. */
export const monitorNodes = Effect.gen(function*() {
  const alice = yield* Layer.build(localNode(nameOf("alice")))
  const aliceNode = (yield* NetKernel.node.pipe(Effect.provide(alice))).name
  yield* Process.run(Effect.scoped(Effect.gen(function*() {
    print(`(alice)1> net_kernel:monitor_nodes(true).`)
    yield* NetKernel.monitorNodes()
    print("ok")
    const bob = yield* startPeer(nameOf("bob"), { label: "bob", join: [aliceNode] })
    print(`%% bob started (OS pid ${bob.pid}) and connected to alice`)
    print(`(alice)2> receive {nodeup, '${bob.node}'} = Up -> Up end.`)
    print(format(yield* nodeEvent("nodeup", bob.node)))

    print(`%% kill -9 ${bob.pid}   (bob dies without a word)`)
    yield* bob.kill
    print(`(alice)3> receive {nodedown, '${bob.node}'} -> io:format("Bob is gone!~n") end.`)
    yield* nodeEvent("nodedown", bob.node)
    print("Bob is gone!")
    print("ok")

    const bob2 = yield* startPeer(nameOf("bob"), { label: "bob", join: [aliceNode] })
    print(`%% bob started again (OS pid ${bob2.pid}) and rejoined`)
    print(`(alice)4> receive {nodeup, '${bob2.node}'} -> io:format("Bob is back!~n") end.`)
    yield* nodeEvent("nodeup", bob2.node)
    print("Bob is back!")
    print("ok")
  }))).pipe(Effect.provide(alice))
})

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) main(monitorNodes)
