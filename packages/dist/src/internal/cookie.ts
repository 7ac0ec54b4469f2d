/**
 * The magic cookie: loading (option, else `~/.erlang.cookie`, created as
 * OTP's `auth.erl` does), the challenge digest, and a constant-time compare.
 * No error or log carries the cookie.
 *
 * (internal module)
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as crypto from "node:crypto"
import type { Stats } from "node:fs"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import type { LoadOptions } from "../Cookie.js"

/** (internal) */
export type CookieErrorReason =
  | "NoHome"
  | "NotRegularFile"
  | "BadPermissions"
  | "BadCharacters"
  | "TooShort"
  | "ReadFailed"
  | "CreateFailed"
  | "Invalid"

/** (internal) */
export class CookieError extends Data.TaggedError("CookieError")<{
  readonly reason: CookieErrorReason
  /** the cookie file, when one is involved (a path, never the content) */
  readonly path?: string | undefined
  /** an errno code or file mode; never the cookie */
  readonly detail?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const file = this.path === undefined ? "the cookie" : `cookie file ${this.path}`
    const detail = this.detail === undefined ? "" : ` (${this.detail})`
    switch (this.reason) {
      case "NoHome":
        return "no home directory for the cookie file; give a cookie or a home"
      case "NotRegularFile":
        return `${file} is not a regular file${detail}`
      case "BadPermissions":
        return `${file} must be accessible by its owner only${detail}`
      case "BadCharacters":
        return `bad characters in ${file}`
      case "TooShort":
        return `${file} is empty`
      case "ReadFailed":
        return `cannot read ${file}${detail}`
      case "CreateFailed":
        return `cannot create ${file}${detail}`
      case "Invalid":
        return `invalid cookie: it must be 1 or more characters in the range U+0000..U+00FF${detail}`
    }
  }
}

/** The cookie file name under the home directory. */
export const FILE_NAME = ".erlang.cookie"

/** 20 random uppercase letters, as `auth:create_cookie/1` (without its weak LCG). */
export const generate = (): string => {
  let out = ""
  for (let i = 0; i < 20; i++) out += String.fromCharCode(65 + crypto.randomInt(26))
  return out
}

/**
 * `auth:check_cookie/2`: printable ASCII (space to `~`), then only newlines,
 * carriage returns and spaces to the end; the trailing part is dropped.
 */
export const parseFile = (content: string): { readonly _tag: "Ok"; readonly cookie: string } | {
  readonly _tag: "Error"
  readonly reason: "BadCharacters" | "TooShort"
} => {
  let i = 0
  while (i < content.length) {
    const c = content.charCodeAt(i)
    if (c < 0x20 || c > 0x7e) break
    i++
  }
  for (let j = i; j < content.length; j++) {
    const c = content[j]
    if (c !== "\n" && c !== "\r" && c !== " ") return { _tag: "Error", reason: "BadCharacters" }
  }
  if (i === 0) return { _tag: "Error", reason: "TooShort" }
  return { _tag: "Ok", cookie: content.slice(0, i) }
}

const errnoCode = (cause: unknown): string | undefined => (cause as NodeJS.ErrnoException | undefined)?.code

/** Read (or create) the cookie file at `file`. */
export const loadFile = (file: string): Effect.Effect<Redacted.Redacted<string>, CookieError> =>
  Effect.gen(function*() {
    const stat = yield* Effect.tryPromise({
      try: () => fs.stat(file),
      catch: (cause) => cause
    }).pipe(
      Effect.map((s): Stats | undefined => s),
      Effect.catchAll((cause) =>
        errnoCode(cause) === "ENOENT"
          ? Effect.succeed(undefined)
          : Effect.fail(new CookieError({ reason: "ReadFailed", path: file, detail: errnoCode(cause), cause }))
      )
    )
    if (stat === undefined) {
      yield* create(file)
      return yield* loadFile(file)
    }
    if (!stat.isFile()) return yield* new CookieError({ reason: "NotRegularFile", path: file })
    if (process.platform !== "win32" && (stat.mode & 0o077) !== 0) {
      return yield* new CookieError({
        reason: "BadPermissions",
        path: file,
        detail: `mode ${(stat.mode & 0o777).toString(8).padStart(3, "0")}`
      })
    }
    const content = yield* Effect.tryPromise({
      try: () => fs.readFile(file, "latin1"),
      catch: (cause) => new CookieError({ reason: "ReadFailed", path: file, detail: errnoCode(cause), cause })
    })
    const parsed = parseFile(content)
    if (parsed._tag === "Error") return yield* new CookieError({ reason: parsed.reason, path: file })
    return Redacted.make(parsed.cookie)
  })

/**
 * Create the cookie file with mode 0400 and 20 random uppercase letters (no
 * newline), as `erl` does. Losing a creation race to another process is fine.
 */
const create = (file: string): Effect.Effect<void, CookieError> =>
  Effect.tryPromise({
    try: async () => {
      const handle = await fs.open(file, "wx", 0o400)
      try {
        await handle.writeFile(generate(), "latin1")
        await handle.chmod(0o400)
      } finally {
        await handle.close()
      }
    },
    catch: (cause) => cause
  }).pipe(
    Effect.catchAll((cause) =>
      errnoCode(cause) === "EEXIST"
        ? Effect.void
        : Effect.fail(new CookieError({ reason: "CreateFailed", path: file, detail: errnoCode(cause), cause }))
    )
  )

const validLatin1 = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return false
  return s.length > 0
}

/** (internal) */
export const load = (options: LoadOptions = {}): Effect.Effect<Redacted.Redacted<string>, CookieError> =>
  Effect.suspend(() => {
    if (options.cookie !== undefined) {
      // a Redacted cookie is taken as given: only `digest` unwraps it
      if (Redacted.isRedacted(options.cookie)) return Effect.succeed(options.cookie)
      return validLatin1(options.cookie)
        ? Effect.succeed(Redacted.make(options.cookie))
        : Effect.fail(new CookieError({ reason: "Invalid" }))
    }
    const home = options.home ?? process.env.HOME ?? os.homedir()
    if (home === undefined || home.length === 0) return Effect.fail(new CookieError({ reason: "NoHome" }))
    return loadFile(path.join(home, FILE_NAME))
  })

/**
 * MD5(cookie ++ decimal ASCII of the unsigned 32-bit challenge). The one
 * place that unwraps the cookie.
 */
export const digest = (cookie: Redacted.Redacted<string>, challenge: number): Uint8Array => {
  const hash = crypto.createHash("md5")
  hash.update(Buffer.from(Redacted.value(cookie), "latin1"))
  hash.update((challenge >>> 0).toString(10), "latin1")
  const out = hash.digest()
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}

/** Constant-time equality; different lengths are unequal. */
export const constantTimeEqual = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && crypto.timingSafeEqual(a, b)
