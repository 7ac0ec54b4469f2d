/**
 * A TypeScript loader for the OS processes the tests start (TS nodes, the examples, fault
 * peers): `node --import <this file> file.ts`. It does what `tsx` does for this repository's
 * sources (ES modules whose relative imports name `.js`; see `./ts-hooks.mjs`) and no more:
 * every module that is not a `.ts` file, all of effect's included, loads through node's own
 * resolver and loader. Loading a TS node with it costs about half the CPU time it costs with
 * `tsx` (1.6 instead of 3.1 CPU-s on the test machine), and the tests start dozens of them.
 *
 * A process started with it passes it on to the TS processes it starts with
 * `process.execArgv`, as with `tsx`. The `npm run` scripts keep using `tsx`.
 */
import { register } from "node:module"

// as tsx does: stack traces point into the TypeScript sources
process.setSourceMapsEnabled(true)
register("./ts-hooks.mjs", import.meta.url)
