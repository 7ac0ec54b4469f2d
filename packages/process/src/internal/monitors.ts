/**
 * Monitors, local and remote: the watcher's side (`monitors`: what it holds, with the
 * `'DOWN'` object and its alias mode) and the target's side (`monitoredBy`). A monitor of
 * another node's process is a `MONITOR_P` / `DEMONITOR_P` / `MONITOR_P_EXIT` exchange.
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Sig from "../Signal.js"
import { Atom, atoms, Pid, Ref, Tuple } from "../Term.js"
import type { Term } from "../Term.js"
import type { AliasMode } from "./aliases.js"
import { ProcessImpl } from "./processTable.js"
import type { RuntimeImpl } from "./runtime.js"
import { equals } from "./term.js"

/** A monitor table key: the counter of a ref made here (see `aliasKey`), a string of the ref's words and node for others (`RuntimeImpl.monitorKey`). @internal */
export type MonitorKey = number | string

/** A monitor a process holds. @internal */
export interface Held {
  readonly ref: Ref
  /** local process, remote pid, or remote name */
  readonly target: ProcessImpl | Pid | Sig.RemoteName
  /** what the 'DOWN' message names: the pid or `{Name, Node}` */
  readonly object: Pid | Tuple
  /** the monitor ref is also an alias of the watcher (erlang:monitor/3 `{alias, Mode}`) */
  readonly alias: AliasMode | undefined
}

/** A monitor held on a process. @internal */
export interface Watch {
  readonly ref: Ref
  readonly watcher: ProcessImpl | Pid
  /** what was monitored: our pid or our registered name (for the 'DOWN') */
  readonly object: Pid | Atom
}

/** `{'DOWN', Ref, process, Object, Reason}` @internal */
export const downMessage = (ref: Ref, object: Term, reason: Term): Tuple =>
  new Tuple([atoms.DOWN, ref, atoms.process, object, reason])

/**
 * `{'DOWN', Ref, process, Object, Reason}`, for an equal ref when given.
 * @internal
 */
export const isDown = (u: unknown, ref?: Ref): u is Tuple =>
  u instanceof Tuple && u.elements.length === 5 && u.elements[0] === atoms.DOWN &&
  (ref === undefined || (u.elements[1] instanceof Ref && equals(u.elements[1], ref)))

/** Drops the `'DOWN'` of monitor `ref` from `p`'s mailbox (`demonitor`'s `flush`). @internal */
export const flushDown = (p: ProcessImpl, ref: Ref): void => {
  p.removeWhere((m) => isDown(m, ref))
}

// An idle process keeps no empty tables (a served call leaves none behind).
const unwatched = (t: ProcessImpl, key: MonitorKey): void => {
  const m = t.monitoredBy
  if (m !== undefined && m.delete(key) && m.size === 0) t.monitoredBy = undefined
}

/**
 * erlang:monitor/2,3 from `p`: a dead or unknown local target gives the `'DOWN'` with
 * `noproc` at once; another node's target goes through the router (`noconnection` when
 * it cannot be routed).
 * @internal
 */
export const monitor = (
  rt: RuntimeImpl,
  p: ProcessImpl,
  target: Pid | Atom | Sig.RemoteName,
  alias?: AliasMode
): Effect.Effect<Ref> => {
  const ref = rt.unsafeMakeRef()
  const key = rt.monitorKey(ref)
  if (alias !== undefined && !p.dead) rt.aliases.add(p, rt.aliasKey(ref)!, alias)
  if (target instanceof Pid) {
    if (!rt.isLocal(target)) return monitorRemote(rt, p, ref, key, target, target, alias)
    monitorLocal(rt, p, ref, key, rt.lookup(target), target, target, alias)
    return Effect.succeed(ref)
  }
  const name = target instanceof Atom ? target : target.name
  if (!(target instanceof Atom) && target.node !== rt.node) {
    return monitorRemote(rt, p, ref, key, target, new Tuple([target.name, target.node]), alias)
  }
  monitorLocal(rt, p, ref, key, rt.procs.whereis(name), new Tuple([name, rt.node]), name, alias)
  return Effect.succeed(ref)
}

/**
 * A monitor of `p` on local process `local` (by pid or name: `object` and `watchObject`
 * are what the `'DOWN'` names); a dead or missing one gives the `'DOWN'` with `noproc`.
 * @internal
 */
export const monitorLocal = (
  rt: RuntimeImpl,
  p: ProcessImpl,
  ref: Ref,
  key: MonitorKey,
  local: ProcessImpl | undefined,
  object: Pid | Tuple,
  watchObject: Pid | Atom,
  alias: AliasMode | undefined
): void => {
  if (local === undefined || local.dead) {
    // the monitor is triggered at once: a `demonitor`/`reply_demonitor` alias goes with it
    if (alias !== undefined && alias !== "explicit_unalias") rt.aliases.remove(p, rt.aliasKey(ref))
    p.deliver(downMessage(ref, object, atoms.noproc))
  } else {
    ;(p.monitors ??= new Map()).set(key, { ref, target: local, object, alias })
    ;(local.monitoredBy ??= new Map()).set(key, { ref, watcher: p, object: watchObject })
  }
}

/** `monitor(pid, { alias })` of a local pid, synchronously: the ref. @internal */
export const unsafeMonitorLocal = (rt: RuntimeImpl, p: ProcessImpl, target: Pid, alias: AliasMode): Ref => {
  const ref = rt.unsafeMakeRef()
  if (!p.dead) rt.aliases.add(p, rt.aliasKey(ref)!, alias)
  monitorLocal(rt, p, ref, rt.monitorKey(ref), rt.lookup(target), target, target, alias)
  return ref
}

const monitorRemote = (
  rt: RuntimeImpl,
  p: ProcessImpl,
  ref: Ref,
  key: MonitorKey,
  target: Pid | Sig.RemoteName,
  object: Pid | Tuple,
  alias: AliasMode | undefined
): Effect.Effect<Ref> => {
  holdRemote(rt, p, ref, key, target, object, alias)
  return Effect.as(
    Effect.catchAll(
      rt.router.route(new Sig.Monitor({ from: p.pid, to: target, ref })),
      () => Effect.sync(() => unrouted(rt, p, ref, key, object))
    ),
    ref
  )
}

/** `p` holds monitor `ref` of a process on another node (before its MONITOR_P is routed). @internal */
export const holdRemote = (
  rt: RuntimeImpl,
  p: ProcessImpl,
  ref: Ref,
  key: MonitorKey,
  target: Pid | Sig.RemoteName,
  object: Pid | Tuple,
  alias: AliasMode | undefined
): void => {
  ;(p.monitors ??= new Map()).set(key, { ref, target, object, alias })
  rt.remoteRelated.add(p)
}

/** The MONITOR_P of a held remote monitor could not be routed: the `'DOWN'` with `noconnection`. @internal */
export const unrouted = (rt: RuntimeImpl, p: ProcessImpl, ref: Ref, key: MonitorKey, object: Pid | Tuple): void => {
  if (dropHeld(rt, p, key) !== undefined) p.deliver(downMessage(ref, object, atoms.noconnection))
}

/**
 * Removes a monitor `p` holds from its table (the watcher side only) and returns it;
 * its alias goes with it unless the alias is `explicit_unalias`.
 * @internal
 */
export const dropHeld = (rt: RuntimeImpl, p: ProcessImpl, key: MonitorKey): Held | undefined => {
  const held = p.monitors?.get(key)
  if (held === undefined) return undefined
  p.monitors!.delete(key)
  if (p.monitors!.size === 0) p.monitors = undefined
  if (held.alias !== undefined && held.alias !== "explicit_unalias") rt.aliases.remove(p, rt.aliasKey(held.ref))
  return held
}

/**
 * The target side of removing a monitor: done for a local target, the signal to send
 * for a remote one.
 * @internal
 */
export const unwatch = (p: ProcessImpl, held: Held, key: MonitorKey): Sig.Demonitor | undefined => {
  if (held.target instanceof ProcessImpl) {
    unwatched(held.target, key)
    return undefined
  }
  return new Sig.Demonitor({ from: p.pid, to: held.target, ref: held.ref })
}

/** erlang:demonitor/2: `true` if the monitor was active; `flush` drops its `'DOWN'` too. @internal */
export const demonitor = (rt: RuntimeImpl, p: ProcessImpl, ref: Ref, flush: boolean): Effect.Effect<boolean> => {
  const key = rt.monitorKey(ref)
  const held = dropHeld(rt, p, key)
  let effect: Effect.Effect<void> = Effect.void
  if (held !== undefined) {
    const signal = unwatch(p, held, key)
    if (signal !== undefined) effect = Effect.ignore(rt.router.route(signal))
  }
  if (flush) flushDown(p, ref)
  return Effect.as(effect, held !== undefined)
}

/**
 * Removes the monitor `ref` of `p` on both sides, sending the `DEMONITOR` for a remote
 * one; `true` if it was active.
 * @internal
 */
export const unsafeDemonitor = (rt: RuntimeImpl, p: ProcessImpl, ref: Ref): boolean => {
  const key = rt.monitorKey(ref)
  const held = dropHeld(rt, p, key)
  if (held === undefined) return false
  const signal = unwatch(p, held, key)
  if (signal !== undefined) rt.enqueue(signal)
  return true
}

/**
 * `monitor(target)` from `p`, synchronously: a local target as `monitor`; another node's
 * pid is held at once and its `MONITOR_P` written now on an up connection (a monitor that
 * cannot be encoded or routed gives the `'DOWN'` with `noconnection`, as `monitor`), or
 * queued in order for the router while the connection is set up (which gives that
 * `'DOWN'` if it fails).
 * @internal
 */
export const unsafeMonitor = (rt: RuntimeImpl, p: ProcessImpl, target: Pid): Ref => {
  const ref = rt.unsafeMakeRef()
  const key = rt.monitorKey(ref)
  if (rt.isLocal(target)) {
    monitorLocal(rt, p, ref, key, rt.lookup(target), target, target, undefined)
    return ref
  }
  holdRemote(rt, p, ref, key, target, target, undefined)
  const signal = new Sig.Monitor({ from: p.pid, to: target, ref })
  const now = rt.router.unsafeRoute
  if (now !== undefined) {
    const routed = now(signal)
    // not taken (no up connection yet): queued in order; a connection that fails gives the 'DOWN'
    if (routed === false) rt.enqueue(signal)
    else if (routed !== undefined) unrouted(rt, p, ref, key, target)
    return ref
  }
  // a router with no fast path (a node that is not alive refuses it): routed now, a refusal is the 'DOWN'
  const exit = Runtime.runSyncExit(rt.baseRuntime)(rt.router.route(signal))
  if (Exit.isFailure(exit) && Option.isSome(Cause.failureOption(exit.cause))) unrouted(rt, p, ref, key, target)
  return ref
}

/** A `MONITOR_P` from another node: `DOWN{noproc}` for an unknown target. @internal */
export const onMonitor = (rt: RuntimeImpl, signal: Sig.Monitor): void => {
  const to = signal.to
  const name = to instanceof Pid ? undefined : to instanceof Atom ? to : to.name
  const t = name === undefined ? rt.lookup(to as Pid) : rt.procs.whereis(name)
  if (t === undefined || t.dead) {
    rt.enqueue(new Sig.Down({ from: name ?? (to as Pid), to: signal.from, ref: signal.ref, reason: atoms.noproc }))
    return
  }
  ;(t.monitoredBy ??= new Map()).set(rt.monitorKey(signal.ref), {
    ref: signal.ref,
    watcher: signal.from,
    object: name ?? t.pid
  })
  rt.remoteRelated.add(t)
}

/** A `DEMONITOR_P` from another node. @internal */
export const onDemonitor = (rt: RuntimeImpl, signal: Sig.Demonitor): void => {
  const to = signal.to
  const t = to instanceof Pid ? rt.lookup(to) : rt.procs.whereis(to instanceof Atom ? to : to.name)
  if (t !== undefined) unwatched(t, rt.monitorKey(signal.ref))
}

/** A `MONITOR_P_EXIT` from another node: the watcher gets its `'DOWN'`. @internal */
export const onDown = (rt: RuntimeImpl, signal: Sig.Down): void => {
  const w = rt.lookup(signal.to)
  if (w === undefined) return
  const held = dropHeld(rt, w, rt.monitorKey(signal.ref))
  if (held === undefined) return
  w.deliver(downMessage(held.ref, held.object, signal.reason))
}

/**
 * `p` died with `reason`: its watchers get their `'DOWN'`, and the monitors it held are
 * removed from their targets.
 * @internal
 */
export const onDeath = (rt: RuntimeImpl, p: ProcessImpl, reason: Term): void => {
  if (p.monitoredBy !== undefined) {
    for (const [key, w] of p.monitoredBy) {
      if (w.watcher instanceof ProcessImpl) {
        dropHeld(rt, w.watcher, key)
        w.watcher.deliver(
          downMessage(w.ref, w.object instanceof Atom ? new Tuple([w.object, rt.node]) : w.object, reason)
        )
      } else {
        rt.enqueue(new Sig.Down({ from: w.object, to: w.watcher, ref: w.ref, reason }))
      }
    }
    p.monitoredBy = undefined
  }
  if (p.monitors !== undefined) {
    for (const [key, h] of p.monitors) {
      if (h.target instanceof ProcessImpl) unwatched(h.target, key)
      else rt.enqueue(new Sig.Demonitor({ from: p.pid, to: h.target, ref: h.ref }))
    }
    p.monitors = undefined
  }
}

/**
 * `node` went down: `p`'s monitors of its processes fire with `reason`, and the monitors
 * its processes held on `p` are dropped.
 * @internal
 */
export const onNodeDown = (rt: RuntimeImpl, p: ProcessImpl, node: Atom, reason: Term): void => {
  if (p.monitors !== undefined) {
    for (const [key, h] of [...p.monitors]) {
      if (h.target instanceof ProcessImpl || h.target.node !== node) continue
      dropHeld(rt, p, key)
      p.deliver(downMessage(h.ref, h.object, reason))
    }
  }
  if (p.monitoredBy !== undefined) {
    for (const [key, w] of [...p.monitoredBy]) {
      if (w.watcher instanceof Pid && w.watcher.node === node) p.monitoredBy.delete(key)
    }
    if (p.monitoredBy.size === 0) p.monitoredBy = undefined
  }
}

/** What `p` monitors, and who monitors it (for `process_info`). @internal */
export const monitorInfo = (p: ProcessImpl): { monitors: Array<Pid | Tuple>; monitoredBy: Array<Pid> } => {
  const monitors: Array<Pid | Tuple> = []
  if (p.monitors) { for (const h of p.monitors.values()) monitors.push(h.object) }
  const monitoredBy: Array<Pid> = []
  if (p.monitoredBy) {
    for (const w of p.monitoredBy.values()) monitoredBy.push(w.watcher instanceof Pid ? w.watcher : w.watcher.pid)
  }
  return { monitors, monitoredBy }
}
