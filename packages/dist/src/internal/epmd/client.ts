/**
 * The EPMD client and the service layers built on it.
 *
 * (internal)
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as net from "node:net"
import type {
  EpmdServerService,
  EpmdService,
  NameEntry,
  NodeInfo,
  RegisterOptions,
  Registration,
  RequestOptions,
  ServeOptions
} from "../../Epmd.js"
import * as HostResolver from "../hostResolver.js"
import * as NodeName from "../nodeName.js"
import { EpmdError } from "./error.js"
import * as packets from "./packets.js"
import * as server from "./server.js"
import * as socket from "./socket.js"

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

/** (internal) */
export const DEFAULT_PORT = 4369

/** (internal) */
export const DEFAULT_TIMEOUT: Duration.DurationInput = "5 seconds"

/** (internal) */
export class Epmd extends Context.Tag("@effect-otp/dist/Epmd")<Epmd, EpmdService>() {}

/** (internal) */
export class EpmdServer extends Context.Tag("@effect-otp/dist/Epmd/EpmdServer")<EpmdServer, EpmdServerService>() {}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** (internal) */
export const portConfig: Config.Config<number> = Config.port("ERL_EPMD_PORT").pipe(Config.withDefault(DEFAULT_PORT))

const resolvePort = (port: number | undefined): Effect.Effect<number> =>
  port === undefined ? Effect.orDie(portConfig) : Effect.succeed(port)

const normalize = (options: number | RequestOptions | undefined): RequestOptions =>
  typeof options === "number" ? { epmdPort: options } : options ?? {}

type Ctx = {
  readonly operation: EpmdError["operation"]
  readonly host: string
  readonly epmdPort: number
  readonly name?: string | undefined
}

const fromSocketFailure = (ctx: Ctx) => (failure: socket.SocketFailure): EpmdError => {
  switch (failure._tag) {
    case "ConnectFailed": {
      const code = (failure.cause as NodeJS.ErrnoException | undefined)?.code
      return new EpmdError({ ...ctx, reason: "Unreachable", detail: code, cause: failure.cause })
    }
    case "Closed":
      return new EpmdError({ ...ctx, reason: "Malformed", detail: "connection closed before a full reply" })
    case "Malformed":
      return new EpmdError({ ...ctx, reason: "Malformed", detail: `${failure.reason} at byte ${failure.offset}` })
  }
}

/** `inet:getaddr(Host, inet)` with the `HostResolver` in use, as `erl_epmd:getepmdbyname/2`. */
const resolveHost = (ctx: Ctx): Effect.Effect<string, EpmdError> =>
  Effect.flatMap(HostResolver.HostResolver, (resolver) =>
    Effect.mapError(
      HostResolver.getaddr(ctx.host, resolver),
      (e) => new EpmdError({ ...ctx, reason: "Unreachable", detail: e.code, cause: e })
    ))

const withTimeout =
  (ctx: Ctx, timeout: Duration.DurationInput | undefined) =>
  <A, R>(self: Effect.Effect<A, EpmdError, R>): Effect.Effect<A, EpmdError, R> =>
    Effect.timeoutFail(self, {
      duration: timeout ?? DEFAULT_TIMEOUT,
      onTimeout: () => new EpmdError({ ...ctx, reason: "Timeout" })
    })

const tooLong = (ctx: Ctx, cause: unknown) =>
  new EpmdError({ ...ctx, reason: "Malformed", detail: "request does not fit in an EPMD packet", cause })

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

/** (internal) */
export const register = (options: RegisterOptions): Effect.Effect<Registration, EpmdError, Scope.Scope> =>
  Effect.gen(function*() {
    const epmdPort = yield* resolvePort(options.epmdPort)
    const ctx: Ctx = { operation: "register", host: options.host ?? "127.0.0.1", epmdPort, name: options.name }
    const request = yield* Effect.try({
      try: () =>
        packets.encodeAlive2Req({
          name: options.name,
          port: options.port,
          nodeType: options.hidden ? packets.NODE_TYPE_HIDDEN : packets.NODE_TYPE_NORMAL,
          protocol: packets.PROTOCOL_TCP_IPV4,
          highestVersion: packets.DIST_VERSION,
          lowestVersion: packets.DIST_VERSION,
          extra: options.extra ?? new Uint8Array(0)
        }),
      catch: (cause) => tooLong(ctx, cause)
    })
    // The socket belongs to the caller's scope: closing it unregisters.
    const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const registration = Effect.gen(function*() {
      const conn = yield* socket.connect(ctx.host, epmdPort).pipe(
        Scope.extend(scope),
        Effect.mapError(fromSocketFailure(ctx))
      )
      yield* conn.write(request).pipe(Effect.mapError(fromSocketFailure(ctx)))
      const reply = yield* conn.readUntil((b) => packets.decodeAlive2Reply(b)).pipe(
        Effect.mapError(fromSocketFailure(ctx))
      )
      if (reply.result !== 0) {
        return yield* new EpmdError({ ...ctx, reason: "NameInUse", detail: `result ${reply.result}` })
      }
      return {
        name: options.name,
        port: options.port,
        creation: reply.creation,
        closed: Deferred.await(conn.closed)
      } satisfies Registration
    })
    return yield* withTimeout(ctx, options.timeout)(registration).pipe(
      Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
    )
  })

/** (internal) */
export const portPlease = (
  host: string,
  name: string,
  options?: number | RequestOptions
): Effect.Effect<NodeInfo, EpmdError> =>
  Effect.gen(function*() {
    const opts = normalize(options)
    const epmdPort = yield* resolvePort(opts.epmdPort)
    const alive = NodeName.alive(name)
    const ctx: Ctx = { operation: "portPlease", host, epmdPort, name: alive }
    const request = yield* Effect.try({
      try: () => packets.encodePortPlease2Req(alive),
      catch: (cause) => tooLong(ctx, cause)
    })
    const reply = yield* Effect.flatMap(resolveHost(ctx), (address) =>
      Effect.scoped(
        Effect.gen(function*() {
          const conn = yield* socket.connect(address, epmdPort)
          yield* conn.write(request)
          return yield* conn.readUntil((b) => packets.decodePort2Reply(b))
        })
      ).pipe(Effect.mapError(fromSocketFailure(ctx)))).pipe(withTimeout(ctx, opts.timeout))
    if (reply._tag === "NotFound") {
      return yield* new EpmdError({ ...ctx, reason: "NotFound" })
    }
    const e = reply.entry
    return {
      name: e.name,
      port: e.port,
      nodeType: e.nodeType,
      hidden: e.nodeType === packets.NODE_TYPE_HIDDEN,
      protocol: e.protocol,
      highestVersion: e.highestVersion,
      lowestVersion: e.lowestVersion,
      extra: e.extra
    } satisfies NodeInfo
  })

/** (internal) */
export const names = (
  host?: string,
  options?: number | RequestOptions
): Effect.Effect<ReadonlyArray<NameEntry>, EpmdError> =>
  Effect.gen(function*() {
    const opts = normalize(options)
    const epmdPort = yield* resolvePort(opts.epmdPort)
    const ctx: Ctx = { operation: "names", host: host ?? "127.0.0.1", epmdPort }
    const reply = yield* Effect.flatMap(resolveHost(ctx), (address) =>
      Effect.scoped(
        Effect.gen(function*() {
          const conn = yield* socket.connect(address, epmdPort)
          yield* conn.write(packets.encodeNamesReq())
          return yield* conn.readUntil(packets.decodeNamesReply)
        })
      ).pipe(Effect.mapError(fromSocketFailure(ctx)))).pipe(withTimeout(ctx, opts.timeout))
    return reply.names
  })

/**
 * A client whose default epmd port and timeout are fixed.
 *
 * (internal)
 */
export const makeClient = (defaults: RequestOptions = {}): EpmdService => {
  const merge = (options: number | RequestOptions | undefined): RequestOptions => {
    const o = normalize(options)
    return {
      epmdPort: o.epmdPort ?? defaults.epmdPort,
      timeout: o.timeout ?? defaults.timeout
    }
  }
  return {
    register: (options) => register({ ...options, ...merge(options) }),
    portPlease: (host, name, options) => portPlease(host, name, merge(options)),
    names: (host, options) => names(host, merge(options))
  }
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

/** (internal) */
export const serve = (options: ServeOptions = {}): Effect.Effect<EpmdServerService, EpmdError, Scope.Scope> =>
  Effect.gen(function*() {
    const port = yield* resolvePort(options.port)
    return yield* server.serve({
      port,
      host: options.host,
      relaxed: options.relaxed,
      idleTimeoutMs: options.idleTimeout === undefined ? undefined : Duration.toMillis(options.idleTimeout),
      maxConnections: options.maxConnections
    }).pipe(
      Effect.mapError((f) =>
        new EpmdError({
          operation: "serve",
          reason: "ListenFailed",
          host: options.host ?? "0.0.0.0",
          epmdPort: port,
          detail: f.code,
          cause: f.cause
        })
      )
    )
  })

// ---------------------------------------------------------------------------
// Layers
// ---------------------------------------------------------------------------

/** (internal) */
export const layerClient = (options: RequestOptions = {}): Layer.Layer<Epmd, ConfigError.ConfigError> =>
  Layer.effect(
    Epmd,
    Effect.gen(function*() {
      const epmdPort = options.epmdPort ?? (yield* portConfig)
      return makeClient({ epmdPort, timeout: options.timeout })
    })
  )

/** (internal) */
export const layer: Layer.Layer<Epmd, ConfigError.ConfigError> = layerClient()

/** (internal) */
export const layerServer = (
  options: ServeOptions & { readonly timeout?: Duration.DurationInput | undefined } = {}
): Layer.Layer<Epmd | EpmdServer, EpmdError | ConfigError.ConfigError> =>
  Layer.scopedContext(
    Effect.gen(function*() {
      const port = options.port ?? (yield* portConfig)
      const srv = yield* serve({ ...options, port })
      return Context.make(EpmdServer, srv).pipe(
        Context.add(Epmd, makeClient({ epmdPort: srv.port, timeout: options.timeout }))
      )
    })
  )

/**
 * Whether something accepts TCP connections on 127.0.0.1:port.
 *
 * (internal)
 */
export const probe = (port: number, timeout: Duration.DurationInput = "1 second"): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const s = net.createConnection({ host: "127.0.0.1", port })
    s.once("connect", () => {
      s.destroy()
      resume(Effect.succeed(true))
    })
    s.once("error", () => {
      s.destroy()
      resume(Effect.succeed(false))
    })
    return Effect.sync(() => s.destroy())
  }).pipe(Effect.timeoutTo({ duration: timeout, onSuccess: (b) => b, onTimeout: () => false }))

/** (internal) */
export const layerAuto = (
  options: ServeOptions & { readonly timeout?: Duration.DurationInput | undefined } = {}
): Layer.Layer<Epmd, EpmdError | ConfigError.ConfigError> =>
  Layer.scoped(
    Epmd,
    Effect.gen(function*() {
      const port = options.port ?? (yield* portConfig)
      const client = makeClient({ epmdPort: port, timeout: options.timeout })
      if (yield* probe(port)) {
        yield* Effect.logDebug(`using the epmd already listening on port ${port}`)
        return client
      }
      return yield* serve({ ...options, port }).pipe(
        Effect.as(client),
        Effect.tap(() => Effect.logDebug(`started an embedded epmd on port ${port}`)),
        // lost the race to another process starting its own epmd: use theirs
        Effect.catchIf(
          (e) => e.reason === "ListenFailed" && e.detail === "EADDRINUSE",
          () => Effect.as(Effect.logDebug(`epmd port ${port} taken meanwhile; using that epmd`), client)
        )
      )
    }).pipe(Effect.annotateLogs({ package: "@effect-otp/dist", module: "Epmd" }))
  )
