/**
 * vitest sequencer: the longest test files start first, so that on a fresh clone (no
 * vitest results cache) the slow ones do not start last and leave one worker running
 * alone at the end of the run.
 *
 * The order: files that failed last time, then by duration, longest first. A file's
 * duration is the one vitest measured last time (its results cache) or, without it,
 * the expected one in `EXPECTED` (seconds on a quiet 2-core machine); files known to
 * neither go last, larger first.
 */
import { relative, sep } from "node:path"
import type { TestSpecification } from "vitest/node"
import { BaseSequencer } from "vitest/node"

/** Expected seconds of the slow files (`npx vitest run --reporter=json`), keyed by path from the repository root. */
const EXPECTED: Readonly<Record<string, number>> = {
  "packages/cli/test/Pack.test.ts": 120,
  "examples/test/chapter.test.ts": 30,
  "packages/dist/test/TlsErl.test.ts": 20,
  "packages/dist/test/FaultAbuse.test.ts": 18,
  "packages/cli/test/Command.test.ts": 16,
  "packages/cli/test/Distributed.test.ts": 15,
  "examples/test/demo.test.ts": 15,
  "packages/dist/test/Tls.test.ts": 12,
  "packages/cli/test/Shell.test.ts": 11,
  "packages/dist/test/NodeMonitor.test.ts": 11,
  "packages/dist/test/Links.test.ts": 10,
  "packages/dist/test/FaultKill.test.ts": 9,
  "packages/dist/test/FaultPartition.test.ts": 9,
  "packages/cli/test/Remote.test.ts": 7,
  "packages/dist/test/HostileAcceptor.test.ts": 6,
  "packages/dist/test/HostileEpmd.test.ts": 6,
  "packages/dist/test/FaultSimultaneous.test.ts": 6,
  "packages/global/test/Interop.test.ts": 6,
  "packages/dist/test/InteropVolume.test.ts": 6,
  "packages/dist/test/Hidden.test.ts": 5,
  "packages/dist/test/FaultSlowReceiver.test.ts": 5,
  "packages/dist/test/TlsOptions.test.ts": 4,
  "packages/dist/test/InteropEpmd.test.ts": 4,
  "packages/dist/test/InteropPing.test.ts": 4,
  "packages/process/test/Process.test.ts": 4,
  "packages/dist/test/InteropPids.test.ts": 3,
  "packages/dist/test/EtfFuzz.test.ts": 3,
  "packages/dist/test/Rpc.test.ts": 3,
  "packages/dist/test/HostileEtf.test.ts": 3
}

export default class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: Array<TestSpecification>): Promise<Array<TestSpecification>> {
    const { cache, config } = this.ctx
    const info = (spec: TestSpecification) => {
      const rel = relative(config.root, spec.moduleId).split(sep).join("/")
      const key = `${spec.project.name}:${rel}`
      const last = cache.getFileTestResults(key)
      const expected = EXPECTED[rel]
      return {
        failed: last?.failed === true,
        ms: last !== undefined && last.duration > 0 ? last.duration : expected !== undefined ? expected * 1000 : -1,
        size: cache.getFileStats(key)?.size ?? 0
      }
    }
    const keyed = files.map((spec) => ({ spec, ...info(spec) }))
    keyed.sort((a, b) => {
      if (a.failed !== b.failed) return a.failed ? -1 : 1
      if (a.ms !== b.ms) return b.ms - a.ms
      return b.size - a.size
    })
    return keyed.map((k) => k.spec)
  }
}
