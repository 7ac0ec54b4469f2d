import * as Rpc from "@effect-otp/dist/Rpc"
import * as Term from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import { rpcResult } from "../src/internal/helpers.js"

const node = Term.atom("e@box")
const show = (e: ConstructorParameters<typeof Rpc.RpcError>[0]) => Term.format(rpcResult(new Rpc.RpcError(e)))

describe("Helpers.rpcResult: rpc:call's mapping of erpc's failures", () => {
  it("throw returns the value; exit and error are {badrpc, {'EXIT', ...}}", () => {
    expect(show({ reason: "Throw", node, value: Term.atom("x") })).toBe("x")
    expect(show({ reason: "Throw", node, value: Term.tuple(Term.atom("EXIT"), Term.atom("x")) })).toBe(
      "{badrpc,{'EXIT',x}}"
    )
    expect(show({ reason: "Exit", node, value: Term.atom("bye") })).toBe("{badrpc,{'EXIT',bye}}")
    const stack = [Term.tuple(Term.atom("m"), Term.atom("f"), 0, [])]
    expect(show({ reason: "Error", node, value: Term.atom("undef"), stacktrace: stack })).toBe(
      "{badrpc,{'EXIT',{undef,[{m,f,0,[]}]}}}"
    )
  })

  it("no connection is nodedown, a timeout is timeout", () => {
    expect(show({ reason: "NoConnection", node })).toBe("{badrpc,nodedown}")
    expect(show({ reason: "Timeout", node })).toBe("{badrpc,timeout}")
    expect(show({ reason: "SpawnFailed", node, value: Term.atom("notsup") })).toBe("{badrpc,{'EXIT',notsup}}")
  })
})
