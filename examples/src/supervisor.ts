/**
 * Part 0 of the demo, local processes only (`npm run example:supervisor`): OTP's
 * supervisor, on `@effect-otp/gen-server`'s `Supervisor`, then the links underneath it.
 *
 * 1. A `one_for_one` supervisor (intensity 3 in 5 s) with three `GenServer` workers `db`,
 *    `cache` and `web` (each answers `{divide, A, B}` with `A div B`). `cache` crashes with
 *    `badarith` on a division by zero: the caller gets the exit reason, the supervisor
 *    restarts `cache` alone (a new pid; `db` and `web` keep theirs).
 * 2. Crash `cache` more often than the intensity allows: the supervisor gives up, stops the
 *    other children and exits with `shutdown`.
 * 3. What a supervisor rests on: a process that traps exits receives a linked worker's crash
 *    as `{'EXIT', Pid, badarith}`; one that does not trap dies with the same reason.
 */
import { GenServer } from "@effect-otp/gen-server"
import * as Supervisor from "@effect-otp/gen-server/Supervisor"
import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { atom, equals, format, isTagged, type Pid, type Term, type Tuple, tuple } from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { pathToFileURL } from "node:url"

/** A worker: `{divide, A, B}` -> `A div B`; a division by zero crashes it with `badarith`. */
const Calc = GenServer.make({
  name: "calc",
  init: () => Effect.succeed({ state: 0 }),
  handleCall: (request: Term, _from, handled: number) => {
    if (!isTagged(request, "divide", 3)) return Effect.succeed({ reply: atom("badarg"), state: handled })
    const [, a, b] = request.elements as [Term, number, number]
    if (b === 0) return Process.exit(atom("badarith"))
    return Effect.succeed({ reply: Math.trunc(a as number / b), state: handled + 1 })
  }
})

const names = ["db", "cache", "web"] as const

/** `[{Id, Pid}]` of the children, in `which_children`'s order (as OTP: the last started first). */
const children = (sup: Supervisor.Supervisor) =>
  Effect.map(
    Supervisor.whichChildren(sup),
    (cs) => cs.map((c) => [format(c.id), typeof c.pid === "object" ? format(c.pid) : String(c.pid)] as const)
  )

const showChildren = (rows: ReadonlyArray<readonly [string, string]>) =>
  `[${rows.map(([id, pid]) => `{${id},${pid}}`).join(",")}]`

/** The pid text of child `id`. */
const pidOf = (rows: ReadonlyArray<readonly [string, string]>, id: string) => rows.find(([i]) => i === id)?.[1]

/** A worker for part 3: `{divide, A, B}` prints the quotient or crashes with `badarith`. */
const plainWorker = Effect.gen(function*() {
  for (;;) {
    const msg = yield* Process.receive()
    if (isTagged(msg, "divide", 3) && msg.elements[2] === 0) return yield* Process.exit(atom("badarith"))
  }
})

/** Matches `{'EXIT', Pid, _}` for this pid. */
const exitFrom = (pid: Pid) => (m: unknown): Option.Option<Tuple> =>
  Process.isExitMessage(m) && equals(m.elements[1]!, pid) ? Option.some(m) : Option.none()

/** The supervisor demo, printing an Erlang-ish transcript through `print`. */
export const supervisorDemo = (
  print: (line: string) => void
): Effect.Effect<void, unknown, ProcessRuntime.ProcessRuntime> =>
  Process.run(Effect.gen(function*() {
    // ---- 1. one_for_one
    print(
      `(shell)1> {ok, Sup} = supervisor:start_link(#{strategy => one_for_one, intensity => 3, period => 5}, ` +
        `[worker(N) || N <- [db, cache, web]]).`
    )
    const sup = yield* Supervisor.start({
      strategy: "one_for_one",
      intensity: 3,
      period: 5,
      children: names.map((name) => Supervisor.worker(name, Calc, undefined, { name }))
    })
    const supRef = yield* Process.monitor(sup.pid)
    print(`{ok,${format(sup.pid)}}`)
    print(`(shell)2> supervisor:which_children(Sup).   %% shown as {Id, Pid}`)
    const before = yield* children(sup)
    print(showChildren(before))
    print(`(shell)3> gen_server:call(cache, {divide, 10, 2}).`)
    print(format(yield* GenServer.call("cache", tuple(atom("divide"), 10, 2))))
    print(`(shell)4> catch gen_server:call(cache, {divide, 1, 0}).   %% cache crashes`)
    const crash = yield* Effect.either(GenServer.call("cache", tuple(atom("divide"), 1, 0)))
    print(
      crash._tag === "Left" && crash.left._tag === "ServerExited"
        ? `{'EXIT',{${format(crash.left.reason)},{gen_server,call,[cache,{divide,1,0}]}}}`
        : `unexpected: ${String(crash)}`
    )
    print(`(shell)5> supervisor:which_children(Sup).   %% one_for_one: only cache has a new pid`)
    // the restart happens in the supervisor: wait (a bounded number of looks) until it shows
    let after = yield* children(sup)
    for (let i = 0; i < 1000 && pidOf(after, "cache") === pidOf(before, "cache"); i++) {
      yield* Effect.sleep("1 millis")
      after = yield* children(sup)
    }
    print(showChildren(after))
    print(
      `%% db kept its pid: ${pidOf(after, "db") === pidOf(before, "db")}, ` +
        `web kept its pid: ${pidOf(after, "web") === pidOf(before, "web")}, ` +
        `cache is new: ${pidOf(after, "cache") !== pidOf(before, "cache")}`
    )
    print(`(shell)6> gen_server:call(cache, {divide, 7, 2}).   %% the new cache answers`)
    print(format(yield* GenServer.call("cache", tuple(atom("divide"), 7, 2))))

    // ---- 2. intensity
    print(`(shell)7> [catch gen_server:call(cache, {divide, 1, 0}) || _ <- lists:seq(1, 4)].   %% > 3 restarts in 5 s`)
    for (let i = 0; i < 4; i++) {
      // each crash is answered once the supervisor has restarted cache (or has given up)
      for (let j = 0; j < 1000; j++) {
        const pid = yield* Process.whereis("cache")
        if (Option.isSome(pid) || !(yield* Process.isAlive(sup.pid))) break
        yield* Effect.sleep("1 millis")
      }
      yield* Effect.either(GenServer.call("cache", tuple(atom("divide"), 1, 0)))
    }
    const down = yield* Process.receive((m): m is Tuple => Process.isDownMessage(m, supRef), { after: "10 seconds" })
    print(`(shell)8> receive {'DOWN', _, process, Sup, Reason} -> Reason end.   %% the supervisor gave up`)
    print(Option.match(down, {
      onNone: () => "timeout (the supervisor is still running!)",
      onSome: (d) => format(d.elements[4]!)
    }))
    const left = yield* Effect.forEach(names, (n) => Process.whereis(n))
    print(`(shell)9> [whereis(N) || N <- [db, cache, web]].   %% it stopped its children first`)
    print(`[${left.map((o) => Option.match(o, { onNone: () => "undefined", onSome: format })).join(",")}]`)

    // ---- 3. the links underneath
    print(`(shell)10> process_flag(trap_exit, true), W = spawn_link(fun worker/0), W ! {divide, 1, 0}.`)
    yield* Process.trapExit(true)
    const w = yield* Process.spawnLink(plainWorker)
    yield* Process.send(w, tuple(atom("divide"), 1, 0))
    print(format(tuple(atom("divide"), 1, 0)))
    const exit = yield* Process.receive(exitFrom(w), { after: "5 seconds" })
    print(`(shell)11> receive {'EXIT', W, _} = Msg -> Msg end.   %% a trapping process gets the crash as a message`)
    print(Option.match(exit, { onNone: () => "timeout (no 'EXIT' message!)", onSome: format }))
    const [bystander, ref] = yield* Process.spawnMonitor(Effect.gen(function*() {
      const partner = yield* Process.spawnLink(plainWorker)
      yield* Process.send(partner, tuple(atom("divide"), 1, 0))
      yield* Process.receive() // never returns: the link kills it first
    }))
    const bdown = yield* Process.receive((m): m is Tuple => Process.isDownMessage(m, ref), { after: "5 seconds" })
    print(`(shell)12> %% a non-trapping process ${bystander} linked to a worker that crashes dies too:`)
    print(Option.match(bdown, { onNone: () => "timeout (no 'DOWN' message!)", onSome: format }))
  }))

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  Effect.runPromise(
    supervisorDemo((line) => console.log(line)).pipe(Effect.provide(ProcessRuntime.layer))
  ).catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
