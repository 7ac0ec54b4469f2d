/**
 * Modules that other nodes can call.
 *
 * A JS closure cannot travel to another node, just as an Erlang fun needs its module
 * loaded on the node that runs it. So a node publishes **modules**: named functions with
 * Schemas for their arguments and result. The same `Module` value is used by the node
 * that publishes it (`Rpc.publish`) and by TS nodes that call it (`Rpc.invoke`,
 * `Rpc.spawnFn`); Erlang nodes call it as `M:F(Args)` (`rpc:call`, `erpc:call`,
 * `spawn/4`, `erlang:spawn_request/5`).
 *
 * ```ts
 * const calc = Module.make("calc", {
 *   add: Module.fn({ args: Schema.Tuple(Schema.Number, Schema.Number), result: Schema.Number },
 *     (a, b) => Effect.succeed(a + b))
 * })
 * ```
 *
 * Arguments arrive as an Erlang list of terms and are decoded with `args` (a
 * `Schema.Tuple` whose length is the function's arity); the result is encoded to a term
 * with `result`. The schemas of `@effect-otp/process/TermSchema` (`Atom`, `Binary`,
 * `Charlist`, `Text`, `Float`, `Term`, `TupleOf`, ...) map terms to plain values; this
 * module re-exports them under their old names.
 *
 * A function runs as a process (it has `Process.Self`). How it ends is what the caller
 * sees, with Erlang's classes:
 * - success → `return` (the value encoded with `result`);
 * - failure with `Module.Throw` (see `throw_`) → `throw`;
 * - failure with `Process.ProcessExit` (see `Process.exit(reason)`) → `exit`;
 * - failure with `Module.ErlangError` (see `error`), or with a value that is a `Term`
 *   → `error` with that reason;
 * - any other failure or a defect → `error` with `{effect_failure, <<"Cause.pretty text">>}`.
 *
 * Arguments that do not decode give `error:function_clause`, a wrong arity or an unknown
 * function give `error:undef`, as in Erlang.
 *
 * @since 0.1.0
 */
import * as Process from "@effect-otp/process/Process"
import * as T from "@effect-otp/process/Term"
import * as TermSchema from "@effect-otp/process/TermSchema"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import type * as SchemaAST from "effect/SchemaAST"

// ---------------------------------------------------------------------------
// Errors (Erlang's exception classes)
// ---------------------------------------------------------------------------

/**
 * Fail a module function with this to `throw` a term (Erlang's `throw(Value)`).
 *
 * @since 0.1.0
 * @category errors
 */
export class Throw extends Data.TaggedError("Throw")<{ readonly value: T.Term }> {
  override get message(): string {
    return `throw: ${T.format(this.value)}`
  }
}

/**
 * Fail a module function with this to raise an `error` (Erlang's `error(Reason)`).
 *
 * @since 0.1.0
 * @category errors
 */
export class ErlangError extends Data.TaggedError("ErlangError")<{ readonly reason: T.Term }> {
  override get message(): string {
    return `error: ${T.format(this.reason)}`
  }
}

/**
 * `throw(Value)`.
 *
 * @since 0.1.0
 * @category errors
 */
export const throw_ = (value: T.Term): Effect.Effect<never, Throw> => Effect.fail(new Throw({ value }))

/**
 * `error(Reason)`.
 *
 * @since 0.1.0
 * @category errors
 */
export const error = (reason: T.Term): Effect.Effect<never, ErlangError> => Effect.fail(new ErlangError({ reason }))

/**
 * `exit(Reason)`: the same as `Process.exit(reason)`.
 *
 * @since 0.1.0
 * @category errors
 */
export const exit = (reason: T.Term): Effect.Effect<never, Process.ProcessExit> => Process.exit(reason)

// ---------------------------------------------------------------------------
// Functions and modules
// ---------------------------------------------------------------------------

/**
 * A published function: argument and result schemas plus the implementation.
 * `arity` is `undefined` for a variadic `args` schema (a tuple with a rest element).
 *
 * @since 0.1.0
 * @category models
 */
export interface Fn<Args extends ReadonlyArray<any>, A, E, R> {
  readonly _tag: "Fn"
  readonly args: Schema.Schema<Args, any, never>
  readonly result: Schema.Schema<A, any, never>
  readonly arity: number | undefined
  readonly run: (...args: Args) => Effect.Effect<A, E, R>
}

/**
 * Any function.
 *
 * @since 0.1.0
 * @category models
 */
export type AnyFn = Fn<any, any, any, any>

/**
 * The services a function needs, besides the `Process.Self` it always has.
 *
 * @since 0.1.0
 * @category models
 */
export type Context<F> = F extends Fn<any, any, any, infer R> ? Exclude<R, Process.Self> : never

/**
 * A module: a name and its functions.
 *
 * @since 0.1.0
 * @category models
 */
export interface Module<Name extends string, Fns extends Record<string, AnyFn | ReadonlyArray<AnyFn>>> {
  readonly _tag: "Module"
  readonly name: Name
  readonly atom: T.Atom
  readonly functions: Fns
}

/**
 * Any module.
 *
 * @since 0.1.0
 * @category models
 */
export type AnyModule = Module<string, Record<string, AnyFn | ReadonlyArray<AnyFn>>>

/**
 * The services all functions of a module need.
 *
 * @since 0.1.0
 * @category models
 */
export type ModuleContext<M> = M extends Module<any, infer Fns> ? {
    [K in keyof Fns]: Fns[K] extends ReadonlyArray<infer F> ? Context<F> : Context<Fns[K]>
  }[keyof Fns]
  : never

/**
 * The function `name` of arity `arity` in a module (a name may carry several arities,
 * given as an array of `Fn`s, as Erlang's `format/1` and `format/2`).
 *
 * @since 0.1.0
 * @category getters
 */
export const lookup = (module: AnyModule, name: string, arity: number): AnyFn | undefined => {
  if (!Object.hasOwn(module.functions, name)) return undefined
  const entry = module.functions[name]!
  const fns: ReadonlyArray<AnyFn> = Array.isArray(entry) ? entry : [entry as AnyFn]
  return fns.find((f) => f.arity === arity) ?? fns.find((f) => f.arity === undefined)
}

const arityOf = (ast: SchemaAST.AST): number | undefined => {
  switch (ast._tag) {
    case "Transformation":
      return arityOf(ast.from)
    case "Refinement":
      return arityOf(ast.from)
    case "Suspend":
      return arityOf(ast.f())
    case "TupleType":
      return ast.rest.length === 0 && ast.elements.every((e) => !e.isOptional) ? ast.elements.length : undefined
    default:
      return undefined
  }
}

/**
 * The argument list type of an `args` schema.
 *
 * @since 0.1.0
 * @category models
 */
export type ArgsOf<S> = Schema.Schema.Type<S> extends infer A extends ReadonlyArray<any> ? A : never

/**
 * Defines a function. `args` should be a `Schema.Tuple` over terms (its length is the
 * arity); `result` encodes the returned value to a term.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fn = <
  ArgsSchema extends Schema.Schema.AnyNoContext,
  ResultSchema extends Schema.Schema.AnyNoContext,
  E,
  R
>(
  schemas: { readonly args: ArgsSchema; readonly result: ResultSchema },
  run: (...args: ArgsOf<ArgsSchema>) => Effect.Effect<Schema.Schema.Type<ResultSchema>, E, R>
): Fn<ArgsOf<ArgsSchema>, Schema.Schema.Type<ResultSchema>, E, R> => ({
  _tag: "Fn",
  args: schemas.args as any,
  result: schemas.result,
  arity: arityOf(schemas.args.ast),
  run
})

/**
 * Defines a module. A function name maps to one `Fn`, or to an array of `Fn`s of
 * different arities.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <const Name extends string, Fns extends Record<string, AnyFn | ReadonlyArray<AnyFn>>>(
  name: Name,
  functions: Fns
): Module<Name, Fns> => ({ _tag: "Module", name, atom: T.Atom.make(name), functions })

// ---------------------------------------------------------------------------
// Schemas between terms and plain values (moved to @effect-otp/process/TermSchema)
// ---------------------------------------------------------------------------

/**
 * Any term, unchanged (`TermSchema.Term`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Term: Schema.Schema<T.Term> = TermSchema.Term

/**
 * An atom (`Atom` instance), unchanged (`TermSchema.AtomFromSelf`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const AtomFromSelf: Schema.Schema<T.Atom> = TermSchema.AtomFromSelf

/**
 * A pid, unchanged (`TermSchema.Pid`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Pid: Schema.Schema<T.Pid> = TermSchema.Pid

/**
 * A reference, unchanged (`TermSchema.Ref`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Ref: Schema.Schema<T.Ref> = TermSchema.Ref

/**
 * An atom as its name (`TermSchema.Atom`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Atom: Schema.Schema<string, T.Atom> = TermSchema.Atom

/**
 * `true` / `false` atoms as a boolean.
 *
 * @deprecated Use `TermSchema.BooleanAtom` (this name shadows the global `Boolean`).
 * @since 0.1.0
 * @category schemas
 */
export const Boolean: Schema.Schema<boolean, T.Atom> = TermSchema.BooleanAtom

/**
 * A UTF-8 binary as a string (`TermSchema.Binary`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Binary: Schema.Schema<string, Uint8Array> = TermSchema.Binary

/**
 * A charlist (Erlang string) as a string (`TermSchema.Charlist`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Charlist: Schema.Schema<string, ReadonlyArray<number>> = TermSchema.Charlist

/**
 * Text given as a binary or a charlist (or an atom), as a string; encodes to a binary
 * (`TermSchema.Text`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Text: Schema.Schema<string, T.Term> = TermSchema.Text

/**
 * An integer as a number (`TermSchema.Integer`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Integer: Schema.Schema<number, T.Term> = TermSchema.Integer

/**
 * Any number (integer or float) as a number.
 *
 * @deprecated Use `TermSchema.NumberTerm` (this name shadows the global `Number`).
 * @since 0.1.0
 * @category schemas
 */
export const Number: Schema.Schema<number, T.Term> = TermSchema.NumberTerm

/**
 * A float as a number (`TermSchema.Float`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Float: Schema.Schema<number, T.Term> = TermSchema.Float

/**
 * A list of elements (`TermSchema.List`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const List: typeof TermSchema.List = TermSchema.List

/**
 * An Erlang tuple as a JS tuple (`TermSchema.TupleOf`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const TupleOf: typeof TermSchema.TupleOf = TermSchema.TupleOf
