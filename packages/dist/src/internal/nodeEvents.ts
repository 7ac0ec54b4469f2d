/**
 * Node events: nodeup and nodedown as a `PubSub` (the `Stream` API), as messages to the
 * processes that called `net_kernel:monitor_nodes/2`, and as the `{nodedown, Node}` of
 * `erlang:monitor_node/2`.
 */
import type { ProcessRuntimeShape } from "@effect-otp/process/ProcessRuntime"
import { Atom, equals, map as termMap, type Pid, type Term, TermMap, Tuple, tuple } from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as PubSub from "effect/PubSub"
import type { MonitorNodesOptions } from "../NetKernel.js"

export interface NodeEvent {
  readonly _tag: "nodeup" | "nodedown"
  readonly node: Atom
  readonly hidden: boolean
  /** the connection's id, as `#{connection_id => true}` gives it in OTP 25 (unique per connection) */
  readonly connectionId: number
  readonly reason?: string | undefined
}

/**
 * `net_kernel:monitor_nodes(true, Options)`: which nodes are reported and what the info
 * of each message holds. `hidden` is the list form's `{node_type, all}`.
 */
export type SubscribeOptions = MonitorNodesOptions

/** A subscription, as OTP keeps it: which nodes, and which info items. */
interface Subscription {
  readonly visible: boolean
  readonly hidden: boolean
  /** `{node_type, T}` in the info */
  readonly nodeType: boolean
  readonly connectionId: boolean
  readonly reason: boolean
  readonly map: boolean
  /** list form with no option: `{nodeup, Node}`, no info */
  readonly bare: boolean
}

const subscription = (o: SubscribeOptions | undefined): Subscription => {
  const type = o?.nodeType ?? (o?.hidden === true ? "all" : undefined)
  const connectionId = o?.connectionId === true
  const reason = o?.nodedownReason === true
  const map = o?.format === "map"
  return {
    visible: type !== "hidden",
    hidden: type === "hidden" || type === "all",
    nodeType: type !== undefined,
    connectionId,
    reason,
    map,
    bare: !map && type === undefined && !connectionId && !reason
  }
}

const A = {
  nodeup: Atom.make("nodeup"),
  nodedown: Atom.make("nodedown"),
  nodedown_reason: Atom.make("nodedown_reason"),
  node_type: Atom.make("node_type"),
  connection_id: Atom.make("connection_id"),
  visible: Atom.make("visible"),
  hidden: Atom.make("hidden")
} as const

/** The message a subscription gets for an event, as erl sends it. */
export const eventMessage = (event: NodeEvent, options: SubscribeOptions | undefined): Term =>
  messageFor(event, subscription(options))

const messageFor = (event: NodeEvent, sub: Subscription): Term => {
  const tag = event._tag === "nodeup" ? A.nodeup : A.nodedown
  if (sub.bare) return tuple(tag, event.node)
  // OTP's order: connection_id, nodedown_reason, node_type
  const info: Array<readonly [Atom, Term]> = []
  if (sub.connectionId) info.push([A.connection_id, event.connectionId])
  if (sub.reason && event._tag === "nodedown") {
    info.push([A.nodedown_reason, Atom.make(event.reason ?? "connection_closed")])
  }
  if (sub.nodeType) info.push([A.node_type, event.hidden ? A.hidden : A.visible])
  return tuple(tag, event.node, sub.map ? termMap(info) : info.map(([k, v]) => tuple(k, v)))
}

export class NodeEvents {
  /** each `monitor_nodes` call is a subscription of its own, as in OTP (a process may hold several) */
  private readonly subscribers = new Set<{ readonly pid: Pid; readonly sub: Subscription }>()
  private readonly nodeMonitors = new Map<string, Array<Pid>>()

  constructor(
    readonly pubsub: PubSub.PubSub<NodeEvent>,
    private readonly runtime: ProcessRuntimeShape
  ) {}

  static make = (runtime: ProcessRuntimeShape): Effect.Effect<NodeEvents> =>
    Effect.map(PubSub.unbounded<NodeEvent>(), (pubsub) => new NodeEvents(pubsub, runtime))

  /** a subscription or node monitor ends with its process */
  private gone(pid: Pid): boolean {
    return this.runtime.isLocal(pid) && !this.runtime.unsafeIsAlive(pid)
  }

  /** `net_kernel:monitor_nodes(true, Options)` for `pid`; the returned function cancels. */
  subscribe(pid: Pid, options?: SubscribeOptions): () => void {
    const entry = { pid, sub: subscription(options) }
    this.subscribers.add(entry)
    return () => {
      this.subscribers.delete(entry)
    }
  }

  /** `erlang:monitor_node(Node, true)` for `pid` on an up connection. */
  monitorNode(pid: Pid, node: Atom): void {
    // watchers that died since are dropped here, so the list of a long-lived node stays bounded
    const list = (this.nodeMonitors.get(node.name) ?? []).filter((w) => !this.gone(w))
    list.push(pid)
    this.nodeMonitors.set(node.name, list)
  }

  /** `erlang:monitor_node(Node, false)`: one monitor of `pid` on `node` fewer (none left: nothing happens). */
  demonitorNode(pid: Pid, node: Atom): void {
    const list = this.nodeMonitors.get(node.name)
    if (list === undefined) return
    const i = list.findIndex((w) => equals(w, pid))
    if (i < 0) return
    list.splice(i, 1)
    if (list.length === 0) this.nodeMonitors.delete(node.name)
  }

  /** `{nodedown, Node}` to `pid` (a monitor_node on a node that cannot be reached). */
  nodedownNow(pid: Pid, node: Atom): void {
    this.runtime.unsafeSend(pid, tuple(A.nodedown, node))
  }

  publish(event: NodeEvent): void {
    Effect.runSync(PubSub.publish(this.pubsub, event))
    for (const entry of this.subscribers) {
      const { pid, sub } = entry
      if (this.gone(pid)) {
        this.subscribers.delete(entry)
        continue
      }
      if (event.hidden ? !sub.hidden : !sub.visible) continue
      this.runtime.unsafeSend(pid, messageFor(event, sub))
    }
    if (event._tag === "nodedown") {
      const watchers = this.nodeMonitors.get(event.node.name)
      if (watchers !== undefined) {
        this.nodeMonitors.delete(event.node.name)
        for (const pid of watchers) if (!this.gone(pid)) this.nodedownNow(pid, event.node)
      }
    }
  }
}

// ---------------------------------------------------------------------------
// net_kernel:monitor_nodes/2's options as erl writes them
// ---------------------------------------------------------------------------

const O = {
  connection_id: Atom.make("connection_id"),
  nodedown_reason: Atom.make("nodedown_reason"),
  node_type: Atom.make("node_type"),
  all: Atom.make("all"),
  true: Atom.make("true"),
  false: Atom.make("false"),
  unknown_options: Atom.make("unknown_options"),
  bad_option_value: Atom.make("bad_option_value"),
  invalid_options: Atom.make("invalid_options")
} as const

const nodeTypes = new Map<Atom, "visible" | "hidden" | "all">([
  [A.visible, "visible"],
  [A.hidden, "hidden"],
  [O.all, "all"]
])

/**
 * A map (`#{connection_id => true, node_type => all, nodedown_reason => true}`) or a
 * list (`[connection_id, nodedown_reason, {node_type, all}]`), as `monitor_nodes/2`
 * takes them; the error is the `Reason` of its `{error, Reason}`, as erl gives it (bad
 * values before unknown options; unknown list items last first).
 */
export const fromErlangOptions = (options: Term): Either.Either<SubscribeOptions, Term> => {
  if (options instanceof TermMap) {
    const bad: Array<readonly [Term, Term]> = []
    const unknown: Array<readonly [Term, Term]> = []
    const out: { -readonly [K in keyof SubscribeOptions]: SubscribeOptions[K] } = { format: "map" }
    for (const [k, v] of options.entries) {
      if (k === O.connection_id || k === O.nodedown_reason) {
        if (v !== O.true && v !== O.false) bad.push([k, v])
        else if (k === O.connection_id) out.connectionId = v === O.true
        else out.nodedownReason = v === O.true
      } else if (k === O.node_type) {
        const type = v instanceof Atom ? nodeTypes.get(v) : undefined
        if (type === undefined) bad.push([k, v])
        else out.nodeType = type
      } else unknown.push([k, v])
    }
    if (bad.length > 0) return Either.left(tuple(O.bad_option_value, termMap(bad)))
    if (unknown.length > 0) return Either.left(tuple(O.unknown_options, termMap(unknown)))
    return Either.right(out)
  }
  if (!Array.isArray(options)) return Either.left(tuple(O.invalid_options, options))
  const out: { -readonly [K in keyof SubscribeOptions]: SubscribeOptions[K] } = { format: "list" }
  const unknown: Array<Term> = []
  for (const item of options as ReadonlyArray<Term>) {
    if (item === O.connection_id) out.connectionId = true
    else if (item === O.nodedown_reason) out.nodedownReason = true
    else if (item instanceof Tuple && item.elements.length === 2 && item.elements[0] === O.node_type) {
      const v = item.elements[1]!
      const type = v instanceof Atom ? nodeTypes.get(v) : undefined
      if (type === undefined) return Either.left(tuple(O.bad_option_value, item))
      out.nodeType = type
    } else unknown.unshift(item)
  }
  if (unknown.length > 0) return Either.left(tuple(O.unknown_options, unknown))
  return Either.right(out)
}
