/**
 * Erlang term syntax, read into `Term` values: the ``t`{echo, <<"hi">>, [1,2,3]}` ``
 * template (with `${}` splicing JS values and terms: ``t`{${pid}, "hello from alice!"}` ``),
 * `parse` for one term, and `consult` for a file of terms each ending with `.`, as
 * `file:consult/1` reads it.
 *
 * Syntax (as Erlang reads it): atoms (`ok`, `'Quoted atom'`), integers (`42`, `-7`,
 * `1_000`, `16#ff`, `$a`, bigints beyond 2^53), floats (`1.0`, `2.5e-3`), strings
 * (`"hi"`, a charlist; adjacent strings concatenate), binaries (`<<"hi">>`, `<<1,2,3>>`,
 * `<<"é"/utf8>>`, `<<256:16>>`, `<<1:1>>` a bitstring), tuples, lists (`[a, b | c]`),
 * maps (`#{k => v}`), and `fun m:f/2`. `%` starts a comment to the end of the line.
 * Variables, function calls and operators are refused.
 *
 * A `${}` value is converted by `fromJs`: a term is kept, a JS string becomes a
 * UTF-8 binary, a boolean the atom `true`/`false`, `null` the atom `undefined`, an array a
 * list and a plain object a map with atom keys. Inside `<<...>>` a string or binary
 * value is spliced as bytes.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import { identity } from "effect/Function"
import * as internal from "./internal/termLiteral.js"
import type * as Term from "./Term.js"

export {
  /**
   * A JS value that `fromJs` cannot turn into a term.
   *
   * @since 0.1.0
   * @category errors
   */
  NotATermError,
  /**
   * Text that does not parse: `reason`, and `offset` in `input` (in a template each
   * `${}` counts as the characters `${N}`); `line` and `column` (1-based) locate it in
   * a file.
   *
   * @since 0.1.0
   * @category errors
   */
  TermSyntaxError
} from "./internal/termLiteral.js"

/**
 * Converts a JS value to a term (see the module doc); throws `NotATermError`.
 *
 * @since 0.1.0
 * @category conversions
 */
export const fromJs: (value: unknown) => Term.Term = internal.fromJs

/**
 * Parses one term in Erlang syntax (no trailing `.`). Given the parts of a template,
 * `${}` placeholders between them take their values from `values`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (
  text: string | ReadonlyArray<string>,
  values: ReadonlyArray<unknown> = []
): Either.Either<Term.Term, internal.TermSyntaxError> => internal.parse(text, values)

/**
 * `parse` that throws `TermSyntaxError`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const unsafeParse = (text: string, values: ReadonlyArray<unknown> = []): Term.Term =>
  Either.getOrThrowWith(internal.parse(text, values), identity)

/**
 * The tagged template: ``t`{echo, <<"hi">>, [1,2,3]}` ``, ``t`{${self}, "hello"}` ``.
 * The template's raw text is parsed, so Erlang escapes (`"a\nb"`) mean what they mean
 * in Erlang. Throws `TermSyntaxError`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const t = (strings: TemplateStringsArray, ...values: ReadonlyArray<unknown>): Term.Term =>
  Either.getOrThrowWith(internal.parse(strings.raw, values), identity)

/**
 * Options of `consult`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConsultOptions {
  /**
   * How bytes are decoded when no `coding:` comment in the first two lines names the
   * encoding. Default `"utf8"`, as `file:consult/1`; some readers (e.g. `ssl_dist_sup`
   * for `ssl_dist_optfile`) use `"latin1"`.
   */
  readonly encoding?: "utf8" | "latin1" | undefined
}

/**
 * Reads a file of Erlang terms, each ending with `.` (a `.` followed by a blank, a `%`
 * comment or the end), as `file:consult/1`: zero or more terms, `%` comments, reserved
 * words refused as bare atoms. Bytes are decoded by their `%% coding: utf-8` /
 * `latin-1` comment (see `ConsultOptions`); a string is taken as is.
 *
 * @since 0.1.0
 * @category parsing
 */
export const consult = (
  input: string | Uint8Array,
  options?: ConsultOptions
): Either.Either<ReadonlyArray<Term.Term>, internal.TermSyntaxError> =>
  internal.consult(input, options?.encoding ?? "utf8")
