/**
 * `npm run demo`: chapter 22 ("Distributed Erlang") replayed with real OS processes.
 *
 * - part 0: local processes — a supervisor-like tree (`supervisor.ts`);
 * - part 1: two TypeScript nodes, `alice` and `bob`, each its own Node.js process
 *   (`node.ts`), talking the Erlang distribution protocol: ping, `nodes()`, a registered
 *   echo, `send_work` against a remote pid, with a timeout;
 * - part 2: when `erl` is installed, a real Erlang node `carol` joins: she dials alice only,
 *   and OTP's `global` (which the TS nodes run, as visible nodes do) connects her to bob:
 *   the chapter's fully connected mesh forms by itself; `global:register_name` names work
 *   across it both ways; then echo both ways, `send_work` against an Erlang pid and from
 *   Erlang against a TypeScript pid;
 * - part 3: the chapter's `dist_kv` across the cluster: the TypeScript one (`distKv.ts`) on
 *   alice and bob, the chapter's Erlang module (`examples/erlang/dist_kv.erl`) on carol.
 *
 * This process hosts the embedded epmd when none runs (it lives exactly as long as the
 * demo), drives the nodes over stdin/stdout, prints the transcript, then stops every
 * node and checks that their names left epmd.
 *
 * Environment: `DEMO_EPMD_PORT` (default `ERL_EPMD_PORT` or 4369), `DEMO_SUFFIX`
 * (appended to the node names, default none), `DEMO_COOKIE` (default `secret`),
 * `DEMO_NO_ERL=1` (skip part 2), `DEMO_VERBOSE=1` (show the nodes' logs).
 */
import * as Epmd from "@effect-otp/dist/Epmd"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { supervisorDemo } from "./supervisor.js"

const here = path.dirname(fileURLToPath(import.meta.url))

/** The demo stopped: a clear message for a human. */
export class DemoError extends Data.TaggedError("DemoError")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

const env = process.env
const epmdPort = Number(env.DEMO_EPMD_PORT ?? env.ERL_EPMD_PORT ?? Epmd.DEFAULT_PORT)
const suffix = env.DEMO_SUFFIX ?? ""
const cookie = env.DEMO_COOKIE ?? "secret"
const verbose = env.DEMO_VERBOSE === "1"
const names = { alice: `alice${suffix}`, bob: `bob${suffix}`, carol: `carol${suffix}` }
/** The short `after` used for the timeout step (the chapter's is 5000). */
const SHORT_AFTER = 1000
/** How long one command may take before the demo gives up. */
const COMMAND_TIMEOUT = 20_000

const print = (line: string): void => {
  process.stdout.write(line + "\n")
}

// ---------------------------------------------------------------------------
// Child nodes: an OS process driven by lines on stdin, answering lines on stdout
// ---------------------------------------------------------------------------

/** Every child we started, so that `exit` / signals can kill leftovers by pid. */
const started = new Set<ChildProcess>()

process.on("exit", () => {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, "SIGKILL")
      } catch {
        // already gone
      }
    }
  }
})

class Node {
  /** the full node name, e.g. `alice@laptop-42` (known once ready) */
  node = ""
  private out = ""
  private err = ""
  private lines: Array<string> = []
  private waiter: (() => void) | undefined
  private prompt = 0
  readonly exited: Promise<number | null>
  private exitCode: number | null | undefined

  constructor(readonly label: string, readonly child: ChildProcess) {
    started.add(child)
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      this.out += d
      let i: number
      while ((i = this.out.indexOf("\n")) >= 0) {
        this.lines.push(this.out.slice(0, i).replace(/\r$/, ""))
        this.out = this.out.slice(i + 1)
      }
      this.waiter?.()
    })
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      this.err += d
      if (verbose) process.stderr.write(d.replace(/^(?=.)/gm, `[${label}] `))
    })
    this.exited = new Promise((resolve) => {
      const done = (code: number | null) => {
        this.exitCode ??= code
        resolve(code)
        this.waiter?.()
      }
      child.on("exit", (code, signal) => done(code ?? (signal === null ? null : -1)))
      child.on("error", () => done(null))
    })
  }

  get alive(): boolean {
    return this.exitCode === undefined
  }

  private fail(what: string): DemoError {
    const tail = this.err.trim().split("\n").slice(-15).join("\n")
    return new DemoError({
      detail: `${this.label}: ${what}${tail === "" ? "" : `\n--- its stderr (last lines) ---\n${tail}`}`
    })
  }

  /** Lines up to (not including) one matching `end`; fails on timeout or exit. */
  private readUntil(end: (line: string) => boolean, timeoutMs: number, what: string) {
    return Effect.async<Array<string>, DemoError>((resume) => {
      const got: Array<string> = []
      const timer = setTimeout(() => {
        this.waiter = undefined
        resume(Effect.fail(this.fail(`no answer within ${timeoutMs} ms to ${what}`)))
      }, timeoutMs)
      const check = () => {
        while (this.lines.length > 0) {
          const line = this.lines.shift()!
          if (end(line)) {
            clearTimeout(timer)
            this.waiter = undefined
            got.push(line)
            return resume(Effect.succeed(got))
          }
          got.push(line)
        }
        if (!this.alive) {
          clearTimeout(timer)
          this.waiter = undefined
          resume(
            Effect.fail(this.fail(`exited (code ${this.exitCode}) during ${what}; it printed:\n${got.join("\n")}`))
          )
        }
      }
      this.waiter = check
      check()
      return Effect.sync(() => {
        clearTimeout(timer)
        this.waiter = undefined
      })
    })
  }

  /** Waits for `@@ready <node>` (or `@@error <why>`). */
  ready(timeoutMs: number): Effect.Effect<void, DemoError> {
    return Effect.flatMap(
      this.readUntil((l) => l.startsWith("@@ready ") || l.startsWith("@@error "), timeoutMs, "start-up"),
      (lines) => {
        const last = lines[lines.length - 1]!
        if (last.startsWith("@@error ")) return Effect.fail(this.fail(last.slice(8)))
        this.node = last.slice(8).trim()
        return Effect.void
      }
    )
  }

  /** Sends one command line and returns the lines it printed before `@@done`. */
  request(line: string): Effect.Effect<Array<string>, DemoError> {
    return Effect.suspend(() => {
      if (!this.alive) return Effect.fail(this.fail("is not running"))
      this.child.stdin!.write(line + "\n")
      return Effect.map(this.readUntil((l) => l === "@@done", COMMAND_TIMEOUT, line), (ls) => ls.slice(0, -1))
    })
  }

  /** Prints `(node)N> erlang` and the answer lines. */
  step(erlang: string, line: string): Effect.Effect<Array<string>, DemoError> {
    return Effect.flatMap(this.request(line), (answer) =>
      Effect.sync(() => {
        print(`(${this.node})${++this.prompt}> ${erlang}`)
        for (const l of answer) print(l)
        return answer
      }))
  }

  /** Closes stdin (the node halts), waits up to 5 s, then kills it by pid. Idempotent. */
  stop(): Effect.Effect<void> {
    return Effect.promise(async () => {
      if (!this.alive) return
      this.child.stdin!.end()
      const timer = new Promise((r) => setTimeout(r, 5000))
      await Promise.race([this.exited, timer])
      if (this.alive && this.child.pid !== undefined) {
        try {
          process.kill(this.child.pid, "SIGKILL")
        } catch {
          // already gone
        }
        await this.exited
      }
    })
  }
}

const startProcess = (
  label: string,
  command: string,
  args: ReadonlyArray<string>,
  extraEnv: Record<string, string> = {}
): Effect.Effect<Node, DemoError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () =>
        new Node(
          label,
          spawn(command, args, {
            stdio: ["pipe", "pipe", "pipe"],
            env: { ...process.env, ...extraEnv },
            // its own process group: a Ctrl-C goes to the demo, which stops the nodes in order
            detached: true
          })
        ),
      catch: (e) => new DemoError({ detail: `cannot start ${label}: ${String(e)}` })
    }),
    (node) => node.stop()
  )

/** A TypeScript node: this same Node.js with the same loader flags (tsx), running node.ts. */
const startTsNode = (name: string) => {
  const loader = process.execArgv.length > 0 ? process.execArgv : ["--import", "tsx"]
  return startProcess(name, process.execPath, [...loader, path.join(here, "node.ts"), name, cookie, String(epmdPort)])
}

const erlAvailable = (): boolean => {
  if (env.DEMO_NO_ERL === "1") return false
  return (env.PATH ?? "").split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, "erl"), fs.constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

/**
 * carol's code: an echo and a worker as in the chapter, then a tiny shell that reads one
 * Erlang expression per line, evaluates it with `erl_eval` (keeping the bindings, like
 * the real shell) and prints the value. `send_work/2,3` and `flush/0` are shell-local
 * functions.
 */
const carolCode = `
Echo = fun Loop() -> receive {From, Msg} -> From ! {echo, Msg}, Loop() end end,
true = register(echo, spawn(Echo)),
Worker = fun W() ->
  receive
    {work, From, self} -> From ! {result, self()}, W();
    {work, From, {square, N}} -> From ! {result, N * N}, W();
    {work, From, {sleep, Ms}} -> timer:sleep(Ms), From ! {result, {slept, Ms}}, W();
    {work, From, Other} -> From ! {result, {unknown, Other}}, W()
  end
end,
true = register(worker, spawn(Worker)),
SendWork = fun(Pid, Work, After) ->
  Pid ! {work, self(), Work},
  receive {result, Result} -> Result after After -> {error, timeout} end
end,
Drain = fun D() -> receive M1 -> io:format("Shell got ~p~n", [M1]), D() after 0 -> ok end end,
Local = fun
  (send_work, [P, Wk]) -> SendWork(P, Wk, 5000);
  (send_work, [P, Wk, Aft]) -> SendWork(P, Wk, Aft);
  (flush, []) -> receive M2 -> io:format("Shell got ~p~n", [M2]), Drain() after 5000 -> ok end;
  (F, Args) -> erlang:error({undef, F, length(Args)})
end,
Shell = fun S(B) ->
  case io:get_line('') of
    eof -> halt();
    {error, _} -> halt();
    Line ->
      B2 = try
        {ok, Toks, _} = erl_scan:string(Line),
        {ok, Exprs} = erl_parse:parse_exprs(Toks),
        {value, V, NB} = erl_eval:exprs(Exprs, B, {value, Local}),
        io:format("~p~n", [V]),
        NB
      catch C:R -> io:format("** exception ~p: ~p~n", [C, R]), B
      end,
      io:format("@@done~n"),
      S(B2)
  end
end,
io:format("@@ready ~s~n", [node()]),
Shell(erl_eval:new_bindings()).`

const startCarol = () =>
  startProcess(
    names.carol,
    "erl",
    ["-sname", names.carol, "-setcookie", cookie, "-noshell", "-start_epmd", "false", "-eval", carolCode],
    { ERL_EPMD_PORT: String(epmdPort) }
  )

// ---------------------------------------------------------------------------
// The demo
// ---------------------------------------------------------------------------

const j = (x: unknown): string => JSON.stringify(x)
const q = (node: string): string => `'${node}'`

const part = (title: string) => Effect.sync(() => print(`\n=== ${title} ===`))

const epmdNames = (epmd: Epmd.EpmdService) =>
  epmd.names("127.0.0.1", { epmdPort }).pipe(
    Effect.mapError((e) => new DemoError({ detail: `cannot list the names on epmd port ${epmdPort}: ${e.message}` }))
  )

const program = Effect.gen(function*() {
  const t0 = Date.now()
  print("effect-otp demo: chapter 22, \"Distributed Erlang: Nodes Talking to Nodes\", with real OS processes.")

  // ---- part 0 -------------------------------------------------------------
  yield* part("Part 0: local processes — a supervisor-like tree (examples/src/supervisor.ts)")
  yield* supervisorDemo(print).pipe(
    Effect.provide(ProcessRuntime.layer),
    Effect.mapError((e) => new DemoError({ detail: `part 0 failed: ${String(e)}` }))
  )

  // ---- epmd ---------------------------------------------------------------
  yield* part("Part 1: two TypeScript nodes, alice and bob, as separate OS processes")
  const running = yield* Epmd.probe(epmdPort)
  const epmd = Context.get(
    yield* Layer.build(Epmd.layerAuto({ port: epmdPort })).pipe(
      Effect.mapError((e) => new DemoError({ detail: `cannot start or reach epmd on port ${epmdPort}: ${e.message}` }))
    ),
    Epmd.Epmd
  )
  print(
    running
      ? `%% epmd: using the epmd already running on port ${epmdPort}`
      : `%% epmd: none was running, so this demo process started an embedded one on port ${epmdPort} (it stops with the demo)`
  )
  const before = yield* epmdNames(epmd)
  const taken = Object.values(names).filter((n) => before.some((e) => e.name === n))
  if (taken.length > 0) {
    return yield* new DemoError({
      detail: `the node name(s) ${taken.join(", ")} are already registered with the epmd on port ${epmdPort}\n` +
        `(${before.map((e) => `${e.name} at port ${e.port}`).join(", ")}).\n` +
        `Is another demo or an 'erl -sname ${taken[0]}' running? Stop it, or run with other names: ` +
        `DEMO_SUFFIX=_2 npm run demo`
    })
  }

  // ---- start the nodes (carol too, in parallel, to save time) -------------
  const withErl = erlAvailable()
  const [alice, bob, carol] = yield* Effect.all([
    startTsNode(names.alice),
    startTsNode(names.bob),
    withErl ? Effect.asSome(startCarol()) : Effect.succeedNone
  ], { concurrency: "unbounded" })
  yield* Effect.all([
    alice.ready(60_000),
    bob.ready(60_000),
    carol._tag === "Some" ? carol.value.ready(60_000) : Effect.void
  ], { concurrency: "unbounded", discard: true })
  print(
    `%% started ${alice.node} (OS pid ${alice.child.pid}) and ${bob.node} (OS pid ${bob.child.pid}), cookie '${cookie}'`
  )
  print(`%% alice and bob run TypeScript (examples/src/node.ts); each prompt shows the Erlang the TS code does.`)

  // ---- part 1 -------------------------------------------------------------
  yield* alice.step(`net_adm:ping(${q(bob.node)}).`, j({ op: "ping", node: bob.node }))
  yield* alice.step(`nodes().`, j({ op: "nodes" }))
  yield* bob.step(`nodes().`, j({ op: "nodes" }))
  yield* bob.step(
    `register(echo, spawn(fun Loop() -> receive {From, Msg} -> From ! {echo, Msg}, Loop() end end)).`,
    j({ op: "register_echo" })
  )
  yield* alice.step(
    `{echo, ${q(bob.node)}} ! {self(), "hello from alice!"}.`,
    j({ op: "send", to: { name: "echo", node: bob.node }, msg: [{ self: true }, { str: "hello from alice!" }] })
  )
  yield* alice.step(`flush().`, j({ op: "flush" }))
  print(`%% (the chapter's spawn(${q(bob.node)}, fun() -> ... end) is not shown: a TS node cannot run an Erlang fun)`)

  print(`%% send_work/2 (examples/src/sendWork.ts):`)
  print(`%%   send_work(Pid, Work) -> Pid ! {work, self(), Work},`)
  print(`%%       receive {result, Result} -> Result after 5000 -> {error, timeout} end.`)
  yield* bob.step(
    `register(worker, spawn(fun worker/0)).   %% self | {square, N} | {sleep, Ms}`,
    j({
      op: "register_worker"
    })
  )
  yield* alice.step(
    `Pid = send_work({worker, ${q(bob.node)}}, self).   %% the worker answers with its pid`,
    j({ op: "send_work", to: { name: "worker", node: bob.node }, work: "self", after: 5000, bind: "Pid" })
  )
  yield* alice.step(
    `send_work(Pid, {square, 7}).`,
    j({ op: "send_work", to: { var: "Pid" }, work: ["square", 7], after: 5000 })
  )
  print(`%% the worker is busy for 1500 ms; the demo uses after ${SHORT_AFTER} (the chapter's is 5000):`)
  yield* alice.step(
    `send_work(Pid, {sleep, 1500}, ${SHORT_AFTER}).`,
    j({ op: "send_work", to: { var: "Pid" }, work: ["sleep", 1500], after: SHORT_AFTER })
  )
  yield* alice.step(
    `receive {result, Late} -> Late end.   %% the late reply still arrives`,
    j({ op: "receive_result", after: 5000 })
  )

  // ---- part 2 -------------------------------------------------------------
  if (carol._tag === "None") {
    yield* part("Part 2: an Erlang node — SKIPPED")
    print(
      env.DEMO_NO_ERL === "1"
        ? "%% skipped: DEMO_NO_ERL=1"
        : "%% skipped: 'erl' is not installed (install Erlang/OTP to see a TS node and an Erlang node talk)."
    )
  } else {
    const c = carol.value
    yield* part("Part 2: a real Erlang node, carol (erl -sname carol), joins")
    print(`%% started ${c.node} (OS pid ${c.child.pid}): erl with an echo and a worker, and a tiny erl_eval shell`)
    yield* c.step(`net_adm:ping(${q(alice.node)}).`, `net_adm:ping(${q(alice.node)}).`)
    print(`%% carol only dialled alice; global connects her to bob too (the transitive mesh, connect_all):`)
    yield* c.step(`global:sync().`, `global:sync().`)
    yield* c.step(
      `lists:sort(nodes()).`,
      `(fun W(0) -> lists:sort(nodes()); W(N) -> case nodes() of [_, _] -> lists:sort(nodes()); _ -> ` +
        `timer:sleep(10), W(N - 1) end end)(500).`
    )
    yield* bob.step(`nodes().   %% bob never dialled carol`, j({ op: "nodes", min: 2 }))
    yield* alice.step(`nodes().`, j({ op: "nodes", min: 2 }))
    print(`%% global names across the mesh: register on one node, use them from the others`)
    yield* c.step(
      `global:sync(), global:register_name(carol_worker, whereis(worker)).`,
      `global:sync(), global:register_name(carol_worker, whereis(worker)).`
    )
    yield* bob.step(
      `global:register_name(bob_echo, whereis(echo)).`,
      j({ op: "global_register", name: "bob_echo", registered: "echo" })
    )
    yield* alice.step(
      `global:send(carol_worker, {work, self(), {square, 5}}).`,
      j({ op: "global_send", name: "carol_worker", msg: ["work", { self: true }, ["square", 5]] })
    )
    yield* alice.step(`flush().`, j({ op: "flush" }))
    yield* c.step(
      `global:send(bob_echo, {self(), "hello via global"}).`,
      `global:send(bob_echo, {self(), "hello via global"}).`
    )
    yield* c.step(`flush().`, `flush().`)
    yield* c.step(`lists:sort(global:registered_names()).`, `lists:sort(global:registered_names()).`)
    yield* alice.step(
      `{echo, ${q(c.node)}} ! {self(), "hello from alice!"}.`,
      j({ op: "send", to: { name: "echo", node: c.node }, msg: [{ self: true }, { str: "hello from alice!" }] })
    )
    yield* alice.step(`flush().`, j({ op: "flush" }))
    yield* c.step(
      `{echo, ${q(bob.node)}} ! {self(), "hello from carol!"}.`,
      `{echo, ${q(bob.node)}} ! {self(), "hello from carol!"}.`
    )
    yield* c.step(`flush().`, `flush().`)
    yield* alice.step(
      `Carol = send_work({worker, ${q(c.node)}}, self).`,
      j({ op: "send_work", to: { name: "worker", node: c.node }, work: "self", after: 5000, bind: "Carol" })
    )
    yield* alice.step(
      `send_work(Carol, {square, 12}).`,
      j({ op: "send_work", to: { var: "Carol" }, work: ["square", 12], after: 5000 })
    )
    yield* alice.step(
      `send_work(Carol, {sleep, 1500}, ${SHORT_AFTER}).`,
      j({ op: "send_work", to: { var: "Carol" }, work: ["sleep", 1500], after: SHORT_AFTER })
    )
    yield* alice.step(`receive {result, Late} -> Late end.`, j({ op: "receive_result", after: 5000 }))
    yield* c.step(
      `Bob = send_work({worker, ${q(bob.node)}}, self).   %% a TypeScript pid, seen from Erlang`,
      `Bob = send_work({worker, ${q(bob.node)}}, self).`
    )
    yield* c.step(`send_work(Bob, {square, 9}).`, `send_work(Bob, {square, 9}).`)
  }

  // ---- part 3 -------------------------------------------------------------
  yield* part("Part 3: dist_kv, the chapter's replicated key-value store, across the cluster")
  print(`%% alice and bob run examples/src/distKv.ts (GenServer); carol runs the chapter's dist_kv.erl.`)
  print(`%% put/2 casts {put, K, V} to {dist_kv, N} for every N in [node() | nodes()]; get/1 is a local call.`)
  print(`%% Writes are casts: a read on another node waits (up to 5 s) until the write has arrived.`)
  yield* alice.step(`dist_kv:start_link().`, j({ op: "dist_kv_start" }))
  yield* bob.step(`dist_kv:start_link().`, j({ op: "dist_kv_start" }))
  /** carol's read, retried while the cast may still be on its way (the prompt shows the plain get) */
  const carolGet = (key: string, until: string) =>
    `(fun W(0) -> dist_kv:get(${key}); W(N) -> case dist_kv:get(${key}) of ${until} = V -> V; _ -> ` +
    `timer:sleep(10), W(N - 1) end end)(500).`
  if (carol._tag === "Some") {
    const src = path.join(here, "..", "erlang", "dist_kv.erl")
    yield* carol.value.step(
      `c("examples/erlang/dist_kv.erl"), dist_kv:start_link().`,
      `{ok, dist_kv, Bin} = compile:file(${
        JSON.stringify(src)
      }, [binary, report]), {module, dist_kv} = code:load_binary(dist_kv, "dist_kv.erl", Bin), dist_kv:start_link().`
    )
  }
  yield* alice.step(
    `dist_kv:put(greeting, "hello world").`,
    j({ op: "dist_kv_put", key: "greeting", value: { str: "hello world" } })
  )
  yield* bob.step(
    `dist_kv:get(greeting).`,
    j({ op: "dist_kv_get", key: "greeting", until: { str: "hello world" } })
  )
  if (carol._tag === "Some") {
    const c = carol.value
    yield* c.step(`dist_kv:get(greeting).`, carolGet("greeting", `"hello world"`))
    yield* c.step(`dist_kv:put(lang, erlang).`, `dist_kv:put(lang, erlang).`)
    yield* alice.step(`dist_kv:get(lang).`, j({ op: "dist_kv_get", key: "lang", until: "erlang" }))
    yield* bob.step(`dist_kv:get(lang).`, j({ op: "dist_kv_get", key: "lang", until: "erlang" }))
  }
  yield* bob.step(`dist_kv:put(answer, 42).`, j({ op: "dist_kv_put", key: "answer", value: 42 }))
  yield* alice.step(`dist_kv:get(answer).`, j({ op: "dist_kv_get", key: "answer", until: 42 }))
  if (carol._tag === "Some") yield* carol.value.step(`dist_kv:get(answer).`, carolGet("answer", "42"))
  yield* alice.step(`dist_kv:get(missing).`, j({ op: "dist_kv_get", key: "missing" }))

  // ---- shutdown -----------------------------------------------------------
  yield* part("Shutdown")
  const nodes = [alice, bob, ...(carol._tag === "Some" ? [carol.value] : [])]
  yield* Effect.forEach(nodes, (n) => n.stop(), { concurrency: "unbounded", discard: true })
  const leftovers = nodes.filter((n) => n.alive)
  print(
    leftovers.length === 0
      ? `%% stopped ${nodes.map((n) => `${n.node} (pid ${n.child.pid})`).join(", ")}: all exited`
      : `%% STILL RUNNING: ${leftovers.map((n) => n.child.pid).join(", ")}`
  )
  // epmd drops a name when the node's registration socket closes: give it a moment
  let after = yield* epmdNames(epmd)
  for (let i = 0; i < 30 && after.some((e) => Object.values(names).includes(e.name)); i++) {
    yield* Effect.sleep("100 millis")
    after = yield* epmdNames(epmd)
  }
  const remaining = after.filter((e) => Object.values(names).includes(e.name))
  print(`%% epmd names on port ${epmdPort}: [${after.map((e) => `${e.name} at port ${e.port}`).join(", ")}]`)
  if (remaining.length > 0 || leftovers.length > 0) {
    return yield* new DemoError({
      detail: `not clean: ${
        remaining.map((e) => e.name).join(", ")
      } still registered, ${leftovers.length} node(s) alive`
    })
  }
  print(`%% ${Object.values(names).slice(0, nodes.length).join(", ")} are gone from epmd.`)
  print(`%% demo done in ${((Date.now() - t0) / 1000).toFixed(1)} s.`)
})

// Not NodeRuntime.runMain: we always want an explicit exit code, after every finalizer ran.
const fiber = Effect.runFork(Effect.scoped(program))
// A Ctrl-C may arrive twice (from the terminal and relayed by the `tsx` CLI): the first
// one interrupts the demo, whose finalizers stop every node (each within 5 s, then SIGKILL).
let interrupted = false
const onSignal = () => {
  if (interrupted) return
  interrupted = true
  print("\n%% interrupted: stopping the nodes...")
  fiber.unsafeInterruptAsFork(fiber.id())
}
process.on("SIGINT", onSignal)
process.on("SIGTERM", onSignal)
fiber.addObserver((exit) => {
  if (Exit.isSuccess(exit)) process.exit(0)
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "Some" && failure.value instanceof DemoError) {
    process.stderr.write(`\ndemo failed: ${failure.value.message}\n`)
  } else if (Cause.isInterruptedOnly(exit.cause)) {
    process.stderr.write("\ndemo interrupted; every node was stopped.\n")
  } else {
    process.stderr.write(`\ndemo failed:\n${Cause.pretty(exit.cause)}\n`)
  }
  process.exit(1)
})
