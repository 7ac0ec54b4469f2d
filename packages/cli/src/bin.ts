#!/usr/bin/env node
/**
 * The `effect-otp` executable (run with tsx in development: `npx effect-otp`; published
 * as one bundle, see `scripts/pack-bin.mjs`).
 *
 * @since 0.1.0
 */
import * as Boot from "./internal/boot.js"

// before the node's modules load: their top-level code is part of start-up
Boot.begin()
const { main } = await import("./Main.js")

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`effect-otp: ${e instanceof Error ? e.message : String(e)}\n`)
    process.exit(1)
  }
)
