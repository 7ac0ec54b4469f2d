/**
 * `global:resolve_it/4`: the smaller node of a healing partition calls it (through rpc)
 * on the node of its own partition's pid, which may be ours. Resolve methods are kept as
 * the terms they arrived as (funs byte for byte) and run here when we can:
 * - the three standard methods: `global`'s own local fun (`random_exit_name`, the default
 *   of `global:register_name/2`) and the `random_exit_name`, `random_notify_name` and
 *   `notify_all_name` exports of `global`;
 * - a TS function registered on a node of ours (`{effect_otp_resolve, Node, Id}`): run on
 *   `Node`, through rpc when it is another TS node;
 * - any other Erlang fun (a local fun of another module, which JS cannot run): forwarded,
 *   as the same `global:resolve_it/4` call, to the BEAM node that created it (the pid in
 *   the fun), where it runs as on an all-erl cluster. An export of another module goes to
 *   the node of the other pid when this node resolves; served for another node, it is
 *   refused (`error:undef`), so the caller's `{badrpc, _}` rule applies: the other
 *   partition's pid keeps the name.
 * @internal
 */
import * as Etf from "@effect-otp/dist/Etf"
import * as Module from "@effect-otp/dist/Module"
import * as Rpc from "@effect-otp/dist/Rpc"
import * as Process from "@effect-otp/process/Process"
import type { ProcessRuntime } from "@effect-otp/process/ProcessRuntime"
import * as T from "@effect-otp/process/Term"
import * as TermSchema from "@effect-otp/process/TermSchema"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { State } from "./server.js"

const global = T.atom("global")
const conflict = T.atom("global_name_conflict")
const resolveIt_ = T.atom("resolve_it")
/** The tag of a TS resolve function's term: `{effect_otp_resolve, Node, Id}`. */
export const userTag = T.atom("effect_otp_resolve")

/** A resolve function written in TS: the pid that keeps the name, or none (both lose it). */
export type ResolveFn = (
  name: T.Term,
  pid1: T.Pid,
  pid2: T.Pid
) => Effect.Effect<Option.Option<T.Pid>, never, ProcessRuntime>

type Standard = "random_exit_name" | "random_notify_name" | "notify_all_name"

/** Which standard method a resolve fun is: `global`'s own local fun is `random_exit_name`. */
export const methodOf = (method: T.Term): Standard | undefined => {
  if (method instanceof T.Fun) return method.module === global && method.arity === 3 ? "random_exit_name" : undefined
  if (method instanceof T.Export && method.module === global && method.arity === 3) {
    const f = method.fun.name
    if (f === "random_exit_name" || f === "random_notify_name" || f === "notify_all_name") return f
  }
  return undefined
}

/**
 * The node that created a local fun: NEW_FUN_EXT's body is Size(4) Arity(1) Uniq(16)
 * Index(4) NumFree(4), then Module, OldIndex, OldUniq and the creator's Pid as terms.
 */
export const creatorOf = (fun: T.Fun): T.Atom | undefined => {
  try {
    let at = 29
    for (let i = 0; i < 3; i++) at = Etf.decodeAt(fun.bytes, at, { versionByte: false }).end
    const pid = Etf.decodeAt(fun.bytes, at, { versionByte: false }).term
    return pid instanceof T.Pid ? pid.node : undefined
  } catch {
    return undefined
  }
}

/** `minmax/2`: the pid on the smaller node first. */
const minmax = (p1: T.Pid, p2: T.Pid): readonly [T.Pid, T.Pid] => T.compare(p1.node, p2.node) < 0 ? [p1, p2] : [p2, p1]

const standard = (kind: Standard, name: T.Term, pid1: T.Pid, pid2: T.Pid) =>
  Effect.gen(function*() {
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

const undef = () => Effect.fail(new Module.ErlangError({ reason: T.atom("undef") }))

/** `global:resolve_it(Method, Name, Pid1, Pid2)` on `node` through rpc (an rpc failure is the caller's `badrpc`). */
export const resolveOn = (
  st: State,
  node: T.Atom,
  args: readonly [T.Term, T.Term, T.Term, T.Term]
): Effect.Effect<T.Term, Module.ErlangError, ProcessRuntime> =>
  st.rpc === undefined ? undef() : Rpc.call(node, global, resolveIt_, args).pipe(
    Effect.provideService(Rpc.Rpc, st.rpc),
    Effect.mapError((e) => new Module.ErlangError({ reason: T.tuple(T.atom("badrpc"), T.atom(e.reason)) }))
  )

/**
 * `global:resolve_it(Method, Name, Pid1, Pid2)` on this node. `served`: called by another
 * node through rpc (then an export of a foreign module is refused, not passed on).
 */
export const resolveIt = (
  st: State,
  method: T.Term,
  name: T.Term,
  pid1: T.Term,
  pid2: T.Term,
  served: boolean
): Effect.Effect<T.Term, Module.ErlangError, ProcessRuntime> =>
  Effect.gen(function*() {
    if (!(pid1 instanceof T.Pid) || !(pid2 instanceof T.Pid)) return yield* undef()
    const kind = methodOf(method)
    if (kind !== undefined) return yield* standard(kind, name, pid1, pid2)
    const args = [method, name, pid1, pid2] as const
    if (T.isTagged(method, userTag, 3) && method.elements[1] instanceof T.Atom) {
      const node = method.elements[1]
      if (node !== st.node) return yield* resolveOn(st, node, args)
      const fn = st.resolvers.get(Number(method.elements[2]))
      if (fn === undefined) return yield* undef()
      return Option.getOrElse(yield* fn(name, pid1, pid2), (): T.Term => T.atom("none"))
    }
    if (method instanceof T.Fun) {
      const node = creatorOf(method)
      return node === undefined || node === st.node ? yield* undef() : yield* resolveOn(st, node, args)
    }
    if (method instanceof T.Export && !served) {
      const other = pid1.node !== st.node ? pid1.node : pid2.node !== st.node ? pid2.node : undefined
      if (other !== undefined) return yield* resolveOn(st, other, args)
    }
    return yield* undef()
  })

/** The module `global` as other nodes call it (`resolve_it/4`). */
export const globalModule = (st: State): Module.Module<"global", {
  readonly resolve_it: Module.Fn<readonly [T.Term, T.Term, T.Term, T.Term], T.Term, Module.ErlangError, ProcessRuntime>
}> =>
  Module.make("global", {
    resolve_it: Module.fn(
      {
        args: Schema.Tuple(TermSchema.Term, TermSchema.Term, TermSchema.Term, TermSchema.Term),
        result: TermSchema.Term
      },
      (method, name, pid1, pid2) => resolveIt(st, method, name, pid1, pid2, true)
    )
  })
