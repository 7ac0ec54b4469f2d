/**
 * A defect inside the embedded EPMD's socket callbacks (here: the NAMES reply encoder
 * made to throw) closes that client's socket and is logged; it never escapes to the
 * process, and every other client and registration is untouched.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { vi } from "vitest"
import * as Epmd from "../src/Epmd.js"
import type * as Packets from "../src/internal/epmd/packets.js"
import { uniqueName } from "./helpers/erl.js"
import { rawConnectScoped } from "./helpers/hostile.js"
import { collectLogs } from "./helpers/tsnode.js"

vi.mock("../src/internal/epmd/packets.js", async (importOriginal) => {
  const original = await importOriginal<typeof Packets>()
  return {
    ...original,
    encodeNamesResp: () => {
      throw new Error("boom in the NAMES encoder")
    }
  }
})

describe("embedded EPMD: a defect in a socket callback", () => {
  it.scopedLive("closes that client alone and is logged", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const server = yield* Epmd.serve({ port: 0, host: "127.0.0.1" }).pipe(Effect.provide(collectLogs(logs)))
      const name = uniqueName("r")
      yield* Epmd.register({ name, port: 40600, epmdPort: server.port })
      const bystander = yield* rawConnectScoped(server.port)
      const victim = yield* rawConnectScoped(server.port)
      victim.socket.write(Uint8Array.of(0, 1, 110)) // NAMES_REQ
      yield* Effect.promise(() => victim.closedAt)
      expect(victim.received().length).toBe(0)
      expect(logs.some((l) => l.includes("defect in its data handler") && l.includes("boom in the NAMES encoder")))
        .toBe(true)
      // everything else still works
      expect(bystander.socket.destroyed).toBe(false)
      expect((yield* Epmd.portPlease("127.0.0.1", name, server.port)).port).toBe(40600)
      expect((yield* server.registered).map((n) => n.name)).toEqual([name])
    }))
})
