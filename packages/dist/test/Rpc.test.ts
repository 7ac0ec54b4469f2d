import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import type { Tuple } from "@effect-otp/process/Term"
import { Atom, atom, binary, format, isPid, isTagged, type Pid, type Term, tuple } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as DistNode from "../src/DistNode.js"
import { charsText, formatIo } from "../src/internal/rpc/ioFormat.js"
import * as Module from "../src/Module.js"
import * as Rpc from "../src/Rpc.js"
import { erlAvailable, runErl, startErlScoped, uniqueName } from "./helpers/erl.js"
import { escapeRegExp, host, printedNode, withoutGlobal } from "./helpers/tsnode.js"

const calc = Module.make("calc", {
  add: Module.fn(
    { args: Schema.Tuple(Module.Integer, Module.Integer), result: Module.Integer },
    (a, b) => Effect.succeed(a + b)
  ),
  greet: Module.fn(
    { args: Schema.Tuple(Module.Text), result: Module.Binary },
    (name) => Effect.succeed(`hello ${name}`)
  ),
  pair: Module.fn(
    { args: Schema.Tuple(), result: Module.TupleOf(Module.Atom, Module.Float) },
    () => Effect.succeed(["ok", 1.5] as const)
  ),
  fail_throw: Module.fn({ args: Schema.Tuple(), result: Module.Term }, () => Module.throw_(atom("oops"))),
  fail_exit: Module.fn({ args: Schema.Tuple(), result: Module.Term }, () => Module.exit(atom("bye"))),
  fail_error: Module.fn({ args: Schema.Tuple(), result: Module.Term }, () => Module.error(atom("boom"))),
  /** sends {pong, self(), node()} to Pid */
  ping: Module.fn(
    { args: Schema.Tuple(Module.Pid), result: Module.Term },
    (pid) =>
      Effect.gen(function*() {
        const self = yield* Process.self
        yield* Effect.orDie(Process.send(pid, tuple(atom("pong"), self, self.node)))
        return atom("ok")
      })
  )
})

const nodeLayer = (name: string, cookie: string, extra: Partial<DistNode.Options> = {}) =>
  Rpc.layerPublish(calc).pipe(
    Layer.provideMerge(
      DistNode.layerDefault({ hidden: true, name, cookie, ...extra }).pipe(Layer.provide(withoutGlobal))
    ),
    Layer.provideMerge(ProcessRuntime.layer)
  )

const lines = (stdout: string) =>
  Object.fromEntries(
    stdout.split("\n").filter((l) => l.includes("=")).map((l) => {
      const i = l.indexOf("=")
      return [l.slice(0, i), l.slice(i + 1)]
    })
  )

describe("Module", () => {
  it("computes the arity of an args tuple", () => {
    expect(calc.functions.add.arity).toBe(2)
    expect(calc.functions.pair.arity).toBe(0)
    expect(Module.lookup(calc, "add", 3)).toBeUndefined()
    expect(Module.lookup(calc, "add", 2)).toBe(calc.functions.add)
    expect(Module.lookup(calc, "toString", 0)).toBeUndefined()
  })

  it("schemas map terms to plain values and back", () => {
    expect(Schema.decodeUnknownSync(Module.Atom)(atom("x"))).toBe("x")
    expect(Schema.encodeSync(Module.Atom)("x")).toBe(atom("x"))
    expect(Schema.decodeUnknownSync(Module.Binary)(binary("hé"))).toBe("hé")
    expect(Schema.decodeUnknownSync(Module.Charlist)([104, 105])).toBe("hi")
    expect(Schema.decodeUnknownSync(Module.Text)([104, 105])).toBe("hi")
    expect(Schema.decodeUnknownSync(Module.TupleOf(Module.Atom, Module.Integer))(tuple(atom("ok"), 1))).toEqual([
      "ok",
      1
    ])
    expect(format(Schema.encodeSync(Module.TupleOf(Module.Atom, Module.Float))(["ok", 2]) as Term)).toBe("{ok,2.0}")
    expect(Schema.decodeUnknownSync(Module.Boolean)(atom("true"))).toBe(true)
    expect(() => Schema.decodeUnknownSync(Module.Integer)(atom("x"))).toThrow()
  })
})

describe.skipIf(!erlAvailable())("Rpc with real erl", () => {
  it.scopedLive(
    "erl → TS: rpc:call, erpc:call (return, throw, exit, error, undef) and built-ins",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const t = uniqueName("ts")
        yield* Layer.build(nodeLayer(t, cookie))
        const N = `'${t}@${host}'`
        const out = yield* Effect.promise(() =>
          runErl(
            `N = ${N},
          E = fun(M, F, A) -> try {ok, erpc:call(N, M, F, A)} catch C:R -> {C, R} end end,
          io:format("rpc_add=~p~n", [rpc:call(N, calc, add, [1, 2])]),
          io:format("erpc_add=~p~n", [E(calc, add, [40, 2])]),
          io:format("greet=~p~n", [E(calc, greet, ["bob"])]),
          io:format("pair=~p~n", [E(calc, pair, [])]),
          io:format("throw=~p~n", [E(calc, fail_throw, [])]),
          io:format("exit=~p~n", [E(calc, fail_exit, [])]),
          io:format("error=~p~n", [E(calc, fail_error, [])]),
          io:format("badarg=~p~n", [E(calc, add, [a, 1])]),
          io:format("undef_mod=~p~n", [E(nomod, f, [])]),
          io:format("undef_fun=~p~n", [E(calc, nofun, [1])]),
          io:format("undef_arity=~p~n", [E(calc, add, [1])]),
          io:format("rpc_undef_mod=~p~n", [rpc:call(N, nomod, f, [])]),
          io:format("rpc_undef_fun=~p~n", [rpc:call(N, calc, nofun, [1])]),
          io:format("rpc_throw=~p~n", [rpc:call(N, calc, fail_throw, [])]),
          io:format("rpc_exit=~p~n", [rpc:call(N, calc, fail_exit, [])]),
          io:format("rpc_error=~p~n", [rpc:call(N, calc, fail_error, [])]),
          io:format("node=~p~n", [rpc:call(N, erlang, node, [])]),
          S = rpc:call(N, erlang, self, []),
          io:format("self=~p ~p~n", [node(S), S]),
          io:format("whereis=~p~n", [is_pid(rpc:call(N, erlang, whereis, [rex]))]),
          io:format("processes=~p~n", [length(rpc:call(N, erlang, processes, [])) > 0]),
          io:format("apply=~p~n", [rpc:call(N, erlang, apply, [calc, add, [2, 3]])]),
          ok = rpc:call(N, io, format, ["I'm running on ~p!~n", [N]]),
          {rex, N} ! {self(), {call, calc, add, [5, 6], group_leader()}},
          receive {rex, Rex} -> io:format("rex=~p~n", [Rex]) after 10000 -> io:format("rex=timeout~n") end,
          {rex, N} ! {self(), {call, nomod, f, [], group_leader()}},
          receive {rex, Rex2} -> io:format("rex_undef=~p~n", [Rex2]) after 10000 -> io:format("rex_undef=timeout~n") end,
          io:format("nodes=~w~n", [rpc:call(N, erlang, nodes, [])]),
          io:format("nodes_hidden=~w~n", [rpc:call(N, erlang, nodes, [hidden]) =:= [node()]]),
          io:format("nodes_both=~w~n", [rpc:call(N, erlang, nodes, [[visible, hidden]]) =:= [node()]]),
          io:format("bif_badarg=~w~n", [E(erlang, whereis, [123])]),
          io:format("rpc_bif_badarg=~w~n", [rpc:call(N, erlang, is_process_alive, [a])]),
          io:format("nodes_badarg=~w~n", [E(erlang, nodes, [bogus])]),
          io:format("apply_badarg=~w~n", [E(erlang, apply, [erlang, node, notalist])]),
          halt().`,
            { args: ["-sname", uniqueName("e"), "-setcookie", cookie] }
          )
        )
        const r = lines(out.stdout)
        // as erl: nodes() lists the visible nodes only (this node is hidden, so erl is too)
        expect(r.nodes).toBe("[]")
        expect(r.nodes_hidden).toBe("true")
        expect(r.nodes_both).toBe("true")
        // a bad argument to a built-in is badarg with erl's error_info, exactly as between erl nodes
        const ertsInfo = "[{error_info,#{module => erl_erts_errors}}]"
        expect(r.bif_badarg).toBe(`{error,{exception,badarg,[{erlang,whereis,[123],${ertsInfo}}]}}`)
        expect(r.rpc_bif_badarg).toBe(`{badrpc,{'EXIT',{badarg,[{erlang,is_process_alive,[a],${ertsInfo}}]}}}`)
        expect(r.nodes_badarg).toBe(`{error,{exception,badarg,[{erlang,nodes,[bogus],${ertsInfo}}]}}`)
        expect(r.apply_badarg).toBe(`{error,{exception,badarg,[{erlang,apply,[erlang,node,notalist],${ertsInfo}}]}}`)
        expect(r.rpc_add).toBe("3")
        expect(r.erpc_add).toBe("{ok,42}")
        expect(r.greet).toBe(`{ok,<<"hello bob">>}`)
        expect(r.pair).toBe("{ok,{ok,1.5}}")
        expect(r.throw).toBe("{throw,oops}")
        expect(r.exit).toBe("{exit,{exception,bye}}")
        expect(r.error).toBe("{error,{exception,boom,[{calc,fail_error,0,[]}]}}")
        expect(r.badarg).toBe("{error,{exception,function_clause,[{calc,add,[a,1],[]}]}}")
        // exactly what erl prints between two erl nodes
        expect(r.undef_mod).toBe("{error,{exception,undef,[{nomod,f,[],[]}]}}")
        expect(r.undef_fun).toBe("{error,{exception,undef,[{calc,nofun,[1],[]}]}}")
        expect(r.undef_arity).toBe("{error,{exception,undef,[{calc,add,[1],[]}]}}")
        expect(r.rpc_undef_mod).toBe("{badrpc,{'EXIT',{undef,[{nomod,f,[],[]}]}}}")
        expect(r.rpc_undef_fun).toBe("{badrpc,{'EXIT',{undef,[{calc,nofun,[1],[]}]}}}")
        expect(r.rpc_throw).toBe("oops")
        expect(r.rpc_exit).toBe("{badrpc,{'EXIT',bye}}")
        expect(r.rpc_error).toBe("{badrpc,{'EXIT',{boom,[{calc,fail_error,0,[]}]}}}")
        expect(r.node).toBe(printedNode(t))
        expect(r.self).toMatch(new RegExp(`^${escapeRegExp(printedNode(t))} <[1-9][0-9]*\\.[0-9]+\\.[0-9]+>$`))
        expect(r.whereis).toBe("true")
        expect(r.processes).toBe("true")
        expect(r.apply).toBe("5")
        expect(r.rex).toBe("11")
        expect(r.rex_undef).toBe("{badrpc,{'EXIT',{undef,[{nomod,f,[],[]}]}}}")
        // io:format writes to the caller's group leader: the output shows on erl's stdout
        expect(out.stdout).toContain(`I'm running on ${printedNode(t)}!`)
      }),
    60_000
  )

  it.scopedLive(
    "erl → a visible TS node: erlang:nodes() is erl, nodes(hidden) is empty, as between erl nodes",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const t = uniqueName("ts")
        yield* Layer.build(nodeLayer(t, cookie, { hidden: false }))
        const out = yield* Effect.promise(() =>
          runErl(
            `N = '${t}@${host}',
          io:format("nodes=~w~n", [rpc:call(N, erlang, nodes, []) =:= [node()]]),
          io:format("nodes_hidden=~w~n", [rpc:call(N, erlang, nodes, [hidden])]),
          io:format("nodes_this=~w~n", [rpc:call(N, erlang, nodes, [[this, visible]]) =:= [N, node()]]),
          halt().`,
            { args: ["-sname", uniqueName("e"), "-setcookie", cookie] }
          )
        )
        const r = lines(out.stdout)
        expect(r.nodes).toBe("true")
        expect(r.nodes_hidden).toBe("[]")
        expect(r.nodes_this).toBe("true")
      }),
    60_000
  )

  it.scopedLive(
    "erl → TS: spawn/4, spawn_monitor and erlang:spawn_request of a published function",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const t = uniqueName("ts")
        yield* Layer.build(nodeLayer(t, cookie))
        const out = yield* Effect.promise(() =>
          runErl(
            `N = '${t}@${host}',
          Pid = spawn(N, calc, ping, [self()]),
          receive {pong, P, Node} -> io:format("pong=~p ~p ~p~n", [P =:= Pid, Node, node(P)]) after 10000 -> io:format("pong=timeout~n") end,
          io:format("pid=~p~n", [Pid]),
          R = erlang:spawn_request(N, calc, fail_error, [], [monitor]),
          receive {spawn_reply, R, ok, P2} -> receive {'DOWN', R, process, P2, Why} -> io:format("down=~p~n", [Why]) end
          after 10000 -> io:format("down=timeout~n") end,
          R3 = erlang:spawn_request(N, nomod, f, [], [monitor]),
          receive {spawn_reply, R3, ok, P3} -> receive {'DOWN', R3, process, P3, Why3} -> io:format("down_undef=~p~n", [Why3]) end
          after 10000 -> io:format("down_undef=timeout~n") end,
          {P4, M4} = spawn_monitor(N, calc, fail_throw, []),
          receive {'DOWN', M4, process, P4, Why4} -> io:format("down_throw=~p~n", [Why4]) after 10000 -> io:format("down_throw=timeout~n") end,
          {P5, M5} = spawn_monitor(N, io, format, ["I'm running on ~p!~n", [N]]),
          receive {'DOWN', M5, process, P5, Why5} -> io:format("down_io=~p~n", [Why5]) after 10000 -> io:format("down_io=timeout~n") end,
          process_flag(trap_exit, true),
          P6 = spawn_link(N, calc, fail_exit, []),
          receive {'EXIT', P6, Why6} -> io:format("exit_link=~p~n", [Why6]) after 10000 -> io:format("exit_link=timeout~n") end,
          halt().`,
            { args: ["-sname", uniqueName("e"), "-setcookie", cookie] }
          )
        )
        const r = lines(out.stdout)
        expect(r.pong).toBe(`true ${printedNode(t)} ${printedNode(t)}`)
        expect(r.pid).toMatch(/^<[1-9][0-9]*\.[0-9]+\.[0-9]+>$/)
        expect(r.down).toBe("{boom,[{calc,fail_error,0,[]}]}")
        expect(r.down_undef).toBe("{undef,[{nomod,f,[],[]}]}")
        expect(r.down_throw).toBe("{{nocatch,oops},[]}")
        expect(r.down_io).toBe("normal")
        expect(out.stdout).toContain(`I'm running on ${printedNode(t)}!`)
        expect(r.exit_link).toBe("bye")
      }),
    60_000
  )

  it.scopedLive(
    "TS → erl: Rpc.call (return, throw, error, undef, io:format) and spawn/spawnLink/spawnMonitor",
    () =>
      Effect.gen(function*() {
        const cookie = uniqueName("c")
        const e = uniqueName("e")
        const t = uniqueName("ts")
        yield* startErlScoped({
          args: ["-sname", e, "-setcookie", cookie],
          eval: `io:format("ready~n").`,
          ready: "ready"
        })
        const ctx = yield* Layer.build(nodeLayer(t, cookie))
        const E = `${e}@${host}`
        const result = yield* Effect.gen(function*() {
          const node = yield* Rpc.call(E, "erlang", "node", [])
          const reversed = yield* Rpc.call(E, "lists", "reverse", [[1, 2, 3]])
          const thrown = yield* Effect.flip(Rpc.call(E, "erlang", "throw", [atom("t")]))
          const exited = yield* Effect.flip(Rpc.call(E, "erlang", "exit", [atom("x")]))
          const errored = yield* Effect.flip(Rpc.call(E, "erlang", "error", [atom("oops")]))
          const undef = yield* Effect.flip(Rpc.call(E, "nomod", "f", []))
          const io = yield* Rpc.call(E, "io", "format", [binary("hello from erl ~p~n"), [42]])
          const timeout = yield* Effect.flip(Rpc.call(E, "timer", "sleep", [5000], { timeout: "100 millis" }))
          const spawned = yield* Process.run(Effect.gen(function*() {
            const self = yield* Process.self
            const pid = yield* Rpc.spawn(E, "erlang", "send", [self, tuple(atom("hi"), self)])
            const msg = yield* Process.receive((m) => isTagged(m, "hi", 2) ? Option.some(m) : Option.none())
            const [mpid, ref] = yield* Rpc.spawnMonitor(E, "erlang", "error", [atom("boom")])
            const down = yield* Process.receive((m) => Process.isDownMessage(m, ref) ? Option.some(m) : Option.none())
            yield* Process.trapExit(true)
            const lpid = yield* Rpc.spawnLink(E, "erlang", "exit", [atom("bye")])
            const exit = yield* Process.receive((m) => Process.isExitMessage(m) ? Option.some(m) : Option.none())
            return { pid, msg, mpid, down, lpid, exit }
          }))
          return { node, reversed, thrown, exited, errored, undef, io, timeout, spawned }
        }).pipe(Effect.provide(ctx))
        expect(result.node).toBe(Atom.make(E))
        expect(result.reversed).toEqual([3, 2, 1])
        expect(result.thrown.reason).toBe("Throw")
        expect(result.thrown.value).toBe(atom("t"))
        expect(result.exited.reason).toBe("Exit")
        expect(result.exited.value).toBe(atom("x"))
        expect(result.errored.reason).toBe("Error")
        expect(result.errored.value).toBe(atom("oops"))
        expect(result.undef.reason).toBe("Error")
        expect(result.undef.value).toBe(atom("undef"))
        expect(format(result.undef.stacktrace!)).toBe("[{nomod,f,[],[]}]")
        expect(result.io).toBe(atom("ok"))
        expect(result.timeout.reason).toBe("Timeout")
        const s = result.spawned
        expect(s.pid.node).toBe(Atom.make(E))
        expect(s.pid.toString()).toMatch(/^<[1-9][0-9]*\.[0-9]+\.[0-9]+>$/)
        expect(format(s.msg.elements[0]!)).toBe("hi")
        expect(s.mpid.node).toBe(Atom.make(E))
        expect((s.down as Tuple).elements[3]).toEqual(s.mpid)
        // erl's own stacktrace (it starts in erts_internal:dist_spawn_init/1)
        expect(format((s.down as Tuple).elements[4]!)).toMatch(/^\{boom,\[/)
        expect((s.exit as Tuple).elements[1]).toEqual(s.lpid)
        expect((s.exit as Tuple).elements[2]).toBe(atom("bye"))
      }),
    60_000
  )
})

describe("Rpc between TS nodes", () => {
  it.scopedLive("invoke, spawn, spawnMonitor of a published function on another TS node", () =>
    Effect.gen(function*() {
      const cookie = uniqueName("c")
      const a = uniqueName("ta")
      const b = uniqueName("tb")
      yield* Layer.build(nodeLayer(a, cookie))
      const ctxB = yield* Layer.build(
        DistNode.layerDefault({ hidden: true, name: b, cookie }).pipe(Layer.provideMerge(ProcessRuntime.layer))
      )
      const A = `${a}@${host}`
      const result = yield* Effect.gen(function*() {
        const sum = yield* Rpc.invoke(A, calc, "add", 20, 22)
        const greeting = yield* Rpc.invoke(A, calc, "greet", "ts")
        const pair = yield* Rpc.invoke(A, calc, "pair")
        const err = yield* Effect.flip(Rpc.invoke(A, calc, "fail_error"))
        const undef = yield* Effect.flip(Rpc.call(A, "calc", "nofun", []))
        const spawned = yield* Process.run(Effect.gen(function*() {
          const self = yield* Process.self
          const args = yield* Rpc.args(calc, "ping", self)
          const pid = yield* Rpc.spawn(A, calc, "ping", args)
          const pong = yield* Process.receive((m) => isTagged(m, "pong", 3) ? Option.some(m) : Option.none())
          const [mpid, ref] = yield* Rpc.spawnMonitor(A, calc, "fail_throw", [])
          const down = yield* Process.receive((m) => Process.isDownMessage(m, ref) ? Option.some(m) : Option.none())
          return { pid, pong, mpid, down }
        }))
        return { sum, greeting, pair, err, undef, spawned }
      }).pipe(Effect.provide(ctxB))
      expect(result.sum).toBe(42)
      expect(result.greeting).toBe("hello ts")
      expect(result.pair).toEqual(["ok", 1.5])
      expect(result.err.reason).toBe("Error")
      expect(format(result.err.value!)).toBe("boom")
      expect(format(result.undef.value!)).toBe("undef")
      const s = result.spawned
      expect(isPid(s.pid)).toBe(true)
      expect((s.pid as Pid).node).toBe(Atom.make(A))
      expect(s.pong.elements[1]).toEqual(s.pid)
      expect(s.pong.elements[2]).toBe(Atom.make(A))
      expect((s.down as Tuple).elements[3]).toEqual(s.mpid)
      expect(format((s.down as Tuple).elements[4]!)).toBe("{{nocatch,oops},[]}")
    }), 60_000)
})

describe("Rpc printing at any size", () => {
  // ~120k arguments to String.fromCharCode/fromCodePoint overflow the stack; these are bigger
  const N = 300_000
  const text = "xyz".repeat(N / 3)

  it("RpcError.message prints a 300 KB value", () => {
    const e = new Rpc.RpcError({ reason: "Throw", node: atom("a@h"), value: tuple(atom("big"), binary(text)) })
    expect(e.message).toBe(`rpc to a@h threw: {big,<<"${text}">>}`)
    const list = new Rpc.RpcError({
      reason: "Exit",
      node: atom("a@h"),
      value: Array.from(text, (c) => c.charCodeAt(0))
    })
    expect(list.message).toBe(`rpc to a@h exited: "${text}"`)
  })

  it("io:format and put_chars (the group leader's text) take 300 KB arguments and deep iolists", () => {
    const chars = Array.from(text, (c) => c.charCodeAt(0))
    expect(formatIo(charlistOf("~s~n"), [chars])).toBe(`${text}\n`)
    expect(formatIo(charlistOf("~p"), [binary(text)])).toBe(`<<"${text}">>`)
    expect(formatIo(binary("~s"), [binary(text)])).toBe(text)
    expect(formatIo(charlistOf(`${text}~w`), [1])).toBe(`${text}1`)
    // an iolist built by appending is as deep as it is long
    let deep: Term = []
    for (let i = 0; i < N; i++) deep = [deep, 120]
    expect(charsText(deep)).toBe("x".repeat(N))
    // a character out of range is badarg (undefined), not a thrown RangeError
    expect(formatIo(charlistOf("~c"), [0x110000])).toBeUndefined()
    expect(formatIo(charlistOf("~c"), [-1])).toBeUndefined()
  })
})

const charlistOf = (s: string): Term => Array.from(s, (c) => c.codePointAt(0)!)
