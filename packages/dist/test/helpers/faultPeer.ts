/**
 * A TS node as its own OS process, for the fault tests (`kill -9`):
 *
 *     npx tsx packages/dist/test/helpers/faultPeer.ts <name> <cookie>
 *
 * It starts a visible DistNode with `Rpc` and a published module `fault` whose `hang/1`
 * never returns, registers `keeper` (`{From, whoami}` -> `From ! {keeper, self()}`),
 * and prints `@@ready <node> port=<dist port>`. It runs until killed or until stdin closes.
 */
import * as Process from "@effect-otp/process/Process"
import * as ProcessRuntime from "@effect-otp/process/ProcessRuntime"
import { Atom, Pid, Tuple, tuple } from "@effect-otp/process/Term"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as DistNode from "../../src/DistNode.js"
import * as Module from "../../src/Module.js"
import * as NetKernel from "../../src/NetKernel.js"
import * as Rpc from "../../src/Rpc.js"

const [name, cookie] = process.argv.slice(2)
if (name === undefined || cookie === undefined) {
  process.stderr.write("usage: faultPeer.ts <name> <cookie>\n")
  process.exit(2)
}

const fault = Module.make("fault", {
  hang: Module.fn(
    { args: Schema.Tuple(Module.Term), result: Module.Term },
    (notify) => Effect.zipRight(Effect.ignore(Process.send(notify as Pid, Atom.make("started"))), Effect.never)
  )
})

const keeper = Effect.forever(
  Effect.flatMap(Process.receive(), (m) =>
    m instanceof Tuple && m.elements.length === 2 && m.elements[0] instanceof Pid
      ? Effect.flatMap(Process.self, (self) =>
        Effect.ignore(Process.send(m.elements[0] as Pid, tuple(Atom.make("keeper"), self))))
      : Effect.void)
)

// visible, without OTP's global (dist cannot depend on it; these peers' erl never calls global:sync())
const withoutGlobal = Layer.succeed(DistNode.NameServer, { start: Effect.void })

const layer = Rpc.layerPublish(fault).pipe(
  Layer.provideMerge(DistNode.layerDefault({ name, cookie, hidden: false }).pipe(Layer.provide(withoutGlobal))),
  Layer.provideMerge(ProcessRuntime.layer)
)

const main = Effect.gen(function*() {
  yield* Process.spawn(keeper, { name: "keeper" })
  const kernel = yield* NetKernel.NetKernel
  process.stdout.write(`@@ready ${kernel.node.name} port=${kernel.port}\n`)
  yield* Effect.async<void>((resume) => {
    process.stdin.on("end", () => resume(Effect.void))
    process.stdin.resume()
  })
})

Effect.runPromise(Effect.scoped(Effect.flatMap(Layer.build(layer), (ctx) => Effect.provide(main, ctx)))).then(
  () => process.exit(0),
  (e) => {
    process.stdout.write(`@@error ${String(e)}\n`)
    process.exit(2)
  }
)
