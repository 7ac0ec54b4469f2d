/**
 * One TypeScript node of the demo, run as its own OS process:
 *
 *     npx tsx examples/src/node.ts <name> <cookie> [epmdPort]
 *
 * It starts `DistNode` (a visible node, so it shows in `nodes()`), then runs a "shell"
 * process — like the Erlang shell, one process with one mailbox for the whole session —
 * that executes commands read from stdin, one JSON object per line, and prints the
 * results on stdout, followed by a `@@done` line. At start it prints `@@ready <node>`
 * (or `@@error <why>` and exits with code 2). Logs go to stderr. When stdin closes, or
 * on `{"op":"halt"}`, the node stops: its connections close and its name leaves epmd.
 *
 * Commands (terms are JSON: a string is an atom, a number an integer, an array a tuple,
 * `{"str": "..."}` a string (charlist), `{"var": "Pid"}` a shell variable, `{"self": true}`
 * the shell's pid):
 *
 * - `{"op":"ping","node":"bob@vm"}`                      → `pong` / `pang`
 * - `{"op":"nodes"}`                                     → `['bob@vm']`
 * - `{"op":"register_echo"}` / `{"op":"register_worker"}` → `true`
 * - `{"op":"send","to":T,"msg":M}`                       → `T ! M`, prints `M`
 * - `{"op":"flush"}`                                     → `Shell got ...` lines, `ok`
 * - `{"op":"send_work","to":T,"work":W,"after":Ms,"bind":"Pid"}` → the result or `{error,timeout}`
 * - `{"op":"receive_result","after":Ms}`                 → `receive {result, R} -> R after Ms -> timeout end`
 * - `{"op":"dist_kv_start"}`                             → `dist_kv:start_link()` (`distKv.ts`)
 * - `{"op":"dist_kv_put","key":K,"value":V}`              → `dist_kv:put(K, V)`
 * - `{"op":"dist_kv_get","key":K,"until":V}`              → `dist_kv:get(K)`; with `until`, read again
 *   (up to 5 s) until the value is `V`: writes are casts, they may still be on their way
 * - `{"op":"halt"}`
 *
 * where a target `T` is `{"name":"echo","node":"bob@vm"}` or a term (e.g. `{"var":"Pid"}`).
 */
import * as DistNode from "@effect-otp/dist/DistNode"
import * as NetKernel from "@effect-otp/dist/NetKernel"
import * as GlobalRegistry from "@effect-otp/global/GlobalRegistry"
import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { RemoteName } from "@effect-otp/process/Signal"
import { Atom, atom, charlist, format, isTagged, type Term, Tuple, tuple } from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as readline from "node:readline"
import { eventually } from "./cluster.js"
import * as DistKv from "./distKv.js"
import { demoWork, sendWorkErlang, worker } from "./sendWork.js"

/** A term as the driver writes it in JSON. */
export type JsonTerm =
  | string
  | number
  | ReadonlyArray<JsonTerm>
  | { readonly str: string }
  | { readonly var: string }
  | { readonly self: true }

/** Where to send: `{Name, Node}` or a term (a pid, usually a variable). */
export type JsonTarget = { readonly name: string; readonly node: string } | JsonTerm

/** A command line. */
export type Command =
  | { readonly op: "ping"; readonly node: string }
  | { readonly op: "nodes"; readonly min?: number }
  | { readonly op: "register_echo" }
  | { readonly op: "register_worker" }
  | { readonly op: "send"; readonly to: JsonTarget; readonly msg: JsonTerm }
  | { readonly op: "flush" }
  | {
    readonly op: "send_work"
    readonly to: JsonTarget
    readonly work: JsonTerm
    readonly after: number
    readonly bind?: string
  }
  | { readonly op: "receive_result"; readonly after: number }
  | { readonly op: "dist_kv_start" }
  | { readonly op: "dist_kv_put"; readonly key: JsonTerm; readonly value: JsonTerm }
  | { readonly op: "dist_kv_get"; readonly key: JsonTerm; readonly until?: JsonTerm }
  | { readonly op: "global_sync" }
  | { readonly op: "global_register"; readonly name: string; readonly registered: string }
  | { readonly op: "global_whereis"; readonly name: string }
  | { readonly op: "global_send"; readonly name: string; readonly msg: JsonTerm }
  | { readonly op: "halt" }

const out = (line: string): void => {
  process.stdout.write(line + "\n")
}

const shell = (commands: Queue.Queue<string>) =>
  Effect.gen(function*() {
    const self = yield* Process.self
    const vars = new Map<string, Term>()

    const toTerm = (j: JsonTerm): Term => {
      if (typeof j === "string") return atom(j)
      if (typeof j === "number") return j
      if (Array.isArray(j)) return tuple(...j.map(toTerm))
      const o = j as Exclude<JsonTerm, string | number | ReadonlyArray<JsonTerm>>
      if ("str" in o) return charlist(o.str)
      if ("var" in o) {
        const v = vars.get(o.var)
        if (v === undefined) throw new Error(`variable '${o.var}' is unbound`)
        return v
      }
      return self
    }
    const toTarget = (t: JsonTarget): Process.Target =>
      typeof t === "object" && t !== null && "name" in t && "node" in t
        ? new RemoteName({ name: Atom.make(t.name), node: Atom.make(t.node) })
        : toTerm(t as JsonTerm) as Process.Target

    const execute = (
      cmd: Command
    ): Effect.Effect<
      boolean,
      unknown,
      NetKernel.NetKernel | ProcessRuntime.ProcessRuntime | GlobalRegistry.GlobalRegistry | Process.Self
    > =>
      Effect.gen(function*() {
        switch (cmd.op) {
          case "ping":
            out(yield* NetKernel.ping(cmd.node))
            break
          case "nodes": {
            // with `min`, waits (up to 5 s) until global's transitive connects have happened
            let ns = yield* NetKernel.nodes()
            for (let i = 0; i < 500 && ns.length < (cmd.min ?? 0); i++) {
              yield* Effect.sleep("10 millis")
              ns = yield* NetKernel.nodes()
            }
            out(format([...ns].sort((x, y) => x.name < y.name ? -1 : 1)))
            break
          }
          case "register_echo":
            // register(echo, spawn(fun Loop() -> receive {From, Msg} -> From ! {echo, Msg}, Loop() end end))
            yield* Process.spawn(
              Effect.forever(Effect.flatMap(Process.receive(), (m) =>
                m instanceof Tuple && m.elements.length === 2
                  ? Effect.ignore(Process.send(m.elements[0] as Process.Target, tuple(atom("echo"), m.elements[1]!)))
                  : Effect.void)),
              { name: "echo" }
            )
            out("true")
            break
          case "register_worker":
            yield* Process.spawn(worker(demoWork), { name: "worker" })
            out("true")
            break
          case "send": {
            const msg = toTerm(cmd.msg)
            yield* Process.send(toTarget(cmd.to), msg)
            out(format(msg))
            break
          }
          case "flush": {
            // Erlang's flush() only looks at the mailbox; a human typing gives replies time to
            // arrive, a script does not: wait (up to 5 s) for the first message, then drain.
            let m = yield* Process.receive(undefined, { after: "5 seconds" })
            while (Option.isSome(m)) {
              out(`Shell got ${format(m.value as Term)}`)
              m = yield* Process.receive(undefined, { after: 0 })
            }
            out("ok")
            break
          }
          case "send_work": {
            const result = yield* sendWorkErlang(toTarget(cmd.to), toTerm(cmd.work), { after: cmd.after })
            if (cmd.bind !== undefined) vars.set(cmd.bind, result)
            out(format(result))
            break
          }
          case "receive_result": {
            const r = yield* Process.receive(
              (m) => isTagged(m, "result", 2) ? Option.some(m.elements[1]!) : Option.none(),
              { after: cmd.after }
            )
            out(Option.match(r, { onNone: () => "timeout", onSome: format }))
            break
          }
          case "dist_kv_start": {
            const kv = yield* DistKv.startLink
            out(format(tuple(atom("ok"), kv.pid)))
            break
          }
          case "dist_kv_put":
            out(format(yield* DistKv.put(toTerm(cmd.key), toTerm(cmd.value))))
            break
          case "dist_kv_get": {
            const get = DistKv.get(toTerm(cmd.key))
            out(format(cmd.until === undefined ? yield* get : yield* eventually(get, toTerm(cmd.until))))
            break
          }
          case "global_sync":
            yield* GlobalRegistry.sync
            out("ok")
            break
          case "global_register": {
            // global:register_name(Name, whereis(Registered))
            const pid = yield* Process.whereis(cmd.registered)
            if (Option.isNone(pid)) throw new Error(`no process is registered as ${cmd.registered}`)
            out((yield* GlobalRegistry.registerName(cmd.name, pid.value)) ? "yes" : "no")
            break
          }
          case "global_whereis":
            out(
              Option.match(yield* GlobalRegistry.whereisName(cmd.name), { onNone: () => "undefined", onSome: format })
            )
            break
          case "global_send":
            out(format(yield* GlobalRegistry.send(cmd.name, toTerm(cmd.msg))))
            break
          case "halt":
            return false
        }
        return true
      })

    for (;;) {
      const line = yield* Queue.take(commands)
      const more = yield* Effect.suspend(() => execute(JSON.parse(line) as Command)).pipe(
        Effect.catchAllCause((cause) =>
          Effect.sync(() => {
            out(`** exception: ${cause.toString().split("\n")[0]}`)
            return true
          })
        )
      )
      out("@@done")
      if (!more) return
    }
  })

const main = (name: string, cookie: string, epmdPort: number | undefined) =>
  Effect.gen(function*() {
    const commands = yield* Queue.unbounded<string>()
    const rl = readline.createInterface({ input: process.stdin, terminal: false })
    rl.on("line", (line) => {
      if (line.trim() !== "") Queue.unsafeOffer(commands, line)
    })
    rl.on("close", () => Queue.unsafeOffer(commands, JSON.stringify({ op: "halt" })))

    // visible (the default), with OTP's global: the mesh forms by itself, global names work across it
    const node = DistNode.layerDefault({ name, cookie, epmdPort }).pipe(
      Layer.provideMerge(GlobalRegistry.layer()),
      Layer.provideMerge(ProcessRuntime.layer)
    )
    yield* Effect.gen(function*() {
      out(`@@ready ${(yield* NetKernel.node).name}`)
      yield* Process.run(shell(commands))
    }).pipe(Effect.provide(node))
    rl.close()
  })

const [name, cookie, port] = process.argv.slice(2)
if (name === undefined || cookie === undefined) {
  console.error("usage: node.ts <name> <cookie> [epmdPort]")
  process.exit(2)
}
Effect.runPromise(
  main(name, cookie, port === undefined ? undefined : Number(port)).pipe(
    // stdout is the protocol: logs go to stderr
    Effect.provide(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.stringLogger)))
  )
).then(
  () => process.exit(0),
  (e: unknown) => {
    out(`@@error ${e instanceof Error ? e.message : String(e)}`)
    process.exit(2)
  }
)
