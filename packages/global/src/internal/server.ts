/**
 * The `global_name_server` of OTP's `global` (protocol version 8), its locker and its
 * registrar, as effect-otp processes. Message shapes and algorithms follow OTP 25's
 * `global.erl` (OTP 25.2.3: kernel/src/global.erl; the connect protocol, locks, names and partitions).
 * @internal
 */
import * as NetKernel from "@effect-otp/dist/NetKernel"
import type { RpcShape } from "@effect-otp/dist/Rpc"
import * as Process from "@effect-otp/process/Process"
import { ProcessRuntime, type ProcessRuntimeShape } from "@effect-otp/process/ProcessRuntime"
import * as T from "@effect-otp/process/Term"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import { type NameEntry, NameTable } from "./names.js"
import { type ResolveFn, resolveIt, resolveOn } from "./resolve.js"

type Atom = T.Atom
type Term = T.Term
/** What the machinery runs with: a process on a node. */
type InProcess = Process.Self | ProcessRuntime
export type { NameEntry }
type MultiCallResult = { readonly replies: Map<Atom, Term>; readonly bad: Array<Atom> }

/** The protocol version we speak. */
export const VSN = 8

const a = T.atom
const A = {
  gns: a("global_name_server"),
  global: a("global"),
  genCall: a("$gen_call"),
  genCast: a("$gen_cast"),
  initConnect: a("init_connect"),
  initConnectAck: a("init_connect_ack"),
  cancelConnect: a("cancel_connect"),
  lockSet: a("lock_set"),
  exchange: a("exchange"),
  resolved: a("resolved"),
  newNodes: a("new_nodes"),
  inSync: a("in_sync"),
  setLock: a("set_lock"),
  delLock: a("del_lock"),
  register: a("register"),
  registerExt: a("register_ext"),
  unregister: a("unregister"),
  locker: a("locker"),
  noLongerAPid: a("no_longer_a_pid"),
  insert: a("insert"),
  delete: a("delete"),
  unused: a("unused"),
  vsn: a("vsn"),
  lock: a("lock"),
  yes: a("yes"),
  ok: a("ok"),
  kill: a("kill"),
  nodeup: a("nodeup"),
  nodedown: a("nodedown"),
  down: a("DOWN"),
  removeConnection: a("remove_connection"),
  lostConnection: a("lost_connection"),
  cancel: a("cancel"),
  noFun: a("no_fun"),
  hisTheLocker: a("his_the_locker"),
  lockIsSet: a("lock_is_set"),
  exchangeOps: a("exchange_ops")
} as const

/** `fun global:random_exit_name/3`, the method our registrations carry. */
export const randomExitName: Term = new T.Export(A.global, a("random_exit_name"), 3)

interface LockEntry {
  readonly resource: Term
  readonly reqId: Term
  readonly holders: Array<{ readonly pid: T.Pid; readonly mon: T.Ref }>
}

/** One connect session with a peer (`sync_tag_my`, `sync_tag_his`, `wait_lock`, `save_ops`...). */
interface Session {
  readonly myTag: bigint
  hisTag?: Term | undefined
  hisLocker?: T.Pid
  hisVsn: number
  lockId?: Term
  lockIsSet: boolean
  hisNames?: ReadonlyArray<Term>
  /** Our resolver (OTP's per-session resolver process), once it runs `exchange_names` for this session. */
  resolver?: Fiber.RuntimeFiber<void>
  myOps?: ReadonlyArray<Term>
  hisResolved?: ReadonlyArray<Term>
  hisKnown?: ReadonlyArray<Term>
  /** The peer's tag in its `init_connect_ack` for our current `init_connect` (it has our tag). */
  peerAcked?: Term
  /** We owe the peer an `init_connect_ack` for `hisTag`, sent once its own ack shows it has our tag. */
  ackOwed?: boolean
}

interface SyncWaiter {
  readonly nodes: Set<Atom>
  readonly done: Deferred.Deferred<void>
}

/** The state shared by the server, locker, registrar and the API (one JS thread: no races). */
export interface State {
  readonly node: Atom
  readonly connectAll: boolean
  /** `global_names`. */
  readonly names: NameTable
  readonly locks: Array<LockEntry>
  /** `known`: node => vsn. */
  readonly known: Map<Atom, number>
  readonly pending: Map<Atom, number>
  readonly synced: Set<Atom>
  readonly sessions: Map<Atom, Session>
  readonly preConnect: Map<Atom, Term>
  readonly syncWaiters: Set<SyncWaiter>
  /** Nodes we are dropping on request (`{removing, N}`): their nodedown is not reported. */
  readonly removing: Set<Atom>
  /** `lost_connection` reports seen: `NodeA|NodeB` => XCreation and OpId. */
  readonly lostSeen: Map<string, { readonly xCreation: Term; readonly opId: Term }>
  /** This incarnation's `XCreation` in our `lost_connection` reports. */
  readonly xCreation: bigint
  /** `true` when the last `global` lock went away through a DOWN (OTP's `lock_still_set`). */
  globalLockDownedLast: boolean
  tagCounter: bigint
  lockerPid?: T.Pid
  registrarPid?: T.Pid
  /**
   * The name server's process and its runtime, once it runs: it serves its messages with
   * no fiber (`Process.serve`), and the calls of a registration are handled synchronously.
   */
  gns?: Process.ProcessHandle
  gnsRuntime?: ProcessRuntimeShape
  /** The monitors of the holders of `global` locks, kept until their DOWN (see `holderMonitor`). */
  readonly lockMonitors: Array<{ readonly pid: T.Pid; readonly mon: T.Ref }>
  /** The registrar's monitors of `{global_name_server, N}`, kept between its calls (see `Registrar`). */
  readonly registrarMonitors: Map<Atom, T.Ref>
  /** `{global_name_server, N}` by node (built once). */
  readonly gnsTargets: Map<Atom, T.Tuple>
  /** The node's rpc server: `resolve_it` calls to other nodes. */
  rpc?: RpcShape
  /** The TS resolve functions of our registrations, by the id in their `{effect_otp_resolve, Node, Id}` term. */
  readonly resolvers: Map<number, ResolveFn>
}

export const makeState = (node: Atom, connectAll: boolean): State => ({
  node,
  connectAll,
  names: new NameTable(),
  locks: [],
  known: new Map(),
  pending: new Map(),
  synced: new Set(),
  sessions: new Map(),
  preConnect: new Map(),
  syncWaiters: new Set(),
  removing: new Set(),
  lostSeen: new Map(),
  xCreation: (1n << 59n) + (BigInt(Math.floor(Math.random() * 2 ** 30)) << 32n) + BigInt(Date.now() % 2 ** 31),
  globalLockDownedLast: false,
  tagCounter: -576460752303423488n,
  lockMonitors: [],
  registrarMonitors: new Map(),
  gnsTargets: new Map(),
  resolvers: new Map()
})

// ---------------------------------------------------------------------------------- helpers

const list = (t: Term | undefined): ReadonlyArray<Term> => Array.isArray(t) ? t : []
const el = (t: T.Tuple, i: number): Term => t.elements[i]!
const gnsAt = (st: State, node: Atom): Process.Target => {
  if (node === st.node) return A.gns
  let t = st.gnsTargets.get(node)
  if (t === undefined) {
    t = T.tuple(A.gns, node)
    st.gnsTargets.set(node, t)
  }
  return t
}

export const whereName = (st: State, name: Term): NameEntry | undefined => st.names.get(name)

const cast = (st: State, node: Atom, msg: Term) => Effect.ignore(Process.send(gnsAt(st, node), T.tuple(A.genCast, msg)))

const plain = (st: State, node: Atom, msg: Term) =>
  Effect.ignore(Process.sendWith(gnsAt(st, node), msg, { noconnect: true }))

const toLocker = (st: State, msg: Term) =>
  st.lockerPid === undefined ? Effect.void : Effect.ignore(Process.send(st.lockerPid, msg))

const knownList = (st: State): Array<Atom> => [...st.known.keys()]

const maxAtom = (nodes: ReadonlyArray<Atom>): Atom => nodes.reduce((m, n) => (T.compare(n, m) > 0 ? n : m))

/** Wakes the `sync` waiters for which `node` is done (synced or down). */
const syncDone = (st: State, node: Atom) =>
  Effect.forEach(st.syncWaiters, (w) => {
    w.nodes.delete(node)
    if (w.nodes.size > 0) return Effect.void
    st.syncWaiters.delete(w)
    return Deferred.succeed(w.done, undefined)
  }, { discard: true })

/**
 * `gen_server:multi_call(Nodes, global_name_server, Req, infinity)` from the calling
 * process, OTP 25's way: monitor `{global_name_server, N}`, send `{'$gen_call',
 * {Self, {Tag, N}}, Req}` (one `Tag` ref per call), take `{{Tag, N}, Reply}` or the DOWN
 * (the node is then bad). (The registrar makes its own calls: see `Registrar`.)
 */
export const multiCall = (
  st: State,
  nodes: ReadonlyArray<Atom>,
  req: Term
): Effect.Effect<MultiCallResult, never, InProcess> =>
  Effect.gen(function*() {
    const self = yield* Process.self
    const tag = yield* Process.makeRef
    /** node => its monitor, while its answer is due */
    const pending = new Map<Atom, T.Ref>()
    // other nodes first: their requests are on the wire before our own server takes its turn
    let local = false
    for (const node of nodes) {
      if (node === st.node) local = true
      else yield* callOne(st, node, tag, self, req, pending)
    }
    if (local) yield* callOne(st, st.node, tag, self, req, pending)
    const replies = new Map<Atom, Term>()
    const bad: Array<Atom> = []
    const isAnswer = (m: unknown): m is T.Tuple => {
      if (!(m instanceof T.Tuple)) return false
      const e = m.elements
      if (e.length === 2) {
        const t = e[0]
        return t instanceof T.Tuple && t.elements.length === 2 && pending.has(t.elements[1] as Atom) &&
          T.equals(t.elements[0]!, tag)
      }
      if (e.length !== 5 || e[0] !== A.down || !(e[1] instanceof T.Ref)) return false
      for (const mon of pending.values()) if (T.equals(mon, e[1])) return true
      return false
    }
    while (pending.size > 0) {
      const m = yield* Process.receive(isAnswer)
      if (m.elements.length === 2) {
        const node = (el(m, 0) as T.Tuple).elements[1] as Atom
        const mon = pending.get(node)!
        pending.delete(node)
        yield* Process.demonitor(mon, { flush: true })
        replies.set(node, el(m, 1))
      } else {
        for (const [node, mon] of pending) {
          if (!T.equals(mon, el(m, 1))) continue
          pending.delete(node)
          bad.push(node)
          break
        }
      }
    }
    return { replies, bad }
  })

/** One node's part of `multiCall`: its monitor and the request. */
const callOne = (
  st: State,
  node: Atom,
  tag: T.Ref,
  self: T.Pid,
  req: Term,
  pending: Map<Atom, T.Ref>
) =>
  Effect.suspend(() => {
    const msg = T.tuple(A.genCall, T.tuple(self, T.tuple(tag, node)), req)
    const send = node === st.node && st.gnsRuntime !== undefined
      ? sendLocalLater(st.gnsRuntime, msg)
      : Effect.ignore(Process.send(gnsAt(st, node), msg))
    return Effect.zipRight(
      Effect.map(Process.monitor(gnsAt(st, node)), (m) => {
        pending.set(node, m)
      }),
      send
    )
  })

/**
 * The request to our own name server, sent once the requests to the other nodes are on
 * the wire: their writes go out at the end of the current step (a microtask), and a send
 * to our server now would have it answer, and the caller take the answer, first (the
 * process scheduler runs every process that can run before any microtask). The call is
 * monitored already, and nothing else goes from the caller to our server meanwhile.
 */
const sendLocalLater = (rt: ProcessRuntimeShape, msg: Term) =>
  Effect.sync(() => {
    queueMicrotask(() => {
      rt.unsafeSend(A.gns, msg)
    })
  })

/**
 * Sets `lockId` on each group of nodes in turn (one multi_call per group); on the first refusal
 * the locks taken so far are deleted and the answer is `false`.
 */
const lockInSteps = (st: State, lockId: Term, steps: ReadonlyArray<ReadonlyArray<Atom>>) =>
  Effect.gen(function*() {
    const locked: Array<Atom> = []
    for (const step of steps) {
      if (step.length === 0) continue
      const { replies } = yield* multiCall(st, step, T.tuple(A.setLock, lockId))
      for (const [n, r] of replies) if (r === T.atoms.true) locked.push(n)
      if (step.some((n) => replies.get(n) !== T.atoms.true)) {
        yield* unlockNodes(st, lockId, locked)
        return false
      }
    }
    return true
  })

/** `del_lock` on every node but the boss, then on the boss. */
const unlockNodes = (st: State, lockId: Term, nodes: ReadonlyArray<Atom>) =>
  Effect.gen(function*() {
    if (nodes.length === 0) return
    const boss = maxAtom(nodes)
    const rest = nodes.filter((n) => n !== boss)
    if (rest.length > 0) yield* multiCall(st, rest, T.tuple(A.delLock, lockId))
    yield* multiCall(st, [boss], T.tuple(A.delLock, lockId))
  })

// ---------------------------------------------------------------------------------- names and locks

// The calls a registration makes on every node (`set_lock`, `register`, `del_lock`) are
// handled synchronously by the name server's handler (no fiber, no Effect): they run
// several times per register_name, on every node. Each runs in the name server's process.

const deleteNameNow = (st: State, name: Term): void => {
  const old = st.names.delete(name)
  if (old !== undefined) Process.unsafeDemonitor(st.gns!, old.mon, { flush: true })
}

const insertNameNow = (st: State, name: Term, pid: T.Pid, method: Term): void => {
  deleteNameNow(st, name)
  st.names.add({ name, pid, method, mon: Process.unsafeMonitor(st.gns!, pid) })
}

const deleteName = (st: State, name: Term): Effect.Effect<void> => Effect.sync(() => deleteNameNow(st, name))

const insertName = (st: State, name: Term, pid: T.Pid, method: Term): Effect.Effect<void> =>
  Effect.sync(() => insertNameNow(st, name, pid, method))

/** `lock_still_set(FromPid)`: a `register` from a pid that does not hold the `global` lock here is dropped. */
const lockStillSet = (st: State, from: T.Pid): boolean => {
  const g = st.locks.find((l) => l.resource === A.global)
  if (g === undefined) return !st.globalLockDownedLast
  return g.holders.some((h) => T.equals(h.pid, from))
}

/**
 * The monitor of a new lock holder. A holder of a `global` lock (a registrar or a locker:
 * one of each per node, for the node's life) keeps its monitor after its `del_lock`, until
 * its DOWN (`lockMonitors`): a registrar locks every node several times per registration,
 * and OTP's monitor and demonitor per lock are two more frames each time (MONITOR_P,
 * DEMONITOR_P) for the holder's node to handle. A DOWN of a pid that holds no lock frees
 * nothing; any other resource's holder is monitored per lock, as in OTP.
 */
const holderMonitor = (st: State, resource: Term, pid: T.Pid): T.Ref => {
  if (resource !== A.global) return Process.unsafeMonitor(st.gns!, pid)
  for (const k of st.lockMonitors) if (T.equals(k.pid, pid)) return k.mon
  const mon = Process.unsafeMonitor(st.gns!, pid)
  st.lockMonitors.push({ pid, mon })
  return mon
}

const setLock = (st: State, id: Term, from: T.Pid): boolean => {
  if (!(id instanceof T.Tuple) || id.elements.length !== 2) return false
  const [resource, reqId] = id.elements as [Term, Term]
  const lock = st.locks.find((l) => T.equals(l.resource, resource))
  if (lock === undefined) {
    st.locks.push({ resource, reqId, holders: [{ pid: from, mon: holderMonitor(st, resource, from) }] })
    return true
  }
  if (!T.equals(lock.reqId, reqId)) return false
  if (lock.holders.some((h) => T.equals(h.pid, from))) return true
  lock.holders.push({ pid: from, mon: holderMonitor(st, resource, from) })
  return true
}

const delLock = (st: State, id: Term, from: T.Pid): void => {
  if (!(id instanceof T.Tuple) || id.elements.length !== 2) return
  const [resource, reqId] = id.elements as [Term, Term]
  const i = st.locks.findIndex((l) => T.equals(l.resource, resource) && T.equals(l.reqId, reqId))
  if (i < 0) return
  const lock = st.locks[i]!
  const h = lock.holders.findIndex((x) => T.equals(x.pid, from))
  if (h < 0) return
  const [held] = lock.holders.splice(h, 1)
  if (lock.holders.length === 0) {
    st.locks.splice(i, 1)
    if (resource === A.global) st.globalLockDownedLast = false
  }
  // a `global` lock's holder keeps its monitor (see `holderMonitor`)
  if (resource !== A.global) Process.unsafeDemonitor(st.gns!, held!.mon, { flush: true })
}

/** A DOWN for one of our monitors: a registered pid or a lock holder went away. */
const handleDown = (st: State, ref: T.Ref): void => {
  st.names.deleteByMonitor(ref)
  const k = st.lockMonitors.findIndex((x) => T.equals(x.mon, ref))
  if (k >= 0) st.lockMonitors.splice(k, 1)
  for (let i = st.locks.length - 1; i >= 0; i--) {
    const lock = st.locks[i]!
    const h = lock.holders.findIndex((x) => T.equals(x.mon, ref))
    if (h < 0) continue
    lock.holders.splice(h, 1)
    if (lock.holders.length === 0) {
      st.locks.splice(i, 1)
      if (lock.resource === A.global) st.globalLockDownedLast = true
    }
  }
}

/** `do_ops`: `{insert, {Name, Pid, Method}}` and `{delete, Name}`. */
const doOps = (st: State, ops: ReadonlyArray<Term>) =>
  Effect.forEach(ops, (op) => {
    if (T.isTagged(op, A.insert, 2)) {
      const e = el(op, 1)
      if (e instanceof T.Tuple && e.elements.length === 3 && el(e, 1) instanceof T.Pid) {
        return insertName(st, el(e, 0), el(e, 1) as T.Pid, el(e, 2))
      }
    }
    if (T.isTagged(op, A.delete, 2)) return deleteName(st, el(op, 1))
    return Effect.logWarning(`global: unknown op ${T.format(op)}`)
  }, { discard: true })

// ---------------------------------------------------------------------------------- connect

const newTag = (st: State): bigint => {
  st.tagCounter += 1n
  return st.tagCounter
}

/** `handle_nodeup`: a new visible node; start the connect (`init_connect`). */
const nodeup = (st: State, node: Atom) =>
  Effect.gen(function*() {
    if (!st.connectAll || st.known.has(node) || st.sessions.has(node)) return
    const myTag = newTag(st)
    st.sessions.set(node, { myTag, hisVsn: VSN, lockIsSet: false })
    yield* cast(
      st,
      node,
      T.tuple(
        A.initConnect,
        T.tuple(VSN, myTag),
        st.node,
        T.tuple(A.locker, A.noLongerAPid, T.map([]), st.lockerPid!)
      )
    )
    const pre = st.preConnect.get(node)
    if (pre !== undefined) {
      st.preConnect.delete(node)
      yield* handleCast(st, pre)
    }
  })

/**
 * OTP's `cancel_locker` (with no fun) for session `s`: the locker drops the peer (and its lock
 * with it, if it holds one for this session) and the session's resolver is killed.
 */
const cancelLocker = (st: State, node: Atom, s: Session) =>
  Effect.suspend(() => {
    const resolver = s.resolver
    delete s.resolver
    const cancel = toLocker(st, T.tuple(A.cancel, node, s.myTag, A.noFun))
    return resolver === undefined ? cancel : Effect.zipRight(Fiber.interruptFork(resolver), cancel)
  })

/** `node`'s connect session, if any, goes (OTP's `reset_node_state`), with the locker's part and its resolver. */
const dropSession = (st: State, node: Atom) =>
  Effect.suspend(() => {
    const s = st.sessions.get(node)
    if (s === undefined) return Effect.void
    st.sessions.delete(node)
    return cancelLocker(st, node, s)
  })

/**
 * `restart_connect`: drop the session (and the locker's), and connect again with a new tag if
 * still up. As OTP's `cancel_locker`, a session the peer had answered (`pending`) gets a
 * `cancel_connect` with its tag first.
 */
const restartConnect = (st: State, node: Atom, s: Session) =>
  Effect.gen(function*() {
    if ((st.pending.get(node) ?? 0) >= VSN && s.hisTag !== undefined) {
      yield* plain(st, node, T.tuple(A.cancelConnect, st.node, s.hisTag))
    }
    st.sessions.delete(node)
    st.pending.delete(node)
    yield* cancelLocker(st, node, s)
    const up = yield* NetKernel.nodes("visible")
    if (up.includes(node)) yield* nodeup(st, node)
  })

/** Our `init_connect_ack` for the peer's current tag (it has shown it has ours). */
const sendAck = (st: State, node: Atom, s: Session) => {
  s.ackOwed = false
  return plain(st, node, T.tuple(A.initConnectAck, st.node, s.hisTag ?? [], s.myTag))
}

/** The peer's new session replaces its old one in ours: the locker and the exchange start again. */
const supersede = (st: State, node: Atom, s: Session) =>
  Effect.gen(function*() {
    yield* Effect.logDebug(`global: ${node.name} restarted its connect session: following its new tag`)
    yield* cancelLocker(st, node, s)
    s.lockIsSet = false
    s.ackOwed = false
    delete s.lockId
    delete s.hisNames
    delete s.myOps
    delete s.hisResolved
    delete s.hisKnown
    delete s.peerAcked
  })

/**
 * `{init_connect_ack, Node, HisMyTag, HisHisTag}`: the peer's view of this session.
 *
 * OTP 25 cancels and restarts on any mismatch. On one connection (messages in order) a
 * mismatch can only be an ack for an init_connect of ours that a restart has since replaced
 * (our newer init_connect follows it), or an ack with no session here. Restarting on those
 * gives the peer a stale ack in turn, which restarts it, and so on: two OTP 25.2.3 nodes loop
 * like this forever (thousands of cancel_connects a second, `global:sync()` hangs) after a
 * reconnect while `global_name_server` was busy. So those acks are ignored; a real mismatch
 * (our current tag, another tag of the peer's) still cancels and restarts as in OTP.
 *
 * Our own ack waits for the peer's: an ack to an init_connect the peer has already replaced
 * makes an OTP peer restart, so we only answer the tag the peer shows it is using.
 */
const initConnectAck = (st: State, node: Atom, hisMyTag: Term, hisHisTag: Term) =>
  Effect.gen(function*() {
    const s = st.sessions.get(node)
    if (s === undefined || T.compare(hisMyTag, s.myTag) < 0) {
      return yield* Effect.logInfo(`global: stale init_connect_ack from ${node.name} ignored (an older session's)`)
    }
    if (T.equals(hisMyTag, s.myTag) && s.hisTag !== undefined && T.equals(hisHisTag, s.hisTag)) {
      s.peerAcked = hisHisTag
      if (s.ackOwed) yield* sendAck(st, node, s)
      return
    }
    yield* Effect.logInfo(`global: init_connect_ack out of sync from ${node.name}: restarting the connect`)
    yield* plain(st, node, T.tuple(A.cancelConnect, st.node, hisHisTag))
    yield* restartConnect(st, node, s)
  })

const nodedown = (st: State, node: Atom) =>
  Effect.gen(function*() {
    st.known.delete(node)
    st.pending.delete(node)
    st.synced.delete(node)
    st.preConnect.delete(node)
    yield* dropSession(st, node)
    yield* syncDone(st, node)
  })

const knownAndPending = (st: State): Array<Atom> => [...new Set([...st.known.keys(), ...st.pending.keys()])]

/** Multicasts a plain message to every known and pending node (vsn >= 7) but `except`, without connecting. */
const multicastPlain = (st: State, msg: Term, except: Atom) =>
  Effect.forEach(
    knownAndPending(st).filter((n) => n !== except && (st.known.get(n) ?? st.pending.get(n) ?? 0) >= 7),
    (n) => plain(st, n, msg),
    { discard: true }
  )

/**
 * A nodedown from `net_kernel`: unless we dropped the node on request, tell every other
 * node we know (prevent_overlapping_partitions, `inform_connection_loss`).
 */
const netNodedown = (st: State, node: Atom) =>
  Effect.gen(function*() {
    if (st.removing.delete(node)) return yield* nodedown(st, node)
    if (st.connectAll && (st.known.has(node) || st.pending.has(node))) {
      const msg = T.tuple(A.lostConnection, st.node, st.xCreation, newTag(st), node)
      yield* nodedown(st, node)
      return yield* multicastPlain(st, msg, node)
    }
    yield* nodedown(st, node)
  })

/** `{lost_connection, NodeA, XCreationA, OpIdA, NodeB}`: re-multicast once, drop the other end (POP). */
const lostConnection = (st: State, msg: T.Tuple) =>
  Effect.gen(function*() {
    const [, nodeA, xCreation, opId, nodeB] = msg.elements as [Term, Term, Term, Term, Term]
    if (!st.connectAll || !(nodeA instanceof T.Atom) || !(nodeB instanceof T.Atom)) return
    const key = `${nodeA.name}|${nodeB.name}`
    const seen = st.lostSeen.get(key)
    if (seen !== undefined && T.equals(seen.xCreation, xCreation) && T.compare(opId, seen.opId) <= 0) return
    st.lostSeen.set(key, { xCreation, opId })
    yield* multicastPlain(st, msg, nodeA)
    const rm = nodeB === st.node ? nodeA : nodeB
    if (!st.known.has(rm) && !st.pending.has(rm)) return
    yield* Effect.logInfo(
      `global: ${nodeA.name} lost ${nodeB.name}: dropping ${rm.name} (prevent_overlapping_partitions)`
    )
    yield* plain(st, rm, T.tuple(A.removeConnection, st.node))
    st.removing.add(rm)
    yield* nodedown(st, rm)
  })

/** `exchange_names`: our ops (applied here and by our partition) and what the peer applies. */
const exchangeNames = (st: State, peer: Atom, hisNames: ReadonlyArray<Term>) =>
  Effect.gen(function*() {
    const ops: Array<Term> = []
    const resolved: Array<Term> = []
    for (const e of hisNames) {
      if (!(e instanceof T.Tuple) || e.elements.length !== 3 || !(el(e, 1) instanceof T.Pid)) continue
      const [name, hisPid, hisMethod] = e.elements as [Term, T.Pid, Term]
      const mine = whereName(st, name)
      if (mine === undefined) {
        ops.push(T.tuple(A.insert, e))
        continue
      }
      if (T.equals(mine.pid, hisPid)) continue
      if (T.compare(st.node, peer) > 0) continue // the smaller node resolves
      // rpc:call(node(Pid2), global, resolve_it, [Method2, Name, HisPid, Pid2]) with our entry's method
      const result = yield* Effect.either(
        mine.pid.node === st.node
          ? resolveIt(st, mine.method, name, hisPid, mine.pid, false)
          : resolveOn(st, mine.pid.node, [mine.method, name, hisPid, mine.pid])
      )
      yield* Effect.logInfo(
        `global: name conflict ${T.format(name)} resolved to ${
          result._tag === "Right" ? T.format(result.right) : "badrpc"
        }`
      )
      if (result._tag === "Left" || T.equals(result.right, hisPid)) {
        ops.push(T.tuple(A.insert, T.tuple(name, hisPid, hisMethod)))
      } else if (T.equals(result.right, mine.pid)) {
        resolved.push(T.tuple(A.insert, T.tuple(name, mine.pid, mine.method)))
      } else {
        ops.push(T.tuple(A.delete, name))
        resolved.push(T.tuple(A.delete, name))
      }
    }
    return { ops, resolved }
  })

/**
 * Both the lock and the peer's names are in: the resolver (OTP's per-session resolver
 * process) runs `exchange_names` beside the server, which keeps serving (a resolve method
 * may call other nodes, and they may call us), and casts `exchange_ops` to it.
 */
const tryExchange = (st: State, peer: Atom, s: Session) =>
  Effect.gen(function*() {
    if (!s.lockIsSet || s.hisNames === undefined || s.resolver !== undefined) return
    const hisNames = s.hisNames
    s.resolver = yield* Effect.forkDaemon(Effect.gen(function*() {
      const { ops, resolved } = yield* exchangeNames(st, peer, hisNames)
      yield* Effect.ignore(
        Process.send(A.gns, T.tuple(A.genCast, T.tuple(A.exchangeOps, peer, s.myTag, ops, resolved)))
      )
    }))
  })

/** `{exchange_ops, Node, Tag, Ops, Resolved}` from our resolver: send `resolved`, apply if the peer's is in. */
const exchangeOps = (st: State, msg: T.Tuple) =>
  Effect.gen(function*() {
    const [, peer, tag, ops, resolved] = msg.elements as [Term, Term, Term, Term, Term]
    const s = peer instanceof T.Atom ? st.sessions.get(peer) : undefined
    if (s === undefined || !T.equals(tag, s.myTag) || s.myOps !== undefined) return
    s.myOps = list(ops)
    const knownVsn = [...st.known].filter(([n]) => n !== peer).map(([n, v]) => T.tuple(n, v))
    yield* cast(st, peer as Atom, T.tuple(A.resolved, st.node, list(resolved), knownVsn, A.unused, [], s.hisTag!))
    yield* tryResolved(st, peer as Atom, s)
  })

/** `resolved/5`: both our ops and the peer's `resolved` are in. */
const tryResolved = (st: State, peer: Atom, s: Session) =>
  Effect.gen(function*() {
    if (s.myOps === undefined || s.hisResolved === undefined) return
    const finalOps = [...s.myOps, ...s.hisResolved]
    yield* doOps(st, finalOps)
    const oldKnown = knownList(st).filter((n) => n !== peer)
    const hisKnown: Array<readonly [Atom, number]> = []
    for (const k of s.hisKnown ?? []) {
      if (k instanceof T.Tuple && el(k, 0) instanceof T.Atom) hisKnown.push([el(k, 0) as Atom, Number(el(k, 1))])
      else if (k instanceof T.Atom) hisKnown.push([k, 7])
    }
    st.sessions.delete(peer)
    st.pending.delete(peer)
    st.known.set(peer, s.hisVsn)
    st.synced.add(peer)
    yield* syncDone(st, peer)
    const added = hisKnown.filter(([n]) => n !== st.node && !st.known.has(n))
    for (const [n, v] of added) st.known.set(n, v)
    yield* syncOthers(st, added.map(([n]) => n))
    const newNodes = [T.tuple(peer, s.hisVsn), ...hisKnown.map(([n, v]) => T.tuple(n, v))]
    // the locker casts new_nodes to our old partition, then deletes the lock
    const fun = T.tuple(
      A.newNodes,
      oldKnown,
      T.tuple(A.newNodes, st.node, finalOps, [], newNodes, [
        T.tuple(A.vsn, VSN),
        T.tuple(A.lock, s.lockId ?? [])
      ])
    )
    yield* toLocker(st, T.tuple(A.cancel, peer, s.myTag, fun))
  })

/** `sync_others`: connect to each node and cast `in_sync`. */
const syncOthers = (st: State, nodes: ReadonlyArray<Atom>) =>
  Effect.forEach(nodes, (n) =>
    Effect.gen(function*() {
      const up = yield* Effect.flatMap(NetKernel.NetKernel, (k) => Effect.either(k.connect(n)))
      if (up._tag === "Left") {
        yield* Effect.logWarning(`global: cannot reach ${n.name} (named by a peer): ${up.left.message}`)
        return
      }
      yield* cast(st, n, T.tuple(A.inSync, st.node, T.atoms.true))
    }).pipe(Effect.forkDaemon), { discard: true })

/** The casts (`{'$gen_cast', Msg}`). Anything else is logged and ignored, as OTP does. */
const handleCast = (st: State, msg: Term): Effect.Effect<void, never, any> =>
  Effect.gen(function*() {
    if (T.isTagged(msg, A.initConnect, 4)) {
      const [, vsn, node, init] = msg.elements as [Term, Term, Term, Term]
      if (!(node instanceof T.Atom) || !(init instanceof T.Tuple) || !(el(init, 3) instanceof T.Pid)) {
        return yield* Effect.logWarning(`global: bad init_connect ${T.format(msg)}`)
      }
      const s = st.sessions.get(node)
      if (s === undefined) {
        if (!st.known.has(node)) st.preConnect.set(node, msg)
        return
      }
      const [hisVsn, hisTag] = vsn instanceof T.Tuple ? [Number(el(vsn, 0)), el(vsn, 1)] : [Number(vsn), undefined]
      if (st.pending.has(node)) {
        // A second init_connect in this session: the peer restarted its session before it saw
        // our init_connect (had it seen it, its restart would have sent us cancel_connect for our
        // tag first, and we would have restarted too). Our init_connect is still on its way to its
        // new session, so the new tag supersedes the old one. OTP cancels both sessions and starts
        // over here; with a peer that does the same, that feeds the restart loop (see supersede).
        yield* supersede(st, node, s)
      }
      s.hisVsn = Math.min(hisVsn, VSN)
      s.hisTag = hisTag
      s.hisLocker = el(init, 3) as T.Pid
      st.pending.set(node, s.hisVsn)
      yield* toLocker(st, T.tuple(A.hisTheLocker, s.hisLocker, T.tuple(s.hisVsn, []), hisTag ?? [], s.myTag))
      if (s.hisVsn >= 8) {
        if (s.peerAcked !== undefined && T.equals(s.peerAcked, hisTag ?? [])) yield* sendAck(st, node, s)
        else s.ackOwed = true
      }
      return
    }
    if (T.isTagged(msg, A.lockSet) && (msg.elements.length === 5 || msg.elements.length === 4)) {
      const hisLocker = el(msg, 1)
      if (!(hisLocker instanceof T.Pid)) return
      const s = st.sessions.get(hisLocker.node)
      if (s === undefined || (msg.elements.length === 5 && !T.equals(el(msg, 4), s.myTag))) return
      return yield* toLocker(st, msg)
    }
    if (T.isTagged(msg, A.lockIsSet, 4) && el(msg, 1) instanceof T.Atom) {
      const node = el(msg, 1) as Atom
      const s = st.sessions.get(node)
      if (s === undefined || !T.equals(el(msg, 2), s.myTag)) return
      s.lockId = el(msg, 3)
      s.lockIsSet = true
      const names = [...st.names.values()].map((n) => T.tuple(n.name, n.pid, n.method))
      yield* cast(st, node, T.tuple(A.exchange, st.node, names, [], s.hisTag ?? []))
      return yield* tryExchange(st, node, s)
    }
    if (T.isTagged(msg, A.exchange, 5)) {
      const node = el(msg, 1)
      const s = node instanceof T.Atom ? st.sessions.get(node) : undefined
      if (s === undefined || !T.equals(el(msg, 4), s.myTag)) return
      s.hisNames = list(el(msg, 2))
      return yield* tryExchange(st, node as Atom, s)
    }
    if (T.isTagged(msg, A.resolved, 7)) {
      const node = el(msg, 1)
      const s = node instanceof T.Atom ? st.sessions.get(node) : undefined
      if (s === undefined || !T.equals(el(msg, 6), s.myTag)) return
      s.hisResolved = list(el(msg, 2))
      s.hisKnown = list(el(msg, 3))
      return yield* tryResolved(st, node as Atom, s)
    }
    if (T.isTagged(msg, A.newNodes, 6)) {
      const [, , ops, , nodes, extra] = msg.elements as [Term, Term, Term, Term, Term, Term]
      const added: Array<Atom> = []
      for (const k of list(nodes)) {
        const n = k instanceof T.Tuple ? el(k, 0) : k
        if (n instanceof T.Atom && n !== st.node && !st.known.has(n)) {
          st.known.set(n, k instanceof T.Tuple ? Number(el(k, 1)) : 7)
          added.push(n)
        }
      }
      const lockInfo = list(extra).find((x) => T.isTagged(x, A.lock, 2)) as T.Tuple | undefined
      const g = st.locks.find((l) => l.resource === A.global)
      const lockId = lockInfo === undefined ? undefined : el(lockInfo, 1)
      if (lockId instanceof T.Tuple && g !== undefined && T.equals(g.reqId, el(lockId, 1))) {
        yield* doOps(st, list(ops))
      }
      return yield* syncOthers(st, added)
    }
    if (T.isTagged(msg, A.exchangeOps, 5)) return yield* exchangeOps(st, msg)
    if (T.isTagged(msg, A.inSync, 3)) {
      // the peer is in sync with us through a third node (its sync_others): as OTP 25, our own
      // connect session with it, if any, is cancelled (the locker drops it, its resolver is
      // killed, its state goes: reset_node_state); `pending` goes first, so no cancel_connect
      const node = el(msg, 1)
      if (!(node instanceof T.Atom)) return
      st.synced.add(node)
      st.pending.delete(node)
      st.preConnect.delete(node)
      yield* dropSession(st, node)
      return yield* syncDone(st, node)
    }
    yield* Effect.logWarning(`global_name_server: unexpected cast ${T.format(msg)}`)
  })

/** The name server's answer to a call (no closure per call: this runs for every call on every node). */
const reply = (st: State, from: T.Tuple, value: Term): Effect.Effect<void> =>
  Process.replyFrom(st.gnsRuntime!, st.gns!.pid, from, value)

/**
 * The calls (`{'$gen_call', {Pid, Tag}, Req}`), handled at once; the result is the reply's
 * send (`Effect.void` when it went out at once).
 */
const handleCall = (st: State, from: T.Tuple, req: Term): Effect.Effect<void> => {
  const fromPid = el(from, 0)
  if (!(fromPid instanceof T.Pid)) return Effect.logWarning(`global_name_server: bad From ${T.format(from)}`)
  if (T.isTagged(req, A.setLock, 2)) return reply(st, from, T.boolean(setLock(st, el(req, 1), fromPid)))
  if (T.isTagged(req, A.delLock, 2)) {
    delLock(st, el(req, 1), fromPid)
    return reply(st, from, T.atoms.true)
  }
  if ((T.isTagged(req, A.register, 4) || T.isTagged(req, A.registerExt, 5)) && el(req, 2) instanceof T.Pid) {
    const name = el(req, 1)
    insertNameNow(st, name, el(req, 2) as T.Pid, el(req, 3))
    if (!lockStillSet(st, fromPid)) deleteNameNow(st, name)
    return reply(st, from, A.yes)
  }
  if (T.isTagged(req, A.unregister, 2)) {
    deleteNameNow(st, el(req, 1))
    return reply(st, from, A.ok)
  }
  return Effect.logWarning(`global_name_server: unexpected call ${T.format(req)}`)
}

/**
 * The `global_name_server`: after its start (node monitoring, a nodeup for each node up
 * now) it serves its messages with no fiber (`Process.serve`). The calls and DOWNs are
 * handled synchronously; any other message's Effect runs on a fiber of the process, as
 * in a receive loop (the messages after it wait for it).
 */
export const serverLoop = (st: State) =>
  Effect.gen(function*() {
    st.gns = yield* Process.Self
    st.gnsRuntime = yield* ProcessRuntime
    yield* NetKernel.monitorNodes()
    for (const n of yield* NetKernel.nodes("visible")) yield* nodeup(st, n)
    return yield* Process.serve((msg) => serveOne(st, msg as Term))
  })

const serveOne = (st: State, msg: Term): Effect.Effect<void, never, any> => {
  let effect: Effect.Effect<void, never, any>
  try {
    effect = dispatch(st, msg)
  } catch (d) {
    effect = Effect.die(d)
  }
  return Process.isSuccessExit(effect) ? effect : Effect.catchAllDefect(
    effect,
    (d) => Effect.logError(`global_name_server: ${String(d)} on ${T.format(msg)}`)
  )
}

/** One message to the server (a plain function: the calls of a registration need no generator). */
const dispatch = (st: State, msg: Term): Effect.Effect<void, never, any> => {
  if (T.isTagged(msg, A.genCall, 3)) {
    const from = el(msg, 1)
    if (from instanceof T.Tuple && from.elements.length === 2) return handleCall(st, from, el(msg, 2))
  }
  if (T.isTagged(msg, A.genCast, 2)) return handleCast(st, el(msg, 1))
  if (T.isTagged(msg, A.nodeup) && el(msg, 1) instanceof T.Atom) return nodeup(st, el(msg, 1) as Atom)
  if (T.isTagged(msg, A.nodedown) && el(msg, 1) instanceof T.Atom) return netNodedown(st, el(msg, 1) as Atom)
  if (T.isTagged(msg, A.down, 5) && el(msg, 1) instanceof T.Ref) {
    handleDown(st, el(msg, 1) as T.Ref)
    return Effect.void
  }
  if (T.isTagged(msg, A.initConnectAck, 4) && el(msg, 1) instanceof T.Atom) {
    return initConnectAck(st, el(msg, 1) as Atom, el(msg, 2), el(msg, 3))
  }
  if (T.isTagged(msg, A.removeConnection, 2) && el(msg, 1) instanceof T.Atom) {
    const node = el(msg, 1) as Atom
    return Effect.gen(function*() {
      yield* Effect.logInfo(`global: ${node.name} asks us to drop the connection to it (remove_connection)`)
      st.removing.add(node)
      yield* nodedown(st, node)
      const had = yield* Effect.flatMap(NetKernel.NetKernel, (k) => k.disconnect(node))
      if (!had) st.removing.delete(node)
    })
  }
  if (T.isTagged(msg, A.lostConnection, 5)) return lostConnection(st, msg)
  if (T.isTagged(msg, A.cancelConnect, 3) && el(msg, 1) instanceof T.Atom) {
    const node = el(msg, 1) as Atom
    const s = st.sessions.get(node)
    if (s === undefined || !T.equals(el(msg, 2), s.myTag)) return Effect.void
    return Effect.zipRight(
      Effect.logInfo(`global: ${node.name} cancelled our connect: restarting it`),
      restartConnect(st, node, s)
    )
  }
  return Effect.logWarning(`global_name_server: unexpected message ${T.format(msg)}`)
}

// ---------------------------------------------------------------------------------- locker

/** A peer the locker may lock with (`#him{}`): from the server's `his_the_locker`. */
interface Him {
  readonly node: Atom
  readonly myTag: Term
  readonly hisTag: Term
  readonly locker: T.Pid
  readonly vsn: number
}

const lockIdWith = (self: T.Pid, his: T.Pid): Term => T.tuple(A.global, [self, his].sort((x, y) => T.compare(x, y)))

/**
 * `lock_nodes_safely(LockId, Extra)`: the boss of our partition, then `[node()|Extra]`,
 * then the rest of `known`; on a refusal the locks taken so far are deleted.
 */
const lockNodesSafely = (st: State, lockId: Term, extra: ReadonlyArray<Atom>) =>
  Effect.suspend(() => {
    const first = [maxAtom([st.node, ...knownList(st)])]
    return lockInSteps(st, lockId, [
      first,
      [st.node, ...extra].filter((n) => !first.includes(n)),
      knownList(st).filter((n) => !first.includes(n))
    ])
  })

const sendLockSet = (st: State, ok: boolean, him: Him) =>
  Effect.gen(function*() {
    const self = yield* Process.self
    const msg = him.vsn < 8
      ? T.tuple(A.lockSet, self, T.boolean(ok), knownList(st))
      : T.tuple(A.lockSet, self, T.boolean(ok), knownList(st), him.hisTag)
    yield* cast(st, him.node, msg)
  })

const isCancel = (node: Atom, tag: Term) => (m: unknown): m is T.Tuple =>
  T.isTagged(m, A.cancel, 4) && el(m, 1) === node && T.equals(el(m, 2), tag)

/**
 * `wait_cancel_lock`: holds the lock until the server says the exchange with `node` is
 * over (`{cancel, Node, Tag, Fun}`); runs the `new_nodes` multicast first, then deletes
 * the lock (all nodes but the boss, then the boss).
 */
const waitCancelLock = (st: State, node: Atom, lockId: Term, tag: Term, locked: ReadonlyArray<Atom>) =>
  Effect.gen(function*() {
    const msg = yield* Process.receive(isCancel(node, tag))
    yield* runFun(st, el(msg, 3))
    yield* unlockNodes(st, lockId, locked)
  })

/** The `new_nodes` multicast the server hands to the locker (OTP's `NewNodesF`). */
const runFun = (st: State, fun: Term) =>
  T.isTagged(fun, A.newNodes, 3)
    ? Effect.forEach(list(el(fun, 1)), (n) => n instanceof T.Atom ? cast(st, n, el(fun, 2)) : Effect.void, {
      discard: true
    })
    : Effect.void

/** The active side (`select_node`): lock our partition and the peer, tell it, wait for its answer. */
const selectNode = (st: State, others: Map<Atom, Him>) =>
  Effect.gen(function*() {
    for (const n of others.keys()) if (st.known.has(n)) others.delete(n)
    const candidates = [...others.values()]
    if (candidates.length === 0) return false
    const him = candidates[yield* Random.nextIntBetween(0, candidates.length)]!
    const self = yield* Process.self
    const lockId = lockIdWith(self, him.locker)
    if (!(yield* lockNodesSafely(st, lockId, [him.node]))) return false
    const known1 = [st.node, him.node, ...knownList(st)]
    yield* sendLockSet(st, true, him)
    // lock_is_set: the peer's lock_set for this session, or a cancel
    const answer = yield* Process.receive((m): m is T.Tuple =>
      isCancel(him.node, him.myTag)(m) ||
      (T.isTagged(m, A.lockSet) && el(m, 1) instanceof T.Pid && (el(m, 1) as T.Pid).node === him.node &&
        (m.elements.length === 4 || T.equals(el(m, 4), him.myTag)))
    )
    if (T.isTagged(answer, A.lockSet) && el(answer, 2) === T.atoms.true) {
      others.delete(him.node)
      yield* Effect.ignore(Process.send(A.gns, T.tuple(A.genCast, T.tuple(A.lockIsSet, him.node, him.myTag, lockId))))
      yield* waitCancelLock(st, him.node, lockId, him.myTag, known1)
      return true
    }
    if (T.isTagged(answer, A.cancel, 4)) {
      others.delete(him.node)
      yield* runFun(st, el(answer, 3))
    }
    yield* unlockNodes(st, lockId, known1)
    return false
  })

/** The spontaneous side: the peer locked its partition and us; lock ours with the same id and answer. */
const spontaneous = (st: State, others: Map<Atom, Him>, msg: T.Tuple) =>
  Effect.gen(function*() {
    const pid = el(msg, 1) as T.Pid
    const him = others.get(pid.node)
    if (him === undefined) {
      const self = yield* Process.self
      yield* cast(st, pid.node, T.tuple(A.lockSet, self, T.atoms.false, knownList(st), 0))
      return false
    }
    const self = yield* Process.self
    const lockId = lockIdWith(self, pid)
    const ok = yield* lockNodesSafely(st, lockId, [])
    yield* sendLockSet(st, ok, him)
    if (!ok) return false
    const known2 = [st.node, ...knownList(st)]
    others.delete(him.node)
    yield* Effect.ignore(Process.send(A.gns, T.tuple(A.genCast, T.tuple(A.lockIsSet, him.node, him.myTag, lockId))))
    yield* waitCancelLock(st, him.node, lockId, him.myTag, known2)
    return true
  })

/** `loop_the_locker`, OTP's timeouts: 0 right after a success, 200 ms alone, else 1 s + 100 ms per known node (≤ 3 s). */
export const lockerLoop = (st: State): Effect.Effect<never, never, InProcess> =>
  Effect.gen(function*() {
    const others = new Map<Atom, Him>()
    let justSynced = false
    while (true) {
      const timeout = others.size === 0
        ? undefined
        : justSynced
        ? 0
        : st.known.size === 0
        ? 200
        : Math.min(1000 + 100 * st.known.size, 3000)
      justSynced = false
      const got = timeout === undefined
        ? Option.some(yield* Process.receive())
        : yield* Process.receive(() => true, { after: timeout })
      if (Option.isNone(got)) {
        const g = st.locks.find((l) => l.resource === A.global)
        if (g === undefined) justSynced = yield* selectNode(st, others)
        continue
      }
      const msg = got.value as Term
      if (T.isTagged(msg, A.hisTheLocker, 5) && el(msg, 1) instanceof T.Pid) {
        const [, locker, vsn, hisTag, myTag] = msg.elements as [Term, T.Pid, T.Tuple, Term, Term]
        others.set(locker.node, { node: locker.node, locker, vsn: Number(el(vsn, 0)), hisTag, myTag })
      } else if (T.isTagged(msg, A.cancel, 4) && el(msg, 1) instanceof T.Atom) {
        const him = others.get(el(msg, 1) as Atom)
        if (him !== undefined && T.equals(him.myTag, el(msg, 2))) others.delete(him.node)
        yield* runFun(st, el(msg, 3))
      } else if (T.isTagged(msg, A.lockSet) && el(msg, 1) instanceof T.Pid && el(msg, 2) === T.atoms.true) {
        justSynced = yield* spontaneous(st, others, msg)
      } else if (!T.isTagged(msg, A.lockSet)) {
        yield* Effect.logWarning(`global locker: unexpected message ${T.format(msg)}`)
      }
    }
  })

// ---------------------------------------------------------------------------------- registrar

/** What a registrar job does under the lock on `nodes`: the call it makes on every node (none: no call), and its result. */
export interface RegistrarWork {
  readonly request: Term | undefined
  readonly result: unknown
}

/**
 * A job for the registrar, run under `{global, RegistrarPid}` on every known node: `run`
 * (synchronous) says what to call on them; `done` gets the result once the lock is gone.
 */
export interface RegistrarJob {
  readonly _tag: "RegistrarJob"
  readonly run: (st: State, nodes: ReadonlyArray<Atom>) => RegistrarWork
  readonly done: (result: Effect.Effect<unknown>) => void
}

/** `{register, Name, Pid, Method}`: what `register_name` and `re_register_name` call on every node. */
export const registerRequest = (name: Term, pid: T.Pid, method: Term): Term => T.tuple(A.register, name, pid, method)

/** `{unregister, Name}`: what `unregister_name` calls on every node. */
export const unregisterRequest = (name: Term): Term => T.tuple(A.unregister, name)

/** One call of the registrar's current round: `request` to `{global_name_server, node}`, and its answer. */
interface Call {
  readonly node: Atom
  readonly tag: T.Ref
  readonly request: Term
  due: boolean
  /** the answer; `undefined` from a node whose name server went down (a bad node of the multi_call) */
  answer: Term | undefined
}

/** The rounds of `trans_all_known` (each one multi_call, or two to disjoint ends), and of its undoing after a refusal. */
const Step = { LockBoss: 0, LockRest: 1, Work: 2, UnlockBoss: 3, UndoRest: 4, UndoBoss: 5 } as const

const isJob = (m: unknown): m is RegistrarJob =>
  typeof m === "object" && m !== null && (m as RegistrarJob)._tag === "RegistrarJob"

/**
 * The registrar (OTP's `loop_the_registrar` running `trans_all_known`), one job at a time:
 * `set_lock {global, Self}` on the boss, then on the other known nodes (and `known` must not
 * have grown), the job's call on every node, `del_lock` on every node but the boss, then on
 * the boss; a refusal deletes the locks taken, backs off as OTP (`random_sleep`) and starts
 * over. Its calls are OTP's multi_calls (`{'$gen_call', {Self, {Tag, Node}}, Req}`, a tag per
 * multi_call, each name server monitored: a DOWN makes it a bad node), from this process.
 *
 * It is a handler process (`Process.serve`) driven by its messages, with no fiber: a job
 * sends the first round, and the answer that completes a round sends the next, from the
 * socket's read callback, with no fiber parked and resumed per round. Only the first call
 * to a node (its monitor) and the backoff's sleep run as Effects, on a fiber of the process.
 *
 * The job's own call goes out with the `del_lock` of the nodes but the boss right behind it
 * (one round, not two): each node gets the same calls in the same order as from OTP's
 * registrar (its `register` before its `del_lock`), and the boss, which every taker of a
 * `global` lock locks first, is unlocked last, once every other node has answered both. A
 * node may then drop our lock before another node has handled the job's call; nobody can
 * lock a node for `global` meanwhile without the boss.
 */
class Registrar {
  private readonly queue: Array<RegistrarJob> = []
  private job: RegistrarJob | undefined = undefined
  private nodes: ReadonlyArray<Atom> = []
  private boss: Atom
  private times = 0
  private step: number = Step.LockBoss
  private calls: Array<Call> = []
  private due = 0
  /** the nodes that said `true` to our `set_lock` in this attempt */
  private locked: Array<Atom> = []
  private outcome: Effect.Effect<unknown> = Effect.void
  /** sends that did not finish at once (see `Process.unsafeSendFrom`), for the handler's Effect */
  private later: Array<Effect.Effect<void, unknown>> = []
  private readonly setLockReq: Term
  private readonly delLockReq: Term

  constructor(readonly st: State, readonly rt: ProcessRuntimeShape, readonly self: T.Pid) {
    this.boss = st.node
    const id = T.tuple(A.global, self)
    this.setLockReq = T.tuple(A.setLock, id)
    this.delLockReq = T.tuple(A.delLock, id)
  }

  /** One message (the `Process.Handler`'s method). */
  handle(msg: unknown): Effect.Effect<unknown, never, any> {
    if (isJob(msg)) {
      this.queue.push(msg)
      return this.job === undefined ? this.next() : Effect.void
    }
    if (!(msg instanceof T.Tuple)) return Effect.void
    const e = msg.elements
    let answered = false
    if (e.length === 2) {
      // {{Tag, Node}, Answer}
      const t = e[0]
      if (!(t instanceof T.Tuple) || t.elements.length !== 2) return Effect.void
      const node = t.elements[1]
      for (const c of this.calls) {
        if (c.due && c.node === node && T.equals(c.tag, t.elements[0]!)) {
          c.due = false
          c.answer = e[1]
          this.due--
          answered = true
          break
        }
      }
    } else if (Process.isDownMessage(msg)) {
      // a name server we monitor went away: a bad node for the calls still due
      for (const [node, ref] of this.st.registrarMonitors) {
        if (!Process.isDownMessage(msg, ref)) continue
        this.st.registrarMonitors.delete(node)
        for (const c of this.calls) {
          if (c.due && c.node === node) {
            c.due = false
            this.due--
            answered = true
          }
        }
      }
    }
    return answered && this.due === 0 ? this.advance() : Effect.void
  }

  private next(): Effect.Effect<unknown, never, any> {
    this.job = this.queue.shift()
    if (this.job === undefined) return Effect.void
    this.times = 0
    return this.lock()
  }

  /** `set_lock_known`: the boss of `[node()|Known]` first. */
  private lock(): Effect.Effect<unknown, never, any> {
    this.nodes = [this.st.node, ...knownList(this.st)]
    this.boss = maxAtom(this.nodes)
    this.locked = []
    return this.round(Step.LockBoss, [this.boss], this.setLockReq)
  }

  private rest(): Array<Atom> {
    return this.nodes.filter((n) => n !== this.boss)
  }

  /** A round's answers are all in: the next round. */
  private advance(): Effect.Effect<unknown, never, any> {
    switch (this.step) {
      case Step.LockBoss: {
        if (this.calls[0]!.answer !== T.atoms.true) return this.refused()
        this.locked.push(this.boss)
        return this.round(Step.LockRest, this.rest(), this.setLockReq)
      }
      case Step.LockRest: {
        let all = true
        for (const c of this.calls) {
          if (c.answer === T.atoms.true) this.locked.push(c.node)
          else all = false
        }
        if (!all || !knownList(this.st).every((n) => this.nodes.includes(n))) return this.refused()
        let work: RegistrarWork
        try {
          work = this.job!.run(this.st, this.nodes)
          this.outcome = Exit.succeed(work.result)
        } catch (d) {
          work = { request: undefined, result: undefined }
          this.outcome = Exit.die(d)
        }
        return this.round(Step.Work, this.nodes, work.request, this.rest(), this.delLockReq)
      }
      case Step.Work:
        return this.round(Step.UnlockBoss, [this.boss], this.delLockReq)
      case Step.UnlockBoss: {
        const job = this.job!
        const outcome = this.outcome
        this.outcome = Effect.void
        job.done(outcome)
        return this.next()
      }
      case Step.UndoRest:
        return this.round(Step.UndoBoss, this.locked.includes(this.boss) ? [this.boss] : [], this.delLockReq)
      default:
        return this.backoff()
    }
  }

  /** A `set_lock` said `false` (or its node went down), or `known` grew: delete the locks taken, back off, retry. */
  private refused(): Effect.Effect<unknown, never, any> {
    return this.round(Step.UndoRest, this.locked.filter((n) => n !== this.boss), this.delLockReq)
  }

  /** `random_sleep(Times)`: up to 125 ms × 2^Times (8 s at most), then the lock again. */
  private backoff(): Effect.Effect<unknown, never, any> {
    const cap = Math.min(125 * 2 ** Math.min(this.times, 6), 8000)
    this.times++
    this.calls = []
    return Effect.flatMap(
      Random.nextIntBetween(0, cap),
      (ms) => Effect.zipRight(Effect.sleep(ms), Effect.suspend(() => this.lock()))
    )
  }

  /**
   * Sends a round: `request` to each of `nodes` (one multi_call, one tag), then `request2`
   * to each of `nodes2` (another); with no call in it, the round is over at once.
   */
  private round(
    step: number,
    nodes: ReadonlyArray<Atom>,
    request: Term | undefined,
    nodes2: ReadonlyArray<Atom> = [],
    request2?: Term
  ): Effect.Effect<unknown, never, any> {
    this.step = step
    const calls: Array<Call> = []
    if (request !== undefined && nodes.length > 0) {
      const tag = this.rt.unsafeMakeRef()
      for (const node of nodes) calls.push({ node, tag, request, due: true, answer: undefined })
    }
    if (request2 !== undefined && nodes2.length > 0) {
      const tag = this.rt.unsafeMakeRef()
      for (const node of nodes2) calls.push({ node, tag, request: request2, due: true, answer: undefined })
    }
    this.calls = calls
    this.due = calls.length
    if (calls.length === 0) return this.advance()
    const kept = this.st.registrarMonitors
    let unmonitored: Array<Atom> | undefined
    for (const c of calls) {
      if (!kept.has(c.node) && !unmonitored?.includes(c.node)) (unmonitored ??= []).push(c.node)
    }
    if (unmonitored === undefined) return this.send()
    // the first call to a node: monitor its name server (kept from then on, until a DOWN)
    return Effect.zipRight(
      Effect.forEach(unmonitored, (node) =>
        Effect.map(Process.monitor(gnsAt(this.st, node)), (ref) => {
          kept.set(node, ref)
        }), { discard: true }),
      Effect.suspend(() => this.send())
    )
  }

  /** The round's calls: other nodes first, our own name server last (its answer is the quickest). */
  private send(): Effect.Effect<unknown, never, any> {
    for (const c of this.calls) if (c.node !== this.st.node) this.call(c)
    for (const c of this.calls) if (c.node === this.st.node) this.call(c)
    if (this.later.length === 0) return Effect.void
    const later = this.later
    this.later = []
    return Effect.forEach(later, (e) => Effect.ignore(e), { discard: true })
  }

  private call(c: Call): void {
    const msg = T.tuple(A.genCall, T.tuple(this.self, T.tuple(c.tag, c.node)), c.request)
    const sent = Process.unsafeSendFrom(this.rt, this.self, gnsAt(this.st, c.node), msg)
    if (sent !== Effect.void) this.later.push(sent)
  }
}

/** The registrar process: serves its jobs and the answers to its calls (see `Registrar`). */
export const registrar = (st: State) =>
  Effect.gen(function*() {
    const self = yield* Process.self
    const rt = yield* ProcessRuntime
    return yield* Process.serve(new Registrar(st, rt, self))
  })

// ---------------------------------------------------------------------------------- set_lock / del_lock

/** `set_lock_on_nodes`: one multi_call; nodes that answered `true` get `del_lock` if any said `false`. */
const setLockOnNodes = (st: State, id: Term, nodes: ReadonlyArray<Atom>) =>
  Effect.gen(function*() {
    if (nodes.length === 0) return true
    const { replies } = yield* multiCall(st, nodes, T.tuple(A.setLock, id))
    const yes = [...replies].filter(([, r]) => r === T.atoms.true).map(([n]) => n)
    if (yes.length === replies.size) return true
    if (yes.length > 0) yield* multiCall(st, yes, T.tuple(A.delLock, id))
    return false
  })

/** `global:set_lock(Id, Nodes, Retries)` from the calling process, with OTP's random backoff. */
export const setLockFrom = (
  st: State,
  id: Term,
  nodes: ReadonlyArray<Atom>,
  retries: number
): Effect.Effect<boolean, never, InProcess> =>
  Effect.gen(function*() {
    for (let times = 0;; times++) {
      if (yield* setLockOnNodes(st, id, nodes)) return true
      if (times >= retries) return false
      const cap = Math.min(125 * 2 ** Math.min(times, 6), 8000)
      yield* Effect.sleep(yield* Random.nextIntBetween(0, cap))
    }
  })

/** `global:del_lock(Id, Nodes)` from the calling process. */
export const delLockFrom = (
  st: State,
  id: Term,
  nodes: ReadonlyArray<Atom>
): Effect.Effect<void, never, InProcess> => Effect.asVoid(multiCall(st, nodes, T.tuple(A.delLock, id)))
