/**
 * The reliability suite's closing report (a vitest reporter, in Node). Each
 * scenario (test) leaves its counts in its meta (harness.ts Tally); this adds
 * them up, prints one line per file and the summary, and makes the run exit
 * non-zero on any violation. A test that failed without recording a violation
 * (it threw) counts as one, so the number printed never hides a failure.
 */
import { availableParallelism, loadavg } from 'node:os'
import type { Reporter, TestModule } from 'vitest/node'
import type { Counts } from './counts'
import { propertySettings } from './seed'

const sum = (counts: Counts[], field: 'calls' | 'faults' | 'invariants') =>
  counts.reduce((total, c) => total + c[field], 0)
const timedOut = (counts: Counts[]) => counts.reduce((total, c) => total + (c.timedOut ?? 0), 0)

export default class ReliabilityReport implements Reporter {
  private started = Date.now()
  /** The 1-min load average, sampled every 5 s while the suite runs, for the report's load line. */
  private loads: number[] = []
  private sampler: ReturnType<typeof setInterval> | undefined

  onTestRunStart(): void {
    this.started = Date.now()
    this.loads = [loadavg()[0] ?? 0]
    this.sampler = setInterval(() => this.loads.push(loadavg()[0] ?? 0), 5_000)
    this.sampler.unref()
  }

  onTestRunEnd(
    modules: ReadonlyArray<TestModule>,
    unhandled: ReadonlyArray<{ message?: string }>
  ): void {
    clearInterval(this.sampler)
    this.loads.push(loadavg()[0] ?? 0)
    const all: Counts[] = []
    const lines: string[] = []
    // A file that failed to load, or an error no test caught, is a violation too.
    const violations: string[] = unhandled.map(
      (error) => `unhandled error: ${error.message ?? 'unknown'}`
    )
    for (const module of modules) {
      const counts: Counts[] = []
      for (const error of module.errors())
        violations.push(`${module.moduleId}: ${error.message.split('\n')[0]}`)
      for (const test of module.children.allTests()) {
        const recorded = test.meta().reliability
        const failed = test.result().state === 'failed'
        if (recorded) counts.push(recorded)
        for (const violation of recorded?.violations ?? [])
          violations.push(`${test.fullName}: ${violation}`)
        if (failed && !recorded?.violations.length) {
          const why = test.result().errors?.[0]?.message ?? 'failed'
          violations.push(`${test.fullName}: ${why.split('\n')[0]}`)
        }
      }
      all.push(...counts)
      lines.push(
        `  ${module.moduleId.replace(/^.*\/test\/reliability\//, '')}: ${counts.length} scenarios, ${sum(counts, 'calls')} calls, ` +
          `${sum(counts, 'faults')} faults, ${sum(counts, 'invariants')} invariants` +
          (timedOut(counts) > 0 ? `, ${timedOut(counts)} decided by a timeout` : '')
      )
    }
    const seconds = ((Date.now() - this.started) / 1000).toFixed(1)
    const out = [
      '',
      'pay-gate reliability report',
      ...lines,
      `  property seed: ${seedLine()}`,
      `  load: ${loadLine(this.loads)}`,
      `  scenarios run: ${all.length}`,
      `  calls made: ${sum(all, 'calls')}`,
      `  faults injected: ${sum(all, 'faults')}`,
      `  invariants checked: ${sum(all, 'invariants')}`,
      `  ledger charges and x402 settlements matched to one usage event each: ${all.reduce((total, c) => total + (c.usageMatched ?? 0), 0)}`,
      `  calls a timeout decided (under load; accepted as the timeout's own outcome): ${timedOut(all)}`,
      `  violations: ${violations.length}`,
      ...violations.map((violation) => `    - ${violation}`),
      `  (${seconds} s)`,
      '',
    ]
    process.stdout.write(`${out.join('\n')}\n`)
    if (violations.length > 0) process.exitCode = 1
  }
}

function seedLine(): string {
  const { seed, source, scale } = propertySettings()
  const from = source === 'commit' ? 'from the commit' : source === 'random' ? 'random' : 'given'
  return `${seed} (${from}; replay with PAY_GATE_FC_SEED=${seed})${scale > 1 ? `, runs x${scale}` : ''}`
}

/** The contention the run was started with (scripts/reliability.ts) and the machine's load while it ran. */
function loadLine(loads: number[]): string {
  const contention = Number(process.env.RELIABILITY_CONTENTION ?? '0') || 0
  const busy =
    contention > 0
      ? `${contention} CPU-bound processes beside the suite (--contention ${contention})`
      : 'no extra contention'
  const mean = loads.reduce((total, load) => total + load, 0) / Math.max(1, loads.length)
  return `${busy}; ${availableParallelism()} cores, 1-min load average ${mean.toFixed(1)} on average while it ran (${Math.min(...loads).toFixed(1)} to ${Math.max(...loads).toFixed(1)})`
}
