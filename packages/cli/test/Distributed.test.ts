import { afterEach, describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { erlAvailable, ErlShell, flushUntil, HOST, killAll, printedNode, tsShell, unique } from "./helpers/shell.js"

afterEach(killAll)

/** The names registered with the system epmd (empty when none runs). */
const epmdNames = (): string => {
  try {
    return execFileSync("epmd", ["-names"], { encoding: "utf8", timeout: 10_000 })
  } catch {
    return ""
  }
}

const ECHO_TS =
  "register('echo', spawn(async () => { for (;;) { const [from, msg] = (await receive()).elements; send(from, t`{echo, ${msg}}`) } }))"

describe("Shell (distributed): the chapter's two terminals", () => {
  it("two TS shells: ping, nodes, an echo on bob, send from alice, flush; q() leaves epmd", async () => {
    const cookie = unique("c")
    const alice = unique("alice")
    const bob = unique("bob")
    const b = tsShell(bob, cookie)
    const a = tsShell(alice, cookie)
    await Promise.all([a.ready(), b.ready()])
    expect(await b.eval(ECHO_TS)).toBe("true")
    expect(await a.eval(`ping('${bob}@${HOST}')`)).toBe("pong")
    expect(await a.eval("nodes()")).toBe(`[${printedNode(bob)}]`)
    expect(await b.eval("nodes()")).toBe(`[${printedNode(alice)}]`)
    expect(await a.eval(`send(t\`{echo, '${bob}@${HOST}'}\`, t\`{\${self()}, "hello from alice!"}\`)`)).toMatch(
      /^\{<0\.\d+\.0>,"hello from alice!"\}$/
    )
    expect(await flushUntil(a, "echo reply")).toBe("Shell got {echo,\"hello from alice!\"}\nok")
    // the [name, node] convenience
    expect(await a.eval(`send(["echo", "${bob}@${HOST}"], t\`{\${self()}, <<"again">>}\`)`)).toMatch(/again/)
    expect(await flushUntil(a, "second echo reply")).toBe("Shell got {echo,<<\"again\">>}\nok")
    // a ping to a node that does not exist
    expect(await a.eval(`ping('${unique("nobody")}@${HOST}')`)).toBe("pang")
    expect(await a.quit()).toBe(0)
    expect(await b.quit()).toBe(0)
    expect(epmdNames()).not.toContain(alice)
    expect(epmdNames()).not.toContain(bob)
  })

  it.skipIf(!erlAvailable)("TS alice and an erl bob: the chapter's session", async () => {
    const cookie = unique("c")
    const alice = unique("alice")
    const bob = unique("bob")
    const erl = new ErlShell(bob, cookie)
    await erl.ready()
    expect(
      await erl.eval("register(echo, spawn(fun Loop() -> receive {From, Msg} -> From ! {echo, Msg}, Loop() end end)).")
    ).toBe("true")
    const a = tsShell(alice, cookie)
    await a.ready()
    expect(await a.eval(`ping('${bob}@${HOST}')`)).toBe("pong")
    expect(await a.eval("nodes()")).toBe(`[${printedNode(bob)}]`)
    expect(await erl.eval("nodes().")).toBe(`[${printedNode(alice)}]`)
    expect(await a.eval(`send(t\`{echo, '${bob}@${HOST}'}\`, t\`{\${self()}, "hello from alice!"}\`)`)).toMatch(
      /"hello from alice!"/
    )
    expect(await flushUntil(a, "echo reply from erl")).toBe("Shell got {echo,\"hello from alice!\"}\nok")
    expect(await a.quit()).toBe(0)
    expect(await erl.quit("halt().")).toBe(0)
  })

  it.skipIf(!erlAvailable)(
    "a visible TS shell runs global: erl's global:sync() returns, global names work",
    async () => {
      const cookie = unique("c")
      const alice = unique("alice")
      const bob = unique("bob")
      const b = tsShell(bob, cookie)
      await b.ready()
      const erl = new ErlShell(alice, cookie)
      await erl.ready()
      expect(await erl.eval(`net_adm:ping('${bob}@${HOST}').`)).toBe("pong")
      expect(await erl.eval("nodes().")).toBe(`[${printedNode(bob)}]`) // visible
      // without a global participant on bob this never returns (docs/failure-model.md, "Visible by default, with `global`")
      expect(await erl.eval("global:sync().")).toBe("ok")
      // registered under the global lock on bob as well (bob answers set_lock/register/del_lock)
      expect(await erl.eval("global:register_name(erl_shell, self()).")).toBe("yes")
      expect(await erl.eval("global:whereis_name(erl_shell) =:= self().")).toBe("true")
      expect(await erl.eval("global:registered_names().")).toBe("[erl_shell]")
      expect(await b.quit()).toBe(0)
      expect(await erl.quit("halt().")).toBe(0)
    }
  )

  it.skipIf(!erlAvailable)("an erl alice and a TS bob: erl sends to the TS echo and flushes", async () => {
    const cookie = unique("c")
    const alice = unique("alice")
    const bob = unique("bob")
    const b = tsShell(bob, cookie)
    await b.ready()
    expect(await b.eval(ECHO_TS)).toBe("true")
    const erl = new ErlShell(alice, cookie)
    await erl.ready()
    expect(await erl.eval(`net_adm:ping('${bob}@${HOST}').`)).toBe("pong")
    expect(await erl.eval("nodes().")).toBe(`[${printedNode(bob)}]`)
    expect(await b.eval("nodes()")).toBe(`[${printedNode(alice)}]`)
    expect(await erl.eval(`{echo, '${bob}@${HOST}'} ! {self(), "hello from alice!"}.`)).toMatch(
      /^\{<0\.\d+\.0>,"hello from alice!"\}$/
    )
    const out = await flushUntil(erl, "echo reply on erl", "flush().")
    expect(out).toBe("Shell got {echo,\"hello from alice!\"}\nok")
    expect(await erl.quit("halt().")).toBe(0)
    expect(await b.quit()).toBe(0)
  })
})
