/**
 * Node name parsing and validation, following OTP's `net_kernel`
 * (`create_hostpart/2`, `valid_name_head/1`, `validate_hostname/1`).
 *
 * (internal module)
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as os from "node:os"
import type { ParseOptions } from "../NodeName.js"

/** (internal) */
export type Mode = "short" | "long"

/** (internal) */
export type NodeNameErrorReason =
  | "Empty"
  | "MultipleAt"
  | "BadAlive"
  | "EmptyHost"
  | "BadHost"
  | "DotInShortHost"
  | "NoHostname"
  | "NoDomain"
  | "TooLong"

/** (internal) */
export class NodeNameError extends Data.TaggedError("NodeNameError")<{
  readonly input: string
  readonly reason: NodeNameErrorReason
  readonly mode?: Mode | undefined
}> {
  override get message(): string {
    const input = JSON.stringify(this.input.length > 300 ? this.input.slice(0, 300) + "..." : this.input)
    switch (this.reason) {
      case "Empty":
        return "invalid node name: empty"
      case "MultipleAt":
        return `invalid node name ${input}: more than one '@'`
      case "BadAlive":
        return `invalid node name ${input}: the part before '@' must be 1 or more of A-Z a-z 0-9 _ -`
      case "EmptyHost":
        return `invalid node name ${input}: empty host after '@'`
      case "BadHost":
        return `invalid node name ${input}: the host may only contain characters from '!' to '\\u00ff'`
      case "DotInShortHost":
        return `invalid short node name ${input}: the host contains a '.' (use long names)`
      case "NoHostname":
        return `cannot complete node name ${input}: the hostname is unknown`
      case "NoDomain":
        return `cannot complete long node name ${input}: the hostname has no domain part (give alive@host)`
      case "TooLong":
        return `invalid node name ${input}: longer than 255 characters`
    }
  }
}

/** OTP's `valid_name_head/1`: `^[0-9A-Za-z_\-]+$`. */
const ALIVE = /^[0-9A-Za-z_-]+$/

/** OTP's `validate_hostname/1`: `^[!-ÿ]*$` (we also refuse a second '@'). */
const HOST = /^[!-?A-\u00ff]+$/

/** The longest atom: 255 characters. */
export const MAX_LENGTH = 255

/**
 * Check a full `alive@host` name; with a mode, also the mode's host rule.
 * Returns the reason it is invalid, or undefined.
 */
export const check = (name: string, mode?: Mode): NodeNameErrorReason | undefined => {
  if (name.length === 0) return "Empty"
  const at = name.indexOf("@")
  if (at === -1) return "EmptyHost"
  if (name.indexOf("@", at + 1) !== -1) return "MultipleAt"
  const alive = name.slice(0, at)
  const host = name.slice(at + 1)
  if (!ALIVE.test(alive)) return "BadAlive"
  if (host.length === 0) return "EmptyHost"
  if (!HOST.test(host)) return "BadHost"
  if (mode === "short" && host.includes(".")) return "DotInShortHost"
  if (name.length > MAX_LENGTH) return "TooLong"
  return undefined
}

/**
 * `alice` → `alice@<host>`; `alice@host` is checked as it is.
 */
export const parse = (input: string, options: ParseOptions = {}): Either.Either<string, NodeNameError> => {
  const mode = options.mode ?? "short"
  const fail = (reason: NodeNameErrorReason) => Either.left(new NodeNameError({ input, reason, mode }))
  if (input.length === 0) return fail("Empty")
  let full = input
  if (!input.includes("@")) {
    if (!ALIVE.test(input)) return fail("BadAlive")
    const hostname = options.hostname ?? os.hostname()
    if (hostname.length === 0) return fail("NoHostname")
    if (mode === "short") {
      // inet_db:gethostname/0: the hostname up to the first dot
      full = `${input}@${hostname.split(".")[0]}`
    } else {
      // OTP appends the resolver's domain; without one it cannot set a long name
      if (!hostname.includes(".") || hostname.endsWith(".")) return fail("NoDomain")
      full = `${input}@${hostname}`
    }
  }
  const reason = check(full, mode)
  return reason === undefined ? Either.right(full) : fail(reason)
}

/** (internal) */
export const alive = (name: string): string => {
  const at = name.indexOf("@")
  return at === -1 ? name : name.slice(0, at)
}

/** (internal) */
export const host = (name: string): string => {
  const at = name.indexOf("@")
  return at === -1 ? "" : name.slice(at + 1)
}
