/**
 * The chapter's `send_work/2`, typed:
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
 * It works with any target — a local pid, a remote pid, a registered name, or
 * `{Name, Node}` — because `Process.send` does (location transparency). A timeout is a
 * typed failure (`WorkTimeout`); `sendWorkErlang` gives the chapter's `{error, timeout}`
 * term instead.
 *
 * `worker` is the other side: a process loop that answers `{work, From, Work}` with
 * `From ! {result, handle(Work)}`.
 */
import * as Process from "@effect-otp/process/Process"
import type * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { RemoteName } from "@effect-otp/process/Signal"
import { atom, format, isTagged, type Pid, type Term, Tuple, tuple } from "@effect-otp/process/Term"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** The chapter's `after 5000`. */
export const DEFAULT_AFTER: Duration.Duration = Duration.millis(5000)

/** No `{result, _}` arrived in time. */
export class WorkTimeout extends Data.TaggedError("WorkTimeout")<{
  readonly target: string
  readonly after: Duration.Duration
}> {
  override get message(): string {
    return `no {result, _} from ${this.target} within ${Duration.format(this.after)}`
  }
}

export interface SendWorkOptions {
  /** Erlang's `after`; default 5000 ms as in the chapter. */
  readonly after?: Duration.DurationInput | undefined
}

const describe = (to: Process.Target): string =>
  typeof to === "string" ? to : to instanceof RemoteName ? format(tuple(to.name, to.node)) : format(to)

/**
 * `Pid ! {work, self(), Work}`, then the first `{result, Result}` in the mailbox, or
 * `WorkTimeout` after `options.after` (default 5000 ms). Like the chapter's code, any
 * `{result, _}` matches, so a late reply from an earlier call can be picked up later.
 */
export const sendWork = (
  to: Process.Target,
  work: Term,
  options: SendWorkOptions = {}
): Effect.Effect<Term, WorkTimeout | Process.SendError, Process.Self | ProcessRuntime.ProcessRuntime> =>
  Effect.gen(function*() {
    const after = Duration.decode(options.after ?? DEFAULT_AFTER)
    const self = yield* Process.self
    yield* Process.send(to, tuple(atom("work"), self, work))
    const reply = yield* Process.receive(
      (m): Option.Option<Term> => isTagged(m, "result", 2) ? Option.some(m.elements[1]!) : Option.none(),
      { after }
    )
    if (Option.isNone(reply)) return yield* new WorkTimeout({ target: describe(to), after })
    return reply.value
  })

/** `sendWork` with the chapter's return value: `Result` or `{error, timeout}`. */
export const sendWorkErlang = (
  to: Process.Target,
  work: Term,
  options: SendWorkOptions = {}
): Effect.Effect<Term, Process.SendError, Process.Self | ProcessRuntime.ProcessRuntime> =>
  sendWork(to, work, options).pipe(
    Effect.catchTag("WorkTimeout", () => Effect.succeed<Term>(tuple(atom("error"), atom("timeout"))))
  )

/**
 * A worker process body: for each `{work, From, Work}` it runs `handle(Work)` and sends
 * `{result, Value}` to `From`. Other messages are dropped. Runs forever.
 */
export const worker = <R>(
  handle: (work: Term) => Effect.Effect<Term, never, R>
): Effect.Effect<never, never, Process.Self | ProcessRuntime.ProcessRuntime | R> =>
  Effect.forever(
    Effect.gen(function*() {
      const msg = yield* Process.receive()
      if (!(msg instanceof Tuple) || !isTagged(msg, "work", 3)) return
      const [, from, work] = msg.elements
      const value = yield* handle(work!)
      // a dead or unreachable sender is not the worker's problem (as in Erlang, `!` never fails on a pid)
      yield* Effect.ignore(Process.send(from as Pid, tuple(atom("result"), value)))
    })
  )

/**
 * The demo's work: `self` → the worker's pid, `{square, N}` → `N*N`,
 * `{sleep, Ms}` → sleeps, then `{slept, Ms}`; anything else → `{unknown, Work}`.
 */
export const demoWork = (work: Term): Effect.Effect<Term, never, Process.Self> => {
  if (work === atom("self")) return Process.self
  if (isTagged(work, "square", 2) && typeof work.elements[1] === "number") {
    const n = work.elements[1]
    return Effect.succeed(n * n)
  }
  if (isTagged(work, "sleep", 2) && typeof work.elements[1] === "number") {
    const ms = work.elements[1]
    return Effect.as(Effect.sleep(Duration.millis(ms)), tuple(atom("slept"), ms))
  }
  return Effect.succeed(tuple(atom("unknown"), work))
}
