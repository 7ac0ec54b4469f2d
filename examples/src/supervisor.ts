/**
 * Part 0 of the demo: local processes only. A supervisor-like parent traps exits and
 * links to three workers (`db`, `cache`, `web`). `cache` crashes with `badarith`; the
 * parent receives `{'EXIT', Pid, badarith}` as a message (instead of dying with it) and
 * restarts that one worker (one_for_one). Then it stops every worker and collects their
 * `{'EXIT', Pid, normal}`. A second, non-trapping process linked to a crashing one shows
 * the other side: it dies with the same reason.
 *
 * Run it alone: `npx tsx examples/src/supervisor.ts`.
 */
import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { atom, equals, format, isTagged, type Pid, type Term, type Tuple, tuple } from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { pathToFileURL } from "node:url"

/** A worker: `{divide, A, B}` → prints the quotient (or crashes with `badarith`), `stop` → exits `normal`. */
const workerBody = (name: string, print: (line: string) => void) =>
  Effect.gen(function*() {
    for (;;) {
      const msg = yield* Process.receive()
      if (msg === atom("stop")) return
      if (isTagged(msg, "divide", 3)) {
        const [, a, b] = msg.elements as [Term, number, number]
        if (b === 0) return yield* Process.exit(atom("badarith"))
        print(`  ${name}: ${a} div ${b} = ${Math.trunc(a as number / b)}`)
      }
    }
  })

/** Matches `{'EXIT', Pid, _}` for this pid. */
const exitFrom = (pid: Pid) => (m: unknown): Option.Option<Tuple> =>
  Process.isExitMessage(m) && equals(m.elements[1]!, pid) ? Option.some(m) : Option.none()

/** The supervisor tree, printing an Erlang-ish transcript through `print`. */
export const supervisorDemo = (
  print: (line: string) => void
): Effect.Effect<void, unknown, ProcessRuntime.ProcessRuntime> =>
  Process.run(Effect.gen(function*() {
    const self = yield* Process.self
    const old = yield* Process.trapExit(true)
    print(`(shell)1> process_flag(trap_exit, true).   %% in the supervisor ${self}`)
    print(String(old))
    const names = ["db", "cache", "web"] as const
    const children = new Map<string, Pid>()
    for (const name of names) children.set(name, yield* Process.spawnLink(workerBody(name, print)))
    print(`(shell)2> [spawn_link(fun() -> worker(N) end) || N <- [db, cache, web]].`)
    print(format([...children.values()]))

    print(`(shell)3> Cache ! {divide, 10, 2}, Cache ! {divide, 1, 0}.`)
    const cache = children.get("cache")!
    yield* Process.send(cache, tuple(atom("divide"), 10, 2))
    yield* Process.send(cache, tuple(atom("divide"), 1, 0))
    print(format(tuple(atom("divide"), 1, 0)))
    const crash = yield* Process.receive(exitFrom(cache), { after: "5 seconds" })
    print(`(shell)4> receive {'EXIT', Pid, Reason} = Msg -> Msg end.   %% the crash arrives as a message`)
    print(Option.match(crash, { onNone: () => "timeout (no 'EXIT' message!)", onSome: format }))
    print(
      `%% the supervisor is still alive; db and web too: ${
        (yield* Process.isAlive(self)) && (yield* Process.isAlive(children.get("db")!)) &&
        (yield* Process.isAlive(children.get("web")!))
      }`
    )

    const restarted = yield* Process.spawnLink(workerBody("cache", print))
    children.set("cache", restarted)
    print(`(shell)5> Cache2 = spawn_link(fun() -> worker(cache) end).   %% one_for_one restart`)
    print(String(restarted))
    yield* Process.send(restarted, tuple(atom("divide"), 7, 2))

    // the other side of a link: a process that does not trap exits dies with its partner
    const [bystander, ref] = yield* Process.spawnMonitor(Effect.gen(function*() {
      const partner = yield* Process.spawnLink(workerBody("partner", print))
      yield* Process.send(partner, tuple(atom("divide"), 1, 0))
      yield* Process.receive() // never returns: the link kills it first
    }))
    const down = yield* Process.receive((m) => Process.isDownMessage(m, ref) ? Option.some(m) : Option.none(), {
      after: "5 seconds"
    })
    print(`(shell)6> %% a non-trapping process ${bystander} linked to a worker that crashes dies too:`)
    print(Option.match(down, { onNone: () => "timeout (no 'DOWN' message!)", onSome: format }))

    print(`(shell)7> [W ! stop || W <- Workers], flush().`)
    for (const pid of children.values()) yield* Process.send(pid, atom("stop"))
    for (const pid of children.values()) {
      const m = yield* Process.receive(exitFrom(pid), { after: "5 seconds" })
      print(Option.match(m, { onNone: () => `timeout waiting for ${pid}`, onSome: (t) => `Shell got ${format(t)}` }))
    }
    print("ok")
  }))

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  Effect.runPromise(
    supervisorDemo((line) => console.log(line)).pipe(Effect.provide(ProcessRuntime.layer))
  ).catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
