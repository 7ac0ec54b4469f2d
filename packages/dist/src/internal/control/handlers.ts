/**
 * The control messages that the process runtime does not handle by itself (spawn
 * request and reply, DOWN of monitors kept outside the process table, sends to aliases
 * kept outside it) go to handlers that services register here: `Rpc` serves
 * `spawn_request` and keeps the monitors it sets up. Registration is scoped and takes
 * any number of subscribers: closing the scope unregisters, and a second service never
 * replaces the first.
 */
import type * as Sig from "@effect-otp/process/Signal"
import type { Atom, Ref, Term } from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { SpawnReply, SpawnRequest } from "./signals.js"

/**
 * Serves a SPAWN_REQUEST from `peer`; `undefined` when this handler does not take it
 * (the next one is asked; with no taker the node replies `notsup`).
 */
export type SpawnRequestHandler = (
  peer: Atom,
  request: SpawnRequest,
  args: Term | undefined
) => Effect.Effect<void> | undefined

/** `true` when the handler took the message (later handlers are not asked). */
export type SpawnReplyHandler = (reply: SpawnReply) => boolean
/** `true` when the handler took the DOWN (it is not delivered to the process runtime). */
export type DownHandler = (down: Sig.Down) => boolean
/** `true` when the handler took the message sent to `alias` (it is not delivered to the process runtime). */
export type AliasHandler = (alias: Ref, message: Term | undefined) => boolean

/** An ordered list of handlers with scoped registration (copy on write: safe to change while walked). */
class Registry<H> {
  list: ReadonlyArray<H> = []
  register(handler: H): Effect.Effect<void, never, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.sync(() => {
        this.list = [...this.list, handler]
      }),
      () =>
        Effect.sync(() => {
          const i = this.list.indexOf(handler)
          if (i >= 0) this.list = [...this.list.slice(0, i), ...this.list.slice(i + 1)]
        })
    )
  }
}

/** The node's handler registry (one per `NetKernel`). */
export class ControlHandlers {
  private readonly spawnRequests = new Registry<SpawnRequestHandler>()
  private readonly spawnReplies = new Registry<SpawnReplyHandler>()
  private readonly downs = new Registry<DownHandler>()
  private readonly aliases = new Registry<AliasHandler>()

  /** Serve SPAWN_REQUESTs for the scope. */
  readonly spawnRequest = (handler: SpawnRequestHandler): Effect.Effect<void, never, Scope.Scope> =>
    this.spawnRequests.register(handler)
  /** Take SPAWN_REPLYs for the scope. */
  readonly spawnReply = (handler: SpawnReplyHandler): Effect.Effect<void, never, Scope.Scope> =>
    this.spawnReplies.register(handler)
  /** Offered every MONITOR_P_EXIT from a peer first, for the scope. */
  readonly down = (handler: DownHandler): Effect.Effect<void, never, Scope.Scope> => this.downs.register(handler)
  /** Offered every ALIAS_SEND from a peer first, for the scope. */
  readonly alias = (handler: AliasHandler): Effect.Effect<void, never, Scope.Scope> => this.aliases.register(handler)

  /** The first registered handler that takes the request, or `undefined`. */
  offerSpawnRequest(peer: Atom, request: SpawnRequest, args: Term | undefined): Effect.Effect<void> | undefined {
    for (const h of this.spawnRequests.list) {
      const served = h(peer, request, args)
      if (served !== undefined) return served
    }
    return undefined
  }
  offerSpawnReply(reply: SpawnReply): boolean {
    for (const h of this.spawnReplies.list) if (h(reply)) return true
    return false
  }
  offerDown(down: Sig.Down): boolean {
    for (const h of this.downs.list) if (h(down)) return true
    return false
  }
  /** No alias handlers: the common case costs one length check. */
  get hasAliasHandlers(): boolean {
    return this.aliases.list.length > 0
  }
  offerAlias(alias: Ref, message: Term | undefined): boolean {
    for (const h of this.aliases.list) if (h(alias, message)) return true
    return false
  }
}
