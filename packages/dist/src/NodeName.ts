/**
 * Node names: `alive@host`, validated as OTP's `net_kernel` does.
 *
 * - the alive part is one or more of `A-Z a-z 0-9 _ -`;
 * - exactly one `@`, and a non-empty host of characters from `!` to `\u00ff`;
 * - with short names the host has no dot; a bare `alice` becomes
 *   `alice@<hostname up to the first dot>`;
 * - with long names any such host is accepted (an IP or a FQDN in practice); a
 *   bare `alice` becomes `alice@<hostname>` only when the hostname is fully
 *   qualified (OTP fails otherwise, and so do we);
 * - at most 255 characters in all, the atom limit.
 *
 * @since 0.1.0
 */
import type * as Brand from "effect/Brand"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as internal from "./internal/nodeName.js"

/**
 * A validated full node name.
 *
 * @since 0.1.0
 * @category models
 */
export type NodeName = string & Brand.Brand<"NodeName">

/**
 * `short` (`-sname`) or `long` (`-name`) names.
 *
 * @since 0.1.0
 * @category models
 */
export type Mode = internal.Mode

/**
 * @since 0.1.0
 * @category errors
 */
export type NodeNameErrorReason = internal.NodeNameErrorReason

/**
 * An invalid node name; the message names the input and the rule it breaks.
 *
 * @since 0.1.0
 * @category errors
 */
export const NodeNameError: typeof internal.NodeNameError = internal.NodeNameError

/**
 * @since 0.1.0
 * @category errors
 */
export type NodeNameError = internal.NodeNameError

/**
 * The schema of a full node name (`alive@host`, either mode) as a branded string.
 *
 * @since 0.1.0
 * @category schemas
 */
export const NodeName: Schema.brand<Schema.filter<typeof Schema.String>, "NodeName"> = Schema.String.pipe(
  Schema.filter((s) => {
    const reason = internal.check(s)
    return reason === undefined || new internal.NodeNameError({ input: s, reason }).message
  }),
  Schema.brand("NodeName")
)

/**
 * @since 0.1.0
 * @category models
 */
export interface ParseOptions {
  /** `short` by default */
  readonly mode?: Mode | undefined
  /** the hostname used to complete a bare alive name; `os.hostname()` by default */
  readonly hostname?: string | undefined
}

/**
 * Parse a node name, completing a bare alive name with the host as OTP does.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = (input: string, options?: ParseOptions): Either.Either<NodeName, NodeNameError> =>
  internal.parse(input, options) as Either.Either<NodeName, NodeNameError>

/**
 * Like `parse`, but throws the `NodeNameError`.
 *
 * @since 0.1.0
 * @category unsafe
 */
export const unsafeParse = (input: string, options?: ParseOptions): NodeName => {
  const r = parse(input, options)
  if (r._tag === "Left") throw r.left
  return r.right
}

/**
 * The host part that `parse` (and so `DistNode.layer`) gives a bare alive name here: the
 * host name up to its first dot for short names (`inet_db:gethostname/0`, what
 * `erl -sname` uses), the whole fully qualified host name for long names.
 *
 * @since 0.1.0
 * @category getters
 */
export const localHost = (options?: ParseOptions): Either.Either<string, NodeNameError> =>
  Either.map(parse("a", options), internal.host)

/**
 * Whether `name` is a valid full node name (in `mode`, if given).
 *
 * @since 0.1.0
 * @category guards
 */
export const isNodeName = (name: string, mode?: Mode): name is NodeName => internal.check(name, mode) === undefined

/**
 * The part before `@` (the name registered with epmd).
 *
 * @since 0.1.0
 * @category getters
 */
export const alive: (name: NodeName | string) => string = internal.alive

/**
 * The part after `@`.
 *
 * @since 0.1.0
 * @category getters
 */
export const host: (name: NodeName | string) => string = internal.host
