import { afterEach, describe, expect, it } from "@effect/vitest"
import { killAll, run, Shell } from "./helpers/shell.js"

afterEach(killAll)

describe("Shell (non-distributed)", () => {
  it("prompts like Eshell; self/send/flush; values print in Erlang syntax", async () => {
    const sh = new Shell([], "")
    await sh.ready()
    expect(await sh.eval("self()")).toBe("<0.1.0>")
    expect(await sh.eval("send(self(), t`{echo, \"hi\"}`)")).toBe("{echo,\"hi\"}")
    expect(await sh.eval("send(self(), t`{${self()}, <<\"bin\">>, [1, 2 | 3], #{a => 1.0}}`)")).toBe(
      "{<0.1.0>,<<\"bin\">>,[1,2|3],#{a => 1.0}}"
    )
    expect(await sh.eval("flush()")).toBe(
      "Shell got {echo,\"hi\"}\nShell got {<0.1.0>,<<\"bin\">>,[1,2|3],#{a => 1.0}}\nok"
    )
    expect(await sh.eval("flush()")).toBe("ok")
    expect(await sh.eval("node()")).toBe("nonode@nohost")
    expect(await sh.eval("nodes()")).toBe("[]")
    expect(await sh.eval("ping('bob@box')")).toBe("pang")
    // distribution helpers on a non-distributed node answer as erl's do
    expect(await sh.eval("rpc('bob@box', 'erlang', 'node', [])")).toBe("{badrpc,nodedown}")
    expect(await sh.eval("disconnect('bob@box')")).toBe("ignored")
    expect(await sh.eval("monitorNodes(true)")).toBe("ok")
    expect(await sh.eval("monitorNodes('yes')")).toMatch(/^\*\* exception error: badarg: monitorNodes' flag/)
    expect(await sh.eval("spawn('bob@box', 'm', 'f', [])")).toMatch(/^\*\* exception error: notalive/)
    expect(await sh.eval("spawn('bob@box', () => 1)")).toMatch(/^\*\* exception error: badarg: a function cannot/)
    expect(await sh.eval("node(self())")).toBe("nonode@nohost")
    expect(await sh.eval("[1, 2, 3]")).toBe("[1,2,3]")
    expect(await sh.eval("'a string'")).toBe("'a string'")
    expect(await sh.quit()).toBe(0)
  })

  it("an echo process: spawn, register, whereis, i(); Effects and await at the prompt", async () => {
    const sh = new Shell([], "")
    await sh.ready()
    await sh.eval(
      "const echo = spawn(async () => { for (;;) { const [from, msg] = (await receive()).elements; send(from, t`{echo, ${msg}}`) } })"
    )
    expect(await sh.eval("register('echo', echo)")).toBe("true")
    expect(await sh.eval("whereis('echo')")).toMatch(/^<0\.\d+\.0>$/)
    expect(await sh.eval("whereis('nobody')")).toBe("undefined")
    expect(await sh.eval("send('echo', t`{${self()}, \"hello\"}`)")).toBe("{<0.1.0>,\"hello\"}")
    // a receive in the shell process: an Effect typed at the prompt runs in it
    expect(await sh.eval("Process.receive()")).toBe("{echo,\"hello\"}")
    expect(await sh.eval("await Promise.resolve(t`ok`)")).toBe("ok")
    expect(await sh.eval("Effect.succeed(t`{done, 1}`)")).toBe("{done,1}")
    expect(await sh.eval("Effect.fail(new Error('boom'))")).toBe("** exception error: boom")
    expect(await sh.eval("notDefined")).toBe("** exception error: notDefined is not defined")
    expect(await sh.eval("send('nobody', 1)")).toMatch(/^\*\* exception error: badarg/)
    const table = await sh.eval("i()")
    expect(table).toMatch(/^Pid\s+Name\s+Msgs\s+Status$/m)
    expect(table).toMatch(/^<0\.1\.0>\s+\(shell\)\s+0\s+\w+$/m)
    expect(table).toMatch(/^<0\.\d+\.0>\s+echo\s+0\s+waiting$/m)
    expect(table.endsWith("\nok")).toBe(true)
    // a multi-line input
    expect(await sh.eval("const f = (x) => {\nreturn x + 1 }")).toBe("... undefined")
    expect(await sh.eval("f(41)")).toBe("42")
    expect(await sh.quit()).toBe(0)
  })

  it("monitor and link on local processes; the shell restarts when a link kills it", async () => {
    const sh = new Shell([], "")
    await sh.ready()
    await sh.eval("const p = spawn(async () => { await receive(); throw t`{bad, thing}` })")
    expect(await sh.eval("monitor(p)")).toMatch(/^#Ref<0\.[\d.]+>$/)
    expect(await sh.eval("link(p)")).toBe("true")
    expect(await sh.eval("send(p, t`go`)")).toBe("go")
    await sh.waitFor("** exception exit: {bad,thing}")
    expect(await sh.eval("self()")).not.toBe("<0.1.0>")
    expect(await sh.quit()).toBe(0)
  })

  it("end of input stops the node", async () => {
    const r = await run([], "1 + 1\n")
    expect(r.code).toBe(0)
    expect(r.stdout).toBe("1> 2\n2> ")
  })
})
