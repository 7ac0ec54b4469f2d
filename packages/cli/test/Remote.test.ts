/**
 * The shell's distribution helpers against a real `erl` shell: `rpc` both ways,
 * remote `spawn`, `monitor` and `link` on remote processes, `monitorNodes` and
 * `disconnect`; and `--proto-dist tls` with `erl -proto_dist inet_tls`.
 */
import { afterEach, describe, expect, it } from "@effect/vitest"
import { erlAvailable, ErlShell, flushUntil, HOST, killAll, printedNode, tsShell, unique } from "./helpers/shell.js"
import { makePki, opensslAvailable } from "./helpers/tls.js"

afterEach(killAll)

const PID = String.raw`<\d+\.\d+\.\d+>`
const REF = String.raw`#Ref<[\d.]+>`

describe.skipIf(!erlAvailable)("Shell (distributed): rpc, remote monitor and link, node monitoring", () => {
  it("with an erl node: rpc both ways, remote spawn, DOWN and link across nodes, nodeup/nodedown", async () => {
    const cookie = unique("c")
    const alice = unique("alice")
    const bob = unique("bob")
    const B = `${bob}@${HOST}`
    const erl = new ErlShell(bob, cookie)
    const a = tsShell(alice, cookie, ["--connect-all", "false"])
    await Promise.all([erl.ready(), a.ready()])

    // monitorNodes before the first connection: flush() shows the nodeup
    expect(await a.eval("monitorNodes(true)")).toBe("ok")
    expect(await a.eval(`rpc("${B}", "erlang", "node", [])`)).toBe(printedNode(bob))
    expect(await flushUntil(a, "nodeup")).toBe(`Shell got {nodeup,${printedNode(bob)}}\nok`)

    // rpc:call's results, failures included, as the Erlang shell shows them
    expect(await a.eval(`rpc("${B}", "lists", "reverse", [[1, 2, 3]])`)).toBe("[3,2,1]")
    expect(await a.eval(`rpc("${B}", "erlang", "throw", [t\`thrown\`])`)).toBe("thrown")
    expect(await a.eval(`rpc("${B}", "erlang", "exit", [t\`bye\`])`)).toBe("{badrpc,{'EXIT',bye}}")
    expect(await a.eval(`rpc("${B}", "erlang", "error", [t\`oops\`])`)).toMatch(
      /^\{badrpc,\{'EXIT',\{oops,\[\{erlang,error,\[oops\],/
    )
    expect(await a.eval(`rpc("${B}", "nomod", "nofun", [1])`)).toBe(
      "{badrpc,{'EXIT',{undef,[{nomod,nofun,[1],[]}]}}}"
    )
    expect(await a.eval(`rpc("${B}", "timer", "sleep", [5000], 100)`)).toBe("{badrpc,timeout}")
    expect(await a.eval(`rpc("${unique("nobody")}@${HOST}", "erlang", "node", [])`)).toBe("{badrpc,nodedown}")

    // erl's rpc:call into the shell's node, and io:format there (written to erl's group leader)
    expect(await erl.eval(`rpc:call('${alice}@${HOST}', erlang, node, []).`)).toBe(printedNode(alice))
    expect(await erl.eval(`rpc:call('${alice}@${HOST}', io, format, ["hi from ~s~n", ["erl"]]).`)).toBe(
      "hi from erl\nok"
    )
    expect(await erl.eval(`rpc:call('${alice}@${HOST}', nomod, f, []).`)).toBe(
      "{badrpc,{'EXIT',{undef,[{nomod,f,[],[]}]}}}"
    )

    // monitor a process of erl's; erl kills it; flush() shows the DOWN
    expect(await erl.eval("register(victim, spawn(fun() -> receive stop -> ok end end)).")).toBe("true")
    expect(await a.eval(`const v = await rpc("${B}", "erlang", "whereis", [t\`victim\`])`)).toBe("undefined")
    expect(await a.eval("v")).toMatch(new RegExp(`^${PID}$`))
    const ref = await a.eval("monitor(v)")
    expect(ref).toMatch(new RegExp(`^${REF}$`))
    expect(await erl.eval("exit(whereis(victim), kill).")).toBe("true")
    const down = await flushUntil(a, "DOWN")
    expect(down).toBe(`Shell got {'DOWN',${ref},process,${await a.eval("v")},killed}\nok`)
    // by {name, node}: no such process, DOWN at once with noproc
    const ref2 = await a.eval(`monitor(t\`{victim, '${B}'}\`)`)
    expect(await flushUntil(a, "noproc DOWN")).toBe(
      `Shell got {'DOWN',${ref2},process,{victim,${printedNode(bob)}},noproc}\nok`
    )

    // a process spawned on erl from the shell, linked: its death takes the shell with it
    expect(await a.eval(`const w = await spawn("${B}", "timer", "sleep", [t\`infinity\`])`)).toBe("undefined")
    expect(await a.eval("node(w)")).toBe(printedNode(bob))
    expect(await a.eval("link(w)")).toBe("true")
    expect(await a.eval("exit(w, t`boom`)")).toBe("true")
    await a.waitForPrompt("** exception exit: boom (shell process")
    // spawn without await: a clear error where a pid is used
    expect(await a.eval(`const pending = spawn("${B}", "timer", "sleep", [1])`)).toBe("undefined")
    expect(await a.eval("link(pending)")).toMatch(/^\*\* exception error: badarg: got a Promise: add await/)
    expect(await a.eval("await pending")).toMatch(new RegExp(`^${PID}$`))

    // the new shell process subscribes again; disconnect gives the nodedown
    expect(await a.eval("monitorNodes(true)")).toBe("ok")
    expect(await a.eval(`disconnect("${B}")`)).toBe("true")
    expect(await flushUntil(a, "nodedown")).toBe(`Shell got {nodedown,${printedNode(bob)}}\nok`)
    expect(await a.eval("nodes()")).toBe("[]")
    expect(await a.eval(`disconnect("${B}")`)).toBe("false")
    // monitorNodes(false): no more events
    expect(await a.eval("monitorNodes(false)")).toBe("ok")
    expect(await a.eval(`ping("${B}")`)).toBe("pong")
    expect(await a.eval("flush()")).toBe("ok")

    expect(await erl.quit("halt().")).toBe(0)
    expect(await a.quit()).toBe(0)
  })

  it.skipIf(!opensslAvailable())(
    "--proto-dist tls: the shell and erl -proto_dist inet_tls share an optfile",
    async () => {
      const pki = makePki()
      try {
        const cookie = unique("c")
        const alice = unique("alice")
        const bob = unique("bob")
        const erl = new ErlShell(bob, cookie, ["-proto_dist", "inet_tls", "-ssl_dist_optfile", pki.optfile])
        // erl's spelling of the flags
        const a = tsShell(alice, cookie, ["-proto_dist", "inet_tls", "-ssl_dist_optfile", pki.optfile])
        await Promise.all([erl.ready(), a.ready()])
        expect(await a.eval(`ping("${bob}@${HOST}")`)).toBe("pong")
        expect(await erl.eval("nodes().")).toBe(`[${printedNode(alice)}]`)
        expect(await erl.eval(`rpc:call('${alice}@${HOST}', erlang, node, []).`)).toBe(printedNode(alice))
        expect(await erl.quit("halt().")).toBe(0)
        expect(await a.quit()).toBe(0)
      } finally {
        pki.remove()
      }
    }
  )
})
