/**
 * `global_names` (internal/names.ts): a name is found by any term `=:=` to it, however that
 * term was built (map entries in another order, a small integer as a bigint), and only by those.
 */
import * as T from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { hashName, NameTable, type NewEntry } from "../src/internal/names.js"

const node = T.atom("n@h")
const pid = new T.Pid(node, 1, 0, 1)
const mon = new T.Ref(node, 1, [1, 2, 3])
const entry = (name: T.Term): NewEntry => ({ name, pid, method: T.atom("none"), mon })

const arbAtom = FastCheck.constantFrom("a", "b", "ok", "Zed", "é").map(T.atom)
const { term: arbTerm } = FastCheck.letrec<{ term: T.Term }>((tie) => ({
  term: FastCheck.oneof(
    { depthSize: "small", withCrossShrink: true },
    FastCheck.integer({ min: -3, max: 3 }),
    FastCheck.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
    FastCheck.double({ noNaN: true, noDefaultInfinity: true, min: -4, max: 4 }).map((d) =>
      Number.isInteger(d) ? T.float(d) : d
    ),
    arbAtom,
    FastCheck.uint8Array({ maxLength: 3 }),
    FastCheck.array(tie("term"), { maxLength: 3 }) as FastCheck.Arbitrary<T.Term>,
    FastCheck.tuple(FastCheck.array(tie("term"), { minLength: 1, maxLength: 2 }), arbAtom).map(([es, tail]) =>
      new T.ImproperList(es, tail)
    ),
    FastCheck.array(tie("term"), { maxLength: 3 }).map((es) => new T.Tuple(es)),
    FastCheck.array(FastCheck.tuple(tie("term"), tie("term")), { maxLength: 3 }).map((es) => T.map(es))
  )
}))

/** The same term built another way: every map's entries reversed, safe bigints as numbers and back. */
const rebuilt = (t: T.Term): T.Term => {
  if (typeof t === "bigint") return t >= -(2n ** 53n) + 1n && t <= 2n ** 53n - 1n ? Number(t) : t
  if (typeof t === "number" && Number.isInteger(t)) return BigInt(t)
  if (Array.isArray(t)) return t.map(rebuilt)
  if (t instanceof T.Tuple) return new T.Tuple(t.elements.map(rebuilt))
  if (t instanceof T.ImproperList) return new T.ImproperList(t.elements.map(rebuilt), rebuilt(t.tail))
  if (t instanceof T.TermMap) return new T.TermMap([...t.entries].reverse().map(([k, v]) => [rebuilt(k), rebuilt(v)]))
  return t
}

describe("global_names", () => {
  it("a map-valued name is found whatever the order of its entries", () => {
    const a = T.map([[T.atom("x"), 1], [T.atom("y"), T.tuple(T.atom("z"), 2)]])
    const b = T.map([[T.atom("y"), T.tuple(T.atom("z"), 2n)], [T.atom("x"), 1]])
    expect(T.equals(a, b)).toBe(true)
    const table = new NameTable()
    table.add(entry(T.tuple(T.atom("svc"), a)))
    expect(table.get(T.tuple(T.atom("svc"), b))?.pid).toBe(pid)
    expect(table.delete(T.tuple(T.atom("svc"), b))?.pid).toBe(pid)
    expect(table.get(T.tuple(T.atom("svc"), a))).toBeUndefined()
  })

  it("terms that are == but not =:= are different names (1 and 1.0)", () => {
    const table = new NameTable()
    table.add(entry(T.tuple(T.atom("n"), 1)))
    expect(table.get(T.tuple(T.atom("n"), T.float(1)))).toBeUndefined()
    expect(table.get(T.tuple(T.atom("n"), 1n))?.pid).toBe(pid)
  })

  it("the pid and monitor indexes follow the names: a pid with two names, a DOWN's ref built anew", () => {
    const table = new NameTable()
    const other = new T.Pid(node, 2, 0, 1)
    const monA = new T.Ref(node, 1, [7, 0, 0])
    const monB = new T.Ref(node, 1, [8, 1, 0])
    const monC = new T.Ref(node, 1, [9, 0, 0])
    table.add({ name: T.atom("a"), pid, method: T.atom("m"), mon: monA })
    table.add({ name: T.atom("b"), pid, method: T.atom("m"), mon: monB })
    table.add({ name: T.atom("c"), pid: other, method: T.atom("m"), mon: monC })
    expect(table.hasPid(new T.Pid(node, 1, 0, 1))).toBe(true)
    expect(table.hasPid(new T.Pid(node, 1, 0, 2))).toBe(false)
    expect(table.delete(T.atom("a"))?.mon).toBe(monA)
    // still named b
    expect(table.hasPid(pid)).toBe(true)
    expect(table.deleteByMonitor(new T.Ref(node, 1, [7]))).toBeUndefined()
    // the DOWN's ref is another object, with its high zero word dropped
    expect(table.deleteByMonitor(new T.Ref(node, 1, [8, 1]))?.name).toBe(T.atom("b"))
    expect(table.hasPid(pid)).toBe(false)
    expect(table.get(T.atom("b"))).toBeUndefined()
    expect([...table.values()].map((e) => e.name)).toEqual([T.atom("c")])
    expect(table.hasPid(other)).toBe(true)
  })

  it.prop("a name is found by any term =:= to it, and its hash is the same", [arbTerm], ([t]) => {
    const u = rebuilt(t)
    expect(T.equals(t, u)).toBe(true)
    expect(hashName(u)).toBe(hashName(t))
    const table = new NameTable()
    table.add(entry(t))
    expect(table.get(u)?.name).toBe(t)
  })

  it.prop("a name is not found by a term that differs from it", [arbTerm, arbTerm], ([t, u]) => {
    const table = new NameTable()
    table.add(entry(t))
    expect(table.get(u) !== undefined).toBe(T.equals(t, u))
  })
})
