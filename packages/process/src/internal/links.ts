/**
 * Links, local and remote. A local link is one entry in each process's `links` set.
 * A link to another node's process follows erl_dist_protocol's "Link Protocol": each side
 * keeps link info (the pid and the id of an outstanding unlink), `LINK`, `UNLINK_ID` /
 * `UNLINK_ID_ACK`, and a link `EXIT` that acts only on an active link.
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Sig from "../Signal.js"
import { atoms } from "../Term.js"
import type { Atom, Pid, Term } from "../Term.js"
import { exitSignal } from "./exits.js"
import type { ProcessImpl } from "./processTable.js"
import { samePid } from "./processTable.js"
import type { RuntimeImpl } from "./runtime.js"

/**
 * Process-local information about a link to a process on another node: the pid, and the
 * id of an outstanding unlink (`0n` while the link is active).
 * @internal
 */
export interface RemoteLink {
  readonly pid: Pid
  unlinking: bigint
}

/** @internal */
export const pidKey = (p: Pid): string => `${p.node.name}/${p.creation}/${p.id}/${p.serial}`

/** Links two local processes (both must be alive). @internal */
export const linkLocal = (a: ProcessImpl, b: ProcessImpl): void => {
  ;(a.links ??= new Set()).add(b)
  ;(b.links ??= new Set()).add(a)
}

/**
 * erlang:link/1 from `p`: a dead local pid gives an exit signal `noproc`; a remote link
 * that cannot be routed gives `noconnection`.
 * @internal
 */
export const link = (rt: RuntimeImpl, p: ProcessImpl, to: Pid): Effect.Effect<void> => {
  if (samePid(p.pid, to)) return Effect.void
  if (rt.isLocal(to)) {
    const t = rt.lookup(to)
    if (t === undefined || t.dead) exitSignal(p, to, atoms.noproc, "link")
    else linkLocal(p, t)
    return Effect.void
  }
  const key = pidKey(to)
  const existing = p.remoteLinks?.get(key)
  if (existing !== undefined && existing.unlinking === 0n) return Effect.void
  // a LINK sent: the link is active again, the outcome of an outstanding unlink is ignored
  if (existing !== undefined) existing.unlinking = 0n
  else (p.remoteLinks ??= new Map()).set(key, { pid: to, unlinking: 0n })
  rt.remoteRelated.add(p)
  return Effect.catchAll(rt.router.route(new Sig.Link({ from: p.pid, to })), () =>
    Effect.sync(() => {
      if (p.remoteLinks?.delete(key)) exitSignal(p, to, atoms.noconnection, "link")
    }))
}

/** erlang:unlink/1 from `p` (immediate locally; an `UNLINK_ID` for an active remote link). @internal */
export const unlink = (rt: RuntimeImpl, p: ProcessImpl, to: Pid): Effect.Effect<void> => {
  if (rt.isLocal(to)) {
    const t = rt.lookup(to)
    if (t !== undefined) {
      p.links?.delete(t)
      t.links?.delete(p)
    }
    return Effect.void
  }
  // an UNLINK_ID is sent only for an active link; the link info stays until the ack
  const l = p.remoteLinks?.get(pidKey(to))
  if (l === undefined || l.unlinking !== 0n) return Effect.void
  const id = rt.nextUnlinkId()
  l.unlinking = id
  return Effect.ignore(rt.router.route(new Sig.Unlink({ from: p.pid, to, id })))
}

/** A `LINK` from another node. @internal */
export const onLink = (rt: RuntimeImpl, signal: Sig.Link): void => {
  const t = rt.lookup(signal.to)
  if (t === undefined) {
    rt.enqueue(new Sig.Exit({ from: signal.to, to: signal.from, reason: atoms.noproc, kind: "link" }))
    return
  }
  // a LINK received: creates an active link unless link info exists (even an unlinking one)
  const key = pidKey(signal.from)
  if (t.remoteLinks?.has(key) !== true) {
    ;(t.remoteLinks ??= new Map()).set(key, { pid: signal.from, unlinking: 0n })
    rt.remoteRelated.add(t)
  }
}

/**
 * An `UNLINK_ID` from another node: removes an active link (an unlinking one stays until
 * its own ack); the ack goes out at once, before any other signal to the unlinker.
 * @internal
 */
export const onUnlink = (rt: RuntimeImpl, signal: Sig.Unlink): void => {
  const t = rt.lookup(signal.to)
  const key = pidKey(signal.from)
  const l = t?.remoteLinks?.get(key)
  if (l !== undefined && l.unlinking === 0n) t!.remoteLinks!.delete(key)
  if (signal.id !== 0n) rt.enqueue(new Sig.UnlinkAck({ from: signal.to, to: signal.from, id: signal.id }))
}

/** An `UNLINK_ID_ACK`: the link info of that unlink goes. @internal */
export const onUnlinkAck = (rt: RuntimeImpl, signal: Sig.UnlinkAck): void => {
  const t = rt.lookup(signal.to)
  const key = pidKey(signal.from)
  const l = t?.remoteLinks?.get(key)
  if (l !== undefined && l.unlinking !== 0n && l.unlinking === signal.id) t!.remoteLinks!.delete(key)
}

/**
 * A link `EXIT` from another node for local process `t`: it acts only on an active link
 * (`true`: apply it), and the link info goes either way.
 * @internal
 */
export const onLinkExit = (t: ProcessImpl, from: Pid): boolean => {
  const key = pidKey(from)
  const l = t.remoteLinks?.get(key)
  if (l === undefined) return false
  t.remoteLinks!.delete(key)
  return l.unlinking === 0n
}

/** `p` died with `reason`: every linked process gets the exit signal. @internal */
export const onDeath = (rt: RuntimeImpl, p: ProcessImpl, reason: Term): void => {
  if (p.links !== undefined) {
    for (const l of p.links) {
      l.links?.delete(p)
      exitSignal(l, p.pid, reason, "link")
    }
    p.links = undefined
  }
  if (p.remoteLinks !== undefined) {
    for (const l of p.remoteLinks.values()) {
      if (l.unlinking === 0n) rt.enqueue(new Sig.Exit({ from: p.pid, to: l.pid, reason, kind: "link" }))
    }
    p.remoteLinks = undefined
  }
}

/** `node` went down: `p`'s links to it fire with `reason`. @internal */
export const onNodeDown = (p: ProcessImpl, node: Atom, reason: Term): void => {
  if (p.remoteLinks === undefined) return
  for (const [key, l] of [...p.remoteLinks]) {
    if (l.pid.node !== node) continue
    p.remoteLinks.delete(key)
    if (l.unlinking === 0n) exitSignal(p, l.pid, reason, "link")
  }
}

/** The pids `p` is linked to (active links only). @internal */
export const linked = (p: ProcessImpl): Array<Pid> => {
  const links: Array<Pid> = []
  if (p.links) { for (const l of p.links) links.push(l.pid) }
  if (p.remoteLinks) { for (const l of p.remoteLinks.values()) if (l.unlinking === 0n) links.push(l.pid) }
  return links
}
