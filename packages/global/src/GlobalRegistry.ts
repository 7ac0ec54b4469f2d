/**
 * OTP's `global` name registry as a participant: a `global_name_server` process that
 * speaks `global`'s protocol (version 8) with Erlang nodes, so names registered with
 * `global:register_name/2` on an Erlang node resolve here and names registered here
 * resolve there (`global:whereis_name/1`, `global:send/2`, `gen_server:call({global, N}, …)`).
 *
 * `global` only takes part with **visible** nodes: run the `DistNode` with
 * `hidden: false`.
 *
 * The layer also publishes the module `global` (`resolve_it/4`, which erl's resolver
 * calls on the node of a conflicting pid) on the node's `Rpc` (`DistNode.layerDefault`
 * has one); when the context has no `Rpc` it builds one. Provide `Rpc.layer` *before* this layer, not after: a node has one
 * SPAWN_REQUEST server, and a later `Rpc.layer` would replace the one that serves
 * `global`.
 *
 * @since 0.1.0
 */
import * as NetKernel from "@effect-otp/dist/NetKernel"
import * as Rpc from "@effect-otp/dist/Rpc"
import * as GenServer from "@effect-otp/gen-server/GenServer"
import * as Process from "@effect-otp/process/Process"
import type { ProcessRuntime } from "@effect-otp/process/ProcessRuntime"
import * as T from "@effect-otp/process/Term"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { globalModule } from "./internal/resolve.js"
import * as internal from "./internal/server.js"

/**
 * `send` to a name no node has registered (`global:send/2` exits with `badarg`).
 *
 * @since 0.1.0
 * @category errors
 */
export class GlobalNotRegistered extends Data.TaggedError("GlobalNotRegistered")<{ readonly name: T.Term }> {
  override get message(): string {
    return `no process is registered globally as ${T.format(this.name)}`
  }
}

/**
 * A name as `global` sees it: a string is the atom of that name; any other term as is.
 *
 * @since 0.1.0
 * @category models
 */
export type Name = string | T.Term

/**
 * A lock id `{ResourceId, LockRequesterId}`: a tuple `[resource, requester]` of terms.
 *
 * @since 0.1.0
 * @category models
 */
export type LockId = readonly [resource: T.Term, requester: T.Term]

/**
 * `global:trans` could not take the lock within its retries (OTP returns `aborted`).
 *
 * @since 0.1.0
 * @category errors
 */
export class LockAborted extends Data.TaggedError("LockAborted")<{ readonly resource: T.Term }> {
  override get message(): string {
    return `global lock on ${T.format(this.resource)} not taken (aborted)`
  }
}

const toName = (name: Name): T.Term => typeof name === "string" ? T.atom(name) : name

/**
 * The service.
 *
 * @since 0.1.0
 * @category models
 */
export interface GlobalRegistryShape {
  /** `global:register_name/2`: `true` if registered, `false` if the name or the pid already has one. */
  readonly registerName: (name: Name, pid: T.Pid) => Effect.Effect<boolean>
  /** `global:re_register_name/2`: registers, replacing any holder of the name. */
  readonly reRegisterName: (name: Name, pid: T.Pid) => Effect.Effect<void>
  /** `global:unregister_name/1`. */
  readonly unregisterName: (name: Name) => Effect.Effect<void>
  /** `global:whereis_name/1` (a local lookup, as in OTP). */
  readonly whereisName: (name: Name) => Effect.Effect<Option.Option<T.Pid>>
  /** `global:registered_names/0`. */
  readonly registeredNames: Effect.Effect<ReadonlyArray<T.Term>>
  /** `global:send/2`: the pid the message went to. */
  readonly send: (name: Name, message: unknown) => Effect.Effect<T.Pid, GlobalNotRegistered>
  /** `global:sync/0`: waits until every visible node has finished its exchange with us (or went down). */
  readonly sync: Effect.Effect<void>
  /**
   * `global:set_lock({ResourceId, RequesterId}, Nodes, Retries)` for the calling process
   * (the lock holder, monitored by every node: the lock goes when it exits). Nodes default
   * to this node and every visible node; retries to infinity.
   */
  readonly setLock: (
    id: LockId,
    nodes?: ReadonlyArray<T.Atom> | undefined,
    retries?: number | undefined
  ) => Effect.Effect<boolean, never, Process.Self>
  /** `global:del_lock(Id, Nodes)` for the calling process. */
  readonly delLock: (id: LockId, nodes?: ReadonlyArray<T.Atom> | undefined) => Effect.Effect<void, never, Process.Self>
  /** `gen_server` `{via, global, Name}` / `{global, Name}`: a `GenServer` target and start name. */
  readonly via: (name: Name) => GenServer.Via
  /** The nodes `global` knows here (OTP's `known`). */
  readonly knownNodes: Effect.Effect<ReadonlyArray<T.Atom>>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class GlobalRegistry extends Effect.Tag("@effect-otp/global/GlobalRegistry")<
  GlobalRegistry,
  GlobalRegistryShape
>() {}

/**
 * Options of `layer`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * OTP's `connect_all` (default: the `DistNode`'s `connectAll`, itself `true` by
   * default): `false` keeps `global` local, as `erl -connect_all false` does (no exchange
   * with other nodes, no transitive connect, no prevent_overlapping_partitions;
   * `set_lock`/`del_lock` calls from other nodes are still answered).
   */
  readonly connectAll?: boolean | undefined
}

const make = (options: Options | undefined) =>
  Effect.gen(function*() {
    const kernel = yield* NetKernel.NetKernel
    const node = kernel.node
    const st = internal.makeState(node, options?.connectAll ?? kernel.connectAll)
    const locker = yield* Process.spawnScoped(internal.lockerLoop(st))
    const registrar = yield* Process.spawnScoped(internal.registrarLoop(st))
    st.lockerPid = locker
    st.registrarPid = registrar
    // global:resolve_it/4 through rpc, on the node's Rpc (or one of our own when it has none)
    const rpc = yield* Effect.serviceOption(Rpc.Rpc)
    const rpcContext = Option.isSome(rpc)
      ? Context.make(Rpc.Rpc, rpc.value)
      : yield* Layer.build(Rpc.layer)
    yield* Rpc.publish(globalModule).pipe(Effect.provide(rpcContext))
    const server = yield* Process.spawn(internal.serverLoop(st), { name: "global_name_server" }).pipe(Effect.orDie)
    yield* Effect.addFinalizer(() => Process.exit(server, T.atom("kill")))

    const onRegistrar = <A>(run: (nodes: ReadonlyArray<T.Atom>) => Effect.Effect<A, never, any>) =>
      Effect.gen(function*() {
        const done = yield* Deferred.make<unknown>()
        yield* Process.send(registrar, { _tag: "RegistrarJob", run, done }).pipe(Effect.orDie)
        return (yield* Deferred.await(done)) as A
      })

    const registerName = (name: Name, pid: T.Pid) =>
      onRegistrar((nodes) =>
        Effect.gen(function*() {
          const n = toName(name)
          if (internal.whereName(st, n) !== undefined) return false
          if (st.names.some((e) => T.equals(e.pid, pid))) return false
          yield* internal.registerOn(st, nodes, n, pid, internal.randomExitName)
          return true
        })
      )

    const reRegisterName = (name: Name, pid: T.Pid) =>
      Effect.asVoid(onRegistrar((nodes) => internal.registerOn(st, nodes, toName(name), pid, internal.randomExitName)))

    const unregisterName = (name: Name) =>
      Effect.asVoid(onRegistrar((nodes) => internal.unregisterOn(st, nodes, toName(name))))

    const whereisName = (name: Name) =>
      Effect.sync(() => Option.fromNullable(internal.whereName(st, toName(name))?.pid))

    const sync = Effect.gen(function*() {
      const visible = yield* NetKernel.nodes("visible")
      const waiting = new Set(visible.filter((n) => !st.synced.has(n)))
      if (waiting.size === 0) return
      const done = yield* Deferred.make<void>()
      st.syncWaiters.add({ nodes: waiting, done })
      yield* Deferred.await(done)
    })

    const provide = <A, E>(eff: Effect.Effect<A, E, any>) => eff as Effect.Effect<A, E, never>
    const ctx = yield* Effect.context<ProcessRuntime | NetKernel.NetKernel>()
    const withCtx = <A, E>(eff: Effect.Effect<A, E, any>) => provide(Effect.provide(eff, ctx))

    const lockNodes = (nodes: ReadonlyArray<T.Atom> | undefined) =>
      nodes === undefined
        ? Effect.map(NetKernel.nodes("visible"), (ns) => [node, ...ns])
        : Effect.succeed(nodes)

    const viaRegistry: GenServer.ViaRegistry = {
      register: (name, pid) => withCtx(registerName(name, pid)),
      unregister: (name) => withCtx(unregisterName(name)),
      whereis: whereisName,
      send: (name, message) =>
        Effect.flatMap(
          whereisName(name),
          (pid) => Option.isSome(pid) ? Effect.ignore(Process.send(pid.value, message)) : Effect.void
        )
    }

    return GlobalRegistry.of({
      setLock: (id, nodes, retries) =>
        withCtx(Effect.flatMap(lockNodes(nodes), (ns) =>
          internal.setLockFrom(st, T.tuple(id[0], id[1]), ns, retries ?? Infinity))),
      delLock: (id, nodes) =>
        withCtx(Effect.flatMap(lockNodes(nodes), (ns) =>
          internal.delLockFrom(st, T.tuple(id[0], id[1]), ns))),
      via: (name) =>
        GenServer.via(viaRegistry, toName(name)),
      registerName: (name, pid) => withCtx(registerName(name, pid)),
      reRegisterName: (name, pid) => withCtx(reRegisterName(name, pid)),
      unregisterName: (name) => withCtx(unregisterName(name)),
      whereisName,
      registeredNames: Effect.sync(() => st.names.map((e) => e.name)),
      send: (name, message) =>
        withCtx(Effect.gen(function*() {
          const e = internal.whereName(st, toName(name))
          if (e === undefined) return yield* new GlobalNotRegistered({ name: toName(name) })
          yield* Effect.ignore(Process.send(e.pid, message))
          return e.pid
        })),
      sync: withCtx(sync),
      knownNodes: Effect.sync(() => [...st.known.keys()])
    })
  })

/**
 * Runs `global_name_server` (with its locker and registrar) on this node. Needs a
 * `DistNode` (visible, for `global` to see it) and its `ProcessRuntime`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options?: Options
): Layer.Layer<GlobalRegistry, never, NetKernel.NetKernel | ProcessRuntime> =>
  Layer.scoped(GlobalRegistry, make(options))

/**
 * `global:register_name/2`.
 *
 * @since 0.1.0
 * @category names
 */
export const registerName = (name: Name, pid: T.Pid): Effect.Effect<boolean, never, GlobalRegistry> =>
  Effect.flatMap(GlobalRegistry, (g) => g.registerName(name, pid))

/**
 * `global:re_register_name/2`.
 *
 * @since 0.1.0
 * @category names
 */
export const reRegisterName = (name: Name, pid: T.Pid): Effect.Effect<void, never, GlobalRegistry> =>
  Effect.flatMap(GlobalRegistry, (g) => g.reRegisterName(name, pid))

/**
 * `global:unregister_name/1`.
 *
 * @since 0.1.0
 * @category names
 */
export const unregisterName = (name: Name): Effect.Effect<void, never, GlobalRegistry> =>
  Effect.flatMap(GlobalRegistry, (g) => g.unregisterName(name))

/**
 * `global:whereis_name/1`.
 *
 * @since 0.1.0
 * @category names
 */
export const whereisName = (name: Name): Effect.Effect<Option.Option<T.Pid>, never, GlobalRegistry> =>
  Effect.flatMap(GlobalRegistry, (g) => g.whereisName(name))

/**
 * `global:registered_names/0`.
 *
 * @since 0.1.0
 * @category names
 */
export const registeredNames: Effect.Effect<ReadonlyArray<T.Term>, never, GlobalRegistry> = Effect.flatMap(
  GlobalRegistry,
  (g) => g.registeredNames
)

/**
 * `global:send/2`: fails with `GlobalNotRegistered` when no process holds the name.
 *
 * @since 0.1.0
 * @category names
 */
export const send = (name: Name, message: unknown): Effect.Effect<T.Pid, GlobalNotRegistered, GlobalRegistry> =>
  Effect.flatMap(GlobalRegistry, (g) => g.send(name, message))

/**
 * `global:sync/0`.
 *
 * @since 0.1.0
 * @category synchronisation
 */
export const sync: Effect.Effect<void, never, GlobalRegistry> = Effect.flatMap(GlobalRegistry, (g) => g.sync)

/**
 * `global:set_lock/1,2,3`.
 *
 * @since 0.1.0
 * @category locks
 */
export const setLock = (
  id: LockId,
  nodes?: ReadonlyArray<T.Atom>,
  retries?: number
): Effect.Effect<boolean, never, GlobalRegistry | Process.Self> =>
  Effect.flatMap(GlobalRegistry, (g) => g.setLock(id, nodes, retries))

/**
 * `global:del_lock/1,2`.
 *
 * @since 0.1.0
 * @category locks
 */
export const delLock = (
  id: LockId,
  nodes?: ReadonlyArray<T.Atom>
): Effect.Effect<void, never, GlobalRegistry | Process.Self> =>
  Effect.flatMap(GlobalRegistry, (g) => g.delLock(id, nodes))

/**
 * `global:trans(Id, Fun, Nodes, Retries)`: runs `effect` while the calling process holds
 * the lock on `nodes`; the lock is released when the effect ends, fails or is
 * interrupted. Fails with `LockAborted` when the lock is not taken within `retries`.
 *
 * @since 0.1.0
 * @category locks
 */
export const trans = <A, E, R>(
  id: LockId,
  effect: Effect.Effect<A, E, R>,
  options?: { readonly nodes?: ReadonlyArray<T.Atom> | undefined; readonly retries?: number | undefined }
): Effect.Effect<A, E | LockAborted, R | GlobalRegistry | Process.Self> =>
  Effect.flatMap(GlobalRegistry, (g) =>
    Effect.acquireUseRelease(
      Effect.flatMap(
        g.setLock(id, options?.nodes, options?.retries),
        (ok) => ok ? Effect.void : Effect.fail(new LockAborted({ resource: id[0] }))
      ),
      () => effect,
      () => g.delLock(id, options?.nodes)
    ))

/**
 * `{global, Name}` for `GenServer.start`/`call`/`cast` (`{via, global, Name}`).
 *
 * @since 0.1.0
 * @category names
 */
export const via = (name: Name): Effect.Effect<GenServer.Via, never, GlobalRegistry> =>
  Effect.map(GlobalRegistry, (g) => g.via(name))
