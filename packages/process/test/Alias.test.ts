/**
 * Process aliases (erlang:alias/0,1, unalias/1, monitor/3 `{alias, Mode}`), `reply`
 * (gen:reply) and `sendWith` (erlang:send/3), on one node. The wire side (ALIAS_SEND
 * both ways with real erl) is in packages/dist/test/Alias.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Process from "../src/Process.js"
import * as ProcessRuntime from "../src/ProcessRuntime.js"
import * as Signal from "../src/Signal.js"
import * as Term from "../src/Term.js"

const { atom, tuple } = Term
const aliasAtom = atom("alias")

const inProcess = <A, E>(body: Effect.Effect<A, E, Process.Self | ProcessRuntime.ProcessRuntime>) =>
  Process.run(body).pipe(Effect.provide(ProcessRuntime.layer), Logger.withMinimumLogLevel(LogLevel.None))

/**
 * What arrives after `effect` sent (or did not send) something through an alias: a marker
 * sent to our own pid afterwards lands behind anything the alias delivered, so the first
 * message says whether the alias delivered (local sends are synchronous).
 */
const firstAfter = (effect: Effect.Effect<unknown, unknown, ProcessRuntime.ProcessRuntime | Process.Self>) =>
  Effect.gen(function*() {
    yield* effect
    yield* Process.send(yield* Process.self, atom("marker"))
    return yield* Process.receive()
  })

const isMarker = (m: unknown) => m === atom("marker")

/** A process that waits for `stop` (or is killed). */
const idle = Process.receive((m) => m === atom("stop"))

describe("Process.alias / unalias", () => {
  it.effect("a message to an active alias reaches its process; unalias stops it (dropped)", () =>
    inProcess(Effect.gen(function*() {
      const a = yield* Process.alias()
      expect(a).toBeInstanceOf(Term.Ref)
      // another process sends through the alias
      yield* Process.spawn(Process.send(a, atom("via_alias")))
      expect(yield* Process.receive()).toBe(atom("via_alias"))
      // explicit_unalias: stays active after a message
      expect(yield* firstAfter(Process.send(a, atom("again")))).toBe(atom("again"))
      yield* Process.receive(isMarker)
      expect(yield* Process.unalias(a)).toBe(true)
      expect(yield* Process.unalias(a)).toBe(false)
      expect(isMarker(yield* firstAfter(Process.send(a, atom("dropped"))))).toBe(true)
      expect(yield* Process.receive(() => true, { after: 0 })).toEqual(Option.none())
    })))

  it.effect("alias({ reply: true }) is deactivated by the first message received through it", () =>
    inProcess(Effect.gen(function*() {
      const a = yield* Process.alias({ reply: true })
      expect(yield* firstAfter(Process.send(a, 1))).toBe(1)
      yield* Process.receive(isMarker)
      expect(isMarker(yield* firstAfter(Process.send(a, 2)))).toBe(true)
      expect(yield* Process.unalias(a)).toBe(false)
    })))

  it.effect("unalias of another process's alias is false and leaves it active; a plain ref is no alias", () =>
    inProcess(Effect.gen(function*() {
      const a = yield* Process.alias()
      const out = yield* Process.run(Process.unalias(a))
      expect(out).toBe(false)
      expect(yield* firstAfter(Process.send(a, atom("still")))).toBe(atom("still"))
      yield* Process.receive(isMarker)
      const ref = yield* Process.makeRef
      expect(isMarker(yield* firstAfter(Process.send(ref, atom("nowhere"))))).toBe(true)
      expect(yield* Process.unalias(ref)).toBe(false)
    })))

  it.effect("an alias ends with its process", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const child = yield* Process.spawn(Effect.gen(function*() {
        yield* Process.send(me, tuple(atom("alias"), yield* Process.alias()))
        yield* idle
      }))
      const m = yield* Process.receive((m) => Term.isTagged(m, "alias", 2))
      const a = m.elements[1] as Term.Ref
      const ref = yield* Process.monitor(child)
      yield* Process.exit(child, atom("kill"))
      yield* Process.receive((m) => Process.isDownMessage(m, ref))
      const rt = yield* ProcessRuntime.ProcessRuntime
      expect(rt.unsafeMailboxSize!(a)).toBe(0)
      // nothing to deliver to: the send is a no-op and does not fail
      yield* Process.send(a, atom("late"))
    })))
})

describe("Process.monitor with { alias }", () => {
  it.effect("demonitor: the ref is an alias until demonitor", () =>
    inProcess(Effect.gen(function*() {
      const target = yield* Process.spawn(idle)
      const ref = yield* Process.monitor(target, { alias: "demonitor" })
      yield* Process.spawn(Process.send(ref, atom("hello")))
      expect(yield* Process.receive()).toBe(atom("hello"))
      expect(yield* Process.demonitor(ref)).toBe(true)
      expect(isMarker(yield* firstAfter(Process.send(ref, atom("late"))))).toBe(true)
      expect(yield* Process.unalias(ref)).toBe(false)
    })))

  it.effect("demonitor: the 'DOWN' deactivates the alias", () =>
    inProcess(Effect.gen(function*() {
      const target = yield* Process.spawn(idle)
      const ref = yield* Process.monitor(target, { alias: "demonitor" })
      yield* Process.send(target, atom("stop"))
      yield* Process.receive((m) => Process.isDownMessage(m, ref))
      expect(isMarker(yield* firstAfter(Process.send(ref, atom("late"))))).toBe(true)
    })))

  it.effect("a dead target: the 'DOWN' noproc comes at once and only explicit_unalias keeps the alias", () =>
    inProcess(Effect.gen(function*() {
      const dead = yield* Process.spawn(Effect.void)
      yield* Effect.flatMap(Process.monitor(dead), (r) => Process.receive((m) => Process.isDownMessage(m, r)))
      const r1 = yield* Process.monitor(dead, { alias: "demonitor" })
      const down = yield* Process.receive((m) => Process.isDownMessage(m, r1))
      expect(down.elements[4]).toBe(atom("noproc"))
      expect(yield* Process.unalias(r1)).toBe(false)
      const r2 = yield* Process.monitor(dead, { alias: "explicit_unalias" })
      yield* Process.receive((m) => Process.isDownMessage(m, r2))
      expect(yield* firstAfter(Process.send(r2, atom("kept")))).toBe(atom("kept"))
      yield* Process.receive(isMarker)
      expect(yield* Process.unalias(r2)).toBe(true)
    })))

  it.effect("explicit_unalias: the alias outlives demonitor and the 'DOWN'", () =>
    inProcess(Effect.gen(function*() {
      const t1 = yield* Process.spawn(idle)
      const r1 = yield* Process.monitor(t1, { alias: "explicit_unalias" })
      expect(yield* Process.demonitor(r1)).toBe(true)
      expect(yield* firstAfter(Process.send(r1, 1))).toBe(1)
      yield* Process.receive(isMarker)
      const t2 = yield* Process.spawn(idle)
      const r2 = yield* Process.monitor(t2, { alias: "explicit_unalias" })
      yield* Process.send(t2, atom("stop"))
      yield* Process.receive((m) => Process.isDownMessage(m, r2))
      expect(yield* firstAfter(Process.send(r2, 2))).toBe(2)
      yield* Process.receive(isMarker)
      // unalias leaves a monitor alone
      const t3 = yield* Process.spawn(idle)
      const r3 = yield* Process.monitor(t3, { alias: "explicit_unalias" })
      expect(yield* Process.unalias(r3)).toBe(true)
      yield* Process.send(t3, atom("stop"))
      const down = yield* Process.receive((m) => Process.isDownMessage(m, r3))
      expect(down.elements[4]).toBe(atom("normal"))
    })))

  it.effect("reply_demonitor: the first message through the alias removes the alias and the monitor", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const target = yield* Process.spawn(idle)
      const ref = yield* Process.monitor(target, { alias: "reply_demonitor" })
      expect(Option.getOrThrow(yield* Process.processInfo(me)).monitors).toHaveLength(1)
      expect(Option.getOrThrow(yield* Process.processInfo(target)).monitoredBy).toHaveLength(1)
      yield* Process.spawn(Process.send(ref, atom("the_reply")))
      expect(yield* Process.receive()).toBe(atom("the_reply"))
      expect(Option.getOrThrow(yield* Process.processInfo(me)).monitors).toHaveLength(0)
      expect(Option.getOrThrow(yield* Process.processInfo(target)).monitoredBy).toHaveLength(0)
      expect(isMarker(yield* firstAfter(Process.send(ref, atom("second"))))).toBe(true)
      // the monitor is gone: the target's death sends no 'DOWN'
      yield* Process.send(target, atom("stop"))
      const watch = yield* Process.monitor(target)
      yield* Process.receive((m) => Process.isDownMessage(m, watch))
      expect(yield* Process.receive((m) => Process.isDownMessage(m, ref), { after: 0 })).toEqual(Option.none())
      expect(yield* Process.demonitor(ref)).toBe(false)
    })))

  it.effect("reply_demonitor: the 'DOWN' deactivates the alias", () =>
    inProcess(Effect.gen(function*() {
      const target = yield* Process.spawn(idle)
      const ref = yield* Process.monitor(target, { alias: "reply_demonitor" })
      yield* Process.send(target, atom("stop"))
      yield* Process.receive((m) => Process.isDownMessage(m, ref))
      expect(isMarker(yield* firstAfter(Process.send(ref, atom("late"))))).toBe(true)
    })))
})

describe("Process.reply (gen:reply)", () => {
  /** A server that answers one `{'$gen_call', From, Req}` with `{Req}` via `reply`. */
  const server = Effect.gen(function*() {
    const m = yield* Process.receive((m) => Term.isTagged(m, "$gen_call", 3))
    yield* Process.reply(m.elements[1]!, tuple(m.elements[2]!))
  })

  it.effect("a plain ref tag: {Tag, Reply} to the pid", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const srv = yield* Process.spawn(server)
      const tag = yield* Process.makeRef
      yield* Process.send(srv, tuple(atom("$gen_call"), tuple(me, tag), atom("ping")))
      const answer = yield* Process.receive()
      expect(Term.equals(answer as Term.Term, tuple(tag, tuple(atom("ping"))))).toBe(true)
    })))

  it.effect("[alias|Mref] goes to the alias, not to the pid (a late reply after demonitor is dropped)", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      const srv = yield* Process.spawn(Effect.zipRight(Process.receive((m) => m === atom("go")), server))
      // OTP 25 gen:do_call
      const mref = yield* Process.monitor(srv, { alias: "demonitor" })
      const tag = Term.improperList([aliasAtom], mref)
      yield* Process.send(srv, tuple(atom("$gen_call"), tuple(me, tag), atom("q")))
      // the caller gives up: demonitor([flush]) deactivates the alias
      yield* Process.demonitor(mref, { flush: true })
      const watch = yield* Process.monitor(srv)
      yield* Process.send(srv, atom("go"))
      yield* Process.receive((m) => Process.isDownMessage(m, watch))
      expect(yield* Process.receive(() => true, { after: 0 })).toEqual(Option.none())
      // and while active, the reply arrives through it even when the From pid is another one
      const other = yield* Process.spawn(idle)
      const srv2 = yield* Process.spawn(server)
      const a = yield* Process.alias()
      yield* Process.send(srv2, tuple(atom("$gen_call"), tuple(other, Term.improperList([aliasAtom], a)), 7))
      const answer = yield* Process.receive()
      expect(Term.format(answer as Term.Term)).toBe(`{[alias|${a.toString()}],{7}}`)
    })))

  it.effect("[[alias|A]|Mref] goes to alias A", () =>
    inProcess(Effect.gen(function*() {
      const other = yield* Process.spawn(idle)
      const srv = yield* Process.spawn(server)
      const a = yield* Process.alias()
      const mref = yield* Process.makeRef
      const tag = Term.improperList([Term.improperList([aliasAtom], a)], mref)
      yield* Process.send(srv, tuple(atom("$gen_call"), tuple(other, tag), atom("x")))
      const answer = yield* Process.receive()
      expect(Term.equals(answer as Term.Term, tuple(tag, tuple(atom("x"))))).toBe(true)
    })))

  it.effect("a From of another shape is dropped without failing", () =>
    inProcess(Effect.gen(function*() {
      yield* Process.reply(atom("nonsense"), 1)
      yield* Process.reply(tuple(1, 2), 1)
      expect(yield* Process.receive(() => true, { after: 0 })).toEqual(Option.none())
    })))
})

describe("Process.sendWith (erlang:send/3)", () => {
  it.effect("local destinations are ok; a remote pid on a node that is not alive is noconnect with noconnect", () =>
    inProcess(Effect.gen(function*() {
      const me = yield* Process.self
      expect(yield* Process.sendWith(me, 1, { noconnect: true, nosuspend: true })).toBe("ok")
      expect(yield* Process.receive()).toBe(1)
      const a = yield* Process.alias()
      expect(yield* Process.sendWith(a, 2, { noconnect: true })).toBe("ok")
      expect(yield* Process.receive()).toBe(2)
      const remote = new Term.Pid(atom("other@host"), 1, 0, 1)
      expect(yield* Process.sendWith(remote, 3, { noconnect: true })).toBe("noconnect")
      expect(yield* Process.sendWith(remote, 3, {})).toBe("ok")
      const err = yield* Effect.flip(Process.sendWith("nobody", 4, { noconnect: true }))
      expect(err.reason).toBe("NotRegistered")
      const notAlive = yield* Effect.flip(
        Process.sendWith(new Signal.RemoteName({ name: atom("x"), node: atom("other@host") }), 5, { noconnect: true })
      )
      expect(notAlive.reason).toBe("NotAlive")
    })))
})
