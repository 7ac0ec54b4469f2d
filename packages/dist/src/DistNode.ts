/**
 * `DistNode.layer` turns the local `ProcessRuntime` into a named Erlang node: it
 * listens for distribution connections, registers with EPMD (starting an embedded
 * EPMD when none runs), gives local pids the node's name and creation, and installs the
 * `Router` that carries signals to other nodes.
 *
 * ```ts
 * // TCP, EPMD (embedded when none runs) and rpc: what `erl -sname alice` gives
 * const Node = DistNode.layerDefault({ name: "alice", cookie: "secret" }).pipe(
 *   Layer.provideMerge(ProcessRuntime.layer)
 * )
 * // the parts, for another carrier or EPMD
 * const TlsNode = DistNode.layer({ name: "alice", cookie: "secret" }).pipe(
 *   Layer.provide(Layer.merge(Transport.layerTls(tlsOptions), Epmd.layerAuto())),
 *   Layer.provideMerge(ProcessRuntime.layer)
 * )
 * ```
 *
 * The node is **hidden by default** (OTP's `global`, `rex` and `pg` only watch visible nodes,
 * and a visible node that does not answer `global`'s protocol makes erl's `global:sync()` hang;
 * see docs/failure-model.md). For a visible node pass `hidden: false` and add
 * `GlobalRegistry.layer()` from `@effect-otp/global`.
 *
 * @since 0.1.0
 */
import { ProcessRuntime } from "@effect-otp/process/ProcessRuntime"
import { Atom } from "@effect-otp/process/Term"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
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
  readonly reason: "BadNodeName" | "Cookie" | "Listen" | "NameInUse" | "Epmd"
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
  /** Hidden node (default `true`, see the module doc). */
  readonly hidden?: boolean | undefined
  /** EPMD port (default `ERL_EPMD_PORT` or 4369). */
  readonly epmdPort?: number | undefined
  /** `net_ticktime` (default 60 s). */
  readonly netTicktime?: Duration.DurationInput | undefined
  /** `net_setuptime`, per handshake step (default 7 s). */
  readonly setupTime?: Duration.DurationInput | undefined
  /**
   * `-connect_all` (default `true`, as in OTP). In OTP the transitive mesh (connecting to
   * the nodes our peers know) is built by `global`; this node has no `global` yet, so it
   * never connects to nodes it was not asked to reach, which is what `connect_all false`
   * gives for the mesh. The value is kept (see `NetKernel.connectAll`) for when `global`
   * exists; passing `false` documents the intent today.
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
      hidden: options.hidden !== false,
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
    return kernel
  })

/**
 * The node: requires a `ProcessRuntime`, the `Transport` it listens and connects with, and
 * the `Epmd` client it registers with; provides `NetKernel`. `layerDefault` provides TCP
 * and `Epmd.layerAuto`, and serves rpc.
 * A `HostResolver` replaces the host name and resolver (`os.hostname()` and `dns.lookup`,
 * with erl's loopback fallback for this machine's own name).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<NetKernel, DistNodeError, ProcessRuntime | Transport.Transport | Epmd.Epmd> =>
  Layer.scoped(NetKernel, make(options))

/**
 * The node as `erl -sname` starts one: `layer` over TCP (`Transport.layerTcp`), registered
 * with `Epmd.layerAuto` (the EPMD on `options.epmdPort`, embedded in this process when none
 * runs), and serving rpc (`Rpc.layer`: erl always runs `rex`, so `rpc:call` and `erpc:call`
 * to this node work). Requires only a `ProcessRuntime`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDefault = (
  options: Options
): Layer.Layer<NetKernel | Rpc.Rpc, DistNodeError, ProcessRuntime> =>
  Rpc.layer.pipe(
    Layer.provideMerge(layer(options)),
    Layer.provide(Layer.merge(
      Transport.layerTcp,
      Epmd.layerAuto(options.epmdPort === undefined ? {} : { port: options.epmdPort }).pipe(
        Layer.mapError((e) => new DistNodeError({ reason: "Epmd", detail: e.message, cause: e }))
      )
    ))
  )
