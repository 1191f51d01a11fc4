/**
 * The seed of the suite's property-based inputs (fast-check), chosen in Node at
 * config time and handed to the tests as a binding, so the report can print it.
 *
 * - `PAY_GATE_FC_SEED=<n>` replays a run exactly (the report prints the seed).
 * - Otherwise, in a git checkout, the seed comes from the commit: a commit's run
 *   is the same wherever it runs (a green rehearsal predicts CI), while each new
 *   commit explores inputs no earlier one tried.
 * - Otherwise it is random.
 *
 * `PAY_GATE_FC_SCALE=<n>` multiplies every property's number of runs, for a long
 * soak on a workstation; each property still stops after its time limit.
 */
import { execFileSync } from 'node:child_process'

export interface PropertySettings {
  seed: number
  /** Where the seed came from, for the report. */
  source: 'PAY_GATE_FC_SEED' | 'commit' | 'random'
  scale: number
}

function commitSeed(): number | undefined {
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim()
    return /^[0-9a-f]{40}$/.test(head) ? Number.parseInt(head.slice(0, 8), 16) | 0 : undefined
  } catch {
    return undefined
  }
}

let settings: PropertySettings | undefined

export function propertySettings(): PropertySettings {
  if (settings) return settings
  const scale = Math.max(1, Math.floor(Number(process.env.PAY_GATE_FC_SCALE ?? '1')) || 1)
  const given = process.env.PAY_GATE_FC_SEED
  if (given !== undefined && /^-?\d+$/.test(given.trim())) {
    settings = { seed: Number(given) | 0, source: 'PAY_GATE_FC_SEED', scale }
  } else {
    const fromCommit = commitSeed()
    settings =
      fromCommit === undefined
        ? { seed: (Math.random() * 2 ** 32) | 0, source: 'random', scale }
        : { seed: fromCommit, source: 'commit', scale }
  }
  return settings
}
