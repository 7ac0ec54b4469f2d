// Runs a benchmark on the compiled packages (tsc's output in packages/*/build/esm), as a user of the
// published @effect-otp/* packages runs them, instead of on the TypeScript sources through tsx.
import { register } from "node:module"

register("./built-hooks.mjs", import.meta.url)
