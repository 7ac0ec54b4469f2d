/**
 * The `effect-otp` program: flags → a node (a `ProcessRuntime`, plus distribution with
 * `--sname`/`--name`: the default `DistNode` over TCP or TLS, which serves rpc so that
 * `rpc:call`, `erpc` and remote `spawn` from other nodes run here) → the shell, `--eval`,
 * or `--noshell`.
 *
 * A node loads only what it runs: the common command lines are parsed without
 * `@effect/cli` (which, with `@effect/platform-node`, is loaded for `--help`, `--version`
 * and the error messages of a bad command line), and the REPL only for a shell or `--eval`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Node from "./internal/node.js"
import * as Options from "./internal/options.js"

class ExitCode {
  constructor(readonly code: number) {}
}

/** Runs the node; a start-up failure is one line on stderr and exit code 1. */
const runNode = (options: Options.NodeOptions): Promise<number> =>
  Node.runNode(options).catch((e) => {
    if (e instanceof Node.StartError) {
      process.stderr.write(`effect-otp: ${e.message}\n`)
      return 1
    }
    throw e
  })

/** The whole command line through `@effect/cli` (help, version, and its messages for bad flags). */
const runWithCli = async (argv: ReadonlyArray<string>): Promise<number> => {
  const [Command, NodeFileSystem, NodePath, NodeTerminal] = await Promise.all([
    import("./Command.js"),
    import("@effect/platform-node/NodeFileSystem"),
    import("@effect/platform-node/NodePath"),
    import("@effect/platform-node/NodeTerminal")
  ])
  return Effect.runPromise(
    Command.run(argv, (options) =>
      Effect.tryPromise({ try: () => runNode(options), catch: (e) => e }).pipe(
        Effect.flatMap((code) => (code === 0 ? Effect.void : Effect.fail(new ExitCode(code))))
      )).pipe(
        Effect.catchIf((e): e is ExitCode => e instanceof ExitCode, (e) => Effect.succeed(e.code)),
        Effect.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer))
      )
  )
}

/**
 * The whole program on `argv` (without `node` and the script): the exit code.
 *
 * @since 0.1.0
 * @category running
 */
export const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  const flags = Options.parseCommon(argv)
  if (flags === undefined) return runWithCli(argv)
  const options = await Effect.runPromise(Effect.either(Options.validate(flags)))
  if (Either.isLeft(options)) {
    process.stderr.write(`effect-otp: ${options.left.message}\n`)
    return 2
  }
  return runNode(options.right)
}
