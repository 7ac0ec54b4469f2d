/**
 * Host resolution as erl's `inet:getaddr(Host, inet)`: the system resolver, then loopback for
 * this machine's own name. The resolver is injected here (no root, no unshare); `.ci/run` also
 * runs the whole suite under a real unresolvable host name.
 */
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as DistNode from "../src/DistNode.js"
import * as Epmd from "../src/Epmd.js"
import * as HostResolver from "../src/HostResolver.js"
import * as NetKernel from "../src/NetKernel.js"
import * as Transport from "../src/Transport.js"
import { uniqueName } from "./helpers/erl.js"
import { echoRoundTrip, tsEcho } from "./helpers/tsnode.js"

/** A machine called `hostname` whose resolver knows only `known` (name → address); every lookup is recorded. */
const fake = (hostname: string, known: Record<string, string> = {}) => {
  const asked: Array<string> = []
  const resolver: HostResolver.HostResolverService = {
    hostname: () => hostname,
    lookup: (host) => {
      asked.push(host)
      const address = known[host]
      return address === undefined
        ? Effect.fail(new HostResolver.HostResolveError({ host, code: "ENOTFOUND" }))
        : Effect.succeed(address)
    }
  }
  return { resolver, asked }
}

describe("HostResolver.getaddr", () => {
  it.effect("this machine's own unresolvable name is loopback, short or with its domain, in any ASCII case", () =>
    Effect.gen(function*() {
      const { asked, resolver } = fake("laptop-42.example.org")
      const getaddr = (host: string) =>
        HostResolver.getaddr(host).pipe(Effect.provideService(HostResolver.HostResolver, resolver))
      expect(yield* getaddr("laptop-42")).toBe("127.0.0.1")
      expect(yield* getaddr("LAPTOP-42")).toBe("127.0.0.1")
      expect(yield* getaddr("laptop-42.example.org")).toBe("127.0.0.1")
      expect(yield* getaddr("Laptop-42.Example.ORG")).toBe("127.0.0.1")
      // the resolver was asked first each time, as inet_gethost before gethostbyname_self
      expect(asked).toEqual(["laptop-42", "LAPTOP-42", "laptop-42.example.org", "Laptop-42.Example.ORG"])
      // any other name that does not resolve is nxdomain
      for (const other of ["laptop-43", "laptop-42.example", "laptop-42.other.org", "example.org"]) {
        const e = yield* Effect.flip(getaddr(other))
        expect([e._tag, e.host, e.code]).toEqual(["HostResolveError", other, "ENOTFOUND"])
      }
    }))

  it.effect("the resolver's answer wins over the fallback; IP literals and invisible names skip it", () =>
    Effect.gen(function*() {
      const { asked, resolver } = fake("box", { box: "10.1.2.3", peer: "10.9.9.9" })
      const getaddr = (host: string) =>
        HostResolver.getaddr(host).pipe(Effect.provideService(HostResolver.HostResolver, resolver))
      expect(yield* getaddr("box")).toBe("10.1.2.3")
      expect(yield* getaddr("peer")).toBe("10.9.9.9")
      expect(yield* getaddr("192.168.7.8")).toBe("192.168.7.8")
      expect((yield* Effect.flip(getaddr("bad host"))).code).toBe("EINVAL")
      expect(asked).toEqual(["box", "peer"])
      // OTP's inet_config: no host name at all is "nohost"
      expect(HostResolver.isSelf("nohost", "")).toBe(true)
    }))

  it.effect("the default resolver: localhost and this machine's own name always give an address", () =>
    Effect.gen(function*() {
      expect(yield* HostResolver.getaddr("localhost")).toBe("127.0.0.1")
      const own = HostResolver.live.hostname().split(".")[0]!
      expect(yield* HostResolver.getaddr(own)).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
    }))
})

describe("HostResolver in the node", () => {
  it.scopedLive(
    "two nodes on a machine whose name resolves nowhere reach each other, and the epmd client too",
    () =>
      Effect.gen(function*() {
        const { asked, resolver } = fake("laptop-42")
        const server = yield* Layer.build(Epmd.layerServer({ port: 0 }))
        const env = Layer.mergeAll(
          Layer.succeedContext(Context.pick(Epmd.Epmd)(server)),
          Layer.succeed(HostResolver.HostResolver, resolver),
          Transport.layerTcp
        )
        const node = (name: string) =>
          Layer.build(
            DistNode.layer({ hidden: true, name, cookie: "c" }).pipe(
              Layer.provide(env),
              Layer.provideMerge(ProcessRuntime.layer)
            )
          )
        const [a, b] = [uniqueName("a"), uniqueName("b")]
        const ctxA = yield* node(a)
        const ctxB = yield* node(b)
        // bare names are completed with the resolver's host name
        expect((yield* NetKernel.node.pipe(Effect.provide(ctxB))).name).toBe(`${b}@laptop-42`)
        yield* tsEcho.pipe(Effect.provide(ctxB))
        expect(yield* NetKernel.ping(`${b}@laptop-42`).pipe(Effect.provide(ctxA))).toBe("pong")
        const reply = yield* echoRoundTrip(`${b}@laptop-42`, "over loopback").pipe(Effect.provide(ctxA))
        expect(reply._tag).toBe("Some")
        expect(asked).toContain("laptop-42")
        // the epmd client resolves the same way
        const epmd = Context.get(server, Epmd.Epmd)
        const info = yield* epmd.portPlease("LAPTOP-42", b).pipe(
          Effect.provideService(HostResolver.HostResolver, resolver)
        )
        expect(info.name).toBe(b)
        // another unresolvable host is unreachable, with the resolver's reason
        const e = yield* Effect.flip(NetKernel.connect(`${b}@laptop-43`).pipe(Effect.provide(ctxA)))
        expect([e.reason, e.detail]).toEqual(["PeerUnreachable", `cannot resolve host "laptop-43": ENOTFOUND`])
        expect(yield* NetKernel.ping(`${b}@laptop-43`).pipe(Effect.provide(ctxA))).toBe("pang")
        const pe = yield* Effect.flip(
          epmd.portPlease("laptop-43", b).pipe(Effect.provideService(HostResolver.HostResolver, resolver))
        )
        expect([pe.reason, pe.detail]).toEqual(["Unreachable", "ENOTFOUND"])
      }),
    30_000
  )
})
