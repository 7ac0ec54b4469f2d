/**
 * ETF codec benchmark: `npx tsx packages/dist/test/fuzz/bench-etf.ts`.
 *
 * The two terms of /work/shared/bench-anchors/etf (`small`: `{seq, 12345, <<64 bytes>>}`,
 * `records`: 100 maps with binary keys) are made by `erl` when it is installed
 * (`term_to_binary(T, [{minor_version, 2}])`), else built in TS. Prints ops/s for
 * decode and encode of each.
 */
import * as Term from "@effect-otp/process/Term"
import * as Either from "effect/Either"
import { execFileSync } from "node:child_process"
import * as Etf from "../../src/Etf.js"

const erlTerms = (): { small: Uint8Array; records: Uint8Array } | undefined => {
  try {
    const out = execFileSync("erl", [
      "-noshell",
      "-eval",
      `Small = {seq, 12345, binary:copy(<<"x">>, 64)},
       Rec = [#{<<"id">> => I, <<"name">> => <<"user-", (integer_to_binary(I))/binary>>, <<"score">> => I * 1.5,
                <<"tags">> => [alpha, beta, gamma]} || I <- lists:seq(1, 100)],
       io:format("~s~n~s~n", [binary:encode_hex(term_to_binary(Small, [{minor_version, 2}])),
                               binary:encode_hex(term_to_binary(Rec, [{minor_version, 2}]))]),
       halt().`
    ], { encoding: "utf8", timeout: 30_000 })
    const [a, b] = out.trim().split("\n")
    return { small: Buffer.from(a!, "hex"), records: Buffer.from(b!, "hex") }
  } catch {
    return undefined
  }
}

const tsTerms = (): { small: Uint8Array; records: Uint8Array } => {
  const small = Term.tuple(Term.atom("seq"), 12345, new Uint8Array(64).fill(120))
  const records = Array.from({ length: 100 }, (_, k) => {
    const i = k + 1
    return new Term.TermMap([
      [Term.binary("id"), i],
      [Term.binary("name"), Term.binary(`user-${i}`)],
      [Term.binary("score"), Number.isInteger(i * 1.5) ? Term.float(i * 1.5) : i * 1.5],
      [Term.binary("tags"), [Term.atom("alpha"), Term.atom("beta"), Term.atom("gamma")]]
    ])
  })
  return { small: Etf.encode(small), records: Etf.encode(records) }
}

const time = (n: number, f: () => unknown): number => {
  for (let i = 0; i < Math.min(n, 20_000); i++) f()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) f()
  return n / (Number(process.hrtime.bigint() - t0) / 1e9)
}

const fmt = (r: number): string => r >= 1e6 ? `${(r / 1e6).toFixed(2)} M/s` : `${(r / 1e3).toFixed(1)} k/s`

const main = () => {
  const fromErl = erlTerms()
  const terms = fromErl ?? tsTerms()
  console.log(`terms from ${fromErl ? "erl (term_to_binary, minor_version 2)" : "TS (erl not available)"}`)
  const runs = Number(process.argv[2] ?? 3)
  for (const [name, n] of [["small", 2_000_000], ["records", 20_000]] as const) {
    const bytes = terms[name]
    const term = Either.getOrThrow(Etf.decode(bytes))
    const again = Etf.encode(term)
    const same = again.length === bytes.length && again.every((x, i) => x === bytes[i])
    const dec: Array<number> = []
    const enc: Array<number> = []
    for (let r = 0; r < runs; r++) {
      dec.push(time(n, () => Etf.decodeAt(bytes, 0)))
      enc.push(time(n, () => Etf.encode(term)))
    }
    const best = (xs: Array<number>) => Math.max(...xs)
    console.log(
      `${name.padEnd(8)} ${String(bytes.length).padStart(5)} B  decode ${fmt(best(dec))} (${
        (best(dec) * bytes.length / 1e6).toFixed(0)
      } MB/s)  encode ${fmt(best(enc))}  re-encode byte-identical: ${same}  [runs: dec ${
        dec.map(fmt).join(", ")
      }; enc ${enc.map(fmt).join(", ")}]`
    )
  }
}

main()
