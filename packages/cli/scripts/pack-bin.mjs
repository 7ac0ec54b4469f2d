// After `build-utils pack-v2`: the published package's executable, `dist/bin/effect-otp.mjs`.
//
// The executable is an application, so it is one bundle of its own dependency graph (the
// effect-otp packages, effect, and for `--help` and bad command lines @effect/cli and
// @effect/platform-node), built from the TypeScript sources with esbuild. Node then loads
// a few files instead of ~550 ES modules, which is most of start-up (bench/startup.ts).
// What only some runs need (@effect/cli, the REPL) stays in chunks under
// `dist/bin/chunks/`, loaded by the same dynamic `import()`s as in the sources.
//
// The library modules (`dist/dist/esm`, what `import "@effect-otp/cli/Main"` loads) are
// not bundled: they take effect and @effect/* as peers, so an application has one copy of
// effect. The executable runs alone in its own node process, so its copy of effect is
// the only one there, and the shell's scope (Effect, Schema, Process, Term, ...) comes from it.
import * as esbuild from "esbuild"
import * as fs from "node:fs"

fs.rmSync("dist/bin", { recursive: true, force: true })
await esbuild.build({
  entryPoints: { "effect-otp": "src/bin.ts" },
  outdir: "dist/bin",
  outExtension: { ".js": ".mjs" },
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // smaller source is less to parse at every start
  minify: true,
  logLevel: "warning"
})
fs.chmodSync("dist/bin/effect-otp.mjs", 0o755)
