/**
 * `DistNode.layer` turns the local `ProcessRuntime` into a named Erlang node: it
 * listens for distribution connections, registers with EPMD (starting an embedded
 * EPMD when none runs), gives local pids the node's name and creation, and installs the
 * `Router` that carries signals to other nodes.
 *
 * ```ts
 * // TCP, EPMD (embedded when none runs) and rpc: what `erl -sname alice -hidden` gives
 * const Node = DistNode.layerDefault({ name: "alice", cookie: "secret", hidden: true }).pipe(
 *   Layer.provideMerge(ProcessRuntime.layer)
 * )
 * // the parts, for another carrier or EPMD; visible, with OTP's global (see below)
 * const TlsNode = DistNode.layer({ name: "alice", cookie: "secret" }).pipe(
 *   Layer.provide(Layer.merge(Transport.layerTls(tlsOptions), Epmd.layerAuto())),
 *   Layer.provideMerge(GlobalRegistry.layer()),
 *   Layer.provideMerge(ProcessRuntime.layer)
 * )
 * ```
 *
 * The node is **visible by default**, as `erl` nodes are. A visible node must take part in
 * OTP's `global` (erl's `global:sync()` waits for every visible node's
 * `global_name_server`), so `layer` and `layerDefault` then require a `NameServer`:
 * `GlobalRegistry.layer()` from `@effect-otp/global` provides it, and the node starts it
 * as it comes up, as `erl` starts `global`:
 *
 * ```ts
 * const Node = DistNode.layerDefault({ name: "alice", cookie: "secret" }).pipe(
 *   Layer.provideMerge(GlobalRegistry.layer()),
 *   Layer.provideMerge(ProcessRuntime.layer)
 * )
 * ```
 *
 * `hidden: true` makes a hidden node (`erl -hidden`), which needs no `NameServer`
 * (`global` ignores hidden nodes); one given in the context is started all the same.
 *
 * @since 0.1.0
 */
import { ProcessRuntime } from "@effect-otp/process/ProcessRuntime"
import { Atom } from "@effect-otp/process/Term"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Cookie from "./Cookie.js"
import * as Epmd from "./Epmd.js"
import * as HostResolver from "./HostResolver.js"
import * as internal from "./internal/netKernel.js"
import { NetKernel } from "./NetKernel.js"
import * as NodeName from "./NodeName.js"
import * as Rpc from "./Rpc.js"
import * as Transport from "./Transport.js"

/**
 * Why the node could not start. Never holds the cookie.
 *
 * @since 0.1.0
 * @category errors
 */
export class DistNodeError extends Data.TaggedError("DistNodeError")<{
  readonly reason: "BadNodeName" | "Cookie" | "Listen" | "NameInUse" | "Epmd" | "NameServer"
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `cannot start the distribution: ${this.detail}`
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** `alice` (a short name, completed with this host) or `alice@host`. */
  readonly name: string
  /** Long names (`-name`) instead of short names (`-sname`). Default: short. */
  readonly longNames?: boolean | undefined
  /** The cookie (as `-setcookie`); else `~/.erlang.cookie`, created when missing. */
  readonly cookie?: Redacted.Redacted<string> | string | undefined
  /**
   * Hidden node (`erl -hidden`). Default `false`: the node is visible, and needs a
   * `NameServer` (see the module doc).
   */
  readonly hidden?: boolean | undefined
  /** EPMD port (default `ERL_EPMD_PORT` or 4369). */
  readonly epmdPort?: number | undefined
  /** `net_ticktime` (default 60 s). */
  readonly netTicktime?: Duration.DurationInput | undefined
  /** `net_setuptime`, per handshake step (default 7 s). */
  readonly setupTime?: Duration.DurationInput | undefined
  /**
   * `-connect_all` (default `true`, as in OTP). The transitive mesh (connecting to the
   * nodes our peers know) is built by `global` (the `NameServer`), which reads it from
   * `NetKernel.connectAll`: `false` keeps `global` local, as `erl -connect_all false` does.
   */
  readonly connectAll?: boolean | undefined
  /** `net_kernel:allow/1` from the start: handshakes from other nodes get `not_allowed`. */
  readonly allow?: ReadonlyArray<string> | undefined
  /** Where to listen (default all interfaces, any free port). */
  readonly listen?: Transport.ListenOptions | undefined
  /** Largest accepted frame (default 128 MiB). */
  readonly maxFrameSize?: number | undefined
  /**
   * Handshakes in progress at most, in all (default 64). When they are all taken, the
   * address holding the most gives up its oldest for a newcomer from an address holding
   * fewer; so one address cannot lock the others out.
   */
  readonly maxPendingHandshakes?: number | undefined
  /** Handshakes in progress at most from one address (an IPv6 /64), default 8; more are refused. */
  readonly maxPendingHandshakesPerAddress?: number | undefined
  /**
   * An incoming connection must send its first handshake message (`send_name`) within
   * this (default 2 s, at most `setupTime`); a silent socket gives its slot back early.
   */
  readonly firstMessageTimeout?: Duration.DurationInput | undefined
  /**
   * How long `ping` waits for the peer's `net_kernel` to answer once connected (default 7 s).
   * Connecting itself is not bounded by it: each handshake step has `setupTime`.
   */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** Per connection: stop reading when this many received bytes wait to be handled (default 16 MiB). */
  readonly maxInboundBytes?: number | undefined
  /**
   * Receive backpressure: a connection stops reading while a local process it delivered a
   * message to has more than this many messages waiting, until that mailbox is down to
   * half (default 100 000; 0 turns it off, as in Erlang, where mailboxes are unbounded).
   * The whole connection waits (head-of-line), and TCP pushes back on the sender.
   */
  readonly maxMailboxBacklog?: number | undefined
  /**
   * Per frame: the estimated heap bytes its decoded terms may take. A frame over it
   * closes its connection (reason "TermBytes", logged); the node lives. Default: 1/8 of
   * V8's heap limit, between 16 MiB and 512 MiB, so that no frame can exhaust the heap
   * (a frame of 128 MiB can otherwise ask for ~5 GB: a NIL byte decodes to ~40 bytes).
   */
  readonly maxTermBytes?: number | undefined
  /**
   * A frame that would add a new atom when the process's atom table already holds this
   * many closes its connection (reason "AtomLimit", logged); the node lives. Default: OTP's
   * 1,048,576, or one atom per 4 KiB of V8's heap limit when that is less (at least
   * 16,384). Atoms made by local code (`Atom.make`) are not limited, but count toward
   * the table.
   */
  readonly maxAtoms?: number | undefined
}

const make = (options: Options) =>
  Effect.gen(function*() {
    const runtime = yield* ProcessRuntime
    const resolver = yield* HostResolver.HostResolver
    const parsed = NodeName.parse(options.name, {
      mode: options.longNames === true ? "long" : "short",
      hostname: resolver.hostname()
    })
    if (Either.isLeft(parsed)) {
      return yield* new DistNodeError({ reason: "BadNodeName", detail: parsed.left.message, cause: parsed.left })
    }
    const name = parsed.right
    const cookie = yield* Cookie.load({ cookie: options.cookie }).pipe(
      Effect.mapError((e) => new DistNodeError({ reason: "Cookie", detail: e.message, cause: e }))
    )
    const transport = yield* Transport.Transport
    const epmd = yield* Epmd.Epmd
    const listener = yield* transport.listen(options.listen ?? {}).pipe(
      Effect.mapError((e) => new DistNodeError({ reason: "Listen", detail: e.message, cause: e }))
    )
    const alive = NodeName.alive(name)
    const registration = yield* epmd.register({
      name: alive,
      port: listener.port,
      epmdPort: options.epmdPort
    }).pipe(
      Effect.mapError((e) =>
        new DistNodeError({
          reason: e.reason === "NameInUse" ? "NameInUse" : "Epmd",
          detail: e.reason === "NameInUse" ? `the name ${alive} is in use on this host` : e.message,
          cause: e
        })
      )
    )
    const node = Atom.make(name)
    yield* runtime.setNode(node, registration.creation)
    const kernel = yield* internal.make({
      name: node,
      creation: registration.creation,
      cookie,
      hidden: options.hidden === true,
      tickTime: Duration.decode(options.netTicktime ?? Duration.seconds(60)),
      setupTime: Duration.decode(options.setupTime ?? Duration.seconds(7)),
      allow: options.allow,
      connectAll: options.connectAll !== false,
      maxPendingHandshakes: options.maxPendingHandshakes ?? 64,
      maxPendingHandshakesPerAddress: options.maxPendingHandshakesPerAddress,
      firstMessageTimeout: options.firstMessageTimeout === undefined
        ? undefined
        : Duration.decode(options.firstMessageTimeout),
      maxFrameSize: options.maxFrameSize,
      connectTimeout: Duration.decode(options.connectTimeout ?? Duration.seconds(7)),
      maxInboundBytes: options.maxInboundBytes,
      maxMailboxBacklog: options.maxMailboxBacklog,
      maxTermBytes: options.maxTermBytes,
      maxAtoms: options.maxAtoms
    }, { runtime, transport, epmd: epmd as Epmd.EpmdService, listener })
    yield* Effect.logDebug(`node ${name} up on port ${listener.port}, creation ${registration.creation}`)
    // a visible node runs OTP's global (as erl starts it); a hidden one runs it when given one
    const nameServer = yield* Effect.serviceOption(NameServer)
    if (Option.isSome(nameServer)) {
      yield* nameServer.value.start.pipe(Effect.provideService(NetKernel, kernel))
    } else if (options.hidden !== true) {
      return yield* new DistNodeError({
        reason: "NameServer",
        detail: `the visible node ${name} needs a NameServer (GlobalRegistry.layer() from @effect-otp/global), ` +
          "or pass hidden: true"
      })
    }
    return kernel
  })

/**
 * OTP's `global` name server of a node: what a **visible** node must run, because every
 * Erlang node connected to it waits in `global:sync()` until our `global_name_server`
 * has finished `global`'s connect protocol with it. `GlobalRegistry.layer()` from
 * `@effect-otp/global` provides it; `DistNode.layer` starts it in the node's scope, once
 * the node is up (the `NetKernel` and `ProcessRuntime` are the node's).
 *
 * It is a hook, not a part of `dist`, because `global` is built on `dist` and
 * `gen-server`.
 *
 * @since 0.1.0
 * @category models
 */
export interface NameServerShape {
  readonly start: Effect.Effect<void, never, NetKernel | ProcessRuntime | Scope.Scope>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class NameServer extends Context.Tag("@effect-otp/dist/DistNode/NameServer")<NameServer, NameServerShape>() {}

/**
 * What a node with these options requires besides its parts: a `NameServer`, unless it
 * is hidden (`hidden: true`).
 *
 * @since 0.1.0
 * @category models
 */
export type NameServerFor<O extends Options> = O extends { readonly hidden: true } ? never : NameServer

/**
 * The node: requires a `ProcessRuntime`, the `Transport` it listens and connects with, and
 * the `Epmd` client it registers with, and, unless `hidden: true`, a `NameServer` (OTP's
 * `global`, which it starts); provides `NetKernel`. `layerDefault` provides TCP
 * and `Epmd.layerAuto`, and serves rpc.
 * A `HostResolver` replaces the host name and resolver (`os.hostname()` and `dns.lookup`,
 * with erl's loopback fallback for this machine's own name).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <const O extends Options>(
  options: O
): Layer.Layer<NetKernel, DistNodeError, ProcessRuntime | Transport.Transport | Epmd.Epmd | NameServerFor<O>> =>
  Layer.scoped(NetKernel, make(options))

/**
 * The node as `erl -sname` starts one: `layer` over TCP (`Transport.layerTcp`), registered
 * with `Epmd.layerAuto` (the EPMD on `options.epmdPort`, embedded in this process when none
 * runs), and serving rpc (`Rpc.layer`: erl always runs `rex`, so `rpc:call` and `erpc:call`
 * to this node work). Requires a `ProcessRuntime` and, unless `hidden: true`, a `NameServer`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDefault = <const O extends Options>(
  options: O
): Layer.Layer<NetKernel | Rpc.Rpc, DistNodeError, ProcessRuntime | NameServerFor<O>> =>
  Rpc.layer.pipe(
    Layer.provideMerge(layer(options)),
    Layer.provide(Layer.merge(
      Transport.layerTcp,
      Epmd.layerAuto(options.epmdPort === undefined ? {} : { port: options.epmdPort }).pipe(
        Layer.mapError((e) => new DistNodeError({ reason: "Epmd", detail: e.message, cause: e }))
      )
    ))
  )
