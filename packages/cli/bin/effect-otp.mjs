#!/usr/bin/env node
// Development entry point: the package's sources are TypeScript, so register tsx first.
import { register } from "tsx/esm/api"

register()
await import("../src/bin.ts")
