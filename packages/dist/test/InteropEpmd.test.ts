/**
 * Both epmd paths with real `erl`: the system `epmd` on 4369, and our embedded epmd on a
 * free port (started explicitly with `Epmd.layerServer`, or by `DistNode.layerDefault({ hidden: true, epmdPort })`
 * when nothing listens there) with `erl` registered on it through `ERL_EPMD_PORT`; ping
 * both ways through each.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { spawnSync } from "node:child_process"
import * as Epmd from "../src/Epmd.js"
import * as NetKernel from "../src/NetKernel.js"
import * as Transport from "../src/Transport.js"
import { erlAvailable, runErl, uniqueName } from "./helpers/erl.js"
import { expectCleanErlLog, freePort, host, nodeLayer, nodeLayerWith, startPeer } from "./helpers/tsnode.js"

const available = erlAvailable()

/** erl pings the TS node (with `env`), returns its stdout. */
const erlPings = (tsNode: string, cookie: string, env?: Record<string, string>) =>
  Effect.promise(() =>
    runErl(`io:format("ping=~p~n", [net_adm:ping('${tsNode}')]), halt().`, {
      args: ["-sname", uniqueName("e"), "-setcookie", cookie],
      ...(env !== undefined ? { env } : {})
    })
  )

describe.skipIf(!available)("Interop with real erl: epmd", () => {
  it.scopedLive("system epmd (4369): erl and TS find each other both ways", () =>
    Effect.gen(function*() {
      // the system epmd, as `erl -sname` starts it (no-op when it already runs)
      spawnSync("epmd", ["-daemon"])
      const cookie = uniqueName("c")
      const e = uniqueName("e")
      const t = uniqueName("ts")
      const erl = yield* startPeer(e, cookie)
      // the plain client on 4369: no embedded server may stand in for the system epmd here
      const ctx = yield* Layer.build(
        nodeLayerWith(t, cookie, Layer.merge(Transport.layerTcp, Epmd.layerClient({ epmdPort: 4369 })))
      )
      const names = (yield* Epmd.names("127.0.0.1", 4369)).map((n) => n.name)
      expect(names).toContain(e)
      expect(names).toContain(t)
      expect(yield* NetKernel.ping(`${e}@${host}`).pipe(Effect.provide(ctx))).toBe("pong")
      const out = yield* erlPings(`${t}@${host}`, cookie)
      expect(out.stdout).toContain("ping=pong")
      // `epmd -names` (the real client) sees our registration as well
      const listed = spawnSync("epmd", ["-names"], { encoding: "utf8" }).stdout
      expect(listed).toContain(`name ${t} at port`)
      expectCleanErlLog(erl)
    }), 30_000)

  it.scopedLive(
    "embedded epmd (Epmd.layerServer on a free port): erl registers on it, ping both ways",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const e = uniqueName("e")
        const t = uniqueName("ts")
        const ctx = yield* Layer.build(
          nodeLayerWith(t, cookie, Layer.merge(Transport.layerTcp, Epmd.layerServer({ port: 0 })))
        )
        const server = Context.get(ctx, Epmd.EpmdServer)
        expect(server.port).not.toBe(4369)
        const env = { ERL_EPMD_PORT: String(server.port) }
        const erl = yield* startPeer(e, cookie, { env })
        const registered = (yield* server.registered).map((n) => n.name).sort()
        expect(registered).toEqual([e, t].sort())
        // not on the system epmd
        const system = yield* Effect.either(Epmd.names("127.0.0.1", 4369))
        if (system._tag === "Right") expect(system.right.map((n) => n.name)).not.toContain(e)
        expect(yield* NetKernel.ping(`${e}@${host}`).pipe(Effect.provide(ctx))).toBe("pong")
        const out = yield* erlPings(`${t}@${host}`, cookie, env)
        expect(out.stdout).toContain("ping=pong")
        expectCleanErlLog(erl)
      }),
    30_000
  )

  it.scopedLive(
    "DistNode.layerDefault({ hidden: true, epmdPort }) starts an embedded epmd when nothing listens; erl uses it",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const e = uniqueName("e")
        const t = uniqueName("ts")
        const port = yield* freePort()
        expect(yield* Epmd.probe(port)).toBe(false)
        const ctx = yield* Layer.build(nodeLayer(t, cookie, { epmdPort: port }))
        expect(yield* Epmd.probe(port)).toBe(true)
        const env = { ERL_EPMD_PORT: String(port) }
        const erl = yield* startPeer(e, cookie, { env })
        const names = (yield* Epmd.names("127.0.0.1", port)).map((n) => n.name).sort()
        expect(names).toEqual([e, t].sort())
        expect(yield* NetKernel.ping(`${e}@${host}`).pipe(Effect.provide(ctx))).toBe("pong")
        const out = yield* erlPings(`${t}@${host}`, cookie, env)
        expect(out.stdout).toContain("ping=pong")
        expectCleanErlLog(erl)
      }),
    30_000
  )
})
