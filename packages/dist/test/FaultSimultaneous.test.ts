/**
 * Fault suite: simultaneous connect, 100 runs each TS <-> TS and TS <-> erl, with random
 * delays of 0-3 ms on each side. In every run both sides send a message that connects
 * on demand, call connect, and send a second message. Then:
 * - exactly one connection: one nodeup on each side, no nodedown, one connected node;
 * - no message is lost: both messages arrive on each side, in order.
 * Between runs the TS side disconnects and both sides see the nodedown.
 */
import * as Process from "@effect-otp/process/Process"
import { RemoteName } from "@effect-otp/process/Signal"
import { Atom, atom, format, tuple } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as NetKernel from "../src/NetKernel.js"
import { erlAvailable, startErlScoped, uniqueName } from "./helpers/erl.js"
import { host, nodeLayer } from "./helpers/tsnode.js"

const RUNS = 100

const sink = (queue: Queue.Queue<string>) =>
  Process.spawn(Effect.forever(Effect.flatMap(Process.receive(), (m) => Queue.offer(queue, format(m as any)))), {
    name: "sink"
  })

const recordEvents = Effect.gen(function*() {
  const queue = yield* Queue.unbounded<NetKernel.NodeEvent>()
  const events = yield* NetKernel.subscribeEvents({ hidden: true })
  yield* Stream.runForEach(events, (e) => Queue.offer(queue, e)).pipe(Effect.forkScoped)
  return queue
})

const takeN = <A>(queue: Queue.Queue<A>, n: number, what: string) =>
  Effect.forEach(Array.from({ length: n }), () => Queue.take(queue)).pipe(
    Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error(`timed out waiting for ${what}`) })
  )

const delay = () => Math.floor(Math.random() * 4)

/** One side's part of a run: a send that connects on demand, connect, a second send. */
const race = (run: number, from: string, to: Atom, ms: number) =>
  Effect.gen(function*() {
    yield* Effect.sleep(`${ms} millis`)
    const target = new RemoteName({ name: Atom.make("sink"), node: to })
    yield* Process.send(target, tuple(atom("run"), run, atom(from), 1))
    yield* NetKernel.connect(to)
    yield* Process.send(target, tuple(atom("run"), run, atom(from), 2))
  })

describe("simultaneous connect", () => {
  it.scopedLive(`TS <-> TS, ${RUNS} runs: one connection, no message lost`, () =>
    Effect.gen(function*() {
      const cookie = uniqueName("c")
      const ctxA = yield* Layer.build(nodeLayer(uniqueName("a"), cookie))
      const ctxB = yield* Layer.build(nodeLayer(uniqueName("b"), cookie))
      const a = yield* NetKernel.node.pipe(Effect.provide(ctxA))
      const b = yield* NetKernel.node.pipe(Effect.provide(ctxB))
      const inboxA = yield* Queue.unbounded<string>()
      const inboxB = yield* Queue.unbounded<string>()
      yield* sink(inboxA).pipe(Effect.provide(ctxA))
      yield* sink(inboxB).pipe(Effect.provide(ctxB))
      const eventsA = yield* recordEvents.pipe(Effect.provide(ctxA))
      const eventsB = yield* recordEvents.pipe(Effect.provide(ctxB))
      for (let run = 1; run <= RUNS; run++) {
        yield* Effect.all([
          race(run, "a", b, delay()).pipe(Effect.provide(ctxA)),
          race(run, "b", a, delay()).pipe(Effect.provide(ctxB))
        ], { concurrency: 2 })
        expect(yield* takeN(inboxB, 2, `run ${run} at b`)).toEqual([`{run,${run},a,1}`, `{run,${run},a,2}`])
        expect(yield* takeN(inboxA, 2, `run ${run} at a`)).toEqual([`{run,${run},b,1}`, `{run,${run},b,2}`])
        const upA = [
          ...yield* takeN(eventsA, 1, `run ${run} nodeup at a`),
          ...Chunk.toReadonlyArray(yield* Queue.takeAll(eventsA))
        ]
          .map((e) => e._tag)
        const upB = [
          ...yield* takeN(eventsB, 1, `run ${run} nodeup at b`),
          ...Chunk.toReadonlyArray(yield* Queue.takeAll(eventsB))
        ]
          .map((e) => e._tag)
        expect({ run, a: upA, b: upB }).toEqual({ run, a: ["nodeup"], b: ["nodeup"] })
        expect((yield* NetKernel.nodes("connected").pipe(Effect.provide(ctxA))).map(String)).toEqual([String(b)])
        expect((yield* NetKernel.nodes("connected").pipe(Effect.provide(ctxB))).map(String)).toEqual([String(a)])
        expect(yield* NetKernel.disconnect(b).pipe(Effect.provide(ctxA))).toBe(true)
        expect((yield* takeN(eventsA, 1, "nodedown at a")).map((e) => e._tag)).toEqual(["nodedown"])
        expect((yield* takeN(eventsB, 1, "nodedown at b")).map((e) => e._tag)).toEqual(["nodedown"])
      }
    }), 120_000)

  it.scopedLive.skipIf(!erlAvailable())(
    `TS <-> erl, ${RUNS} runs: one connection, no message lost`,
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const e = uniqueName("e")
        const peer = Atom.make(`${e}@${host}`)
        const erl = yield* startErlScoped({
          args: ["-sname", e, "-setcookie", cookie],
          eval: `register(sink, spawn(fun S() -> receive M -> io:format("got ~w~n", [M]), S() end end)),
               spawn(fun() ->
                 net_kernel:monitor_nodes(true, [{node_type, all}]),
                 (fun W() -> receive {Ev, _, _} -> io:format("ev ~p~n", [Ev]), W() end end)()
               end),
               io:format("ready~n"),
               (fun L() ->
                 case io:get_line("") of
                   eof -> halt();
                   Line ->
                     case string:tokens(string:trim(Line), " ") of
                       ["go", I, D, N] ->
                         Run = list_to_integer(I), Node = list_to_atom(N),
                         spawn(fun() ->
                           timer:sleep(list_to_integer(D)),
                           {sink, Node} ! {run, Run, erl, 1},
                           true = net_kernel:connect_node(Node),
                           {sink, Node} ! {run, Run, erl, 2}
                         end);
                       ["count", I] ->
                         io:format("count ~s ~p~n", [I, length(nodes(connected))])
                     end,
                     L()
                 end
               end)().`,
          ready: "ready"
        })
        const command = (line: string) => Effect.sync(() => erl.process.stdin!.write(line + "\n"))
        const count = (re: RegExp) => (erl.stdout().match(re) ?? []).length
        const ctx = yield* Layer.build(nodeLayer(uniqueName("ts"), cookie))
        const ts = yield* NetKernel.node.pipe(Effect.provide(ctx))
        const inbox = yield* Queue.unbounded<string>()
        yield* sink(inbox).pipe(Effect.provide(ctx))
        const events = yield* recordEvents.pipe(Effect.provide(ctx))
        for (let run = 1; run <= RUNS; run++) {
          yield* command(`go ${run} ${delay()} ${ts.name}`)
          yield* race(run, "ts", peer, delay()).pipe(Effect.provide(ctx))
          expect(yield* takeN(inbox, 2, `run ${run} at ts`)).toEqual([`{run,${run},erl,1}`, `{run,${run},erl,2}`])
          yield* Effect.promise(() =>
            // in order, though erl's nodeup watcher may print between the two lines
            erl.waitFor(new RegExp(`got \\{run,${run},ts,1\\}\\s+(?:ev node\\w+\\s+)*got \\{run,${run},ts,2\\}`), 5_000)
          )
          yield* command(`count ${run}`)
          const line = yield* Effect.promise(() => erl.waitFor(new RegExp(`count ${run} \\d+`), 5_000))
          expect(line).toContain(`count ${run} 1\n`)
          const up = Chunk.toReadonlyArray(yield* Queue.takeAll(events)).map((e) => e._tag)
          expect({ run, ts: up, erlUps: count(/ev nodeup/g), erlDowns: count(/ev nodedown/g) }).toEqual({
            run,
            ts: ["nodeup"],
            erlUps: run,
            erlDowns: run - 1
          })
          expect((yield* NetKernel.nodes("connected").pipe(Effect.provide(ctx))).map(String)).toEqual([String(peer)])
          expect(yield* NetKernel.disconnect(peer).pipe(Effect.provide(ctx))).toBe(true)
          expect((yield* takeN(events, 1, "nodedown at ts")).map((e) => e._tag)).toEqual(["nodedown"])
          yield* Effect.sleep("2 millis").pipe(
            Effect.repeat({ until: () => count(/ev nodedown/g) >= run }),
            Effect.timeoutFail({
              duration: "5 seconds",
              onTimeout: () => new Error(`erl saw no nodedown in run ${run}`)
            })
          )
        }
        expect(erl.stdout()).not.toMatch(/ERROR REPORT|WARNING REPORT/)
      }),
    150_000
  )
})
