/**
 * The `effect-otp` command: `erl`'s flags on `@effect/cli`.
 *
 * ```sh
 * npx effect-otp --sname alice --setcookie secret     # a named node and its shell
 * npx effect-otp -sname bob -setcookie secret         # erl's single-dash spelling works too
 * npx effect-otp --sname worker --noshell             # run until SIGINT/SIGTERM
 * npx effect-otp --eval 'Effect.log("hi")'            # run code, then exit
 * npx effect-otp                                      # a non-distributed node, like plain erl
 * npx effect-otp --sname a --proto-dist tls --ssl-dist-optfile ssl_dist.conf   # TLS distribution
 * npx effect-otp -sname a -proto_dist inet_tls -ssl_dist_optfile ssl_dist.conf # erl's spelling
 * ```
 *
 * A bad value (node name, cookie file, number) is one line on stderr and exit code 2.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as CliCommand from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as internal from "./internal/options.js"

/**
 * The node's settings after validation.
 *
 * @since 0.1.0
 * @category models
 */
export interface NodeOptions extends internal.NodeOptions {}

/**
 * A flag value that cannot be used (printed as one line, exit code 2).
 *
 * @since 0.1.0
 * @category errors
 */
export const UsageError: typeof internal.UsageError = internal.UsageError

/**
 * @since 0.1.0
 * @category errors
 */
export type UsageError = internal.UsageError

/**
 * The raw flags as `@effect/cli` parses them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Flags extends internal.Flags {}

/**
 * `erl` spells flags with one dash (`-sname alice`) and some with underscores
 * (`-net_ticktime`); `@effect/cli` wants `--sname`. Rewrites the known flags, leaving
 * flag values untouched.
 *
 * @since 0.1.0
 * @category parsing
 */
export const normalizeArgv: (args: ReadonlyArray<string>) => Array<string> = internal.normalizeArgv

/**
 * Checks the flags and loads the cookie: a `UsageError` names what is wrong in one line.
 *
 * @since 0.1.0
 * @category parsing
 */
export const validate: (
  flags: Flags,
  options?: { readonly home?: string }
) => Effect.Effect<NodeOptions, UsageError> = internal.validate

const sname = Options.text("sname").pipe(
  Options.withPseudoName("NAME"),
  Options.withDescription(
    "Start a distributed node with a short name: alice (the host is added: alice@<host>) or alice@vm. Example: --sname alice"
  ),
  Options.optional
)
const name = Options.text("name").pipe(
  Options.withPseudoName("NAME@HOST"),
  Options.withDescription(
    "Start a distributed node with a long name: alice@host.example.com or alice@127.0.0.1. Example: --name alice@127.0.0.1"
  ),
  Options.optional
)
const setcookie = Options.redacted("setcookie").pipe(
  Options.withPseudoName("COOKIE"),
  Options.withDescription(
    "The magic cookie shared by the cluster (else ~/.erlang.cookie, created if missing). Example: --setcookie secret"
  ),
  Options.optional
)
const hidden = Options.boolean("hidden").pipe(
  Options.withDescription(
    "Connect as a hidden node: not in others' nodes(), no transitive connections. Example: --hidden"
  )
)
const netTicktime = Options.integer("net-ticktime").pipe(
  Options.withPseudoName("SECONDS"),
  Options.withDescription(
    "Seconds before an unresponsive node is considered down (default 60). Example: --net-ticktime 20"
  ),
  Options.optional
)
const epmdPort = Options.integer("epmd-port").pipe(
  Options.withPseudoName("PORT"),
  Options.withDescription("The port of epmd (default 4369, or ERL_EPMD_PORT). Example: --epmd-port 4370"),
  Options.optional
)
const noshell = Options.boolean("noshell").pipe(
  Options.withDescription("Run the node without a shell until SIGINT/SIGTERM, then exit cleanly. Example: --noshell")
)
const evalCode = Options.text("eval").pipe(
  Options.withPseudoName("CODE"),
  Options.withDescription(
    "Run this code (an expression, statements or an Effect) with the shell's helpers in scope, then exit (stay with --noshell). Example: --eval 'ping(\"bob@vm\")'"
  ),
  Options.optional
)

const connectAll = Options.text("connect-all").pipe(
  Options.withPseudoName("true|false"),
  Options.withDescription(
    "false: never connect to nodes transitively and keep global names local (erl's -connect_all false). true (the default): global connects this node to every node its peers know. Example: --connect-all false"
  ),
  Options.optional
)
const protoDist = Options.text("proto-dist").pipe(
  Options.withPseudoName("tls|tcp"),
  Options.withDescription(
    "The distribution carrier: tcp (the default) or tls (erl's -proto_dist inet_tls; needs --ssl-dist-optfile). Example: --proto-dist tls --ssl-dist-optfile ssl_dist.conf"
  ),
  Options.optional
)
const sslDistOptfile = Options.text("ssl-dist-optfile").pipe(
  Options.withPseudoName("FILE"),
  Options.withDescription(
    "The TLS options of --proto-dist tls, in erl's ssl_dist_optfile format ([{server, [{certfile, ...}, ...]}, {client, [...]}].), so erl and this node can share one file. Example: --ssl-dist-optfile /etc/dist/ssl_dist.conf"
  ),
  Options.optional
)

const flagOptions = {
  sname,
  name,
  setcookie,
  hidden,
  netTicktime,
  epmdPort,
  noshell,
  eval: evalCode,
  connectAll,
  protoDist,
  sslDistOptfile
}

/**
 * The `@effect/cli` command; `handler` runs with the validated options.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E, R>(handler: (options: NodeOptions) => Effect.Effect<void, E, R>) =>
  CliCommand.make(
    "effect-otp",
    { ...flagOptions, args: Args.none },
    (flags) => Effect.flatMap(validate(flags), handler)
  ).pipe(
    CliCommand.withDescription(HelpDoc.blocks([
      HelpDoc.p(
        "An Erlang node in TypeScript, with an erl-like shell. Example: effect-otp --sname alice --setcookie secret"
      ),
      HelpDoc.p(
        "Shell helpers: self(), send(dest, msg), flush(), receive(), spawn(fn), register, whereis, link, monitor, exit, i(), q(), node(), nodes(), ping(node); with distribution rpc(node, m, f, args) (as rpc:call), await spawn(node, m, f, args), monitor(pid | t`{name, node}`) and link(pid) on remote processes, monitorNodes(true | false), disconnect(node)."
      ),
      HelpDoc.p(
        "Examples: rpc(\"bob@vm\", \"erlang\", \"node\", []) | monitorNodes(true) then flush() | effect-otp --sname alice --proto-dist tls --ssl-dist-optfile ssl_dist.conf (erl: -proto_dist inet_tls -ssl_dist_optfile ssl_dist.conf)"
      )
    ]))
  )

/**
 * Runs the command on `argv` (without the node binary and script): the handler's result,
 * or exit code 2 after one line on stderr for a bad flag or value.
 *
 * @since 0.1.0
 * @category running
 */
export const run = <E, R>(
  argv: ReadonlyArray<string>,
  handler: (options: NodeOptions) => Effect.Effect<void, E, R>
) => {
  const cli = CliCommand.run(make(handler), { name: "effect-otp", version: "0.1.0", executable: "effect-otp" })
  const args = normalizeArgv(argv)
  const last = args[args.length - 1]
  if (last !== undefined && /^--[a-z-]+$/.test(last) && internal.VALUED.has(last.slice(2))) {
    return Effect.as(Console.error(`effect-otp: ${last} needs a value (see --help)`), 2)
  }
  // @effect/cli prints its parse errors as a help document: keep them, print one line
  const captured: Array<string> = []
  const capturing = (base: Console.Console): Console.Console => ({
    ...base,
    error: (...xs: ReadonlyArray<any>) => Effect.sync(() => captured.push(xs.map(String).join(" "))),
    unsafe: { ...base.unsafe, error: (...xs: ReadonlyArray<any>) => captured.push(xs.map(String).join(" ")) }
  })
  return Console.consoleWith((base) => Console.withConsole(cli(["node", "effect-otp", ...args]), capturing(base))).pipe(
    Effect.as(0),
    Effect.catchIf(ValidationError.isValidationError, () => {
      // eslint-disable-next-line no-control-regex
      const text = captured.join(" ").replace(/\x1b\[[0-9;]*m/g, "").replace(/\s+/g, " ").trim()
      return Effect.as(Console.error(`effect-otp: ${text.length > 0 ? text : "bad arguments"} (see --help)`), 2)
    }),
    Effect.catchIf(
      (e): e is UsageError => e instanceof UsageError,
      (e) => Effect.as(Console.error(`effect-otp: ${e.message}`), 2)
    )
  )
}
