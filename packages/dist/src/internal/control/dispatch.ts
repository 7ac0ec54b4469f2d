/**
 * Frames from a peer, as erts' `erts_net_message`: decode the control message, turn it
 * into what it asks of this node (`Signals.toInbound`) and do it: deliver a message,
 * hand a signal to the process runtime, or offer it to the registered `ControlHandlers`.
 */
import type { ProcessRuntimeShape } from "@effect-otp/process/ProcessRuntime"
import type { RouteError } from "@effect-otp/process/Router"
import { Atom, type Pid, type Ref, type Term } from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"
import * as Control from "./codec.js"
import type { ControlHandlers } from "./handlers.js"
import * as Signals from "./signals.js"

export interface DispatchDeps {
  readonly runtime: ProcessRuntimeShape
  readonly handlers: ControlHandlers
  readonly limits: Control.FrameLimits
  /** delivers a message to a local process (with receive backpressure) */
  readonly deliver: (to: Pid | Atom | Ref, message: Term | undefined, peer: string) => Effect.Effect<void>
  readonly sendControl: (node: Atom, control: Control.ControlMessage) => Effect.Effect<void, RouteError>
}

const notsup = Atom.make("notsup")

/** The `onFrame` of a connection to `peer`. */
export const makeDispatch = (deps: DispatchDeps) => {
  const { handlers, runtime } = deps
  return (peer: Atom) => {
    const deliver = (to: Pid | Atom | Ref, message: Term | undefined): Effect.Effect<void> =>
      handlers.hasAliasHandlers && to._tag === "Ref" && handlers.offerAlias(to, message)
        ? Effect.void
        : deps.deliver(to, message, peer.name)
    return (payload: Uint8Array): Effect.Effect<void, Control.ControlError> => {
      const received = Control.decodeReceived(payload, deps.limits)
      if (received instanceof Control.ControlError) return Effect.fail(received)
      // a message (most frames): delivered with no `Frame` or `Inbound` built
      if (received.to !== undefined) return deliver(received.to, received.message)
      const { control, message } = received.frame!
      const inbound = Signals.toInbound(control, message)
      switch (inbound._tag) {
        case "Deliver":
          return deliver(inbound.to, inbound.message)
        case "Signal":
          runtime.unsafeDeliver(inbound.signal)
          return Effect.void
        case "Down":
          if (!handlers.offerDown(inbound.signal)) runtime.unsafeDeliver(inbound.signal)
          return Effect.void
        case "SpawnRequest": {
          const served = handlers.offerSpawnRequest(peer, inbound.request, inbound.args)
          if (served !== undefined) return served
          const c = inbound.request
          return Effect.ignore(deps.sendControl(peer, {
            _tag: "SpawnReply",
            reqId: c.reqId,
            to: c.from,
            flags: 0,
            result: notsup
          }))
        }
        case "SpawnReply":
          handlers.offerSpawnReply(inbound.reply)
          return Effect.void
        case "Ignore":
          return Effect.void
      }
    }
  }
}
