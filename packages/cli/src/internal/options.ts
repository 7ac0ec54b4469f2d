/**
 * The command line's meaning, without `@effect/cli`: the validated node options, erl's
 * flag spellings, and a parser for the common command lines (see `parseCommon`).
 */
import * as Cookie from "@effect-otp/dist/Cookie"
import * as NodeName from "@effect-otp/dist/NodeName"
import * as SslDistConf from "@effect-otp/dist/SslDistConf"
import * as Transport from "@effect-otp/dist/Transport"
import type * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"

/**
 * The node's settings after validation.
 *
 * @internal
 */
export interface NodeOptions {
  /** the full node name (`alice@vm`), when distributed */
  readonly name: Option.Option<{
    readonly node: NodeName.NodeName
    readonly mode: NodeName.Mode
    readonly cookie: Redacted.Redacted<string>
  }>
  readonly hidden: boolean
  readonly netTicktime: Option.Option<number>
  readonly epmdPort: Option.Option<number>
  readonly noshell: boolean
  readonly eval: Option.Option<string>
  /** `-connect_all` (default `true`: `global` builds the transitive mesh; `false` keeps it local) */
  readonly connectAll: boolean
  /** `--proto-dist tls`: the TLS transport made from `--ssl-dist-optfile` (files read, keys checked) */
  readonly tls: Option.Option<{
    readonly optfile: string
    readonly transport: Context.Tag.Service<Transport.Transport>
  }>
}

/**
 * A flag value that cannot be used (printed as one line, exit code 2).
 *
 * @internal
 */
export class UsageError extends Data.TaggedError("UsageError")<{
  readonly reason: string
}> {
  override get message(): string {
    return this.reason
  }
}

/**
 * The raw flags, as `@effect/cli` (or `parseCommon`) parses them.
 *
 * @internal
 */
export interface Flags {
  readonly sname: Option.Option<string>
  readonly name: Option.Option<string>
  readonly setcookie: Option.Option<Redacted.Redacted<string>>
  readonly hidden: boolean
  readonly netTicktime: Option.Option<number>
  readonly epmdPort: Option.Option<number>
  readonly noshell: boolean
  readonly eval: Option.Option<string>
  readonly connectAll: Option.Option<string>
  readonly protoDist: Option.Option<string>
  readonly sslDistOptfile: Option.Option<string>
}

/** The flags that take a value (for argv normalization). */
export const VALUED: ReadonlySet<string> = new Set([
  "sname",
  "name",
  "setcookie",
  "net-ticktime",
  "epmd-port",
  "eval",
  "connect-all",
  "proto-dist",
  "ssl-dist-optfile"
])
export const BOOLEAN: ReadonlySet<string> = new Set(["hidden", "noshell"])

/**
 * `erl` spells flags with one dash (`-sname alice`) and some with underscores
 * (`-net_ticktime`); `@effect/cli` wants `--sname`. Rewrites the known flags, leaving
 * flag values untouched.
 *
 * @internal
 */
export const normalizeArgv = (args: ReadonlyArray<string>): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    const m = /^--?([a-z][a-z_-]*)(=.*)?$/.exec(arg)
    if (m !== null) {
      const flag = m[1]!.replace(/_/g, "-")
      if (VALUED.has(flag) || BOOLEAN.has(flag)) {
        out.push(`--${flag}${m[2] ?? ""}`)
        if (VALUED.has(flag) && m[2] === undefined && i + 1 < args.length) out.push(args[++i]!)
        continue
      }
    }
    out.push(arg)
  }
  return out
}

/**
 * Checks the flags and loads the cookie: a `UsageError` names what is wrong in one line.
 *
 * @internal
 */
export const validate = (flags: Flags, options?: { readonly home?: string }): Effect.Effect<NodeOptions, UsageError> =>
  Effect.gen(function*() {
    if (Option.isSome(flags.sname) && Option.isSome(flags.name)) {
      return yield* new UsageError({ reason: "--sname and --name cannot be used together" })
    }
    if (Option.isSome(flags.netTicktime) && flags.netTicktime.value <= 0) {
      return yield* new UsageError({
        reason: `--net-ticktime must be a positive number of seconds, got ${flags.netTicktime.value}`
      })
    }
    if (Option.isSome(flags.epmdPort) && (flags.epmdPort.value < 1 || flags.epmdPort.value > 65535)) {
      return yield* new UsageError({
        reason: `--epmd-port must be a port number (1..65535), got ${flags.epmdPort.value}`
      })
    }
    const connectAll = yield* parseConnectAll(flags.connectAll)
    const tlsWanted = yield* parseProtoDist(flags.protoDist)
    if (tlsWanted && Option.isNone(flags.sslDistOptfile)) {
      return yield* new UsageError({
        reason: "--proto-dist tls needs --ssl-dist-optfile FILE (the TLS options, as for erl -ssl_dist_optfile)"
      })
    }
    if (!tlsWanted && Option.isSome(flags.sslDistOptfile)) {
      return yield* new UsageError({ reason: "--ssl-dist-optfile is only used with --proto-dist tls" })
    }
    const requested: Option.Option<{ input: string; mode: NodeName.Mode; flag: string }> = Option.isSome(flags.sname)
      ? Option.some({ input: flags.sname.value, mode: "short" as const, flag: "--sname" })
      : Option.isSome(flags.name)
      ? Option.some({ input: flags.name.value, mode: "long" as const, flag: "--name" })
      : Option.none()
    const common = {
      hidden: flags.hidden,
      netTicktime: flags.netTicktime,
      epmdPort: flags.epmdPort,
      noshell: flags.noshell,
      eval: flags.eval,
      connectAll
    }
    if (Option.isNone(requested)) {
      // erl accepts --setcookie and --hidden on a non-distributed node and ignores them; so do we
      return { ...common, name: Option.none(), tls: Option.none() }
    }
    const { flag, input, mode } = requested.value
    const parsed = NodeName.parse(input, { mode })
    if (Either.isLeft(parsed)) return yield* new UsageError({ reason: `${flag}: ${parsed.left.message}` })
    const cookie = yield* Cookie.load({
      // given as a string so that it is validated (a Redacted cookie is taken as is)
      ...(Option.isSome(flags.setcookie) ? { cookie: Redacted.value(flags.setcookie.value) } : {}),
      ...(options?.home !== undefined ? { home: options.home } : {})
    }).pipe(
      Effect.mapError((e) =>
        new UsageError({ reason: Option.isSome(flags.setcookie) ? `--setcookie: ${e.message}` : e.message })
      )
    )
    const tls = Option.isSome(flags.sslDistOptfile)
      ? Option.some(yield* loadTls(flags.sslDistOptfile.value))
      : Option.none()
    return { ...common, name: Option.some({ node: parsed.right, mode, cookie }), tls }
  })

const parseConnectAll = (value: Option.Option<string>): Effect.Effect<boolean, UsageError> => {
  if (Option.isNone(value) || value.value === "true") return Effect.succeed(true)
  if (value.value === "false") return Effect.succeed(false)
  return new UsageError({ reason: `--connect-all must be true or false, got ${JSON.stringify(value.value)}` })
}

/** `true` for TLS (`tls`, erl's `inet_tls`), `false` for TCP. */
const parseProtoDist = (value: Option.Option<string>): Effect.Effect<boolean, UsageError> => {
  if (Option.isNone(value) || value.value === "tcp" || value.value === "inet_tcp") return Effect.succeed(false)
  if (value.value === "tls" || value.value === "inet_tls") return Effect.succeed(true)
  return new UsageError({
    reason: `--proto-dist must be tls (erl's inet_tls) or tcp (inet_tcp), got ${JSON.stringify(value.value)}`
  })
}

/** Reads the optfile and makes the transport (certificate and key files read and checked now). */
const loadTls = (optfile: string) =>
  SslDistConf.load(optfile).pipe(
    Effect.flatMap(Transport.makeTls),
    Effect.map((transport) => ({ optfile, transport })),
    Effect.mapError((e) => new UsageError({ reason: `--ssl-dist-optfile: ${e.message.replace(/\s*\n\s*/g, " ")}` }))
  )

/**
 * The common command lines, parsed without `@effect/cli` (which, with its help and error
 * machinery, costs a node a third of its start-up): each known flag at most once, with its
 * value. `undefined` for anything else (`--help`, `--version`, an unknown or repeated
 * flag, a missing or odd value, an argument), which `Command.run` then parses, so the
 * results and messages are `@effect/cli`'s either way.
 *
 * @internal
 */
export const parseCommon = (argv: ReadonlyArray<string>): Flags | undefined => {
  const args = normalizeArgv(argv)
  const values = new Map<string, string>()
  const booleans = new Set<string>()
  for (let i = 0; i < args.length; i++) {
    const m = /^--([a-z][a-z-]*)(?:=(.*))?$/s.exec(args[i]!)
    if (m === null) return undefined
    const flag = m[1]!
    if (values.has(flag) || booleans.has(flag)) return undefined
    if (BOOLEAN.has(flag) && m[2] === undefined) {
      booleans.add(flag)
      continue
    }
    if (!VALUED.has(flag)) return undefined
    const value = m[2] ?? args[++i]
    if (value === undefined || value.startsWith("-")) return undefined
    values.set(flag, value)
  }
  const text = (flag: string) => Option.fromNullable(values.get(flag))
  const integer = (flag: string): Option.Option<number> | undefined => {
    const value = values.get(flag)
    if (value === undefined) return Option.none()
    return /^[0-9]{1,9}$/.test(value) ? Option.some(Number(value)) : undefined
  }
  const netTicktime = integer("net-ticktime")
  const epmdPort = integer("epmd-port")
  if (netTicktime === undefined || epmdPort === undefined) return undefined
  return {
    sname: text("sname"),
    name: text("name"),
    setcookie: Option.map(text("setcookie"), Redacted.make),
    hidden: booleans.has("hidden"),
    netTicktime,
    epmdPort,
    noshell: booleans.has("noshell"),
    eval: text("eval"),
    connectAll: text("connect-all"),
    protoDist: text("proto-dist"),
    sslDistOptfile: text("ssl-dist-optfile")
  }
}
