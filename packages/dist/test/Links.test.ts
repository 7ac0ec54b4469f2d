/**
 * Links, exits and monitors between a TS node and real `erl`: LINK /
 * UNLINK_ID / UNLINK_ID_ACK, EXIT and PAYLOAD_EXIT, EXIT2 and PAYLOAD_EXIT2, MONITOR_P
 * by pid and by name, DEMONITOR_P, `noproc`, and connection loss (`noconnection`).
 *
 * The oracle test runs `test/erlang/oracle.erl` against an erl peer and against a TS
 * node mirroring the peer role, and compares the Erlang-side message traces.
 */
import * as Process from "@effect-otp/process/Process"
import { RemoteName } from "@effect-otp/process/Signal"
import { Atom, atom, binary, format, isTagged, Pid, type Term, Tuple, tuple } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import * as NetKernel from "../src/NetKernel.js"
import { compileErl, erlAvailable, runErl, startErlScoped, uniqueName } from "./helpers/erl.js"
import { escapeRegExp, host, nodeLayer } from "./helpers/tsnode.js"

/**
 * An erl node with an `agent` that evaluates Erlang source sent as
 * `{eval, From, Code, Bindings}` in a fresh process and answers `{result, Value}`.
 */
const agentErl = `Eval = fun(Src, Binds) ->
    {ok, Toks, _} = erl_scan:string(Src),
    {ok, Exprs} = erl_parse:parse_exprs(Toks),
    {value, V, _} = erl_eval:exprs(Exprs, lists:sort(Binds)),
    V end,
  register(agent, spawn(fun Loop() ->
    receive {eval, From, Src, Binds} ->
      spawn(fun() -> From ! {result, catch Eval(binary_to_list(Src), Binds)} end), Loop()
    end end)),
  io:format("ready~n").`

/** Evaluates `code` on the erl node (variables from `bindings`) and returns its value. */
const erlEval = (node: string, code: string, bindings: Record<string, Term> = {}) =>
  Process.run(Effect.gen(function*() {
    const self = yield* Process.self
    yield* Process.send(
      new RemoteName({ name: atom("agent"), node: atom(node) }),
      tuple(atom("eval"), self, binary(code), Object.entries(bindings).map(([k, v]) => tuple(atom(k), v)))
    )
    const r = yield* Process.receive((m) => isTagged(m, "result", 2) ? Option.some(m.elements[1]!) : Option.none(), {
      after: "10 seconds"
    })
    return Option.getOrThrowWith(r, () => new Error(`no answer from erl for: ${code}`))
  }))

const receiveMatching = <A>(match: (m: unknown) => Option.Option<A>, after: Duration.DurationInput = "10 seconds") =>
  Effect.flatMap(
    Process.receive(match, { after }),
    Option.match({ onNone: () => Effect.die(new Error("timeout waiting for a message")), onSome: Effect.succeed })
  )

/** The agent erl node and a TS node sharing a fresh cookie, for the scope (`ctx` runs code on the TS node). */
const startAgent = Effect.gen(function*() {
  const cookie = uniqueName("c")
  const e = uniqueName("e")
  const erl = yield* startErlScoped({ args: ["-sname", e, "-setcookie", cookie], eval: agentErl, ready: "ready" })
  const ctx = yield* Layer.build(nodeLayer(uniqueName("ts"), cookie))
  return { node: `${e}@${host}`, erl, ctx }
})

const erlPid = (u: Term): Pid => {
  if (!(u instanceof Pid)) throw new Error(`expected a pid, got ${format(u)}`)
  return u
}

describe.skipIf(!erlAvailable())("links, exits and monitors across nodes (real erl)", () => {
  it.scopedLive(
    "an erl process linked to a trapping TS process: its exit reason arrives as {'EXIT', P, R}",
    () =>
      Effect.gen(function*() {
        const { node, ctx } = yield* startAgent
        const out = yield* Process.run(Effect.gen(function*() {
          yield* Process.trapExit(true)
          const self = yield* Process.self
          // erl links to us and exits with a compound reason (PAYLOAD_EXIT on the wire)
          const p = erlPid(
            yield* erlEval(
              node,
              `spawn(fun() -> link(Ts), Ts ! linked, receive go -> exit({shutdown, <<"bye">>, [1,2]}) end end).`,
              { Ts: self }
            )
          )
          yield* receiveMatching((m) => m === atom("linked") ? Option.some(m) : Option.none())
          const links = (yield* Process.processInfo(self)).pipe(Option.map((i) => i.links.map(format)))
          yield* Process.send(p, atom("go"))
          const exit = yield* receiveMatching((m) => Process.isExitMessage(m) ? Option.some(m) : Option.none())
          return { exit: format(exit), p: format(p), links }
        })).pipe(Effect.provide(ctx))
        expect(out.links).toEqual(Option.some([out.p]))
        expect(out.exit).toBe(`{'EXIT',${out.p},{shutdown,<<"bye">>,[1,2]}}`)
      }),
    30_000
  )

  it.scopedLive(
    "TS links to an erl process: TS death reaches erl as {'EXIT', TsPid, R}; erl death kills TS",
    () =>
      Effect.gen(function*() {
        const { node, ctx } = yield* startAgent
        const out = yield* Effect.gen(function*() {
          const first = yield* Process.run(Effect.gen(function*() {
            const collector = yield* Process.self
            // 1. an erl process that traps exits and reports what it gets to us
            const watcher = erlPid(
              yield* erlEval(
                node,
                `spawn(fun() -> process_flag(trap_exit, true), receive M -> C ! {erl_got, M} end end).`,
                { C: collector }
              )
            )
            const tsPid = yield* Process.spawn(Effect.gen(function*() {
              yield* Process.link(watcher)
              yield* Process.receive((m) => m === atom("die"))
              return yield* Process.exit(tuple(atom("ts_reason"), 42))
            }))
            yield* Process.send(tsPid, atom("die"))
            const got = yield* receiveMatching((m) => isTagged(m, "erl_got", 2) ? Option.some(m) : Option.none())
            return { erlGot: format(got), tsPid: format(tsPid) }
          }))
          // 2. a TS process (not trapping) linked to an erl process that dies abnormally
          const victim = yield* Process.spawn(Effect.never)
          const mon = yield* Process.run(Effect.gen(function*() {
            const ref = yield* Process.monitor(victim)
            const p = erlPid(
              yield* erlEval(node, `spawn(fun() -> link(V), receive after 200 -> exit(crash) end end).`, { V: victim })
            )
            const down = yield* receiveMatching((m) => Process.isDownMessage(m, ref) ? Option.some(m) : Option.none())
            return { down: format(down.elements[4]!), p }
          }))
          return { ...first, mon }
        }).pipe(Effect.provide(ctx))
        expect(out.erlGot).toBe(`{erl_got,{'EXIT',${out.tsPid},{ts_reason,42}}}`)
        expect(out.mon.down).toBe("crash")
      }),
    30_000
  )

  it.scopedLive(
    "exit(remotePid, R) sends EXIT2: a trapping erl process gets {'EXIT', From, R}; kill kills",
    () =>
      Effect.gen(function*() {
        const { node, ctx } = yield* startAgent
        const out = yield* Process.run(Effect.gen(function*() {
          const self = yield* Process.self
          const trapper = erlPid(
            yield* erlEval(
              node,
              `spawn(fun() -> process_flag(trap_exit, true), receive M -> Ts ! {erl_got, M} end end).`,
              { Ts: self }
            )
          )
          yield* Process.exit(trapper, tuple(atom("custom"), binary("x")))
          const got = yield* receiveMatching((m) =>
            isTagged(m, "erl_got", 2) ? Option.some(m.elements[1]!) : Option.none()
          )
          // kill is untrappable
          const k = erlPid(
            yield* erlEval(node, `spawn(fun() -> process_flag(trap_exit, true), receive after infinity -> ok end end).`)
          )
          const ref = yield* Process.monitor(k)
          yield* Process.exit(k, atom("kill"))
          const down = yield* receiveMatching((m) => Process.isDownMessage(m, ref) ? Option.some(m) : Option.none())
          // an erl process exits a trapping TS process with EXIT2 (exit/2 from erl)
          yield* Process.trapExit(true)
          yield* erlEval(node, `exit(Ts, {from_erl, 7}).`, { Ts: self })
          const exit2 = yield* receiveMatching((m) => Process.isExitMessage(m) ? Option.some(m) : Option.none())
          return {
            got: format(got),
            self: format(self),
            down: format(down.elements[4]!),
            exit2: format(exit2.elements[2]!)
          }
        })).pipe(Effect.provide(ctx))
        expect(out.got).toBe(`{'EXIT',${out.self},{custom,<<"x">>}}`)
        expect(out.down).toBe("killed")
        expect(out.exit2).toBe("{from_erl,7}")
      }),
    30_000
  )

  it.scopedLive(
    "monitors by pid and by {name, node}, noproc for unknown ones, demonitor stops the DOWN",
    () =>
      Effect.gen(function*() {
        const { node, ctx } = yield* startAgent
        const out = yield* Process.run(Effect.gen(function*() {
          const target = erlPid(
            yield* erlEval(
              node,
              `P = spawn(fun() -> receive {exit, R} -> exit(R) end end), register(mon_target, P), P.`
            )
          )
          const byName = yield* Process.monitor(new RemoteName({ name: atom("mon_target"), node: atom(node) }))
          const byPid = yield* Process.monitor(target)
          const dropped = yield* Process.monitor(target)
          yield* Process.demonitor(dropped)
          yield* Process.send(target, tuple(atom("exit"), atom("bye")))
          const d1 = yield* receiveMatching((m) => Process.isDownMessage(m, byName) ? Option.some(m) : Option.none())
          const d2 = yield* receiveMatching((m) => Process.isDownMessage(m, byPid) ? Option.some(m) : Option.none())
          const none = yield* Process.receive((m) => Process.isDownMessage(m, dropped), { after: "300 millis" })
          const unknownName = yield* Process.monitor(new RemoteName({ name: atom("nobody_here"), node: atom(node) }))
          const d3 = yield* receiveMatching((m) =>
            Process.isDownMessage(m, unknownName) ? Option.some(m) : Option.none()
          )
          const unknownPid = yield* Process.monitor(target) // dead by now
          const d4 = yield* receiveMatching((m) =>
            Process.isDownMessage(m, unknownPid) ? Option.some(m) : Option.none()
          )
          // erl monitors TS processes by pid and by name
          const self = yield* Process.self
          const tsTarget = yield* Process.spawn(
            Process.receive((m) => m === atom("stop")).pipe(
              Effect.zipRight(Process.exit(atom("ts_bye")))
            ),
            { name: "ts_target" }
          )
          const erlSide = yield* erlEval(
            node,
            `R1 = erlang:monitor(process, {ts_target, node(Ts)}), R2 = erlang:monitor(process, T),
           R3 = erlang:monitor(process, {ts_nobody, node(Ts)}),
           T ! stop,
           [receive {'DOWN', R, process, O, Why} -> {O, Why} after 5000 -> timeout end || R <- [R1, R2, R3]].`,
            { Ts: self, T: tsTarget }
          )
          return {
            d1: format(d1),
            d2: format(d2),
            none: Option.isNone(none),
            d3: format(d3.elements[3]!) + " " + format(d3.elements[4]!),
            d4: format(d4.elements[4]!),
            target: format(target),
            erlSide: format(erlSide),
            tsTarget: format(tsTarget)
          }
        })).pipe(Effect.provide(ctx))
        expect(out.d1).toMatch(new RegExp(`^\\{'DOWN',#Ref<[^>]+>,process,\\{mon_target,'?${node}'?\\},bye\\}$`))
        expect(out.d2).toMatch(/,process,<[^>]+>,bye\}$/)
        expect(out.d2).toContain(out.target)
        expect(out.none).toBe(true)
        expect(out.d3).toMatch(/^\{nobody_here,.*\} noproc$/)
        expect(out.d4).toBe("noproc")
        expect(out.erlSide).toMatch(
          new RegExp(
            `^\\[\\{\\{ts_target,'?ts_[a-z0-9]+@${
              escapeRegExp(host)
            }'?\\},ts_bye\\},\\{<[^>]+>,ts_bye\\},\\{\\{ts_nobody,.*\\},noproc\\}\\]$`
          )
        )
      }),
    30_000
  )

  it.scopedLive(
    "unlink: no exit after unlink returns, the erl side drops the link, and relinking works",
    () =>
      Effect.gen(function*() {
        const { node, ctx } = yield* startAgent
        const out = yield* Process.run(Effect.gen(function*() {
          const self = yield* Process.self
          const p = erlPid(
            yield* erlEval(
              node,
              `spawn(fun L() -> receive {exit, R} -> exit(R); {links, F} -> {links, Ls} = process_info(self(), links), F ! {links, Ls}, L() end end).`
            )
          )
          const ref = yield* Process.monitor(p)
          yield* Process.link(p)
          // unlink races the exit: the target dies right after we unlink (not trapping exits)
          yield* Process.send(p, tuple(atom("exit"), atom("boom")))
          yield* Process.unlink(p)
          const down = yield* receiveMatching((m) => Process.isDownMessage(m, ref) ? Option.some(m) : Option.none())
          // the erl side's link is removed by UNLINK_ID; our link info by its UNLINK_ID_ACK
          const q = erlPid(
            yield* erlEval(
              node,
              `spawn(fun L() -> receive {exit, R} -> exit(R); {links, F} -> {links, Ls} = process_info(self(), links), F ! {links, Ls}, L() end end).`
            )
          )
          yield* Process.link(q)
          yield* Process.send(q, tuple(atom("links"), self))
          const before = yield* receiveMatching((m) =>
            isTagged(m, "links", 2) ? Option.some(format(m.elements[1]!)) : Option.none()
          )
          yield* Process.unlink(q)
          yield* Process.send(q, tuple(atom("links"), self))
          const after = yield* receiveMatching((m) =>
            isTagged(m, "links", 2) ? Option.some(format(m.elements[1]!)) : Option.none()
          )
          // link again after the unlink: an abnormal exit now kills... we trap to observe it
          yield* Process.trapExit(true)
          yield* Process.link(q)
          yield* Process.send(q, tuple(atom("exit"), atom("again")))
          const exit = yield* receiveMatching((m) => Process.isExitMessage(m) ? Option.some(m) : Option.none())
          return { down: format(down.elements[4]!), before, after, self: format(self), exit: format(exit.elements[2]!) }
        })).pipe(Effect.provide(ctx))
        expect(out.down).toBe("boom")
        expect(out.before).toBe(`[${out.self}]`)
        expect(out.after).toBe("[]")
        expect(out.exit).toBe("again")
      }),
    30_000
  )

  it.scopedLive(
    "erl unlinks a TS process: the TS side drops the link and acks (erl's unlink completes)",
    () =>
      Effect.gen(function*() {
        const { node, ctx } = yield* startAgent
        const out = yield* Effect.gen(function*() {
          const ts = yield* Process.spawn(
            Process.receive((m) => m === atom("die")).pipe(
              Effect.zipRight(Process.exit(atom("late")))
            )
          )
          const r = yield* erlEval(
            node,
            `process_flag(trap_exit, true), link(T), unlink(T), T ! die,
           receive M -> {got, M} after 1000 -> nothing end.`,
            { T: ts }
          )
          const info = yield* Process.processInfo(ts)
          return { r: format(r), alive: Option.isSome(info) }
        }).pipe(Effect.provide(ctx))
        expect(out.r).toBe("nothing")
        expect(out.alive).toBe(false)
      }),
    30_000
  )

  it.scopedLive(
    "connection loss: links get noconnection, monitors DOWN noconnection, others are untouched",
    () =>
      Effect.gen(function*() {
        const { erl, node, ctx } = yield* startAgent
        const out = yield* Effect.gen(function*() {
          const bystander = yield* Process.spawn(Effect.never)
          const p = erlPid(yield* erlEval(node, `spawn(fun() -> receive after infinity -> ok end end).`))
          // a linked process that does not trap exits dies with noconnection
          const linked = yield* Process.spawn(Effect.zipRight(Process.link(p), Effect.never))
          const result = yield* Process.run(Effect.gen(function*() {
            yield* Process.trapExit(true)
            yield* Process.link(p)
            const watch = yield* Process.monitor(linked)
            const mref = yield* Process.monitor(p)
            const nref = yield* Process.monitor(new RemoteName({ name: atom("agent"), node: atom(node) }))
            yield* Effect.promise(() => erl.kill())
            const msgs: Array<string> = []
            for (const ref of [mref, nref, watch]) {
              const d = yield* receiveMatching((m) => Process.isDownMessage(m, ref) ? Option.some(m) : Option.none())
              msgs.push(format(d.elements[4]!))
            }
            const exit = yield* receiveMatching((m) => Process.isExitMessage(m) ? Option.some(m) : Option.none())
            return { msgs, exit: format(exit) }
          }))
          const nodes = yield* NetKernel.nodes("connected")
          return { ...result, bystander: yield* Process.isAlive(bystander), nodes, p: format(p) }
        }).pipe(Effect.provide(ctx))
        expect(out.msgs).toEqual(["noconnection", "noconnection", "noconnection"])
        expect(out.exit).toBe(`{'EXIT',${out.p},noconnection}`)
        expect(out.bystander).toBe(true)
        expect(out.nodes).toEqual([])
      }),
    30_000
  )

  it.scopedLive(
    "a pending call (monitor + receive) to a node that goes away fails with noconnection",
    () =>
      Effect.gen(function*() {
        const { erl, node, ctx } = yield* startAgent
        const out = yield* Effect.gen(function*() {
          // a gen:call-style request to a process that never answers
          const silent = yield* erlEval(
            node,
            `register(silent, spawn(fun() -> receive after infinity -> ok end end)), ok.`
          )
          const requested = yield* Deferred.make<void>()
          const fiber = yield* Effect.fork(Process.run(Effect.gen(function*() {
            const target = new RemoteName({ name: atom("silent"), node: atom(node) })
            const ref = yield* Process.monitor(target)
            const self = yield* Process.self
            yield* Process.send(target, tuple(atom("$gen_call"), tuple(self, ref), atom("hello")))
            yield* Deferred.succeed(requested, undefined)
            return yield* Process.receive(
              (m): Option.Option<string> =>
                m instanceof Tuple && m.elements[0] === ref
                  ? Option.some("reply")
                  : Process.isDownMessage(m, ref)
                  ? Option.some(`down ${format(m.elements[4]!)}`)
                  : Option.none()
            )
          })))
          yield* Deferred.await(requested)
          yield* Effect.promise(() => erl.kill())
          return { silent: format(silent), result: yield* fiber.await }
        }).pipe(Effect.provide(ctx))
        expect(out.silent).toBe("ok")
        expect(out.result).toMatchObject({ _tag: "Success", value: "down noconnection" })
      }),
    30_000
  )
})

// ---------------------------------------------------------------------------
// The oracle: the same scenarios against erl and against TS
// ---------------------------------------------------------------------------

/** The TS mirror of `oracle:peer/0`. */
const tsPeer = Process.spawn(
  Effect.forever(Effect.flatMap(Process.receive((m) => isTagged(m, "spawn", 3)), (m) =>
    Effect.gen(function*() {
      const [, from, name] = (m as Tuple).elements
      const target = yield* Process.spawn(
        Effect.flatMap(
          Process.receive((x) => isTagged(x, "exit", 2) ? Option.some((x as Tuple).elements[1]!) : Option.none()),
          (reason) => Process.exit(reason)
        )
      )
      if (name instanceof Atom && name !== atom("undefined")) yield* Effect.orDie(Process.register(name, target))
      yield* Effect.orDie(Process.send(from as Pid, tuple(atom("spawned"), target)))
    }))),
  { name: "peer" }
)

const parseTraces = (stdout: string): Record<string, string> =>
  Object.fromEntries(
    stdout.split("\n").filter((l) => l.startsWith("trace ")).map((l) => {
      const [, name, ...rest] = l.split(" ")
      return [name!, rest.join(" ")]
    })
  )

describe.skipIf(!erlAvailable())("oracle: the erl-side trace is the same with an erl peer and a TS peer", () => {
  it.scopedLive(
    "link then kill, link then normal exit, unlink racing an exit, monitor by name, noproc, demonitor",
    () =>
      Effect.gen(function*() {
        const dir = compileErl({ oracle: readFileSync(join(__dirname, "erlang", "oracle.erl"), "utf8") })
        const cookie = uniqueName("c")
        // 1. erl observer against an erl peer
        const b = uniqueName("b")
        yield* startErlScoped({
          args: ["-sname", b, "-setcookie", cookie, "-pa", dir],
          eval: `oracle:peer(), io:format("ready~n").`,
          ready: "ready"
        })
        const main = (peer: string) =>
          Effect.promise(() =>
            runErl(`oracle:main('${peer}'), halt().`, {
              args: ["-sname", uniqueName("o"), "-setcookie", cookie, "-pa", dir],
              timeoutMs: 60_000
            })
          )
        const withErl = parseTraces((yield* main(`${b}@${host}`)).stdout)
        // 2. the same observer against the TS mirror
        const t = uniqueName("ts")
        const ctx = yield* Layer.build(nodeLayer(t, cookie))
        yield* Effect.orDie(tsPeer).pipe(Effect.provide(ctx))
        const withTs = parseTraces((yield* main(`${t}@${host}`)).stdout)
        expect(Object.keys(withErl).sort()).toEqual(
          ["demonitor", "link_exit_reason", "link_kill", "link_normal", "monitor_name", "monitor_noproc", "unlink_race"]
        )
        expect(withErl.link_kill).toBe("[{'EXIT','P',killed}]")
        expect(withErl.unlink_race).toBe("[{'DOWN','Ref',process,'P',boom}]")
        expect(withTs).toEqual(withErl)
      }),
    60_000
  )
})
