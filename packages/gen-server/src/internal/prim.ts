/**
 * The few process primitives the behaviour rests on, in one place: gen:reply, and a send that
 * never connects (a call's own exchange is `Process.unsafeCallLocal` / `unsafeCallRemote`).
 * @internal
 */
import * as Process from "@effect-otp/process/Process"
import type { ProcessRuntime } from "@effect-otp/process/ProcessRuntime"
import type { Term } from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"

/** gen:reply: `{Tag, Reply}` to the alias in the tag, or to the caller's pid. */
export const reply = (from: Term, value: unknown): Effect.Effect<void, never, ProcessRuntime> =>
  Process.reply(from, value)

/** `erlang:send(Dest, Msg, [noconnect])`, errors ignored. */
export const sendNoconnect = (to: Process.Target, message: unknown): Effect.Effect<void, never, ProcessRuntime> =>
  Effect.ignore(Process.sendWith(to, message, { noconnect: true }))
