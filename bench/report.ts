/**
 * Printing the bench's figures: one table of scenarios, then the ratios with
 * their targets, then the proof that the gate scenarios measured real debits.
 */
import type { LoadResult } from './load'
import { RATIOS, type Scenario } from './scenarios'

const pad = (text: string, width: number) => text.padEnd(width)
const num = (value: number, digits: number, width: number) =>
  (Number.isFinite(value) ? value.toFixed(digits) : '-').padStart(width)

const cores = (result: LoadResult, process: string) => (result.perRequest[process] ?? Number.NaN) * result.requestsPerSecond

/** Cores busy with processes other than ours: workerd, the origin, the bench (and with --x402 the facilitator and anvil). */
export function otherCores(result: LoadResult): number {
  const ours = Object.keys(result.perRequest).filter((name) => name !== 'machine')
  return ours.reduce((other, name) => other - cores(result, name), cores(result, 'machine'))
}

const micros = (result: LoadResult, process: string) => num((result.perRequest[process] ?? Number.NaN) * 1e6, 0, 9)

export function resultLine(scenario: Scenario, result: LoadResult): string {
  return (
    `${pad(scenario.label, 44)}${num(result.requestsPerSecond, 0, 9)}` +
    `${num(result.p50Ms, 2, 9)}${num(result.p99Ms, 2, 9)}${String(result.errors).padStart(8)}` +
    `${micros(result, 'workerd')}${micros(result, 'origin')}${micros(result, 'bench')}` +
    // Cores busy machine-wide during the window (near 2: the machine, not the Worker, set the
    // pace), and how much of that was none of ours: another job running disturbs the figures.
    num(cores(result, 'machine'), 2, 7) +
    num(otherCores(result), 2, 7)
  )
}

/** After errors: CPU µs per request in workerd, the origin and the load generator; busy cores, and those not ours. */
export const TABLE_HEAD =
  `${pad('scenario', 44)}${'req/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'errors'.padStart(8)}` +
  `${'wrkd µs'.padStart(9)}${'orig µs'.padStart(9)}${'load µs'.padStart(9)}${'cores'.padStart(7)}${'other'.padStart(7)}`

export function printTable(ran: Array<{ scenario: Scenario; result: LoadResult }>, options: { rows: boolean }): void {
  if (options.rows) {
    console.log(`\n${TABLE_HEAD}`)
    for (const { scenario, result } of ran) console.log(resultLine(scenario, result))
  }
  console.log('(wrkd/orig/load µs: CPU time per request in workerd, in the origin, in this load generator;')
  console.log(' cores: CPUs busy machine-wide during the window; other: of which not workerd, origin or bench)')
  const disturbed = ran.filter(({ result }) => otherCores(result) > 0.25).map(({ scenario }) => scenario.id)
  if (disturbed.length > 0) console.log(`WARNING: other processes used > 0.25 cores during: ${disturbed.join(', ')}; rerun those.`)
  const kinds = new Map<string, number>()
  for (const { scenario, result } of ran) {
    for (const [kind, count] of result.errorKinds) kinds.set(`${scenario.id}: ${kind}`, count)
  }
  if (kinds.size > 0) {
    console.log('\nerrors (warm-up included):')
    for (const [kind, count] of kinds) console.log(`  ${kind} × ${count}`)
  }
}

/** CPU per request summed over workerd, the origin and the load generator. */
const cpuPerRequest = (result: LoadResult) =>
  (result.perRequest.workerd ?? Number.NaN) + (result.perRequest.origin ?? Number.NaN) + (result.perRequest.bench ?? Number.NaN)

/**
 * Ratios of requests/s against their targets, with two steadier companions: p50
 * (inverted, so below 1 is slower too) and CPU per request (inverted): the
 * throughput ratio a machine would show where CPU is the only limit and nothing
 * else runs. Returns whether every target was met on requests/s (undefined: none measured).
 */
export function printRatios(results: Map<string, LoadResult>): boolean | undefined {
  console.log(`\n${pad('ratio', 58)}${'req/s'.padStart(7)}${'p50'.padStart(7)}${'cpu'.padStart(7)}   target`)
  let allMet: boolean | undefined
  for (const ratio of RATIOS) {
    const top = results.get(ratio.numerator)
    const bottom = results.get(ratio.denominator)
    if (!top || !bottom) continue
    const throughput = top.requestsPerSecond / bottom.requestsPerSecond
    const latency = bottom.p50Ms / top.p50Ms
    const cpu = cpuPerRequest(bottom) / cpuPerRequest(top)
    let verdict = ''
    if (ratio.target !== undefined) {
      const met = throughput >= ratio.target
      allMet = (allMet ?? true) && met
      verdict = `≥ ${ratio.target.toFixed(2)}  ${met ? 'PASS' : 'MISS'}${met === cpu >= ratio.target ? '' : ` (cpu: ${cpu >= ratio.target ? 'pass' : 'miss'})`}`
    }
    console.log(`${pad(ratio.label, 58)}${num(throughput, 3, 7)}${num(latency, 3, 7)}${num(cpu, 3, 7)}   ${verdict}`)
  }
  console.log('(p50: denominator ÷ numerator, so below 1 is slower, like req/s; cpu: CPU per request, all processes, likewise)')
  return allMet
}

export interface ChargeCheck {
  label: string
  charged: number
  succeeded: number
}

export function printCharges(checks: ChargeCheck[]): boolean {
  if (checks.length === 0) return true
  console.log('\ncharged by the gate (read back via GET /admin/keys/:id) vs successful calls counted here:')
  let allMatch = true
  for (const check of checks) {
    const match = check.charged === check.succeeded
    allMatch &&= match
    console.log(`  ${pad(check.label, 28)} charged ${check.charged}, succeeded ${check.succeeded}  ${match ? 'MATCH' : 'MISMATCH'}`)
  }
  return allMatch
}
