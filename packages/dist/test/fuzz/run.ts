/**
 * ETF decoder fuzzer: `npx tsx packages/dist/test/fuzz/run.ts [N] [seed]`
 * (root `npm run fuzz` runs 10^6 inputs). Exits non-zero if anything other than a
 * DecodeError escaped, or a decoded term did not round-trip.
 */
import { runFuzz } from "./fuzz.js"

const n = Number(process.argv[2] ?? 100_000)
const seed = Number(process.argv[3] ?? Date.now() % 1_000_000)
if (!Number.isInteger(n) || n < 1) {
  console.error("usage: run.ts [N] [seed]")
  process.exit(2)
}
console.log(`ETF fuzz: ${n} inputs, seed ${seed}`)
const s = runFuzz(n, seed, { log: (m) => console.log(`  ${m}`) })
console.log(
  `done in ${(s.elapsedMs / 1000).toFixed(1)} s: ${s.decoded} decoded, ${s.decodeErrors} DecodeErrors, ` +
    `${s.failureCount} failures; slowest input ${s.slowestMs.toFixed(1)} ms`
)
console.log(`slowest input: ${s.slowestInput}`)
console.log("most common DecodeError reasons:")
for (const [reason, count] of [...s.reasons].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
  console.log(`  ${String(count).padStart(8)}  ${reason}`)
}
for (const f of s.failures) console.log(`FAILURE ${f.error}\n  input ${f.input}`)
process.exit(s.failureCount === 0 ? 0 : 1)
