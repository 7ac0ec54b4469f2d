import { defineConfig } from "vitest/config"
import projects from "./vitest.workspace.js"

export default defineConfig({
  test: {
    projects,
    // starts the system epmd (when Erlang is installed) before any test starts a node
    globalSetup: ["./scripts/vitest-epmd.ts"]
  }
})
