import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Cookie from "../src/Cookie.js"
import { erlAvailable, runErl, uniqueName } from "./helpers/erl.js"

const hasErl = erlAvailable()

/** A fresh temporary home directory, removed with the scope. */
const tempHome = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "cookie-test-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const writeCookie = (home: string, content: string, mode: number) => {
  const file = path.join(home, ".erlang.cookie")
  fs.writeFileSync(file, content)
  fs.chmodSync(file, mode)
  return file
}

/** Run erl with -sname in `home`, printing its cookie (stdout and stderr); killed after 30 s at most. */
const erlCookie = (home: string) =>
  Effect.map(
    Effect.promise(() =>
      runErl("io:format(\"COOKIE=~s~n\", [erlang:get_cookie()]), halt().", {
        args: ["-sname", uniqueName()],
        env: { HOME: home },
        timeoutMs: 30_000
      })
    ),
    ({ stderr, stdout }) => stdout + stderr
  )

describe("Cookie", () => {
  describe("digest", () => {
    it("matches erlang:md5 of the cookie and the decimal unsigned challenge", () => {
      // fixtures from erl: erlang:md5(["secret", integer_to_list(3735928559)])
      expect(Array.from(Cookie.digest(Redacted.make("secret"), 3735928559))).toEqual([
        195,
        147,
        155,
        49,
        215,
        169,
        19,
        216,
        46,
        42,
        206,
        9,
        36,
        124,
        123,
        65
      ])
      expect(Array.from(Cookie.digest(Redacted.make("ABCDEFGHIJKLMNOPQRST"), 0))).toEqual([
        243,
        36,
        219,
        84,
        236,
        50,
        219,
        45,
        121,
        97,
        148,
        63,
        16,
        191,
        76,
        136
      ])
    })

    it("treats the challenge as unsigned 32-bit", () => {
      const c = Redacted.make("secret")
      expect(Cookie.digest(c, -559038737)).toEqual(Cookie.digest(c, 3735928559))
    })

    it("constantTimeEqual compares content and length", () => {
      const a = Cookie.digest(Redacted.make("a"), 1)
      expect(Cookie.constantTimeEqual(a, Cookie.digest(Redacted.make("a"), 1))).toBe(true)
      expect(Cookie.constantTimeEqual(a, Cookie.digest(Redacted.make("b"), 1))).toBe(false)
      expect(Cookie.constantTimeEqual(a, a.subarray(0, 15))).toBe(false)
    })
  })

  describe("load", () => {
    it.effect("an option cookie wins and no file is touched", () =>
      Effect.gen(function*() {
        const home = fs.mkdtempSync(path.join(os.tmpdir(), "cookie-test-"))
        try {
          const fromString = yield* Cookie.load({ cookie: "opt", home })
          expect(Redacted.isRedacted(fromString)).toBe(true)
          expect(Redacted.value(fromString)).toBe("opt")
          const given = Redacted.make("red")
          expect(yield* Cookie.load({ cookie: given, home })).toBe(given)
          expect(fs.existsSync(path.join(home, ".erlang.cookie"))).toBe(false)
          const invalid = yield* Effect.flip(Cookie.load({ cookie: "" }))
          expect(invalid.reason).toBe("Invalid")
        } finally {
          fs.rmSync(home, { recursive: true, force: true })
        }
      }))

    it.scoped("creates a missing file: 20 uppercase letters, no newline, mode 0400", () =>
      Effect.gen(function*() {
        const home = yield* tempHome
        const cookie = yield* Cookie.load({ home })
        const file = path.join(home, ".erlang.cookie")
        const content = fs.readFileSync(file, "latin1")
        expect(content).toMatch(/^[A-Z]{20}$/)
        expect(Redacted.value(cookie)).toBe(content)
        expect(fs.statSync(file).mode & 0o777).toBe(0o400)
        // loading again reads the same file
        expect(Redacted.value(yield* Cookie.load({ home }))).toBe(content)
      }))

    it.scoped("reads HOME by default", () =>
      Effect.gen(function*() {
        const home = yield* tempHome
        writeCookie(home, "FROMHOME\n", 0o400)
        const saved = process.env.HOME
        process.env.HOME = home
        try {
          expect(Redacted.value(yield* Cookie.load())).toBe("FROMHOME")
        } finally {
          process.env.HOME = saved
        }
      }))

    it.scoped("trims trailing newlines and spaces like auth:check_cookie", () =>
      Effect.gen(function*() {
        const home = yield* tempHome
        writeCookie(home, "abc def\r\n \n", 0o600)
        expect(Redacted.value(yield* Cookie.load({ home }))).toBe("abc def")
      }))

    it.scoped("refuses a file group or others can access, without showing the cookie", () =>
      Effect.gen(function*() {
        const home = yield* tempHome
        const file = writeCookie(home, "SUPERSECRETCOOKIE", 0o644)
        const error = yield* Effect.flip(Cookie.load({ home }))
        expect(error.reason).toBe("BadPermissions")
        expect(error.path).toBe(file)
        expect(error.message).toContain("owner only")
        for (const text of [error.message, String(error), JSON.stringify(error), inspectDeep(error)]) {
          expect(text).not.toContain("SUPERSECRETCOOKIE")
        }
        fs.chmodSync(file, 0o640)
        expect((yield* Effect.flip(Cookie.load({ home }))).reason).toBe("BadPermissions")
      }))

    it.scoped("refuses bad characters and empty files, without showing the content", () =>
      Effect.gen(function*() {
        const home = yield* tempHome
        const file = writeCookie(home, "SUPERSECRET\nMORE", 0o400)
        const bad = yield* Effect.flip(Cookie.load({ home }))
        expect(bad.reason).toBe("BadCharacters")
        expect(String(bad)).not.toContain("SUPERSECRET")
        expect(bad.message).not.toContain("SUPERSECRET")
        fs.chmodSync(file, 0o600)
        fs.writeFileSync(file, "\n")
        expect((yield* Effect.flip(Cookie.load({ home }))).reason).toBe("TooShort")
      }))

    it.scoped("refuses a directory in place of the file", () =>
      Effect.gen(function*() {
        const home = yield* tempHome
        fs.mkdirSync(path.join(home, ".erlang.cookie"), { mode: 0o700 })
        expect((yield* Effect.flip(Cookie.load({ home }))).reason).toBe("NotRegularFile")
      }))
  })

  describe("interop", () => {
    it.scopedLive.skipIf(!hasErl)("erl reads the cookie file we create", () =>
      Effect.gen(function*() {
        const home = yield* tempHome
        const cookie = yield* Cookie.load({ home })
        const out = yield* erlCookie(home)
        expect(out).toContain(`COOKIE=${Redacted.value(cookie)}`)
      }))

    it.scopedLive.skipIf(!hasErl)("we read the cookie file erl creates", () =>
      Effect.gen(function*() {
        const home = yield* tempHome
        const out = yield* erlCookie(home)
        const match = /COOKIE=([A-Z]+)/.exec(out)
        expect(match).not.toBeNull()
        expect(fs.statSync(path.join(home, ".erlang.cookie")).mode & 0o777).toBe(0o400)
        expect(Redacted.value(yield* Cookie.load({ home }))).toBe(match![1])
      }))
  })
})

// util.inspect, as console.log would show the error
import { inspect } from "node:util"
const inspectDeep = (u: unknown) => inspect(u, { depth: 5 })
