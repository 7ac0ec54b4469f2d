/**
 * Connection setup, as `inet_tcp_dist:setup/5`: resolve the peer's host
 * (`erl_epmd:address_please`), ask its EPMD for the port (`port_please`), connect on that
 * address and run our side of the handshake. What to do with the result (the connection
 * table, the simultaneous-connect rule) is the net_kernel's business.
 */
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { EpmdService } from "../../Epmd.js"
import * as Handshake from "../../Handshake.js"
import type { Carrier, Transport } from "../../Transport.js"
import type { HandshakeError, HandshakeResult } from "../handshake/machine.js"
import * as HostResolver from "../hostResolver.js"

/** Why `connect` failed. */
export class ConnectError extends Data.TaggedError("ConnectError")<{
  readonly node: string
  readonly reason:
    | "PeerUnreachable"
    | "Handshake"
    | "NotAllowed"
    | "Timeout"
    | "SimultaneousLost"
    | "Closed"
    | "BadNodeName"
  readonly detail?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    return `cannot connect to ${this.node}: ${this.reason}${this.detail ? ` (${this.detail})` : ""}`
  }
}

/** A handshake failure as the `ConnectError` of `connect`. */
export const connectionFailed = (node: string, e: HandshakeError | ConnectError): ConnectError =>
  e._tag === "ConnectError" ? e : new ConnectError({
    node,
    reason: e.reason === "NotAllowed" || e.reason === "MissingFlags"
      ? "NotAllowed"
      : e.reason === "Nok"
      ? "SimultaneousLost"
      : e.reason === "HandshakeTimeout"
      ? "Timeout"
      : "Handshake",
    detail: e.message,
    cause: e
  })

/** What setup needs of the node. */
export interface SetupOptions {
  readonly thisNode: string
  readonly cookie: Redacted.Redacted<string>
  readonly creation: number
  readonly hidden: boolean
  readonly setupTime: Duration.Duration
  readonly flags: bigint
  readonly transport: Transport["Type"]
  readonly epmd: EpmdService
  readonly resolver: HostResolver.HostResolverService
}

/**
 * Our side of a connection to `name` (`alive@host`): the carrier lives in the scope
 * (closing it drops the connection).
 */
export const setup = (
  name: string,
  options: SetupOptions
): Effect.Effect<
  { readonly carrier: Carrier; readonly result: HandshakeResult },
  ConnectError | HandshakeError,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const at = name.indexOf("@")
    const alive = name.slice(0, at)
    const host = name.slice(at + 1)
    const unreachable = (e: { readonly message: string }) =>
      new ConnectError({ node: name, reason: "PeerUnreachable", detail: e.message })
    const ip = yield* Effect.mapError(HostResolver.getaddr(host, options.resolver), unreachable)
    const info = yield* Effect.mapError(options.epmd.portPlease(ip, alive), unreachable)
    if (info.highestVersion < 6) {
      return yield* new ConnectError({ node: name, reason: "NotAllowed", detail: "peer lacks protocol 6" })
    }
    const carrier = yield* Effect.mapError(options.transport.connect({ host, ip, port: info.port }), unreachable)
    const result = yield* Handshake.initiate(carrier, {
      thisNode: options.thisNode,
      cookie: options.cookie,
      creation: options.creation,
      hidden: options.hidden,
      setupTime: options.setupTime,
      flags: options.flags,
      peer: name,
      onAlive: () => Effect.succeed(true)
    })
    return { carrier, result }
  })
