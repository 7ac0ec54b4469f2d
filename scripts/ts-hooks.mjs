/**
 * The module hooks of `scripts/ts-loader.mjs` (registered by it; see there). No Effect here.
 *
 * - resolve: a relative `./x.js` imported by a `.ts` file is `./x.ts` when that exists (the
 *   repository's sources import each other by their `.js` name, as `tsc` wants); everything
 *   else is node's own resolution, untouched (package `exports` already name `src/*.ts`);
 * - load: a `.ts` file is compiled to JavaScript by esbuild (types stripped, nothing else
 *   changed: ES2022 modules run as they are), with an inline source map. The output is kept
 *   in a cache directory under the OS temp directory, named by a hash of the file's path and
 *   text and of esbuild's version, so a file is compiled once while it does not change.
 */
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir, userInfo } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const esbuildVersion = createRequire(import.meta.url)("esbuild/package.json").version
const cacheDir = join(tmpdir(), `effect-otp-ts-${userInfo().uid}`)
mkdirSync(cacheDir, { recursive: true })

/** esbuild, loaded only when a file is not in the cache. */
let esbuild

export async function resolve(specifier, context, nextResolve) {
  const parent = context.parentURL
  if (parent?.startsWith("file:") && parent.endsWith(".ts") && specifier.startsWith(".") && specifier.endsWith(".js")) {
    const url = new URL(`${specifier.slice(0, -3)}.ts`, parent)
    if (existsSync(fileURLToPath(url))) return { url: url.href, format: "module", shortCircuit: true }
  }
  return nextResolve(specifier, context)
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith("file:") || !url.endsWith(".ts")) return nextLoad(url, context)
  const file = fileURLToPath(url)
  const text = readFileSync(file, "utf8")
  const key = createHash("sha256").update(`${esbuildVersion}\0${file}\0${text}`).digest("hex").slice(0, 40)
  const cached = join(cacheDir, `${key}.mjs`)
  if (existsSync(cached)) return { format: "module", source: readFileSync(cached, "utf8"), shortCircuit: true }
  esbuild ??= await import("esbuild")
  const { code } = await esbuild.transform(text, {
    loader: "ts",
    format: "esm",
    target: "node20",
    sourcemap: "inline",
    sourcefile: file
  })
  // atomically: a process reading the cache sees the whole file or none
  const temp = `${cached}.${process.pid}.tmp`
  writeFileSync(temp, code)
  renameSync(temp, cached)
  return { format: "module", source: code, shortCircuit: true }
}
