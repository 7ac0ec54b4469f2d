/**
 * An in-memory epmd for nodes in one JS process: one registry of `alive@host` names,
 * and a client per host (a node registers with the epmd of its own host, and looks up
 * other nodes on theirs), with epmd's rules: a name is registered once, it is dropped
 * when the registering scope closes, and each registration gets a new creation.
 * No sockets, no clock.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import type * as Scope from "effect/Scope"
import type { EpmdService, NameEntry, NodeInfo, Registration } from "../../Epmd.js"
import { EpmdError } from "./error.js"

interface Entry {
  readonly port: number
  readonly hidden: boolean
  readonly extra: Uint8Array
  readonly creation: number
  readonly closed: Deferred.Deferred<void>
}

/** (internal) */
export interface MemoryEpmd {
  /** the epmd of `host`, as the nodes on that host (and their peers) see it */
  readonly client: (host: string) => EpmdService
  /** drops a registration at once (the registering node died), as when its ALIVE2 socket closes */
  readonly unsafeDrop: (host: string, alive: string) => void
}

/** (internal) */
export const make = (): MemoryEpmd => {
  const hosts = new Map<string, Map<string, Entry>>()
  let creations = 0

  const namesOf = (host: string): Map<string, Entry> => {
    let m = hosts.get(host)
    if (m === undefined) hosts.set(host, m = new Map())
    return m
  }

  const unsafeDrop = (host: string, alive: string): void => {
    const names = hosts.get(host)
    const entry = names?.get(alive)
    if (entry === undefined) return
    names!.delete(alive)
    Deferred.unsafeDone(entry.closed, Effect.void)
  }

  const client = (home: string): EpmdService => ({
    register: (options): Effect.Effect<Registration, EpmdError, Scope.Scope> =>
      Effect.acquireRelease(
        Effect.suspend(() => {
          const names = namesOf(home)
          if (names.has(options.name)) {
            return Effect.fail(
              new EpmdError({ reason: "NameInUse", operation: "register", host: home, name: options.name })
            )
          }
          // epmd's creation: a new one for every registration, never 0 (OTP 23+ has 32-bit creations)
          const entry: Entry = {
            port: options.port,
            hidden: options.hidden === true,
            extra: options.extra ?? new Uint8Array(0),
            creation: ++creations,
            closed: Deferred.unsafeMake<void>(FiberId.none)
          }
          names.set(options.name, entry)
          return Effect.succeed({ entry, name: options.name })
        }),
        ({ entry, name }) =>
          Effect.sync(() => {
            if (hosts.get(home)?.get(name) === entry) unsafeDrop(home, name)
          })
      ).pipe(Effect.map(({ entry, name }): Registration => ({
        name,
        port: entry.port,
        creation: entry.creation,
        closed: Deferred.await(entry.closed)
      }))),
    portPlease: (host, name) =>
      Effect.suspend(() => {
        const at = name.indexOf("@")
        const alive = at === -1 ? name : name.slice(0, at)
        const names = hosts.get(host)
        if (names === undefined) {
          return Effect.fail(new EpmdError({ reason: "Unreachable", operation: "portPlease", host, name: alive }))
        }
        const entry = names.get(alive)
        if (entry === undefined) {
          return Effect.fail(new EpmdError({ reason: "NotFound", operation: "portPlease", host, name: alive }))
        }
        return Effect.succeed<NodeInfo>({
          name: alive,
          port: entry.port,
          nodeType: entry.hidden ? 72 : 77,
          hidden: entry.hidden,
          protocol: 0,
          highestVersion: 6,
          lowestVersion: 6,
          extra: entry.extra
        })
      }),
    names: (host = home) =>
      Effect.suspend(() => {
        const names = hosts.get(host)
        if (names === undefined) return Effect.fail(new EpmdError({ reason: "Unreachable", operation: "names", host }))
        return Effect.succeed<ReadonlyArray<NameEntry>>([...names].map(([name, e]) => ({ name, port: e.port })))
      })
  })

  return { client, unsafeDrop }
}
