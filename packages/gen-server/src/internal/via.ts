/**
 * A node-local `via` registry keyed by any term.
 * @internal
 */
import * as Process from "@effect-otp/process/Process"
import * as Term from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { ViaRegistry } from "./types.js"

/** @internal */
export const localRegistry = (): ViaRegistry => {
  const names = new Map<string, { readonly name: Term.Term; readonly pid: Term.Pid }>()
  const key = (name: Term.Term): string => Term.format(name)
  const lookup = (name: Term.Term) =>
    Effect.flatMap(Effect.sync(() => names.get(key(name))), (entry) =>
      entry === undefined
        ? Effect.succeed(Option.none<Term.Pid>())
        : Effect.map(Process.isAlive(entry.pid), (alive) => {
          if (alive) return Option.some(entry.pid)
          if (names.get(key(name)) === entry) names.delete(key(name))
          return Option.none<Term.Pid>()
        }))
  return {
    register: (name, pid) =>
      Effect.flatMap(lookup(name), (existing) =>
        Effect.sync(() => {
          if (Option.isSome(existing)) return false
          names.set(key(name), { name, pid })
          return true
        })),
    unregister: (name) => Effect.sync(() => void names.delete(key(name))),
    whereis: lookup,
    send: (name, message) =>
      Effect.flatMap(
        lookup(name),
        (pid) => Option.isSome(pid) ? Effect.ignore(Process.send(pid.value, message)) : Effect.void
      )
  }
}
