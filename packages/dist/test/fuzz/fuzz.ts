/**
 * ETF decoder fuzzer: random inputs and mutations of valid encodings (bit flips,
 * byte changes, truncations, length-field bumps, insertions, deletions, splices).
 * The decoder must return `Right` or `Left(DecodeError)` and never throw; whatever
 * decodes must also encode again and round-trip.
 */
import * as Term from "@effect-otp/process/Term"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import { deflateSync } from "node:zlib"
import * as Etf from "../../src/Etf.js"
import { messageArb, termArb } from "../helpers/arbitraries.js"

export interface FuzzFailure {
  readonly input: string
  readonly error: string
}

export interface FuzzSummary {
  readonly inputs: number
  readonly decoded: number
  readonly decodeErrors: number
  readonly failures: ReadonlyArray<FuzzFailure>
  readonly failureCount: number
  readonly slowestMs: number
  readonly slowestInput: string
  readonly elapsedMs: number
  readonly reasons: ReadonlyMap<string, number>
}

/** mulberry32 */
const prng = (seed: number) => {
  let s = seed >>> 0
  return (): number => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

/** Valid encodings to mutate: generated terms plus hand-made old and rare forms. */
export const seedCorpus = (seed: number, count = 300): Array<Uint8Array> => {
  const terms = fc.sample(fc.oneof(messageArb, termArb(5)), { numRuns: count, seed })
  const out = terms.map((t) => Etf.encode(t))
  const inner = Etf.encode(Term.tuple(Term.atom("ok"), Term.binary("x".repeat(300)), [1, 2, 3])).subarray(1)
  const z = deflateSync(inner)
  const size = [inner.length >>> 24, (inner.length >>> 16) & 255, (inner.length >>> 8) & 255, inner.length & 255]
  out.push(
    Uint8Array.of(131, 80, ...size, ...z),
    Uint8Array.of(131, 100, 0, 2, 111, 107),
    Uint8Array.of(131, 115, 1, 228),
    Uint8Array.of(131, 99, ...new TextEncoder().encode("1.50000000000000000000e+00".padEnd(31, "\0"))),
    Uint8Array.of(131, 103, 119, 3, 97, 64, 98, 0, 0, 0, 1, 0, 0, 0, 2, 3),
    Uint8Array.of(131, 102, 119, 3, 97, 64, 98, 0, 0, 0, 7, 3),
    Uint8Array.of(131, 101, 119, 3, 97, 64, 98, 0, 0, 0, 7, 3),
    Uint8Array.of(131, 114, 0, 2, 119, 3, 97, 64, 98, 3, 0, 0, 0, 7, 0, 0, 0, 8),
    Uint8Array.of(131, 108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 97, 3),
    Uint8Array.of(131, 77, 0, 0, 0, 2, 5, 1, 255)
  )
  return out
}

const mutate = (rnd: () => number, seeds: ReadonlyArray<Uint8Array>): Uint8Array => {
  const pick = () => seeds[Math.floor(rnd() * seeds.length)]!
  const int = (n: number) => Math.floor(rnd() * n)
  const kind = int(10)
  if (kind === 0) {
    // random bytes, usually after a version byte
    const n = int(48)
    const b = new Uint8Array(n + 1)
    for (let i = 0; i < b.length; i++) b[i] = int(256)
    if (rnd() < 0.8) b[0] = 131
    return b
  }
  const src = pick()
  let b = Uint8Array.from(src)
  const rounds = 1 + int(3)
  for (let r = 0; r < rounds; r++) {
    if (b.length === 0) return b
    const at = int(b.length)
    switch (int(7)) {
      case 0: // bit flip
        b[at] = b[at]! ^ (1 << int(8))
        break
      case 1: // random byte
        b[at] = int(256)
        break
      case 2: // truncate
        b = b.subarray(0, at)
        break
      case 3: {
        // bump a (u8, u16 or u32) length field: small deltas and extremes
        const width = [1, 2, 4][int(3)]!
        const deltas = [1, -1, 2, 255, 0x7fffffff, 0xffffffff]
        let v = 0
        for (let i = 0; i < width && at + i < b.length; i++) v = v * 256 + b[at + i]!
        v = (v + deltas[int(deltas.length)]!) >>> 0
        for (let i = width - 1; i >= 0; i--) {
          if (at + i < b.length) b[at + i] = v & 255
          v = Math.floor(v / 256)
        }
        break
      }
      case 4: {
        // insert random bytes
        const ins = Uint8Array.from({ length: 1 + int(4) }, () => int(256))
        const out = new Uint8Array(b.length + ins.length)
        out.set(b.subarray(0, at))
        out.set(ins, at)
        out.set(b.subarray(at), at + ins.length)
        b = out
        break
      }
      case 5: {
        // delete bytes
        const n = Math.min(1 + int(4), b.length - at)
        const out = new Uint8Array(b.length - n)
        out.set(b.subarray(0, at))
        out.set(b.subarray(at + n), at)
        b = out
        break
      }
      case 6: {
        // splice the tail of another encoding
        const other = pick()
        const from = int(other.length)
        const out = new Uint8Array(at + other.length - from)
        out.set(b.subarray(0, at))
        out.set(other.subarray(from), at)
        b = out
        break
      }
    }
  }
  return b
}

/** Runs `n` inputs. Never throws: every misbehaviour is counted in `failures`. */
export const runFuzz = (n: number, seed = 1, options: { readonly log?: (s: string) => void } = {}): FuzzSummary => {
  const rnd = prng(seed)
  const seeds = seedCorpus(seed)
  const failures: Array<FuzzFailure> = []
  let failureCount = 0
  let decoded = 0
  let decodeErrors = 0
  let slowestMs = 0
  let slowestInput = ""
  const reasons = new Map<string, number>()
  const fail = (input: Uint8Array, error: string) => {
    failureCount++
    if (failures.length < 20) failures.push({ input: hex(input).slice(0, 2000), error })
  }
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    if (options.log !== undefined && i > 0 && i % 100_000 === 0) options.log(`${i} inputs`)
    // the seeds themselves first, then random inputs and mutations
    const input = i < seeds.length ? seeds[i]! : mutate(rnd, seeds)
    const s = performance.now()
    let result: Either.Either<Term.Term, Etf.DecodeError>
    try {
      result = Etf.decode(input, { maxDepth: 200 })
    } catch (e) {
      fail(input, `decode threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`)
      continue
    }
    const dt = performance.now() - s
    if (dt > slowestMs) {
      slowestMs = dt
      slowestInput = hex(input).slice(0, 200)
    }
    if (Either.isLeft(result)) {
      const e = result.left
      if (!(e instanceof Etf.DecodeError) || typeof e.offset !== "number" || typeof e.reason !== "string") {
        fail(input, `Left is not a DecodeError: ${String(e)}`)
      } else {
        decodeErrors++
        const key = e.reason.replace(/\d+/g, "N").slice(0, 40)
        reasons.set(key, (reasons.get(key) ?? 0) + 1)
        if (e.reason.startsWith("internal error")) fail(input, e.reason)
      }
      continue
    }
    decoded++
    // what decodes must encode and round-trip
    try {
      const again = Etf.encode(result.right)
      const back = Etf.decode(again, { maxDepth: 400 })
      if (Either.isLeft(back)) fail(input, `re-encoding does not decode: ${back.left.message}`)
      else if (!Term.equals(back.right, result.right)) fail(input, "re-encoding does not round-trip")
    } catch (e) {
      fail(input, `re-encoding threw ${e instanceof Error ? e.message : String(e)}`)
    }
  }
  return {
    inputs: n,
    decoded,
    decodeErrors,
    failures,
    failureCount,
    slowestMs,
    slowestInput,
    elapsedMs: performance.now() - t0,
    reasons
  }
}
