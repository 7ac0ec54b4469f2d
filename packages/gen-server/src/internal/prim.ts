/**
 * The few process primitives the behaviour rests on, in one place: the alias monitor of a call
 * (erlang:monitor/3 with `{alias, demonitor}`), gen:reply, and a send that never connects.
 * @internal
 */
import * as Process from "@effect-otp/process/Process"
import type { ProcessRuntime } from "@effect-otp/process/ProcessRuntime"
import type { RemoteName } from "@effect-otp/process/Signal"
import type { Atom, Pid, Ref, Term } from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"

/** A monitor whose ref is also an alias, deactivated by the demonitor (gen:do_call's monitor). */
export const aliasMonitor = (target: Pid | Atom | RemoteName): Effect.Effect<Ref, never, Process.Self> =>
  Process.monitor(target, { alias: "demonitor" })

/** gen:reply: `{Tag, Reply}` to the alias in the tag, or to the caller's pid. */
export const reply = (from: Term, value: unknown): Effect.Effect<void, never, ProcessRuntime> =>
  Process.reply(from, value)

/**
 * `erlang:send(Dest, Msg, [noconnect])`: only a message with no term form (to another node)
 * fails, with its text; other errors are ignored (a call learns of them from its monitor).
 */
export const sendCall = (to: Process.Target, message: unknown): Effect.Effect<void, string, ProcessRuntime> =>
  Effect.catchAll(
    Effect.asVoid(Process.sendWith(to, message, { noconnect: true })),
    (e) => e.reason === "NotEncodable" ? Effect.fail(e.message) : Effect.void
  )

/** `erlang:send(Dest, Msg, [noconnect])`, errors ignored. */
export const sendNoconnect = (to: Process.Target, message: unknown): Effect.Effect<void, never, ProcessRuntime> =>
  Effect.ignore(Process.sendWith(to, message, { noconnect: true }))
