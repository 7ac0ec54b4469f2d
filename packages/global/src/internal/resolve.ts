/**
 * `global:resolve_it/4` served through rpc: the smaller node of a healing partition calls
 * it on the node of its own partition's pid, which may be ours. The three standard
 * methods are interpreted; any other fun is refused (`error:undef`), so the caller's
 * `{badrpc, _}` rule applies: the other partition's pid keeps the name.
 * @internal
 */
import * as Module from "@effect-otp/dist/Module"
import * as Process from "@effect-otp/process/Process"
import type { ProcessRuntime } from "@effect-otp/process/ProcessRuntime"
import * as T from "@effect-otp/process/Term"
import * as TermSchema from "@effect-otp/process/TermSchema"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

const global = T.atom("global")
const conflict = T.atom("global_name_conflict")

/** Which standard method a resolve fun is: `global`'s own local fun is `random_exit_name`. */
export const methodOf = (method: T.Term): "random_exit_name" | "random_notify_name" | "notify_all_name" | undefined => {
  if (method instanceof T.Fun) return method.module === global && method.arity === 3 ? "random_exit_name" : undefined
  if (method instanceof T.Export && method.module === global && method.arity === 3) {
    const f = method.fun.name
    if (f === "random_exit_name" || f === "random_notify_name" || f === "notify_all_name") return f
  }
  return undefined
}

/** `minmax/2`: the pid on the smaller node first. */
const minmax = (p1: T.Pid, p2: T.Pid): readonly [T.Pid, T.Pid] => T.compare(p1.node, p2.node) < 0 ? [p1, p2] : [p2, p1]

/** `global:resolve_it(Method, Name, Pid1, Pid2)` for the standard methods. */
export const resolveIt = (
  method: T.Term,
  name: T.Term,
  pid1: T.Term,
  pid2: T.Term
): Effect.Effect<T.Term, Module.ErlangError, ProcessRuntime> =>
  Effect.gen(function*() {
    const kind = methodOf(method)
    if (kind === undefined || !(pid1 instanceof T.Pid) || !(pid2 instanceof T.Pid)) {
      return yield* Effect.fail(new Module.ErlangError({ reason: T.atom("undef") }))
    }
    const [min, max] = minmax(pid1, pid2)
    if (kind === "random_exit_name") {
      yield* Process.exit(max, T.atom("kill"))
      return min as T.Term
    }
    if (kind === "random_notify_name") {
      yield* Effect.ignore(Process.send(max, T.tuple(conflict, name)))
      return min as T.Term
    }
    yield* Effect.ignore(Process.send(pid1, T.tuple(conflict, name, pid2)))
    yield* Effect.ignore(Process.send(pid2, T.tuple(conflict, name, pid1)))
    return T.atom("none") as T.Term
  })

/** The module `global` as other nodes call it (`resolve_it/4`). */
export const globalModule: Module.Module<"global", {
  readonly resolve_it: Module.Fn<readonly [T.Term, T.Term, T.Term, T.Term], T.Term, Module.ErlangError, ProcessRuntime>
}> = Module.make("global", {
  resolve_it: Module.fn(
    { args: Schema.Tuple(TermSchema.Term, TermSchema.Term, TermSchema.Term, TermSchema.Term), result: TermSchema.Term },
    resolveIt
  )
})
