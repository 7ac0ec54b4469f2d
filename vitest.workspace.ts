import type { TestProjectConfiguration } from "vitest/config"

/**
 * The test projects: every package under `packages/` has its own `vitest.config.ts`.
 * Imported by the root `vitest.config.ts` (as `test.projects`), which keeps vitest 3.2
 * from auto-detecting this file and printing its workspace deprecation warning.
 */
export default ["packages/*", "examples"] satisfies Array<TestProjectConfiguration>
