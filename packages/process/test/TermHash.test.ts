/**
 * `Equal`/`Hash` on pids, refs and atoms: they key `HashMap`/`HashSet` by value, and
 * `Equal.equals` agrees with `Term.equals` (equal values hash alike).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Equal from "effect/Equal"
import * as FastCheck from "effect/FastCheck"
import * as Hash from "effect/Hash"
import * as HashMap from "effect/HashMap"
import * as HashSet from "effect/HashSet"
import * as Option from "effect/Option"
import * as Term from "../src/Term.js"

const { atom } = Term

// small ranges, so that equal values come up often
const node = FastCheck.constantFrom(atom("a@h"), atom("b@h"))
const pid = FastCheck.tuple(
  node,
  FastCheck.integer({ min: 0, max: 3 }),
  FastCheck.integer({ min: 0, max: 1 }),
  FastCheck.integer({ min: 0, max: 1 })
).map(([n, id, serial, creation]) => new Term.Pid(n, id, serial, creation))
const ref = FastCheck.tuple(
  node,
  FastCheck.integer({ min: 0, max: 1 }),
  FastCheck.array(FastCheck.integer({ min: 0, max: 1 }), { minLength: 1, maxLength: 5 })
).map(([n, creation, ids]) => new Term.Ref(n, creation, ids))
const anAtom = FastCheck.constantFrom("ok", "error", "a@h").map(atom)
const id = FastCheck.oneof(pid, ref, anAtom)

describe("Equal/Hash on pids, refs and atoms", () => {
  it("a HashMap keyed by pid finds a pid rebuilt from the same fields", () => {
    const p1 = new Term.Pid(atom("n@h"), 42, 0, 3)
    const map = HashMap.make([p1, "first"] as const, [new Term.Pid(atom("n@h"), 43, 0, 3), "second"] as const)
    expect(HashMap.get(map, new Term.Pid(atom("n@h"), 42, 0, 3))).toEqual(Option.some("first"))
    expect(HashMap.get(map, new Term.Pid(atom("n@h"), 42, 0, 4))).toEqual(Option.none())
    expect(HashMap.get(map, new Term.Pid(atom("m@h"), 42, 0, 3))).toEqual(Option.none())
  })

  it("a HashSet of refs counts [N] and [N, 0] (the same ref for erts) once", () => {
    const set = HashSet.make(
      new Term.Ref(atom("n@h"), 1, [7, 8]),
      new Term.Ref(atom("n@h"), 1, [7, 8, 0]),
      new Term.Ref(atom("n@h"), 1, [7, 9]),
      new Term.Ref(atom("n@h"), 2, [7, 8])
    )
    expect(HashSet.size(set)).toBe(3)
    expect(HashSet.has(set, new Term.Ref(atom("n@h"), 1, [7, 8, 0, 0, 0]))).toBe(true)
  })

  it("atoms key a HashMap (interned: one object per text)", () => {
    const map = HashMap.make([atom("ok"), 1] as const, [atom("error"), 2] as const)
    expect(HashMap.get(map, Term.Atom.make("ok"))).toEqual(Option.some(1))
    expect(Hash.hash(atom("ok"))).toBe(Hash.hash(Term.Atom.make("ok")))
  })

  it.prop("Equal.equals agrees with Term.equals, and equal values hash alike", [id, id], ([a, b]) => {
    const same = Term.equals(a, b)
    expect(Equal.equals(a, b)).toBe(same)
    if (same) expect(Hash.hash(a)).toBe(Hash.hash(b))
  })
})
