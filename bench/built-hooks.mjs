// Resolve hook for bench/built.mjs: `@effect-otp/<pkg>` and `@effect-otp/<pkg>/<Module>` go to
// packages/<pkg>/build/esm/{index,<Module>}.js.
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")

export async function resolve(specifier, context, next) {
  if (specifier.startsWith("@effect-otp/")) {
    const [, pkg, ...rest] = specifier.split("/")
    const module = rest.length === 0 ? "index" : rest.join("/")
    return next(pathToFileURL(Path.join(root, "packages", pkg, "build", "esm", `${module}.js`)).href, context)
  }
  return next(specifier, context)
}
