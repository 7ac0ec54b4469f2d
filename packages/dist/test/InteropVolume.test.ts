/**
 * Volume with real `erl`: 100k sequenced messages each way arrive complete and in order,
 * and a 16 MiB binary round-trips hash-identical.
 */
import * as Process from "@effect-otp/process/Process"
import { Atom, format, isTagged, type Pid, type Tuple, tuple } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { createHash, randomBytes } from "node:crypto"
import { erlAvailable, uniqueName } from "./helpers/erl.js"
import { buildNode, expectCleanErlLog, expectTagged, host, startPeer } from "./helpers/tsnode.js"

const a = Atom.make
const N = 100_000

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")

describe.skipIf(!erlAvailable())("Interop with real erl: volume", () => {
  it.scopedLive(`${N} sequenced messages TS -> erl arrive in order (erl counts)`, () =>
    Effect.gen(function*() {
      const cookie = uniqueName("c")
      const e = uniqueName("e")
      const erl = yield* startPeer(e, cookie)
      const ctx = yield* buildNode(uniqueName("ts"), cookie)
      const result = yield* Process.run(Effect.gen(function*() {
        const self = yield* Process.self
        yield* Process.send(tuple(a("peer"), a(`${e}@${host}`)), tuple(a("count"), self, N))
        const [, counter] = (yield* expectTagged("counter", 2, "20 seconds")).elements
        const seq = a("seq")
        for (let i = 1; i <= N; i++) yield* Process.send(counter as Pid, tuple(seq, i))
        return yield* expectTagged("count_result", 3, "30 seconds")
      })).pipe(Effect.provide(ctx))
      expect(format(result)).toBe(`{count_result,ok,${N}}`)
      yield* Effect.promise(() => erl.waitFor(`count ok ${N}`, 5_000))
      expectCleanErlLog(erl)
    }), 60_000)

  it.scopedLive(`${N} sequenced messages erl -> TS arrive in order`, () =>
    Effect.gen(function*() {
      const cookie = uniqueName("c")
      const e = uniqueName("e")
      const erl = yield* startPeer(e, cookie)
      const ctx = yield* buildNode(uniqueName("ts"), cookie)
      const out = yield* Process.run(Effect.gen(function*() {
        const self = yield* Process.self
        yield* Process.send(tuple(a("peer"), a(`${e}@${host}`)), tuple(a("emit"), self, N))
        let next = 1
        let firstBad: string | undefined
        while (true) {
          const m = yield* Process.receive(Option.some, { after: "20 seconds" })
          if (Option.isNone(m)) return { next, firstBad: firstBad ?? "timeout" }
          const msg = m.value
          if (isTagged(msg, "seq_done", 2)) return { next, firstBad, done: msg.elements[1] }
          if (isTagged(msg, "seq", 2) && msg.elements[1] === next) next++
          else if (firstBad === undefined) firstBad = `expected {seq,${next}}, got ${format(msg as Tuple)}`
        }
      })).pipe(Effect.provide(ctx))
      expect(out.firstBad).toBeUndefined()
      expect(out.next).toBe(N + 1)
      expect(out.done).toBe(N)
      expectCleanErlLog(erl)
    }), 60_000)

  it.scopedLive("a 16 MiB binary round-trips through erl hash-identical", () =>
    Effect.gen(function*() {
      const cookie = uniqueName("c")
      const e = uniqueName("e")
      const erl = yield* startPeer(e, cookie)
      const ctx = yield* buildNode(uniqueName("ts"), cookie)
      const big = new Uint8Array(randomBytes(16 * 1024 * 1024))
      const reply = yield* Process.run(Effect.gen(function*() {
        const self = yield* Process.self
        yield* Process.send(tuple(a("peer"), a(`${e}@${host}`)), tuple(a("bin"), self, big))
        return yield* expectTagged("bin", 3, "30 seconds")
      })).pipe(Effect.provide(ctx))
      const [, back, erlHash] = reply.elements
      expect(back).toBeInstanceOf(Uint8Array)
      expect((back as Uint8Array).length).toBe(big.length)
      expect(sha256(back as Uint8Array)).toBe(sha256(big))
      expect(Buffer.from(erlHash as Uint8Array).toString("hex")).toBe(sha256(big))
      expectCleanErlLog(erl)
    }), 60_000)
})
