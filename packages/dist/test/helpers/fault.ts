/**
 * Shared pieces of the fault suites: a TS peer node as a child OS process, an `Epmd`
 * service that sends chosen nodes through a proxy, and small waiting helpers.
 */
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Scope from "effect/Scope"
import { spawn } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Epmd from "../../src/Epmd.js"

const here = dirname(fileURLToPath(import.meta.url))
const repoRoot = join(here, "..", "..", "..", "..")

export interface ChildNode {
  readonly pid: number
  readonly node: string
  /** The node's distribution port. */
  readonly port: number
  readonly stdout: () => string
  readonly stderr: () => string
  /** SIGKILL by pid; resolves when the process has exited. */
  readonly kill: () => Promise<void>
}

/**
 * Starts `faultPeer.ts <name> <cookie>` (`node <execArgv> --import scripts/ts-loader.mjs`,
 * the repository's TypeScript loader for test processes) and waits for `@@ready`; killed
 * (by pid) when the scope closes. `pid` is the node process itself (no wrapper process), so
 * a `kill` is a `kill -9` of the node. `execArgv`: node flags, say `--max-old-space-size=192`.
 */
export const startTsPeer = (
  name: string,
  cookie: string,
  options: { readonly execArgv?: ReadonlyArray<string> } = {}
): Effect.Effect<ChildNode, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<ChildNode, Error>((resume) => {
      const script = join(here, "faultPeer.ts")
      const argv = [
        ...(options.execArgv ?? []),
        "--import",
        join(repoRoot, "scripts", "ts-loader.mjs"),
        script,
        name,
        cookie
      ]
      const child = spawn(process.execPath, argv, { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"] })
      let out = ""
      let err = ""
      let exited = false
      const exit = new Promise<void>((r) =>
        child.on("exit", () => {
          exited = true
          r()
        })
      )
      const node: ChildNode = {
        pid: child.pid ?? -1,
        node: "",
        port: 0,
        stdout: () => out,
        stderr: () => err,
        kill: async () => {
          if (!exited && child.pid !== undefined) {
            try {
              process.kill(child.pid, "SIGKILL")
            } catch {
              // gone
            }
          }
          await exit
        }
      }
      const timer = setTimeout(() => {
        void node.kill()
        resume(Effect.fail(new Error(`TS peer not ready in 30 s\n${out}\n${err}`)))
      }, 30_000)
      child.stdout!.setEncoding("utf8").on("data", (d: string) => {
        out += d
        const m = /@@ready (\S+) port=(\d+)/.exec(out)
        if (m !== null && node.node === "") {
          clearTimeout(timer)
          resume(Effect.succeed({ ...node, node: m[1]!, port: Number(m[2]) }))
        } else if (out.includes("@@error")) {
          clearTimeout(timer)
          void node.kill()
          resume(Effect.fail(new Error(`TS peer failed: ${out}\n${err}`)))
        }
      })
      child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d))
      child.on("exit", (code) => {
        if (node.node === "") {
          clearTimeout(timer)
          resume(Effect.fail(new Error(`TS peer exited (${code}) before ready\n${out}\n${err}`)))
        }
      })
    }),
    (n) => Effect.promise(() => n.kill())
  )

/**
 * The system epmd client, except that `portPlease` for an alive name in `routes`
 * answers the port given there (a proxy in front of the real node).
 */
export const routedEpmd = (routes: Map<string, number>): Epmd.EpmdService => {
  const base = Epmd.make()
  return {
    ...base,
    portPlease: (host, name, options) =>
      Effect.map(base.portPlease(host, name, options), (info) => {
        const alive = name.includes("@") ? name.slice(0, name.indexOf("@")) : name
        const port = routes.get(alive)
        return port === undefined ? info : { ...info, port }
      })
  }
}

/** A child scope of the current one (close it to stop a node early). */
export const subScope = Effect.flatMap(Effect.scope, (s) => Scope.fork(s, ExecutionStrategy.sequential))
