/**
 * ETF codec workloads, the TypeScript side (`bench/erlang/bench_etf.erl` is Erlang's):
 *
 *   node --expose-gc --import tsx bench/etf.ts <dir>
 *
 * Decodes the bytes `bench_etf:gen/1` wrote to `<dir>/<name>.etf` (Erlang's own
 * `term_to_binary(T, [{minor_version, 2}])`) with `Etf.decodeUnsafe` (binaries copied, as
 * `binary_to_term`), and encodes the decoded term with `Etf.encode`. Each loop runs for
 * at least ~1 s after a ~0.2 s warm-up, as the Erlang side does. Prints one line per
 * term and direction:
 *
 *   RESULT etf_<name>_<decode|encode> bytes=B n=N us=T ops_per_s=X
 *
 * and two more per term, as a connection uses the codec: `decode_views` (binaries are
 * views of the input, `copyBinaries: false`; frames do this from 64 KiB) and
 * `encode_writer` (into a reused `Etf.Writer`, as frames are written into a batch buffer).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Etf from "../packages/dist/src/Etf.js"

const names = ["map_4k_tuple_keys", "map_20k_int_keys", "list_50k_records", "binary_1mib"]

const gc = (): void => (globalThis as { gc?: () => void }).gc?.()

/** Runs `f` in batches until `minUs` have passed; returns [iterations, µs]. */
const timed = (f: () => unknown, minUs: number): [number, number] => {
  const t0 = performance.now()
  let n = 0
  let batch = 1
  for (;;) {
    for (let i = 0; i < batch; i++) f()
    n += batch
    const us = (performance.now() - t0) * 1000
    if (us >= minUs) return [n, us]
    batch = Math.min(batch * 2, 1024)
  }
}

let sink = 0
const report = (name: string, dir: string, bytes: number, f: () => unknown): void => {
  timed(f, 200_000)
  gc()
  const [n, us] = timed(f, 1_000_000)
  console.log(
    `RESULT etf_${name}_${dir} bytes=${bytes} n=${n} us=${Math.round(us)} ops_per_s=${(n * 1e6 / us).toFixed(3)}`
  )
}

const dir = process.argv[2]
if (dir === undefined) {
  process.stderr.write("usage: etf.ts <dir>\n")
  process.exit(2)
}
for (const name of names) {
  const bytes = new Uint8Array(fs.readFileSync(path.join(dir, `${name}.etf`)))
  const term = Etf.decodeUnsafe(bytes)
  const again = Etf.encode(term)
  if (Buffer.compare(Buffer.from(again), Buffer.from(bytes)) !== 0) {
    throw new Error(`${name}: Etf.encode(Etf.decode(bytes)) differs from erl's bytes`)
  }
  report(name, "decode", bytes.length, () => Etf.decodeUnsafe(bytes))
  report(name, "encode", bytes.length, () => (sink += Etf.encode(term).length))
  // what a connection does: binaries of the frame as views (no copy), frames written
  // into a reused buffer (no fresh allocation per term)
  report(name, "decode_views", bytes.length, () => Etf.decodeUnsafe(bytes, { copyBinaries: false }))
  const w = new Etf.Writer(1024)
  report(name, "encode_writer", bytes.length, () => {
    w.reset()
    Etf.encodeInto(w, term)
    sink += w.length
  })
}
if (sink < 0) console.log(sink)
