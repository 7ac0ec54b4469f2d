/**
 * Distribution flags (`DFLAG_*` from erts' `dist.h`), exchanged in the handshake.
 *
 * Flags are `bigint` because the set is 64 bits wide. The negotiated set of a
 * connection is ours AND the peer's.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 @category flags */
export const DFLAG_PUBLISHED = 0x1n
/** Obsolete; never set. @since 0.1.0 @category flags */
export const DFLAG_ATOM_CACHE = 0x2n
/** @since 0.1.0 @category flags */
export const DFLAG_EXTENDED_REFERENCES = 0x4n
/** @since 0.1.0 @category flags */
export const DFLAG_DIST_MONITOR = 0x8n
/** @since 0.1.0 @category flags */
export const DFLAG_FUN_TAGS = 0x10n
/** @since 0.1.0 @category flags */
export const DFLAG_DIST_MONITOR_NAME = 0x20n
/** Obsolete; never set. @since 0.1.0 @category flags */
export const DFLAG_HIDDEN_ATOM_CACHE = 0x40n
/** @since 0.1.0 @category flags */
export const DFLAG_NEW_FUN_TAGS = 0x80n
/** @since 0.1.0 @category flags */
export const DFLAG_EXTENDED_PIDS_PORTS = 0x100n
/** @since 0.1.0 @category flags */
export const DFLAG_EXPORT_PTR_TAG = 0x200n
/** @since 0.1.0 @category flags */
export const DFLAG_BIT_BINARIES = 0x400n
/** @since 0.1.0 @category flags */
export const DFLAG_NEW_FLOATS = 0x800n
/** @since 0.1.0 @category flags */
export const DFLAG_UNICODE_IO = 0x1000n
/** Distribution header with atom cache; we never set it (pass-through frames only). @since 0.1.0 @category flags */
export const DFLAG_DIST_HDR_ATOM_CACHE = 0x2000n
/** @since 0.1.0 @category flags */
export const DFLAG_SMALL_ATOM_TAGS = 0x4000n
/** @since 0.1.0 @category flags */
export const DFLAG_UTF8_ATOMS = 0x10000n
/** @since 0.1.0 @category flags */
export const DFLAG_MAP_TAG = 0x20000n
/** @since 0.1.0 @category flags */
export const DFLAG_BIG_CREATION = 0x40000n
/** @since 0.1.0 @category flags */
export const DFLAG_SEND_SENDER = 0x80000n
/** @since 0.1.0 @category flags */
export const DFLAG_BIG_SEQTRACE_LABELS = 0x100000n
/** @since 0.1.0 @category flags */
export const DFLAG_PENDING_CONNECT = 0x200000n
/** @since 0.1.0 @category flags */
export const DFLAG_EXIT_PAYLOAD = 0x400000n
/** Fragmented messages; not negotiated by us. @since 0.1.0 @category flags */
export const DFLAG_FRAGMENTS = 0x800000n
/** @since 0.1.0 @category flags */
export const DFLAG_HANDSHAKE_23 = 0x1000000n
/** @since 0.1.0 @category flags */
export const DFLAG_UNLINK_ID = 0x2000000n
/**
 * Stands for the whole OTP 25 mandatory set. Bit 26: the docs' `1 bsl 36` is wrong
 * (bit 36 is the internal LOCAL_EXT).
 *
 * @since 0.1.0
 * @category flags
 */
export const DFLAG_MANDATORY_25_DIGEST = 1n << 26n
/** @since 0.1.0 @category flags */
export const DFLAG_SPAWN = 1n << 32n
/** Dynamic node name request; not supported. @since 0.1.0 @category flags */
export const DFLAG_NAME_ME = 1n << 33n
/** @since 0.1.0 @category flags */
export const DFLAG_V4_NC = 1n << 34n
/** @since 0.1.0 @category flags */
export const DFLAG_ALIAS = 1n << 35n
/** OTP 28 alternate activation signals; never set. @since 0.1.0 @category flags */
export const DFLAG_ALTACT_SIG = 1n << 37n

/**
 * What OTP 25 requires from a peer: `0x1070F94`.
 *
 * @since 0.1.0
 * @category sets
 */
export const MANDATORY_25: bigint = DFLAG_EXTENDED_REFERENCES | DFLAG_FUN_TAGS | DFLAG_NEW_FUN_TAGS |
  DFLAG_EXTENDED_PIDS_PORTS | DFLAG_EXPORT_PTR_TAG | DFLAG_BIT_BINARIES | DFLAG_NEW_FLOATS | DFLAG_UTF8_ATOMS |
  DFLAG_MAP_TAG | DFLAG_BIG_CREATION | DFLAG_HANDSHAKE_23

/**
 * What OTP 26 and 27 require from a peer: `0x403070F94` (OTP 25's set plus V4_NC and UNLINK_ID).
 *
 * @since 0.1.0
 * @category sets
 */
export const MANDATORY_26: bigint = MANDATORY_25 | DFLAG_V4_NC | DFLAG_UNLINK_ID

/**
 * The flags we send as a hidden node: `0xD074F5FBC`. The OTP 26 mandatory set plus
 * DIST_MONITOR(_NAME), UNICODE_IO, SMALL_ATOM_TAGS, SEND_SENDER, EXIT_PAYLOAD,
 * MANDATORY_25_DIGEST, SPAWN and ALIAS.
 *
 * @since 0.1.0
 * @category sets
 */
export const RECOMMENDED: bigint = MANDATORY_26 | DFLAG_DIST_MONITOR | DFLAG_DIST_MONITOR_NAME | DFLAG_UNICODE_IO |
  DFLAG_SMALL_ATOM_TAGS | DFLAG_SEND_SENDER | DFLAG_EXIT_PAYLOAD | DFLAG_MANDATORY_25_DIGEST | DFLAG_SPAWN |
  DFLAG_ALIAS

/**
 * The flags we send as a visible node: `0xD074F5FBD` (RECOMMENDED plus PUBLISHED).
 *
 * @since 0.1.0
 * @category sets
 */
export const RECOMMENDED_PUBLISHED: bigint = RECOMMENDED | DFLAG_PUBLISHED

/**
 * The recommended set for a hidden or visible node.
 *
 * @since 0.1.0
 * @category sets
 */
export const recommended = (options?: { readonly hidden?: boolean | undefined }): bigint =>
  options?.hidden === false ? RECOMMENDED_PUBLISHED : RECOMMENDED

const table: ReadonlyArray<readonly [bigint, string]> = [
  [DFLAG_PUBLISHED, "PUBLISHED"],
  [DFLAG_ATOM_CACHE, "ATOM_CACHE"],
  [DFLAG_EXTENDED_REFERENCES, "EXTENDED_REFERENCES"],
  [DFLAG_DIST_MONITOR, "DIST_MONITOR"],
  [DFLAG_FUN_TAGS, "FUN_TAGS"],
  [DFLAG_DIST_MONITOR_NAME, "DIST_MONITOR_NAME"],
  [DFLAG_HIDDEN_ATOM_CACHE, "HIDDEN_ATOM_CACHE"],
  [DFLAG_NEW_FUN_TAGS, "NEW_FUN_TAGS"],
  [DFLAG_EXTENDED_PIDS_PORTS, "EXTENDED_PIDS_PORTS"],
  [DFLAG_EXPORT_PTR_TAG, "EXPORT_PTR_TAG"],
  [DFLAG_BIT_BINARIES, "BIT_BINARIES"],
  [DFLAG_NEW_FLOATS, "NEW_FLOATS"],
  [DFLAG_UNICODE_IO, "UNICODE_IO"],
  [DFLAG_DIST_HDR_ATOM_CACHE, "DIST_HDR_ATOM_CACHE"],
  [DFLAG_SMALL_ATOM_TAGS, "SMALL_ATOM_TAGS"],
  [DFLAG_UTF8_ATOMS, "UTF8_ATOMS"],
  [DFLAG_MAP_TAG, "MAP_TAG"],
  [DFLAG_BIG_CREATION, "BIG_CREATION"],
  [DFLAG_SEND_SENDER, "SEND_SENDER"],
  [DFLAG_BIG_SEQTRACE_LABELS, "BIG_SEQTRACE_LABELS"],
  [DFLAG_PENDING_CONNECT, "PENDING_CONNECT"],
  [DFLAG_EXIT_PAYLOAD, "EXIT_PAYLOAD"],
  [DFLAG_FRAGMENTS, "FRAGMENTS"],
  [DFLAG_HANDSHAKE_23, "HANDSHAKE_23"],
  [DFLAG_UNLINK_ID, "UNLINK_ID"],
  [DFLAG_MANDATORY_25_DIGEST, "MANDATORY_25_DIGEST"],
  [DFLAG_SPAWN, "SPAWN"],
  [DFLAG_NAME_ME, "NAME_ME"],
  [DFLAG_V4_NC, "V4_NC"],
  [DFLAG_ALIAS, "ALIAS"],
  [DFLAG_ALTACT_SIG, "ALTACT_SIG"]
]

/**
 * The names of the set bits, lowest first; unknown bits print as `bit<N>`.
 *
 * @example
 * names(0x5n) // ["PUBLISHED", "EXTENDED_REFERENCES"]
 *
 * @since 0.1.0
 * @category utils
 */
export const names = (flags: bigint): Array<string> => {
  const out: Array<string> = []
  for (let bit = 0n; bit < 64n && flags >> bit !== 0n; bit++) {
    const flag = 1n << bit
    if ((flags & flag) === 0n) continue
    const known = table.find(([f]) => f === flag)
    out.push(known ? known[1] : `bit${bit}`)
  }
  return out
}

/**
 * The bits of `required` that `got` lacks (0n when none).
 *
 * @since 0.1.0
 * @category utils
 */
export const missing = (required: bigint, got: bigint): bigint => required & ~got

/**
 * Whether every bit of `flag` is set in `flags`.
 *
 * @since 0.1.0
 * @category utils
 */
export const has = (flags: bigint, flag: bigint): boolean => (flags & flag) === flag

/**
 * The flags as hex, e.g. `0xd074f5fbc`.
 *
 * @since 0.1.0
 * @category utils
 */
export const toHex = (flags: bigint): string => `0x${flags.toString(16)}`
