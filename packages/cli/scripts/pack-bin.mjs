// After `build-utils pack-v2`: the published package's executable. In the repository
// `bin/effect-otp.mjs` runs the TypeScript sources through tsx; the packed `dist/` gets
// this file instead, which runs the compiled `dist/esm/bin.js` with plain node.
import * as fs from "node:fs"

fs.mkdirSync("dist/bin", { recursive: true })
fs.writeFileSync("dist/bin/effect-otp.mjs", "#!/usr/bin/env node\nimport \"../dist/esm/bin.js\"\n", { mode: 0o755 })
