/**
 * The chapter's location-transparent `send_work/2`, once, in TypeScript:
 *
 * ```erlang
 * send_work(Pid, Work) ->
 *     Pid ! {work, self(), Work},
 *     receive
 *         {result, Result} -> Result
 *     after 5000 ->
 *         {error, timeout}
 *     end.
 * ```
 *
 * The same code works whether `pid` is local, on another TS node or on an Erlang node.
 */
import * as Process from "@effect-otp/process/Process"
import type { ProcessRuntime } from "@effect-otp/process/ProcessRuntime"
import { Atom, atoms, isTagged, type Term, tuple } from "@effect-otp/process/Term"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

const work = Atom.make("work")
const result = Atom.make("result")
const timeout = Atom.make("timeout")

/**
 * `send_work(Pid, Work)`: sends `{work, self(), Work}` and waits for `{result, Result}`
 * (returning `Result`), or returns `{error, timeout}` after `timeout` (default 5 seconds).
 */
export const sendWork = (
  pid: Process.Target,
  job: Term,
  options: { readonly timeout?: Duration.DurationInput } = {}
): Effect.Effect<Term, Process.SendError, Process.Self | ProcessRuntime> =>
  Effect.gen(function*() {
    const self = yield* Process.self
    yield* Process.send(pid, tuple(work, self, job))
    const answer = yield* Process.receive(
      (m) => isTagged(m, result, 2) ? Option.some(m.elements[1]!) : Option.none(),
      { after: options.timeout ?? "5 seconds" }
    )
    return Option.getOrElse(answer, () => tuple(atoms.error, timeout))
  })

/**
 * The other side: a process body that answers `{work, From, N}` with `{result, N * 2}`
 * forever (as `interop_peer:worker/0` does on the Erlang side).
 */
export const worker: Effect.Effect<never, never, Process.Self | ProcessRuntime> = Effect.forever(
  Effect.flatMap(Process.receive(), (m) => {
    if (isTagged(m, work, 3)) {
      const [, from, n] = m.elements
      const answer = typeof n === "number" || typeof n === "bigint"
        ? tuple(result, typeof n === "number" ? n * 2 : n * 2n)
        : tuple(result, tuple(Atom.make("done"), n!))
      return Effect.ignore(Process.send(from as Process.Target, answer))
    }
    return Effect.void
  })
)
