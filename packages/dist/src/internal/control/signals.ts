/**
 * Signal ↔ control message, the job of erts' `dist.c`: which control message carries a
 * local signal to a peer (given the flags it negotiated), and which local signal a
 * control message from a peer becomes. Pure: no state, no Effect.
 */
import * as Sig from "@effect-otp/process/Signal"
import type { Atom, Pid, Ref, Term } from "@effect-otp/process/Term"
import * as Flags from "../../Flags.js"
import type { ControlMessage } from "./codec.js"

/**
 * The control message of a plain send (SEND_SENDER when the peer takes it), of a send to
 * a registered name (REG_SEND), or of a send to an alias (ALIAS_SEND; `undefined` when the
 * peer lacks DFLAG_ALIAS: erts then drops the message). `anonymous` stands in for a
 * missing sender where the control message needs one (erts uses the node's `net_kernel`).
 */
export const messageControl = (
  from: Pid | undefined,
  to: Sig.Destination,
  flags: bigint,
  anonymous: Pid
): ControlMessage | undefined =>
  to._tag === "Pid"
    ? from !== undefined && (flags & Flags.DFLAG_SEND_SENDER) !== 0n
      ? { _tag: "SendSender", from, to }
      : { _tag: "Send", to }
    : to._tag === "Ref"
    ? (flags & Flags.DFLAG_ALIAS) !== 0n ? { _tag: "AliasSend", from: from ?? anonymous, alias: to } : undefined
    : { _tag: "RegSend", from: from ?? anonymous, toName: to._tag === "RemoteName" ? to.name : to }

/**
 * The control message (and its payload term, for the "+M" ops) that carries `signal` to
 * a peer with `flags`; `undefined` control when nothing goes on the wire (an
 * `UNLINK_ID_ACK` for the old unlink protocol, an alias send the peer cannot take).
 */
export const fromSignal = (
  signal: Sig.Signal,
  flags: bigint,
  anonymous: Pid
): readonly [ControlMessage | undefined, Term | undefined] => {
  const payload = (flags & Flags.DFLAG_EXIT_PAYLOAD) !== 0n
  switch (signal._tag) {
    case "Message":
      return [messageControl(signal.from, signal.to, flags, anonymous), signal.message as Term]
    case "Link":
      return [{ _tag: "Link", from: signal.from, to: signal.to }, undefined]
    case "Unlink":
      return (flags & Flags.DFLAG_UNLINK_ID) !== 0n
        ? [{ _tag: "UnlinkId", id: signal.id, from: signal.from, to: signal.to }, undefined]
        : [{ _tag: "Unlink", from: signal.from, to: signal.to }, undefined]
    case "UnlinkAck":
      return signal.id === 0n
        ? [undefined, undefined]
        : [{ _tag: "UnlinkIdAck", id: signal.id, from: signal.from, to: signal.to }, undefined]
    case "Exit":
      if (signal.kind === "link") {
        return payload
          ? [{ _tag: "PayloadExit", from: signal.from, to: signal.to }, signal.reason]
          : [{ _tag: "Exit", from: signal.from, to: signal.to, reason: signal.reason }, undefined]
      }
      return payload
        ? [{ _tag: "PayloadExit2", from: signal.from, to: signal.to }, signal.reason]
        : [{ _tag: "Exit2", from: signal.from, to: signal.to, reason: signal.reason }, undefined]
    case "Monitor":
      return [{ _tag: "MonitorP", from: signal.from, to: remoteTarget(signal.to), ref: signal.ref }, undefined]
    case "Demonitor":
      return [{ _tag: "DemonitorP", from: signal.from, to: remoteTarget(signal.to), ref: signal.ref }, undefined]
    case "Down":
      return payload
        ? [{ _tag: "PayloadMonitorPExit", from: signal.from, to: signal.to, ref: signal.ref }, signal.reason]
        : [
          { _tag: "MonitorPExit", from: signal.from, to: signal.to, ref: signal.ref, reason: signal.reason },
          undefined
        ]
  }
}

const remoteTarget = (to: Pid | Atom | Sig.RemoteName): Pid | Atom => to._tag === "RemoteName" ? to.name : to

/** The control messages of a spawn request and of its reply (handled by `ControlHandlers`). */
export type SpawnRequest = Extract<ControlMessage, { _tag: "SpawnRequest" | "SpawnRequestTT" }>
export type SpawnReply = Extract<ControlMessage, { _tag: "SpawnReply" | "SpawnReplyTT" }>

/** What a control message from a peer asks of this node. */
export type Inbound =
  /** a message to a local pid, registered name or alias (delivered as erts delivers: see `toInbound`) */
  | { readonly _tag: "Deliver"; readonly to: Pid | Atom | Ref; readonly message: Term | undefined }
  /** a signal for the process runtime */
  | { readonly _tag: "Signal"; readonly signal: Sig.Signal }
  /** a DOWN, first offered to the `ControlHandlers` (monitors set up by `spawn_request`) */
  | { readonly _tag: "Down"; readonly signal: Sig.Down }
  | { readonly _tag: "SpawnRequest"; readonly request: SpawnRequest; readonly args: Term | undefined }
  | { readonly _tag: "SpawnReply"; readonly reply: SpawnReply }
  /** GROUP_LEADER and NODE_LINK: nothing to do */
  | { readonly _tag: "Ignore" }

const IGNORE: Inbound = { _tag: "Ignore" }

/** What the control message `c` (with its payload term `message`) from a peer asks of this node. */
export const toInbound = (c: ControlMessage, message: Term | undefined): Inbound => {
  switch (c._tag) {
    case "Send":
    case "SendTT":
    case "SendSender":
    case "SendSenderTT":
      return { _tag: "Deliver", to: c.to, message }
    case "RegSend":
    case "RegSendTT":
      return { _tag: "Deliver", to: c.toName, message }
    case "AliasSend":
    case "AliasSendTT":
      return { _tag: "Deliver", to: c.alias, message }
    case "Link":
      return signal(new Sig.Link({ from: c.from, to: c.to }))
    case "Unlink":
      return signal(new Sig.Unlink({ from: c.from, to: c.to, id: 0n }))
    case "UnlinkId":
      return signal(new Sig.Unlink({ from: c.from, to: c.to, id: BigInt(c.id) }))
    case "UnlinkIdAck":
      return signal(new Sig.UnlinkAck({ from: c.from, to: c.to, id: BigInt(c.id) }))
    case "Exit":
    case "ExitTT":
    case "Exit2":
    case "Exit2TT":
      return signal(new Sig.Exit({ from: c.from, to: c.to, reason: c.reason, kind: exitKind(c._tag) }))
    case "PayloadExit":
    case "PayloadExitTT":
    case "PayloadExit2":
    case "PayloadExit2TT":
      return signal(new Sig.Exit({ from: c.from, to: c.to, reason: message!, kind: exitKind(c._tag) }))
    case "MonitorP":
      return signal(new Sig.Monitor({ from: c.from, to: c.to, ref: c.ref }))
    case "DemonitorP":
      return signal(new Sig.Demonitor({ from: c.from, to: c.to, ref: c.ref }))
    case "MonitorPExit":
      return { _tag: "Down", signal: new Sig.Down({ from: c.from, to: c.to, ref: c.ref, reason: c.reason }) }
    case "PayloadMonitorPExit":
      return { _tag: "Down", signal: new Sig.Down({ from: c.from, to: c.to, ref: c.ref, reason: message! }) }
    case "SpawnRequest":
    case "SpawnRequestTT":
      return { _tag: "SpawnRequest", request: c, args: message }
    case "SpawnReply":
    case "SpawnReplyTT":
      return { _tag: "SpawnReply", reply: c }
    case "GroupLeader":
    case "NodeLink":
      return IGNORE
  }
}

const signal = (s: Sig.Signal): Inbound => ({ _tag: "Signal", signal: s })

/** EXIT (a link broke) or EXIT2 (`exit/2`), with or without the payload and trace token. */
const exitKind = (tag: string): "link" | "exit2" => tag.includes("Exit2") ? "exit2" : "link"
