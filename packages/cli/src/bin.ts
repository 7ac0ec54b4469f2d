#!/usr/bin/env node
/**
 * The `effect-otp` executable (run with tsx in development: `npx effect-otp`).
 *
 * @since 0.1.0
 */
import { main } from "./Main.js"

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`effect-otp: ${e instanceof Error ? e.message : String(e)}\n`)
    process.exit(1)
  }
)
