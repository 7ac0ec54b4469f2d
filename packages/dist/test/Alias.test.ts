/**
 * Process aliases over the distribution, against real `erl` (OTP 25): ALIAS_SEND both
 * ways (erl sends to a TS alias, TS sends to an erl alias), a message to an inactive
 * alias dropped both ways, `reply_demonitor` removing the monitor on the erl side, and
 * `gen:call` both ways with the `[alias|Mref]` tag (erl's `gen_server:call` to a TS
 * process answering with `Process.reply`, a late reply that never reaches the erl caller;
 * TS calling erl's `net_kernel` with an alias monitor).
 */
import * as Process from "@effect-otp/process/Process"
import { RemoteName } from "@effect-otp/process/Signal"
import type { Pid } from "@effect-otp/process/Term"
import { Atom, equals, format, improperList, isTagged, Ref, type Term, Tuple, tuple } from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { compileErl, erlAvailable, startErlScoped, uniqueName } from "./helpers/erl.js"
import { buildNode, cluster, expectCleanErlLog, expectTagged, host } from "./helpers/tsnode.js"

const a = Atom.make

/**
 * `apeer` commands:
 * - `{send_via, Alias, Msg, From}`: `Alias ! Msg`, then `From ! {sent, Msg}` (same connection, so in order);
 *   `send_via_tt` the same with a seq_trace token set (ALIAS_SEND_TT);
 * - `{holder, From, Mode}`: a holder process makes an alias (`alias()` / `alias([reply])`)
 *   and sends `{alias, A, HolderPid}`; it collects everything else it receives and answers
 *   `{ctl, report}` with `{report, Collected}`; `{ctl, unalias}` -> `{unaliased, Bool}`;
 *   `{ctl, {send, To, Msg}}` -> `To ! Msg`; `{ctl, monitored_by}` -> `{monitored_by, Pids}`;
 *   `{ctl, stop}` ends it;
 * - `{call, From, Target, Req}`: `From ! {call_result, catch gen_server:call(Target, Req), Mailbox}`;
 * - `{late_call, From, Target, Req}`: a `gen_server:call` with a 200 ms timeout; after it
 *   times out, tells `Target` `{timed_out, self()}`, waits for `replied`, and answers
 *   `{call_result, Result, Mailbox}` (what else reached the caller's mailbox).
 */
const ALIAS_PEER = `
-module(alias_peer).
-export([start/0]).

start() ->
    register(apeer, spawn(fun loop/0)),
    io:format("ready~n").

loop() ->
    receive
        {send_via, Alias, Msg, From} -> Alias ! Msg, From ! {sent, Msg};
        {send_via_tt, Alias, Msg, From} ->
            seq_trace:set_token(label, 17), Alias ! Msg, seq_trace:set_token([]), From ! {sent, Msg};
        {holder, From, Mode} -> spawn(fun() -> holder(From, Mode) end);
        {call, From, Target, Req} ->
            spawn(fun() -> R = (catch gen_server:call(Target, Req, 5000)), From ! {call_result, R, flush()} end);
        {late_call, From, Target, Req} ->
            spawn(fun() ->
                R = (catch gen_server:call(Target, Req, 200)),
                Target ! {timed_out, self()},
                receive replied -> ok after 10000 -> ok end,
                From ! {call_result, R, flush()}
            end)
    end,
    loop().

holder(From, Mode) ->
    A = case Mode of plain -> alias(); reply -> alias([reply]) end,
    From ! {alias, A, self()},
    holder(From, A, []).

holder(From, A, Got) ->
    receive
        {ctl, unalias} -> From ! {unaliased, unalias(A)}, holder(From, A, Got);
        {ctl, report} -> From ! {report, lists:reverse(Got)}, holder(From, A, []);
        {ctl, {send, To, Msg}} -> To ! Msg, holder(From, A, Got);
        {ctl, monitored_by} -> From ! process_info(self(), monitored_by), holder(From, A, Got);
        {ctl, stop} -> ok;
        Other -> holder(From, A, [Other | Got])
    end.

flush() -> receive X -> [X | flush()] after 0 -> [] end.
`

const aliasPeerDir = (): string => compileErl({ alias_peer: ALIAS_PEER })

/** An erl node running `alias_peer`, and a TS node, for the current scope. */
const setup = Effect.gen(function*() {
  const cookie = uniqueName("c")
  const e = uniqueName("e")
  const ts = uniqueName("ts")
  const erl = yield* startErlScoped({
    args: ["-sname", e, "-setcookie", cookie, "-pa", aliasPeerDir()],
    eval: "alias_peer:start().",
    ready: "ready"
  })
  const ctx = yield* buildNode(ts, cookie)
  return { erl, ctx, erlNode: a(`${e}@${host}`), tsNode: a(`${ts}@${host}`) }
})

const apeerOf = (node: Atom) => new RemoteName({ name: a("apeer"), node })

/** Starts an erl holder of an alias and returns `[alias, holderPid]`. */
const erlHolder = (node: Atom, mode: "plain" | "reply") =>
  Effect.gen(function*() {
    yield* Process.send(apeerOf(node), tuple(a("holder"), yield* Process.self, a(mode)))
    const [, alias, holder] = (yield* expectTagged("alias", 3)).elements
    expect(alias).toBeInstanceOf(Ref)
    return [alias as Ref, holder as Pid] as const
  })

const report = (holder: Pid) =>
  Effect.gen(function*() {
    yield* Process.send(holder, tuple(a("ctl"), a("report")))
    return format((yield* expectTagged("report", 2)).elements[1]!)
  })

describe.skipIf(!erlAvailable())("Interop with real erl: process aliases", () => {
  it.scopedLive(
    "erl sends to a TS alias (ALIAS_SEND and ALIAS_SEND_TT in); after unalias erl's message is dropped",
    () =>
      Effect.gen(function*() {
        const { ctx, erl, erlNode } = yield* setup
        const out = yield* Process.run(Effect.gen(function*() {
          const self = yield* Process.self
          const alias = yield* Process.alias()
          yield* Process.send(apeerOf(erlNode), tuple(a("send_via"), alias, tuple(a("hi"), 1), self))
          const first = yield* Process.receive()
          yield* expectTagged("sent", 2)
          expect(yield* Process.unalias(alias)).toBe(true)
          yield* Process.send(apeerOf(erlNode), tuple(a("send_via"), alias, a("dropped"), self))
          // the ALIAS_SEND comes before the `{sent, _}` on the same connection: nothing precedes it
          const second = yield* Process.receive()
          // a reply alias: the first message deactivates it
          const once = yield* Process.alias({ reply: true })
          yield* Process.send(apeerOf(erlNode), tuple(a("send_via"), once, a("one"), self))
          const third = yield* Process.receive()
          yield* expectTagged("sent", 2)
          yield* Process.send(apeerOf(erlNode), tuple(a("send_via"), once, a("two"), self))
          const fourth = yield* Process.receive()
          // ALIAS_SEND_TT (a seq_trace token is set): delivered the same way
          const traced = yield* Process.alias()
          yield* Process.send(apeerOf(erlNode), tuple(a("send_via_tt"), traced, a("traced"), self))
          const fifth = yield* Process.receive()
          yield* expectTagged("sent", 2)
          return { first, second, third, fourth, fifth }
        })).pipe(Effect.provide(ctx))
        expect(format(out.first as Term)).toBe("{hi,1}")
        expect(format(out.second as Term)).toBe("{sent,dropped}")
        expect(out.third).toBe(a("one"))
        expect(format(out.fourth as Term)).toBe("{sent,two}")
        expect(out.fifth).toBe(a("traced"))
        expectCleanErlLog(erl)
      }),
    30_000
  )

  it.scopedLive(
    "TS sends to an erl alias (ALIAS_SEND out); to an inactive one (unalias, alias([reply])) it is dropped",
    () =>
      Effect.gen(function*() {
        const { ctx, erl, erlNode } = yield* setup
        const out = yield* Process.run(Effect.gen(function*() {
          const [alias, holder] = yield* erlHolder(erlNode, "plain")
          yield* Process.send(alias, tuple(a("via"), a("alias")))
          const got = yield* report(holder)
          yield* Process.send(holder, tuple(a("ctl"), a("unalias")))
          const unaliased = (yield* expectTagged("unaliased", 2)).elements[1]
          yield* Process.send(alias, a("late"))
          const afterUnalias = yield* report(holder)
          const [once, holder2] = yield* erlHolder(erlNode, "reply")
          yield* Process.send(once, 1)
          yield* Process.send(once, 2)
          const replyAlias = yield* report(holder2)
          return { got, unaliased, afterUnalias, replyAlias }
        })).pipe(Effect.provide(ctx))
        expect(out.got).toBe("[{via,alias}]")
        expect(out.unaliased).toBe(a("true"))
        expect(out.afterUnalias).toBe("[]")
        expect(out.replyAlias).toBe("[1]")
        expectCleanErlLog(erl)
      }),
    30_000
  )

  it.scopedLive(
    "monitor(ErlPid, { alias: reply_demonitor }): erl's message through it removes the monitor on both sides",
    () =>
      Effect.gen(function*() {
        const { ctx, erl, erlNode } = yield* setup
        const out = yield* Process.run(Effect.gen(function*() {
          const self = yield* Process.self
          const [, holder] = yield* erlHolder(erlNode, "plain")
          const mref = yield* Process.monitor(holder, { alias: "reply_demonitor" })
          yield* Process.send(holder, tuple(a("ctl"), a("monitored_by")))
          const before = (yield* expectTagged("monitored_by", 2)).elements[1]
          yield* Process.send(holder, tuple(a("ctl"), tuple(a("send"), mref, a("the_reply"))))
          const replied = yield* Process.receive()
          // the DEMONITOR went out before this request, on the same connection
          yield* Process.send(holder, tuple(a("ctl"), a("monitored_by")))
          const after = (yield* expectTagged("monitored_by", 2)).elements[1]
          // a second message through it is dropped
          yield* Process.send(holder, tuple(a("ctl"), tuple(a("send"), mref, a("second"))))
          yield* Process.send(holder, tuple(a("ctl"), tuple(a("send"), self, a("marker"))))
          const next = yield* Process.receive()
          // and its death gives no 'DOWN' for mref (only the new monitor's)
          const watch = yield* Process.monitor(holder)
          yield* Process.send(holder, tuple(a("ctl"), a("stop")))
          const down = yield* Process.receive((m) => Process.isDownMessage(m))
          const more = yield* Process.receive(() => true, { after: 0 })
          return { self, before, replied, after, next, down, watch, more }
        })).pipe(Effect.provide(ctx))
        expect(out.before).toEqual([out.self])
        expect(out.replied).toBe(a("the_reply"))
        expect(out.after).toEqual([])
        expect(out.next).toBe(a("marker"))
        expect((out.down as Tuple).elements[1]).toEqual(out.watch)
        expect(out.more).toEqual(Option.none())
        expectCleanErlLog(erl)
      }),
    30_000
  )

  it.scopedLive(
    "erl's gen_server:call to a TS process answering with Process.reply; a late reply never reaches the erl caller",
    () =>
      Effect.gen(function*() {
        const { ctx, erl, erlNode, tsNode } = yield* setup
        const out = yield* Effect.gen(function*() {
          // a minimal TS gen_server loop: replies at once, or after the caller timed out
          yield* Process.spawn(
            Effect.gen(function*() {
              let pending: Term | undefined
              while (true) {
                const m = yield* Process.receive()
                if (isTagged(m, "$gen_call", 3)) {
                  const [, from, req] = m.elements
                  if (req === a("late")) pending = from
                  else yield* Process.reply(from!, tuple(a("echo"), req!))
                } else if (isTagged(m, "timed_out", 2) && pending !== undefined) {
                  yield* Process.reply(pending, a("too_late"))
                  yield* Process.send(m.elements[1] as Pid, a("replied"))
                }
              }
            }),
            { name: "tsrv" }
          )
          return yield* Process.run(Effect.gen(function*() {
            const self = yield* Process.self
            const target = tuple(a("tsrv"), tsNode)
            yield* Process.send(apeerOf(erlNode), tuple(a("call"), self, target, a("ping")))
            const ok = yield* expectTagged("call_result", 3)
            yield* Process.send(apeerOf(erlNode), tuple(a("late_call"), self, target, a("late")))
            const late = yield* expectTagged("call_result", 3)
            return { ok, late }
          }))
        }).pipe(Effect.provide(ctx))
        expect(format(out.ok)).toBe("{call_result,{echo,ping},[]}")
        const [, result, mailbox] = out.late.elements
        expect(isTagged(result, "EXIT", 2) && isTagged((result as Tuple).elements[1], "timeout", 2)).toBe(true)
        expect(mailbox).toEqual([])
        expectCleanErlLog(erl)
      }),
    30_000
  )

  it.scopedLive(
    "TS calls erl's net_kernel with an alias monitor and the [alias|Mref] tag; the reply comes via ALIAS_SEND",
    () =>
      Effect.gen(function*() {
        const { ctx, erl, erlNode, tsNode } = yield* setup
        const out = yield* Process.run(Effect.gen(function*() {
          const self = yield* Process.self
          const target = new RemoteName({ name: a("net_kernel"), node: erlNode })
          const mref = yield* Process.monitor(target, { alias: "demonitor" })
          const tag = improperList([a("alias")], mref)
          yield* Process.send(target, tuple(a("$gen_call"), tuple(self, tag), tuple(a("is_auth"), tsNode)))
          const answer = yield* Process.receive(
            (m) => m instanceof Tuple && m.elements.length === 2 ? Option.some(m) : Option.none(),
            { after: "5 seconds" }
          )
          yield* Process.demonitor(mref, { flush: true })
          return { answer, tag }
        })).pipe(Effect.provide(ctx))
        const answer = Option.getOrThrow(out.answer)
        expect(format(answer)).toBe(format(tuple(out.tag, a("yes"))))
        expectCleanErlLog(erl)
      }),
    30_000
  )
})

describe("process aliases between TS nodes", () => {
  it.scopedLive(
    "a reply through an alias monitor crosses TS nodes; after demonitor a late one is dropped",
    () =>
      Effect.gen(function*() {
        const node = yield* cluster
        const cookie = uniqueName("c")
        const ctxA = yield* node(uniqueName("ts"), cookie)
        const ctxB = yield* node(uniqueName("ts"), cookie)
        // on B: answers `{'$gen_call', From, Req}` with Process.reply, at once or when told `go`
        const server = yield* Process.spawn(Effect.gen(function*() {
          let held: Term | undefined
          while (true) {
            const m = yield* Process.receive()
            if (isTagged(m, "$gen_call", 3)) {
              if (m.elements[2] === a("later")) held = m.elements[1]
              else yield* Process.reply(m.elements[1]!, tuple(a("echo"), m.elements[2]!))
            } else if (isTagged(m, "go", 2) && held !== undefined) {
              yield* Process.reply(held, a("late"))
              yield* Process.send(m.elements[1] as Pid, a("replied"))
            }
          }
        })).pipe(Effect.provide(ctxB))
        const out = yield* Process.run(Effect.gen(function*() {
          const self = yield* Process.self
          const call = (req: Term) =>
            Effect.gen(function*() {
              const mref = yield* Process.monitor(server, { alias: "demonitor" })
              const tag = improperList([a("alias")], mref)
              yield* Process.send(server, tuple(a("$gen_call"), tuple(self, tag), req))
              return [mref, tag] as const
            })
          const [m1, t1] = yield* call(a("now"))
          const answer = yield* Process.receive((m) => m instanceof Tuple && equals(m.elements[0]!, t1))
          yield* Process.demonitor(m1, { flush: true })
          const [m2] = yield* call(a("later"))
          // the caller gives up before the reply
          yield* Process.demonitor(m2, { flush: true })
          yield* Process.send(server, tuple(a("go"), self))
          // `replied` follows the late reply on the same connection: nothing precedes it
          const next = yield* Process.receive()
          return { answer, next }
        })).pipe(Effect.provide(ctxA))
        expect(format(out.answer as Term)).toMatch(/^\{\[alias\|#Ref<.*>\],\{echo,now\}\}$/)
        expect(out.next).toBe(a("replied"))
      }),
    30_000
  )
})
