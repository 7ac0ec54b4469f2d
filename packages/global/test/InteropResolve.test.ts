/**
 * Resolve methods that erl registers, against a TS node, compared with an all-erl cluster
 * in the same run. Three nodes: a (erl), m (TS; erl for the comparison) and z (erl).
 * a and m form one partition, z is alone. a registers, for three pids on m:
 * - `dup` with a custom erl fun (an `erl_eval` closure our node cannot run) that keeps
 *   the pid *not* on m (so not the default's choice) and kills the other;
 * - `keep` with the same fun (no conflict: its term travels through m to z);
 * - `dup2` with `fun global:notify_all_name/3`.
 * z registers `dup` and `dup2` for its own pids. Then m dials z; m, the smaller of the
 * two, resolves with its partition's entries' methods: the custom fun is forwarded to
 * the BEAM node that created it (a) as `global:resolve_it/4`, `notify_all_name` runs on m.
 * Outcome, as in the all-erl cluster: `dup` is z's pid everywhere and m's pid was killed;
 * `dup2` is gone and both pids got `{global_name_conflict, dup2, Other}`; z holds `keep`'s
 * fun byte for byte (same `term_to_binary` as a's).
 */
import * as NetKernel from "@effect-otp/dist/NetKernel"
import * as Process from "@effect-otp/process/Process"
import { ProcessRuntime } from "@effect-otp/process/ProcessRuntime"
import * as T from "@effect-otp/process/Term"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { erlAvailable, startErlScoped, uniqueName } from "../../dist/test/helpers/erl.js"
import { printed } from "../../dist/test/helpers/tsnode.js"
import * as GlobalRegistry from "../src/GlobalRegistry.js"
import { globalNode } from "./helpers.js"

const lines = (out: string): Record<string, string> =>
  Object.fromEntries(
    out.split("\n").filter((l) => l.includes("=")).map((l) => {
      const i = l.indexOf("=")
      return [l.slice(0, i), l.slice(i + 1)]
    })
  )

const hex = `Hex = fun(B) -> lists:flatten([io_lib:format("~2.16.0b", [X]) || <<X>> <= B]) end,`

/** a: m dials it and sends {pids, Dup, Keep, Dup2}; it registers the three names for them. */
const aScript = (m: string) => `
${hex}
register(ctl, self()), M = '${m}', Me = node(),
io:format("ready~n"),
receive {pids, Dup, Keep, Dup2} -> ok end,
true = lists:member(M, nodes()), ok = global:sync(),
Custom = fun(_Name, P1, P2) ->
  {ctl, Me} ! {custom_ran, node()},
  [Win] = [P || P <- [P1, P2], node(P) =/= M],
  [Lose] = [P1, P2] -- [Win],
  exit(Lose, kill),
  Win
end,
yes = global:register_name(dup, Dup, Custom),
yes = global:register_name(keep, Keep, Custom),
yes = global:register_name(dup2, Dup2, fun global:notify_all_name/3),
io:format("custom_md5=~s~n", [Hex(erlang:md5(term_to_binary(Custom)))]),
io:format("registered~n"),
{ctl, M} ! registered_all,
receive {custom_ran, Where} -> io:format("custom_ran=~p~n", [Where]) after 30000 -> io:format("custom_ran=none~n") end,
receive stop -> ok end.`

/** z: alone, registers dup and dup2; after m has met it, reports what it sees. */
const zScript = `
${hex}
register(ctl, self()), Ctl = self(),
Pz = spawn(fun() -> receive _ -> ok end end),
Pz2 = spawn(fun() -> receive Msg -> Ctl ! {pz2_got, Msg} end end),
yes = global:register_name(dup, Pz), yes = global:register_name(dup2, Pz2),
io:format("ready~n"),
receive {pz2_got, Msg} -> io:format("pz2_got=~p~n", [Msg =:= {global_name_conflict, dup2, element(3, Msg)}]) after 30000 -> io:format("pz2_got=none~n") end,
ok = global:sync(),
[{keep, _, KM, _}] = ets:lookup(global_names, keep),
io:format("keep_md5=~s~n", [Hex(erlang:md5(term_to_binary(KM)))]),
io:format("dup_is_z=~p~n", [global:whereis_name(dup) =:= Pz]),
io:format("pz_alive=~p~n", [is_process_alive(Pz)]),
io:format("dup2=~p~n", [global:whereis_name(dup2)]),
io:format("done~n"),
receive stop -> ok end.`

/** m as an erl node (the all-erl comparison): the three pids, sent to a; then it dials z and reports. */
const mScript = (a: string, z: string) => `
register(ctl, self()), Ctl = self(),
Dup = spawn(fun() -> receive _ -> ok end end),
Keep = spawn(fun() -> receive _ -> ok end end),
Dup2 = spawn(fun() -> receive Msg -> Ctl ! {dup2_got, Msg} end end),
true = net_kernel:connect_node('${a}'), ok = global:sync(),
{ctl, '${a}'} ! {pids, Dup, Keep, Dup2},
io:format("ready~n"),
receive registered_all -> ok end,
true = net_kernel:connect_node('${z}'), ok = global:sync(),
receive {dup2_got, Msg} -> io:format("dup2_got=~p~n", [element(1, Msg)]) after 30000 -> io:format("dup2_got=none~n") end,
io:format("dup_alive=~p~n", [is_process_alive(Dup)]),
io:format("dup_node=~p~n", [node(global:whereis_name(dup))]),
io:format("dup2=~p~n", [global:whereis_name(dup2)]),
io:format("done~n"),
receive stop -> ok end.`

describe.skipIf(!erlAvailable())("resolve methods erl registers, against TS and against all-erl", () => {
  it.scopedLive("custom erl fun (forwarded to its BEAM node), notify_all_name, funs kept byte for byte", () =>
    Effect.gen(function*() {
      const cookie = uniqueName("c")
      const ctx = yield* Layer.build(globalNode(uniqueName("m"), cookie))
      const ts = Effect.gen(function*() {
        const rt = yield* ProcessRuntime
        const host = rt.node.name.split("@")[1]!
        const [aName, zName] = [uniqueName("a"), uniqueName("z")]
        const zNode = `${zName}@${host}`
        const z = yield* startErlScoped({
          args: ["-sname", zName, "-setcookie", cookie],
          eval: zScript,
          ready: "ready"
        })
        const a = yield* startErlScoped({
          args: ["-sname", aName, "-setcookie", cookie],
          eval: aScript(rt.node.name),
          ready: "ready"
        })
        const dup = yield* Process.spawn(Process.receive())
        const keep = yield* Process.spawn(Process.receive())
        const dup2Got = yield* Deferred.make<T.Term>()
        const dup2 = yield* Process.spawn(
          Effect.flatMap(Process.receive(), (m) => Deferred.succeed(dup2Got, m as T.Term))
        )
        yield* Process.send(
          T.tuple(T.atom("ctl"), T.atom(`${aName}@${host}`)),
          T.tuple(T.atom("pids"), dup, keep, dup2)
        )
        const ra = lines(yield* Effect.promise(() => a.waitFor("registered")))
        yield* GlobalRegistry.sync
        yield* NetKernel.connect(zNode)
        yield* GlobalRegistry.sync
        const rz = lines(yield* Effect.promise(() => z.waitFor("done")))
        const ra2 = lines(yield* Effect.promise(() => a.waitFor(/custom_ran=\S+\n/)))
        const got = yield* Deferred.await(dup2Got)
        return {
          customRanOn: ra2.custom_ran,
          aMd5: ra.custom_md5,
          zMd5: rz.keep_md5,
          dupIsZ: rz.dup_is_z,
          pzAlive: rz.pz_alive,
          zDup2: rz.dup2,
          pz2Got: rz.pz2_got,
          mDup2Got: T.isTagged(got, "global_name_conflict", 3) ? "global_name_conflict" : T.format(got),
          mDupAlive: String(yield* Process.isAlive(dup)),
          mDupNode: Option.match(yield* GlobalRegistry.whereisName("dup"), {
            onNone: () => "undefined",
            onSome: (p) => p.node.name
          }),
          mDup2: Option.isNone(yield* GlobalRegistry.whereisName("dup2")) ? "undefined" : "defined",
          aNode: `${aName}@${host}`,
          zNode
        }
      }).pipe(Effect.provide(ctx))
      const ours = yield* ts

      // the same scenario with m an erl node
      const [aName, mName, zName] = [uniqueName("a"), uniqueName("m"), uniqueName("z")]
      const host = ours.zNode.split("@")[1]!
      const erlCookie = uniqueName("c")
      const z = yield* startErlScoped({
        args: ["-sname", zName, "-setcookie", erlCookie],
        eval: zScript,
        ready: "ready"
      })
      const a = yield* startErlScoped({
        args: ["-sname", aName, "-setcookie", erlCookie],
        eval: aScript(`${mName}@${host}`),
        ready: "ready"
      })
      const m = yield* startErlScoped({
        args: ["-sname", mName, "-setcookie", erlCookie],
        eval: mScript(`${aName}@${host}`, `${zName}@${host}`),
        ready: "ready"
      })
      const rm = lines(yield* Effect.promise(() => m.waitFor("done")))
      const rz = lines(yield* Effect.promise(() => z.waitFor("done")))
      const ra = lines(yield* Effect.promise(() => a.waitFor(/custom_ran=\S+\n/)))
      const mNode = `${mName}@${host}`
      // all-erl: m itself runs the fun (resolve_it on node(Pid2)); the outcome is the same
      expect(ra.custom_ran).toBe(printed(mNode))
      expect(rz.keep_md5).toBe(ra.custom_md5)
      expect([rz.dup_is_z, rz.pz_alive, rm.dup_alive, rm.dup_node]).toEqual([
        "true",
        "true",
        "false",
        printed(`${zName}@${host}`)
      ])
      expect([rz.dup2, rz.pz2_got, rm.dup2_got, rm.dup2]).toEqual([
        "undefined",
        "true",
        "global_name_conflict",
        "undefined"
      ])

      // ours: the same outcome
      expect(ours.customRanOn).toBe(printed(ours.aNode)) // forwarded to the BEAM node that made the fun
      expect(ours.zMd5).toBe(ours.aMd5) // the fun's term, byte for byte, through the TS node
      expect([ours.dupIsZ, ours.pzAlive, ours.mDupAlive, ours.mDupNode]).toEqual(["true", "true", "false", ours.zNode])
      expect([ours.zDup2, ours.pz2Got, ours.mDup2Got, ours.mDup2]).toEqual([
        "undefined",
        "true",
        "global_name_conflict",
        "undefined"
      ])
    }))
})
