/**
 * OTP's `global` name registry as a participant: a `global_name_server` process that
 * speaks `global`'s protocol (version 8) with Erlang nodes, so names registered with
 * `global:register_name/2` on an Erlang node resolve here and names registered here
 * resolve there (`global:whereis_name/1`, `global:send/2`, `gen_server:call({global, N}, …)`).
 *
 * A visible `DistNode` requires OTP's `global` (`DistNode.NameServer`): `layer()` provides
 * it, and the node starts it as it comes up, as `erl` starts `global`:
 *
 * ```ts
 * const Node = DistNode.layerDefault({ name: "alice", cookie: "secret" }).pipe(
 *   Layer.provideMerge(GlobalRegistry.layer()),
 *   Layer.provideMerge(ProcessRuntime.layer)
 * )
 * ```
 *
 * `layerOnNode()` joins a node that is already up (e.g. a `MemoryCluster` node).
 *
 * The name server also publishes the module `global` (`resolve_it/4`, which erl's resolver
 * calls on the node of a conflicting pid) on the node's `Rpc` (a node has one rpc server:
 * it is shared with `Rpc.layer` and `DistNode.layerDefault`).
 *
 * @since 0.1.0
 */
import * as DistNode from "@effect-otp/dist/DistNode"
import * as NetKernel from "@effect-otp/dist/NetKernel"
import * as Rpc from "@effect-otp/dist/Rpc"
import * as GenServer from "@effect-otp/gen-server/GenServer"
import * as Process from "@effect-otp/process/Process"
import { ProcessRuntime, type ProcessRuntimeShape } from "@effect-otp/process/ProcessRuntime"
import * as T from "@effect-otp/process/Term"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { globalModule, userTag } from "./internal/resolve.js"
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
 * How a name conflict is resolved when two partitions that both registered the name
 * heal (the resolve method of `global:register_name/3`). It runs on the node of the
 * pid registered with it, called by the smaller of the two connecting nodes:
 * - `"randomExitName"` (the default, `global:random_exit_name/3`): the pid on the smaller
 *   node keeps the name, the other is killed;
 * - `"randomNotifyName"` (`global:random_notify_name/3`): the pid on the smaller node keeps
 *   the name, the other gets `{global_name_conflict, Name}`;
 * - `"notifyAllName"` (`global:notify_all_name/3`): nobody keeps it, both get
 *   `{global_name_conflict, Name, OtherPid}`;
 * - a function: the pid it returns keeps the name (`Option.none()`: nobody). It is kept on
 *   this node; the other nodes hold the term `{effect_otp_resolve, Node, Id}`, which calls
 *   back here;
 * - any other term, e.g. an Erlang fun received from an Erlang node: kept byte for byte
 *   and run on the BEAM node that created it.
 *
 * @since 0.1.0
 * @category models
 */
export type ResolveMethod =
  | "randomExitName"
  | "randomNotifyName"
  | "notifyAllName"
  | ResolveFn
  | T.Term

/**
 * A resolve function: given the name and the two pids, the one that keeps the name.
 *
 * @since 0.1.0
 * @category models
 */
export type ResolveFn = (
  name: T.Term,
  pid1: T.Pid,
  pid2: T.Pid
) => Effect.Effect<Option.Option<T.Pid>, never, ProcessRuntime>

const standardMethod = (f: string): T.Term => new T.Export(T.atom("global"), T.atom(f), 3)

/** The term a registration carries for `method`; a function is kept in this node's table. */
const methodTerm = (st: internal.State, method: ResolveMethod | undefined): T.Term => {
  if (method === undefined || method === "randomExitName") return internal.randomExitName
  if (method === "randomNotifyName") return standardMethod("random_notify_name")
  if (method === "notifyAllName") return standardMethod("notify_all_name")
  if (typeof method === "function") {
    const id = st.resolvers.size === 0 ? 1 : Math.max(...st.resolvers.keys()) + 1
    st.resolvers.set(id, method)
    return T.tuple(userTag, st.node, id)
  }
  return method as T.Term
}

/**
 * The service.
 *
 * @since 0.1.0
 * @category models
 */
export interface GlobalRegistryShape {
  /**
   * `global:register_name/2,3`: `true` if registered, `false` if the name or the pid
   * already has one. `method` resolves a conflict after a partition heals (default
   * `"randomExitName"`).
   */
  readonly registerName: (name: Name, pid: T.Pid, method?: ResolveMethod | undefined) => Effect.Effect<boolean>
  /** `global:re_register_name/2,3`: registers, replacing any holder of the name. */
  readonly reRegisterName: (name: Name, pid: T.Pid, method?: ResolveMethod | undefined) => Effect.Effect<void>
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

/** The service with the synchronous name lookup behind `whereisName`. */
interface ServiceImpl extends GlobalRegistryShape {
  readonly whereSync: (name: Name) => Option.Option<T.Pid>
}

/** The context key of `GlobalRegistry`, read once (the tag class is a proxy: slow to use as an Effect). */
const registryKey: string = GlobalRegistry.key

/** The name server once its node has started it. */
interface Running {
  readonly st: internal.State
  readonly registrar: T.Pid
  readonly runtime: ProcessRuntimeShape
  readonly context: Context.Context<ProcessRuntime | NetKernel.NetKernel>
}

const make = (options: Options | undefined) =>
  Effect.sync(() => {
    let running: Running | undefined

    /** `DistNode.NameServer.start`: the server, its locker and registrar, in the node's scope. */
    const start: Effect.Effect<void, never, NetKernel.NetKernel | ProcessRuntime | Scope.Scope> = Effect.gen(
      function*() {
        if (running !== undefined) return yield* Effect.dieMessage("GlobalRegistry: one name server per node")
        const kernel = yield* NetKernel.NetKernel
        const st = internal.makeState(kernel.node, options?.connectAll ?? kernel.connectAll)
        const locker = yield* Process.spawnScoped(internal.lockerLoop(st))
        const registrar = yield* Process.spawnScoped(internal.registrar(st))
        st.lockerPid = locker
        st.registrarPid = registrar
        // global:resolve_it/4 through rpc, on the node's one rpc server
        const rpc = yield* Layer.build(Rpc.layer)
        st.rpc = Context.get(rpc, Rpc.Rpc)
        yield* Rpc.publish(globalModule(st)).pipe(Effect.provide(rpc))
        const server = yield* Process.spawn(internal.serverLoop(st), { name: "global_name_server" }).pipe(
          Effect.orDie
        )
        yield* Effect.addFinalizer(() => Process.exit(server, T.atom("kill")))
        const context = yield* Effect.context<ProcessRuntime | NetKernel.NetKernel>()
        running = { st, registrar, runtime: Context.get(context, ProcessRuntime), context }
        yield* Effect.addFinalizer(() => Effect.sync(() => (running = undefined)))
      }
    )

    const notRunningMessage = "GlobalRegistry: not running (no DistNode started it; see GlobalRegistry.layer)"
    const notRunning = Effect.dieMessage(notRunningMessage)

    /** Runs `f` on the running name server, with its node's services. */
    const use = <A, E>(f: (r: Running) => Effect.Effect<A, E, any>): Effect.Effect<A, E, never> =>
      Effect.suspend(() =>
        running === undefined ? notRunning : (Effect.provide(f(running), running.context) as Effect.Effect<A, E, never>)
      )

    /**
     * Runs `run` on the registrar (under `{global, Registrar}` on every known node) and waits
     * for its result: the job goes straight into the registrar's mailbox and the registrar
     * resumes the caller, whatever the caller's context.
     */
    const onRegistrar = <A>(run: (st: internal.State, nodes: ReadonlyArray<T.Atom>) => internal.RegistrarWork) =>
      Effect.suspend(() => {
        const r = running
        if (r === undefined) return notRunning
        return Effect.async<A>((resume) => {
          const job: internal.RegistrarJob = {
            _tag: "RegistrarJob",
            run,
            done: resume as (result: Effect.Effect<unknown>) => void
          }
          if (!r.runtime.unsafeSend(r.registrar, job)) resume(notRunning)
        })
      })

    const registerName = (name: Name, pid: T.Pid, method?: ResolveMethod) =>
      onRegistrar<boolean>((st) => {
        const n = toName(name)
        if (internal.whereName(st, n) !== undefined || st.names.hasPid(pid)) {
          return { request: undefined, result: false }
        }
        return { request: internal.registerRequest(n, pid, methodTerm(st, method)), result: true }
      })

    const reRegisterName = (name: Name, pid: T.Pid, method?: ResolveMethod) =>
      onRegistrar<void>((st) => ({
        request: internal.registerRequest(toName(name), pid, methodTerm(st, method)),
        result: undefined
      }))

    const unregisterName = (name: Name) =>
      onRegistrar<void>(() => ({ request: internal.unregisterRequest(toName(name)), result: undefined }))

    // a local lookup, as in OTP's ets:lookup: no process, no services, no Effect
    const whereSync = (name: Name): Option.Option<T.Pid> => {
      if (running === undefined) throw new Error(notRunningMessage)
      return internal.whereName(running.st, toName(name))?.found ?? Option.none()
    }
    const whereisName = (name: Name) => whereStep(whereSync, name)

    const sync = use(({ st }) =>
      Effect.gen(function*() {
        const visible = yield* NetKernel.nodes("visible")
        const waiting = new Set(visible.filter((n) => !st.synced.has(n)))
        if (waiting.size === 0) return
        const done = yield* Deferred.make<void>()
        st.syncWaiters.add({ nodes: waiting, done })
        yield* Deferred.await(done)
      })
    )

    const lockNodes = (node: T.Atom, nodes: ReadonlyArray<T.Atom> | undefined) =>
      nodes === undefined
        ? Effect.map(NetKernel.nodes("visible"), (ns) => [node, ...ns])
        : Effect.succeed(nodes)

    const viaRegistry: GenServer.ViaRegistry = {
      register: (name, pid) => registerName(name, pid),
      unregister: (name) => unregisterName(name),
      whereis: whereisName,
      send: (name, message) =>
        Effect.flatMap(
          whereisName(name),
          (pid) => Option.isSome(pid) ? Effect.ignore(Process.send(pid.value, message)) : Effect.void
        )
    }

    const service: ServiceImpl = {
      setLock: (id, nodes, retries) =>
        use(({ st }) =>
          Effect.flatMap(lockNodes(st.node, nodes), (ns) =>
            internal.setLockFrom(st, T.tuple(id[0], id[1]), ns, retries ?? Infinity))
        ),
      delLock: (id, nodes) =>
        use(({ st }) =>
          Effect.flatMap(lockNodes(st.node, nodes), (ns) =>
            internal.delLockFrom(st, T.tuple(id[0], id[1]), ns))
        ),
      via: (name) => GenServer.via(viaRegistry, toName(name)),
      registerName,
      reRegisterName,
      unregisterName,
      whereisName,
      registeredNames: use(({ st }) => Effect.sync(() => [...st.names.values()].map((e) => e.name))),
      send: (name, message) =>
        use(({ st }) =>
          Effect.gen(function*() {
            const e = internal.whereName(st, toName(name))
            if (e === undefined) return yield* new GlobalNotRegistered({ name: toName(name) })
            yield* Effect.ignore(Process.send(e.pid, message))
            return e.pid
          })
        ),
      sync,
      knownNodes: use(({ st }) => Effect.sync(() => [...st.known.keys()])),
      whereSync
    }
    return { service, start }
  })

/**
 * OTP's `global` for the node that requires it: provides the `GlobalRegistry` service and
 * the `DistNode.NameServer` a visible `DistNode` starts as it comes up (the
 * `global_name_server` with its locker and registrar).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options?: Options
): Layer.Layer<GlobalRegistry | DistNode.NameServer> =>
  Layer.effectContext(
    Effect.map(make(options), ({ service, start }) =>
      Context.make(GlobalRegistry, service).pipe(Context.add(DistNode.NameServer, DistNode.NameServer.of({ start }))))
  )

/**
 * Joins `global` on a node that is already up (one built without `layer()`, such as a
 * `MemoryCluster` node): starts the name server now, for the layer's lifetime.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerOnNode = (
  options?: Options
): Layer.Layer<GlobalRegistry, never, NetKernel.NetKernel | ProcessRuntime> =>
  Layer.scoped(
    GlobalRegistry,
    Effect.flatMap(make(options), ({ service, start }) => Effect.as(start, service))
  )

/**
 * `global:register_name/2,3`.
 *
 * @since 0.1.0
 * @category names
 */
export const registerName = (
  name: Name,
  pid: T.Pid,
  method?: ResolveMethod
): Effect.Effect<boolean, never, GlobalRegistry> =>
  Effect.flatMap(GlobalRegistry, (g) => g.registerName(name, pid, method))

/**
 * `global:re_register_name/2,3`.
 *
 * @since 0.1.0
 * @category names
 */
export const reRegisterName = (
  name: Name,
  pid: T.Pid,
  method?: ResolveMethod
): Effect.Effect<void, never, GlobalRegistry> =>
  Effect.flatMap(GlobalRegistry, (g) => g.reRegisterName(name, pid, method))

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
  whereInContext(name, undefined)

/** `whereSync(name)` as one run-loop step: the Effect is one object, no closure (`Process.unsafeMakeSync2`). */
const whereStep = Process.unsafeMakeSync2((whereSync: ServiceImpl["whereSync"], name: Name) => whereSync(name))

/**
 * `whereisName` in one step, run at once when a generator yields it (`Process.unsafeMakeEagerSync2`):
 * the service straight from the running fiber's context (this module's own service has a
 * synchronous lookup), then a table lookup.
 */
const whereInContext = Process.unsafeMakeEagerSync2((name: Name, _: undefined): Option.Option<T.Pid> => {
  const g = Process.unsafeCurrentContext()?.unsafeMap.get(registryKey) as GlobalRegistryShape | undefined
  if (g === undefined) throw new Error("GlobalRegistry: not in the context")
  // another implementation of the service: its own lookup, local and synchronous as OTP's
  return "whereSync" in g ? (g as ServiceImpl).whereSync(name) : Effect.runSync(g.whereisName(name))
})

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
