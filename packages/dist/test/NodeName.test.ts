import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as os from "node:os"
import * as NodeName from "../src/NodeName.js"

const reasonOf = (input: string, options?: NodeName.ParseOptions) => {
  const r = NodeName.parse(input, options)
  return Either.isLeft(r) ? r.left.reason : undefined
}

describe("NodeName", () => {
  describe("parse, short names", () => {
    it("completes a bare alive name with the hostname up to the first dot", () => {
      expect(NodeName.parse("alice", { hostname: "box.example.com" })).toEqual(Either.right("alice@box"))
      expect(NodeName.parse("alice", { hostname: "box" })).toEqual(Either.right("alice@box"))
    })

    it("defaults to os.hostname()", () => {
      expect(NodeName.unsafeParse("alice")).toBe(`alice@${os.hostname().split(".")[0]}`)
    })

    it("keeps an explicit host without dots", () => {
      expect(NodeName.parse("alice@box")).toEqual(Either.right("alice@box"))
      expect(NodeName.parse("a_b-C9@some-host")).toEqual(Either.right("a_b-C9@some-host"))
    })

    it("refuses a host with a dot, as erl -sname does", () => {
      expect(reasonOf("alice@127.0.0.1")).toBe("DotInShortHost")
      expect(reasonOf("alice@host.example")).toBe("DotInShortHost")
    })
  })

  describe("parse, long names", () => {
    it("accepts IPs, FQDNs and (like OTP) plain hosts", () => {
      for (const name of ["alice@127.0.0.1", "alice@host.example", "alice@localhost"]) {
        expect(NodeName.parse(name, { mode: "long" })).toEqual(Either.right(name))
      }
    })

    it("completes a bare alive name only with a fully qualified hostname", () => {
      expect(NodeName.parse("alice", { mode: "long", hostname: "box.example.com" })).toEqual(
        Either.right("alice@box.example.com")
      )
      expect(reasonOf("alice", { mode: "long", hostname: "box" })).toBe("NoDomain")
    })
  })

  describe("validation", () => {
    it("names the broken rule", () => {
      expect(reasonOf("")).toBe("Empty")
      expect(reasonOf("a.b")).toBe("BadAlive")
      expect(reasonOf("t%5")).toBe("BadAlive")
      expect(reasonOf("@box")).toBe("BadAlive")
      expect(reasonOf("al ice@box")).toBe("BadAlive")
      expect(reasonOf("alice@")).toBe("EmptyHost")
      expect(reasonOf("a@box@box")).toBe("MultipleAt")
      expect(reasonOf("alice@v m")).toBe("BadHost")
      expect(reasonOf("alice@box\u0100")).toBe("BadHost")
      expect(reasonOf(`${"a".repeat(250)}@host1`)).toBe("TooLong")
      expect(reasonOf(`${"a".repeat(249)}@host1`)).toBeUndefined()
      expect(reasonOf("alice", { hostname: "" })).toBe("NoHostname")
    })

    it("the error message shows the input and the rule", () => {
      const r = NodeName.parse("a@b.c")
      expect(Either.isLeft(r)).toBe(true)
      if (Either.isLeft(r)) {
        expect(r.left._tag).toBe("NodeNameError")
        expect(r.left.message).toContain("a@b.c")
        expect(r.left.message).toContain("'.'")
      }
    })

    it("unsafeParse throws the NodeNameError", () => {
      expect(() => NodeName.unsafeParse("bad name")).toThrow(/invalid node name/)
    })

    it.prop(
      "every alive@host of allowed characters is valid, and splits back",
      [FastCheck.stringMatching(/^[A-Za-z0-9_-]{1,30}$/), FastCheck.stringMatching(/^[a-z0-9-]{1,20}$/)],
      ([alive, host]) => {
        const name = NodeName.unsafeParse(`${alive}@${host}`)
        expect(NodeName.alive(name)).toBe(alive)
        expect(NodeName.host(name)).toBe(host)
        expect(NodeName.isNodeName(name, "short")).toBe(true)
      }
    )
  })

  describe("getters and guards", () => {
    it("alive and host split at the @", () => {
      expect(NodeName.alive("alice@127.0.0.1")).toBe("alice")
      expect(NodeName.host("alice@127.0.0.1")).toBe("127.0.0.1")
    })

    it("isNodeName checks the mode's host rule", () => {
      expect(NodeName.isNodeName("a@h.x")).toBe(true)
      expect(NodeName.isNodeName("a@h.x", "long")).toBe(true)
      expect(NodeName.isNodeName("a@h.x", "short")).toBe(false)
      expect(NodeName.isNodeName("a")).toBe(false)
    })
  })

  describe("Schema", () => {
    it.effect("decodes full names and refuses others with a readable message", () =>
      Effect.gen(function*() {
        const decode = Schema.decodeUnknown(NodeName.NodeName)
        expect(yield* decode("alice@box")).toBe("alice@box")
        expect(yield* decode("alice@127.0.0.1")).toBe("alice@127.0.0.1")
        const error = yield* Effect.flip(decode("alice"))
        expect(error.message).toContain("empty host")
        yield* Effect.flip(decode(42))
      }))
  })
})
