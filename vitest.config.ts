import { defineConfig } from "vitest/config"
import SlowFirstSequencer from "./scripts/vitest-sequencer.js"
import projects from "./vitest.workspace.js"

export default defineConfig({
  test: {
    projects,
    // starts the system epmd (when Erlang is installed) before any test starts a node;
    // a directory for the run's erlc output (each Erlang module compiled once per run)
    globalSetup: ["./scripts/vitest-epmd.ts", "./scripts/vitest-erlc-cache.ts"],
    // the longest files first (Pack.test builds and installs the packages), then the rest
    sequence: { sequencer: SlowFirstSequencer },
    // most test time is spent waiting on other OS processes (erl, TS nodes, npm), not on
    // this one's CPU: on 2 cores vitest's default (cores - 1 = one file at a time) runs serially
    maxWorkers: 3,
    minWorkers: 1
  }
})
