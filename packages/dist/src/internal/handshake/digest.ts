/**
 * The handshake digest: MD5(cookie ++ decimal ASCII of the unsigned 32-bit challenge).
 * This is the one place (besides Cookie.ts) that unwraps the cookie.
 */
import * as Redacted from "effect/Redacted"
import * as crypto from "node:crypto"

export const digest = (cookie: Redacted.Redacted<string>, challenge: number): Uint8Array => {
  const hash = crypto.createHash("md5")
  // OTP hashes atom_to_list(Cookie): one byte per character (Latin-1 cookies).
  hash.update(Buffer.from(Redacted.value(cookie), "latin1"))
  hash.update((challenge >>> 0).toString(10), "latin1")
  const out = hash.digest()
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}

/** Constant-time equality (false when the lengths differ). */
export const constantTimeEqual = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && crypto.timingSafeEqual(a, b)

/** A random unsigned 32-bit challenge. */
export const randomChallenge = (): number => crypto.randomBytes(4).readUInt32BE(0)
