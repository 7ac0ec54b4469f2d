import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    include: ["test/**/*.test.ts"],
    // the demo test runs `npx tsx examples/src/demo.ts` (a dozen seconds, more on a busy machine)
    testTimeout: 120_000,
    hookTimeout: 60_000
  }
})
