/**
 * V8 settings for the executable's start-up (`bench/startup.ts` measures it).
 *
 * Start-up runs each module's top level once and allocates mostly short-lived garbage.
 * With V8's defaults this costs memory that an idle node keeps: the young generation
 * doubles at each scavenge that sees many survivors (to 8 MB, 6 MB of it resident), and
 * the optimizing compiler (TurboFan) compiles code that runs once, touching about 4 MB
 * of the node binary's pages. So while the node starts, the young generation keeps its
 * initial size and TurboFan is off; once the node is up (registered in EPMD, rpc and
 * global running), V8's defaults come back, so that a node at work gets both.
 *
 * Only the executable does this (`bin.ts` calls `begin`, the node calls `end` when it is
 * up); a program that imports `Main` keeps its own V8 settings. A flag given on node's
 * command line or in `NODE_OPTIONS` wins: it is never changed here.
 */
import * as v8 from "node:v8"

/** The flags set during start-up, and V8's defaults (`node --v8-options`) restored after it. */
const FLAGS = [
  { name: "turbofan", aliases: ["opt"], boot: "--no-turbofan", after: "--turbofan" },
  {
    name: "semi-space-growth-factor",
    aliases: [],
    boot: "--semi-space-growth-factor=1",
    after: "--semi-space-growth-factor=2"
  }
] as const

/** Whether the user set a flag (V8 accepts `-`/`_` spellings and a `no-` prefix). */
const userSet = (names: ReadonlyArray<string>): boolean => {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)]
    .map((a) => a.replace(/_/g, "-").replace(/^--no-/, "--").replace(/=.*$/, ""))
  return names.some((n) => given.includes(`--${n}`))
}

let active: ReadonlyArray<(typeof FLAGS)[number]> = []

/**
 * Start-up settings on (before the node's modules are loaded).
 *
 * @internal
 */
export const begin = (): void => {
  active = FLAGS.filter((f) => !userSet([f.name, ...f.aliases]))
  for (const f of active) v8.setFlagsFromString(f.boot)
}

/**
 * V8's defaults back (the node is up). Does nothing when `begin` did not run.
 *
 * @internal
 */
export const end = (): void => {
  for (const f of active) v8.setFlagsFromString(f.after)
  active = []
}
