/**
 * Printing the bench's figures: one table of scenarios, then the ratios with
 * their targets, then the proof that the gate scenarios measured real debits.
 */
import type { LoadResult } from './load'
import { RATIOS, type Scenario } from './scenarios'

const pad = (text: string, width: number) => text.padEnd(width)
const num = (value: number, digits: number, width: number) =>
  (Number.isFinite(value) ? value.toFixed(digits) : '-').padStart(width)

const cores = (result: LoadResult, process: string) =>
  (result.perRequest[process] ?? Number.NaN) * result.requestsPerSecond

/** Cores busy with processes other than ours: workerd, the origins, the load generator (and with --x402 the facilitator and anvil). */
export function otherCores(result: LoadResult): number {
  const ours = Object.keys(result.perRequest).filter((name) => name !== 'machine')
  return ours.reduce((other, name) => other - cores(result, name), cores(result, 'machine'))
}

/** CPU µs per call in these processes (NaN when none was sampled). */
const perCall = (result: LoadResult, ...processes: string[]) => {
  const sampled = processes.filter((name) => result.perRequest[name] !== undefined)
  return sampled.length === 0
    ? Number.NaN
    : sampled.reduce((sum, name) => sum + (result.perRequest[name] as number), 0) * 1e6
}
const micros = (result: LoadResult, ...processes: string[]) =>
  num(perCall(result, ...processes), 0, 9)
/** Both origins: the one a scenario does not use is idle and adds nothing. */
const ORIGINS = ['origin', 'sdk-origin']

export function resultLine(scenario: Scenario, result: LoadResult): string {
  return (
    `${pad(scenario.label, 44)}${num(result.requestsPerSecond, 0, 9)}` +
    `${num(result.p50Ms, 2, 9)}${num(result.p99Ms, 2, 9)}${String(result.errors).padStart(8)}` +
    `${micros(result, 'workerd')}${micros(result, ...ORIGINS)}${micros(result, 'bench')}${micros(result, 'workerd', ...ORIGINS, 'bench')}` +
    // Cores busy machine-wide during the window (near 2: the machine, not the Worker, set the
    // pace), and how much of that was none of ours: another job running disturbs the figures.
    num(cores(result, 'machine'), 2, 7) +
    num(otherCores(result), 2, 7)
  )
}

/** After errors: CPU µs per call in workerd, the origin, the load generator and all three; busy cores, and those not ours. */
export const TABLE_HEAD =
  `${pad('scenario', 44)}${'req/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'errors'.padStart(8)}` +
  `${'wrkd µs'.padStart(9)}${'orig µs'.padStart(9)}${'load µs'.padStart(9)}${'all µs'.padStart(9)}${'cores'.padStart(7)}${'other'.padStart(7)}`

export function printTable(
  ran: Array<{ scenario: Scenario; result: LoadResult }>,
  options: { rows: boolean }
): void {
  if (options.rows) {
    console.log(`\n${TABLE_HEAD}`)
    for (const { scenario, result } of ran) console.log(resultLine(scenario, result))
  }
  console.log(
    '(wrkd/orig/load/all µs: CPU time per call in workerd, in the origin, in the load generator, in all three;'
  )
  console.log(
    ' cores: CPUs busy machine-wide during the window; other: of which not workerd, origin or load generator)'
  )
  const disturbed = ran
    .filter(({ result }) => otherCores(result) > 0.25)
    .map(({ scenario }) => scenario.id)
  if (disturbed.length > 0)
    console.log(
      `WARNING: other processes used > 0.25 cores during: ${disturbed.join(', ')}; rerun those.`
    )
  const kinds = new Map<string, number>()
  for (const { scenario, result } of ran) {
    for (const [kind, count] of result.errorKinds) kinds.set(`${scenario.id}: ${kind}`, count)
  }
  if (kinds.size > 0) {
    console.log('\nerrors (warm-up included):')
    for (const [kind, count] of kinds) console.log(`  ${kind} × ${count}`)
  }
}

/** CPU per call summed over workerd, the origins and the load generator. */
const cpuPerRequest = (result: LoadResult) => perCall(result, 'workerd', ...ORIGINS, 'bench')

const medianOf = (values: number[]) => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b)
  return sorted.length === 0 ? Number.NaN : (sorted[Math.floor((sorted.length - 1) / 2)] as number)
}

/**
 * Ratios of requests/s against their targets, with steadier companions: p50
 * (inverted, so below 1 is slower too) and CPU per call (inverted), of workerd alone
 * (the Workers' own work) and of all processes (the throughput ratio a machine would
 * show where CPU is the only limit and nothing else runs). Each is taken within a
 * round (both scenarios ran minutes apart at most), and the median over rounds is
 * printed, with the range of the req/s ratio when there are several. Returns whether
 * every target was met on requests/s (undefined: none measured); a condition on the
 * bench itself (ratio.bench) is not a target, and is printed as a warning when it fails.
 */
export function printRatios(rounds: Map<string, LoadResult[]>): boolean | undefined {
  const several = [...rounds.values()].some((results) => results.length > 1)
  const head = `${'req/s'.padStart(7)}${several ? 'rounds'.padStart(13) : ''}${'p50'.padStart(7)}${'wrkd'.padStart(7)}${'cpu'.padStart(7)}`
  console.log(`\n${pad('ratio', 58)}${head}   target`)
  let allMet: boolean | undefined
  for (const ratio of RATIOS) {
    const tops = rounds.get(ratio.numerator)
    const bottoms = rounds.get(ratio.denominator)
    if (!tops || !bottoms) continue
    const pairs = tops.flatMap((top, i) =>
      bottoms[i] ? [{ top, bottom: bottoms[i] as LoadResult }] : []
    )
    const each = (f: (top: LoadResult, bottom: LoadResult) => number) =>
      pairs.map(({ top, bottom }) => f(top, bottom))
    const perRound = each((top, bottom) => top.requestsPerSecond / bottom.requestsPerSecond)
    const throughput = medianOf(perRound)
    const latency = medianOf(each((top, bottom) => bottom.p50Ms / top.p50Ms))
    // An origin alone uses workerd for nothing (its few µs a call are workerd idling): no ratio.
    const workerdOf = (result: LoadResult) =>
      perCall(result, 'workerd') >= 20 ? perCall(result, 'workerd') : Number.NaN
    const workerd = medianOf(each((top, bottom) => workerdOf(bottom) / workerdOf(top)))
    const cpu = medianOf(each((top, bottom) => cpuPerRequest(bottom) / cpuPerRequest(top)))
    const range = several
      ? `${Math.min(...perRound).toFixed(2)}–${Math.max(...perRound).toFixed(2)}`.padStart(13)
      : ''
    let verdict = ''
    if (ratio.target !== undefined && ratio.bench) {
      const met = throughput >= ratio.target
      verdict = `≥ ${ratio.target.toFixed(2)}  ${met ? 'ok' : 'TOO SLOW: the origin bounds the floors, so every ratio is pushed toward 1'}`
    } else if (ratio.target !== undefined) {
      const met = throughput >= ratio.target
      allMet = (allMet ?? true) && met
      verdict = `≥ ${ratio.target.toFixed(2)}  ${met ? 'PASS' : 'MISS'}${met === cpu >= ratio.target ? '' : ` (cpu: ${cpu >= ratio.target ? 'pass' : 'miss'})`}`
    }
    console.log(
      `${pad(ratio.label, 58)}${num(throughput, 3, 7)}${range}${num(latency, 3, 7)}${num(workerd, 3, 7)}${num(cpu, 3, 7)}   ${verdict}`
    )
  }
  console.log(
    '(each ratio taken within a round, median over rounds; rounds: range of the req/s ratio over them;'
  )
  console.log(
    ' p50: denominator ÷ numerator, so below 1 is slower, like req/s; wrkd, cpu: CPU per call of workerd,'
  )
  console.log(' of all processes, likewise)')
  return allMet
}

export interface ChargeCheck {
  label: string
  charged: number
  succeeded: number
  /** Calls sent that the load generator stopped waiting for: the gate may have served and charged them. */
  unanswered?: number
}

export function printCharges(checks: ChargeCheck[]): boolean {
  if (checks.length === 0) return true
  console.log(
    '\ncharged by the gate (read back via GET /admin/keys/:id) vs successful calls counted here:'
  )
  let allMatch = true
  for (const check of checks) {
    const unanswered = check.unanswered ?? 0
    // A call whose answer was on its way when wrk stopped may be charged: it was served.
    const match = check.charged >= check.succeeded && check.charged <= check.succeeded + unanswered
    allMatch &&= match
    const leftOver =
      unanswered > 0
        ? `, unanswered when the load stopped ${unanswered} (charged ${check.charged - check.succeeded} of them)`
        : ''
    console.log(
      `  ${pad(check.label, 28)} charged ${check.charged}, succeeded ${check.succeeded}${leftOver}  ${match ? 'MATCH' : 'MISMATCH'}`
    )
  }
  return allMatch
}
