/**
 * The distribution cookie, kept as a `Redacted<string>` from where it is read
 * to the challenge digest, which is the one place that unwraps it. No error or
 * log carries it.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import * as internal from "./internal/cookie.js"

/**
 * @since 0.1.0
 * @category errors
 */
export type CookieErrorReason = internal.CookieErrorReason

/**
 * Loading the cookie failed: `NoHome`, `NotRegularFile`, `BadPermissions`
 * (group or others may access the file; OTP refuses it too), `BadCharacters`,
 * `TooShort` (empty), `ReadFailed`, `CreateFailed`, or `Invalid` (a given
 * string cookie that is empty or has characters above U+00FF). It holds the
 * file path, never the cookie.
 *
 * @since 0.1.0
 * @category errors
 */
export const CookieError: typeof internal.CookieError = internal.CookieError

/**
 * @since 0.1.0
 * @category errors
 */
export type CookieError = internal.CookieError

/**
 * @since 0.1.0
 * @category models
 */
export interface LoadOptions {
  /** the cookie itself (as `-setcookie`); when given, no file is read */
  readonly cookie?: Redacted.Redacted<string> | string | undefined
  /** the home directory holding `.erlang.cookie`; `$HOME` by default */
  readonly home?: string | undefined
}

/**
 * The cookie file's name in the home directory.
 *
 * @since 0.1.0
 * @category constants
 */
export const FILE_NAME: string = internal.FILE_NAME

/**
 * The cookie from `options.cookie`, else from `<home>/.erlang.cookie`. A
 * missing file is created as `erl` creates it: 20 random uppercase letters,
 * no newline, mode 0400. Like OTP, a file that group or others can access is
 * refused, and the file's content must be printable ASCII, optionally followed
 * by newlines and spaces.
 *
 * @since 0.1.0
 * @category constructors
 */
export const load: (options?: LoadOptions) => Effect.Effect<Redacted.Redacted<string>, CookieError> = internal.load

/**
 * 20 random uppercase letters, the form of a cookie `erl` creates.
 *
 * @since 0.1.0
 * @category constructors
 */
export const generate: () => string = internal.generate

/**
 * The handshake digest: MD5 of the cookie followed by the decimal ASCII of
 * `challenge` as an unsigned 32-bit integer.
 *
 * @since 0.1.0
 * @category utils
 */
export const digest: (cookie: Redacted.Redacted<string>, challenge: number) => Uint8Array = internal.digest

/**
 * Compare two digests in constant time (`crypto.timingSafeEqual`); different
 * lengths are unequal.
 *
 * @since 0.1.0
 * @category utils
 */
export const constantTimeEqual: (a: Uint8Array, b: Uint8Array) => boolean = internal.constantTimeEqual
