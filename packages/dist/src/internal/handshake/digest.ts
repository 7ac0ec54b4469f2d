/**
 * The handshake digest and compare come from Cookie (the one place that unwraps the
 * cookie); this module adds the random challenge.
 */
import * as crypto from "node:crypto"

export { constantTimeEqual, digest } from "../cookie.js"

/** A random unsigned 32-bit challenge. */
export const randomChallenge = (): number => crypto.randomBytes(4).readUInt32BE(0)
