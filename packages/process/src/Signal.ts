/**
 * The signals processes exchange, as a tagged union. Between two local processes the
 * runtime applies them directly (a local message is never wrapped in a `Message`); they
 * are materialised only when a signal leaves the node (through the `Router`) or arrives
 * from it (`ProcessRuntime.deliver`).
 *
 * Messages are plain JS values (`unknown`): a value is encoded as a term only when it
 * crosses the wire.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Types from "effect/Types"
import type { Atom, Pid, Ref, Term } from "./Term.js"

/**
 * A registered name on a given node: Erlang's `{Name, Node}`.
 *
 * @since 0.1.0
 * @category models
 */
export class RemoteName extends Data.TaggedClass("RemoteName")<{
  readonly name: Atom
  readonly node: Atom
}> {}

/**
 * Where a message can go: a pid, a local registered name, `{Name, Node}`, or a process
 * alias (a `Ref`, see `Process.alias`; a message to an inactive alias is dropped).
 *
 * @since 0.1.0
 * @category models
 */
export type Destination = Pid | Atom | RemoteName | Ref

/**
 * The hot signals (a remote call builds a `Monitor`, a `Message` and a `Demonitor`) set
 * their fields one by one after `super(fieldsSetBelow)`: `Data.Class`'s constructor copies
 * its argument with `Object.assign`, ~150 ns more per signal. The class, `_tag`,
 * `Equal`/`Hash` (structural, key order free) and `instanceof` are unchanged.
 */
const fieldsSetBelow: any = undefined

/**
 * `to ! message`. `from` is the sender when known (the dist layer may use SEND_SENDER).
 * `to` is an `Atom` for a registered name on the receiving node, a `RemoteName`
 * when the router must pick the node, or a `Ref` for a process alias (ALIAS_SEND).
 *
 * @since 0.1.0
 * @category models
 */
export class Message extends Data.TaggedClass("Message")<{
  readonly from: Pid | undefined
  readonly to: Destination
  readonly message: unknown
}> {
  constructor(args: {
    readonly from: Pid | undefined
    readonly to: Destination
    readonly message: unknown
  }) {
    super(fieldsSetBelow)
    const self = this as Types.Mutable<Message>
    self.from = args.from
    self.to = args.to
    self.message = args.message
  }
}

/**
 * `link(to)` from `from`.
 *
 * @since 0.1.0
 * @category models
 */
export class Link extends Data.TaggedClass("Link")<{
  readonly from: Pid
  readonly to: Pid
}> {}

/**
 * `unlink(to)` from `from` (OTP 26 unlink protocol: the peer answers `UnlinkAck` with the same id).
 * Locally an unlink is immediate.
 *
 * @since 0.1.0
 * @category models
 */
export class Unlink extends Data.TaggedClass("Unlink")<{
  readonly from: Pid
  readonly to: Pid
  readonly id: bigint
}> {}

/**
 * The answer to `Unlink`.
 *
 * @since 0.1.0
 * @category models
 */
export class UnlinkAck extends Data.TaggedClass("UnlinkAck")<{
  readonly from: Pid
  readonly to: Pid
  readonly id: bigint
}> {}

/**
 * An exit signal: `kind: "link"` when a linked process died (reason is its exit reason),
 * `kind: "exit2"` for `exit(To, Reason)`.
 *
 * @since 0.1.0
 * @category models
 */
export class Exit extends Data.TaggedClass("Exit")<{
  readonly from: Pid
  readonly to: Pid
  readonly reason: Term
  readonly kind: "link" | "exit2"
}> {}

/** The fields of `Monitor` and `Demonitor`. */
interface MonitorFields {
  readonly from: Pid
  readonly to: Pid | Atom | RemoteName
  readonly ref: Ref
}

/** Sets `Monitor`'s or `Demonitor`'s fields one by one (see `fieldsSetBelow`). */
const setMonitorFields = (self: Types.Mutable<MonitorFields>, args: MonitorFields): void => {
  self.from = args.from
  self.to = args.to
  self.ref = args.ref
}

/**
 * `monitor(process, to)`. `to` is an `Atom` for a registered name on the receiving node,
 * or a `RemoteName` on the way out (the router picks the node from it).
 *
 * @since 0.1.0
 * @category models
 */
export class Monitor extends Data.TaggedClass("Monitor")<MonitorFields> {
  constructor(args: MonitorFields) {
    super(fieldsSetBelow)
    setMonitorFields(this, args)
  }
}

/**
 * `demonitor(ref)`, sent by the watcher `from` to the monitored process.
 *
 * @since 0.1.0
 * @category models
 */
export class Demonitor extends Data.TaggedClass("Demonitor")<MonitorFields> {
  constructor(args: MonitorFields) {
    super(fieldsSetBelow)
    setMonitorFields(this, args)
  }
}

/**
 * The monitored process (a pid, or the registered name it was monitored by) went down;
 * `to` is the watcher.
 *
 * @since 0.1.0
 * @category models
 */
export class Down extends Data.TaggedClass("Down")<{
  readonly from: Pid | Atom
  readonly to: Pid
  readonly ref: Ref
  readonly reason: Term
}> {
  constructor(args: {
    readonly from: Pid | Atom
    readonly to: Pid
    readonly ref: Ref
    readonly reason: Term
  }) {
    super(fieldsSetBelow)
    const self = this as Types.Mutable<Down>
    self.from = args.from
    self.to = args.to
    self.ref = args.ref
    self.reason = args.reason
  }
}

/**
 * Every signal.
 *
 * @since 0.1.0
 * @category models
 */
export type Signal = Message | Link | Unlink | UnlinkAck | Exit | Monitor | Demonitor | Down

/**
 * The node a signal is addressed to, when the destination names one (`undefined` for a
 * bare local name).
 *
 * @since 0.1.0
 * @category getters
 */
export const targetNode = (signal: Signal): Atom | undefined => {
  const to = signal.to
  if (to._tag === "Pid") return to.node
  if (to._tag === "RemoteName" || to._tag === "Ref") return to.node
  return undefined
}
