/**
 * The `Router` carries signals whose target lives on another node. The dist layer
 * provides one; without it the runtime uses `defaultRouter`, which behaves like an
 * Erlang node that is not alive:
 *
 * - a `Message` to `{Name, Node}` fails with `RouteError("NotAlive")` (Erlang raises
 *   `badarg`), which `Process.send` turns into a `SendError`;
 * - a `Message` to a remote pid or alias is silently dropped (as in Erlang);
 * - `Link` and `Monitor` fail with `RouteError("NoConnection")`: the runtime then gives
 *   the caller an exit signal / a `'DOWN'` with reason `noconnection`;
 * - `Exit`, `Unlink`, `UnlinkAck`, `Demonitor` and `Down` are dropped.
 *
 * A router is expected to enqueue (not to wait for the network): `route` is called from
 * the sending fiber, in signal order.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type { RemoteName, Signal } from "./Signal.js"
import { targetNode } from "./Signal.js"
import type { Atom, Pid, Ref } from "./Term.js"

/**
 * The options of `erlang:send/3` (`Process.sendWith`): `noconnect` does not set up a
 * connection that is not up (the result is then `"noconnect"`, nothing is sent);
 * `nosuspend` does not wait for a busy connection (the result is then `"nosuspend"`,
 * nothing is sent).
 *
 * @since 0.1.0
 * @category models
 */
export interface SendOptions {
  readonly noconnect?: boolean | undefined
  readonly nosuspend?: boolean | undefined
}

/**
 * What `erlang:send/3` returns: `ok` (sent, or dropped as `!` would drop it),
 * `noconnect` or `nosuspend` (not sent, see `SendOptions`).
 *
 * @since 0.1.0
 * @category models
 */
export type SendResult = "ok" | "noconnect" | "nosuspend"

/**
 * Why a signal could not be routed.
 *
 * @since 0.1.0
 * @category errors
 */
export class RouteError extends Data.TaggedError("RouteError")<{
  readonly reason: "NotAlive" | "NoConnection" | "NotEncodable"
  readonly node: Atom | undefined
  readonly detail?: string | undefined
}> {
  override get message(): string {
    switch (this.reason) {
      case "NotAlive":
        return "the local node is not alive (no distribution)"
      case "NoConnection":
        return `no connection to ${this.node?.name ?? "the node"}`
      case "NotEncodable":
        return `cannot send to ${this.node?.name ?? "another node"}: ${this.detail ?? "the value has no term form"}`
    }
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RouterShape {
  /** Sends a signal to another node. */
  readonly route: (signal: Signal) => Effect.Effect<void, RouteError>
  /**
   * Optional fast path for `route(new Message({ from, to, message }))` with a remote `to`:
   * the same effect, without allocating the signal. The runtime prefers it when present.
   */
  readonly routeSend?:
    | ((from: Pid | undefined, to: Pid | RemoteName | Ref, message: unknown) => Effect.Effect<void, RouteError>)
    | undefined
  /**
   * `erlang:send/3` to a remote `to` (see `SendOptions`). Without it, `Process.sendWith`
   * sends as `routeSend` does and answers `"ok"`.
   */
  readonly routeSendWith?:
    | ((
      from: Pid | undefined,
      to: Pid | RemoteName | Ref,
      message: unknown,
      options: SendOptions
    ) => Effect.Effect<SendResult, RouteError>)
    | undefined
  /**
   * Optional synchronous fast path of `route`: a signal for a node whose connection is up
   * (and not busy) is written at once, and the answer is `undefined`, or the `RouteError`
   * of a signal that could not be encoded (nothing written); `false` when the signal is not
   * taken (no up connection, older signals pending, or a busy one): the caller uses
   * `route`. A `Message` taken here went out as `route` (or `routeSendWith`, `noconnect`
   * or not: the connection is up) would have sent it.
   */
  readonly unsafeRoute?: ((signal: Signal) => RouteError | false | undefined) | undefined
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Router extends Context.Tag("@effect-otp/process/Router")<Router, RouterShape>() {}

const routeError = (reason: "NotAlive" | "NoConnection", signal: Signal): RouteError =>
  new RouteError({ reason, node: targetNode(signal) })

/**
 * The router of a node that is not alive (see the module doc).
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultRouter: RouterShape = {
  route: (signal) => {
    switch (signal._tag) {
      case "Message":
        return signal.to._tag === "RemoteName" ? Effect.fail(routeError("NotAlive", signal)) : Effect.void
      case "Link":
      case "Monitor":
        return Effect.fail(routeError("NoConnection", signal))
      default:
        return Effect.void
    }
  },
  // erts on a node that is not alive: a name on another node is `badarg`, a pid or alias
  // of another node would need a connection (`noconnect`), or is dropped
  routeSendWith: (_from, to, _message, options) =>
    to._tag === "RemoteName"
      ? Effect.fail(new RouteError({ reason: "NotAlive", node: to.node }))
      : Effect.succeed(options.noconnect === true ? "noconnect" : "ok")
}
