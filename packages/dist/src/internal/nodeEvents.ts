/**
 * Node events: nodeup and nodedown as a `PubSub` (the `Stream` API), as messages to the
 * processes that called `net_kernel:monitor_nodes/2`, and as the `{nodedown, Node}` of
 * `erlang:monitor_node/2`.
 */
import type { ProcessRuntimeShape } from "@effect-otp/process/ProcessRuntime"
import { Atom, type Pid, type Term, tuple } from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"

export interface NodeEvent {
  readonly _tag: "nodeup" | "nodedown"
  readonly node: Atom
  readonly hidden: boolean
  readonly reason?: string | undefined
}

export interface SubscribeOptions {
  readonly hidden?: boolean | undefined
  readonly nodedownReason?: boolean | undefined
}

const A = {
  nodeup: Atom.make("nodeup"),
  nodedown: Atom.make("nodedown"),
  nodedown_reason: Atom.make("nodedown_reason"),
  node_type: Atom.make("node_type"),
  visible: Atom.make("visible"),
  hidden: Atom.make("hidden")
} as const

export class NodeEvents {
  private readonly subscribers = new Map<Pid, { readonly hidden: boolean; readonly reason: boolean }>()
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
    this.subscribers.set(pid, { hidden: options?.hidden === true, reason: options?.nodedownReason === true })
    return () => {
      this.subscribers.delete(pid)
    }
  }

  /** `erlang:monitor_node(Node, true)` for `pid` on an up connection. */
  monitorNode(pid: Pid, node: Atom): void {
    // watchers that died since are dropped here, so the list of a long-lived node stays bounded
    const list = (this.nodeMonitors.get(node.name) ?? []).filter((w) => !this.gone(w))
    list.push(pid)
    this.nodeMonitors.set(node.name, list)
  }

  /** `{nodedown, Node}` to `pid` (a monitor_node on a node that cannot be reached). */
  nodedownNow(pid: Pid, node: Atom): void {
    this.runtime.unsafeSend(pid, tuple(A.nodedown, node))
  }

  publish(event: NodeEvent): void {
    Effect.runSync(PubSub.publish(this.pubsub, event))
    for (const [pid, sub] of this.subscribers) {
      if (this.gone(pid)) {
        this.subscribers.delete(pid)
        continue
      }
      if (event.hidden && !sub.hidden) continue
      // OTP's order: [{nodedown_reason, R}, {node_type, T}]
      const info: Array<Term> = []
      if (sub.reason && event._tag === "nodedown") {
        info.push(tuple(A.nodedown_reason, Atom.make(event.reason ?? "connection_closed")))
      }
      if (sub.hidden) info.push(tuple(A.node_type, event.hidden ? A.hidden : A.visible))
      const tag = event._tag === "nodeup" ? A.nodeup : A.nodedown
      this.runtime.unsafeSend(pid, sub.hidden || sub.reason ? tuple(tag, event.node, info) : tuple(tag, event.node))
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
