/**
 * The x402 scenarios (`npm run bench -- --x402`): one priced plain HTTP route,
 * GET /api/health on the demo origin, paid per call with x402 through the local
 * facilitator; the same route paid with credits, and the origin alone, for
 * comparison. All at one modest concurrency: the facilitator settles on anvil one
 * broadcast at a time, so it sets the pace. The figure that matters is the per-call
 * breakdown, from the gate's Server-Timing: gate own = e2e − verify − settle − origin.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { runLoad, type LoadResult } from './load'
import { otherCores, type ChargeCheck } from './report'
import { chargedCalls, createKeys, PRICE_MICROS, type BenchKey, type Stack } from './stack'
import { paymentRequired, payToBalance, presign, serverTiming, type X402Chain } from './x402'

export interface HttpScenario {
  id: string
  label: string
  pay: 'none' | 'credits' | 'x402'
}

export const HTTP_SCENARIOS: HttpScenario[] = [
  { id: 'http-origin', label: 'origin alone: GET /api/health', pay: 'none' },
  { id: 'http-credits', label: 'gate credits path: GET /api/health', pay: 'credits' },
  { id: 'x402-http', label: 'gate x402 path: GET /api/health', pay: 'x402' },
]

/** Medians over the measured paid calls, in ms, from each answer's Server-Timing. */
interface Breakdown {
  verify: number
  settle: number
  origin: number
  own: number
}

interface Run {
  result: LoadResult
  breakdown?: Breakdown
}

/** Sequential paid calls before any load: proves the path works, and sizes the signing. */
const PROBE_CALLS = 8
/** At ~1 ms of signing each, the most payments signed for one run (about 20 s). */
const MAX_PAYMENTS = 20_000

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length === 0 ? Number.NaN : (sorted[Math.floor((sorted.length - 1) / 2)] as number)
}
const num = (value: number | undefined, digits: number, width: number) =>
  (value !== undefined && Number.isFinite(value) ? value.toFixed(digits) : '-').padStart(width)
const micros = (result: LoadResult, ...names: string[]) =>
  num(names.reduce((sum, name) => sum + (result.perRequest[name] ?? Number.NaN), 0) * 1e6, 0, 9)

export const X402_HEAD =
  `${'scenario'.padEnd(40)}${'req/s'.padStart(7)}${'p50 ms'.padStart(8)}${'p99 ms'.padStart(8)}${'errors'.padStart(7)}` +
  `${'verify'.padStart(8)}${'settle'.padStart(8)}${'origin'.padStart(8)}${'gate own'.padStart(9)}` +
  `${'wrkd µs'.padStart(9)}${'fac µs'.padStart(9)}${'cores'.padStart(7)}${'other'.padStart(7)}`

export interface X402BenchOptions {
  stack: Stack
  chain: X402Chain
  concurrency: number
  warmupMs: number
  durationMs: number
  sample: () => Record<string, number>
}

export async function x402Bench(options: X402BenchOptions) {
  const { stack, chain, concurrency, warmupMs, durationMs } = options
  const url = `${stack.gateUrl}/api/health`
  const [key] = (await createKeys(stack.gateUrl, 1)) as [BenchKey]
  const balanceBefore = await payToBalance(chain)
  const required = await paymentRequired(url)

  // Fail fast, before anything is timed, if a paid call does not go through.
  let probePaid = 0
  let fastestMs = Number.POSITIVE_INFINITY
  for (const signature of await presign(required, chain, PROBE_CALLS)) {
    const began = performance.now()
    const response = await fetch(url, {
      headers: { 'payment-signature': signature },
      signal: AbortSignal.timeout(30_000),
    })
    const text = await response.text()
    if (response.status !== 200)
      throw new Error(`bench: x402 probe call → ${response.status}: ${text.slice(0, 300)}`)
    probePaid++
    fastestMs = Math.min(fastestMs, performance.now() - began)
  }
  // Calls can go no faster than `concurrency` at the probe's best latency; half as many again for margin.
  const budget = Math.min(
    MAX_PAYMENTS,
    Math.ceil(((concurrency * (warmupMs + durationMs)) / fastestMs) * 1.5)
  )
  console.log(
    `bench: x402 probe: ${PROBE_CALLS} paid calls, fastest ${fastestMs.toFixed(1)} ms; signing ${budget} payments per run`
  )

  const runs = new Map<string, Run[]>()

  async function run(scenario: HttpScenario): Promise<string> {
    const base = {
      url,
      method: 'GET' as const,
      body: '',
      concurrency,
      warmupMs,
      durationMs,
      sample: options.sample,
    }
    let result: LoadResult
    let breakdown: Breakdown | undefined
    if (scenario.pay === 'x402') {
      const headers = (await presign(required, chain, budget)).map((signature) => ({
        'payment-signature': signature,
      }))
      const parts: Record<keyof Breakdown, number[]> = {
        verify: [],
        settle: [],
        origin: [],
        own: [],
      }
      const onSuccess = (answer: IncomingHttpHeaders, latencyMs: number, measured: boolean) => {
        if (!measured) return
        const timing = serverTiming(answer['server-timing'])
        const [verify, settle, origin] = [
          timing['x402-verify'],
          timing['x402-settle'],
          timing.origin,
        ]
        if (verify === undefined || settle === undefined || origin === undefined) return
        parts.verify.push(verify)
        parts.settle.push(settle)
        parts.origin.push(origin)
        parts.own.push(latencyMs - verify - settle - origin)
      }
      result = await runLoad({
        ...base,
        headers: (n) => headers[n] as Record<string, string>,
        limit: headers.length,
        onSuccess,
      })
      if (result.exhausted)
        console.warn(
          `bench: x402-http used all ${headers.length} payments before the window closed: its figures cover less`
        )
      if (parts.own.length < result.ok)
        console.warn(
          `bench: ${result.ok - parts.own.length} paid answers lacked a full Server-Timing`
        )
      breakdown = {
        verify: median(parts.verify),
        settle: median(parts.settle),
        origin: median(parts.origin),
        own: median(parts.own),
      }
    } else {
      const headers: Record<string, string> =
        scenario.pay === 'credits' ? { authorization: `Bearer ${key.key}` } : {}
      result = await runLoad({
        ...base,
        url: scenario.pay === 'none' ? `${stack.apiUrl}/api/health` : url,
        headers: () => headers,
      })
    }
    runs.set(scenario.id, [...(runs.get(scenario.id) ?? []), { result, breakdown }])
    return line(scenario, { result, breakdown })
  }

  /** The origin alone's p50, the stand-in for the origin's share of a credits call (which has no Server-Timing). */
  const originAlone = () => medianRun(runs.get('http-origin'))?.result.p50Ms

  function line(scenario: HttpScenario, { result, breakdown }: Run): string {
    const own =
      breakdown?.own ??
      (scenario.pay === 'credits' ? result.p50Ms - (originAlone() ?? Number.NaN) : undefined)
    const origin = breakdown?.origin ?? (scenario.pay === 'credits' ? originAlone() : undefined)
    return (
      `${scenario.label.padEnd(40)}${num(result.requestsPerSecond, 0, 7)}${num(result.p50Ms, 2, 8)}${num(result.p99Ms, 2, 8)}` +
      `${String(result.errors).padStart(7)}${num(breakdown?.verify, 0, 8)}${num(breakdown?.settle, 0, 8)}${num(origin, 1, 8)}` +
      `${num(own, 2, 9)}${micros(result, 'workerd')}${micros(result, 'facilitator', 'anvil')}` +
      `${num((result.perRequest.machine ?? Number.NaN) * result.requestsPerSecond, 2, 7)}${num(otherCores(result), 2, 7)}`
    )
  }

  /** The round with the median requests/s, with every round's successes and errors added up. */
  function medianRun(list: Run[] | undefined): Run | undefined {
    if (!list || list.length === 0) return undefined
    const sorted = [...list].sort((a, b) => a.result.requestsPerSecond - b.result.requestsPerSecond)
    const middle = sorted[Math.floor((sorted.length - 1) / 2)] as Run
    const errorKinds = new Map<string, number>()
    for (const { result } of list)
      for (const [kind, n] of result.errorKinds)
        errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + n)
    return {
      ...middle,
      result: {
        ...middle.result,
        errorKinds,
        okTotal: list.reduce((sum, r) => sum + r.result.okTotal, 0),
      },
    }
  }

  const title = `\nx402, per paid call (GET /api/health, ${concurrency} concurrent callers)`

  /** The table again when there were several rounds (their median), what its columns mean, and the errors. */
  function printTable(rounds: number): void {
    if (rounds > 1) {
      console.log(`${title}, median of ${rounds} rounds:\n${X402_HEAD}`)
      for (const scenario of HTTP_SCENARIOS) {
        const chosen = medianRun(runs.get(scenario.id))
        if (chosen) console.log(line(scenario, chosen))
      }
    }
    console.log(
      '(verify, settle, origin: median ms the gate reports in Server-Timing; gate own: median per call of'
    )
    console.log(
      ' e2e − verify − settle − origin, whole ms inside workerd, so ±1.5 ms; for credits: its p50 − the origin'
    )
    console.log(
      ' alone p50. wrkd µs: workerd CPU per call, the direct measure of the gate’s own work; fac µs: facilitator +'
    )
    console.log(' anvil CPU per call; cores: CPUs busy machine-wide, other: of which not ours)')
    const disturbed = [...runs.keys()].filter(
      (id) => otherCores((medianRun(runs.get(id)) as Run).result) > 0.25
    )
    if (disturbed.length > 0)
      console.log(
        `WARNING: other processes used > 0.25 cores during: ${disturbed.join(', ')}; rerun those.`
      )
    for (const [id, list] of runs) {
      for (const [kind, count] of medianRun(list)?.result.errorKinds ?? [])
        console.log(`  errors ${id} (warm-up included): ${kind} × ${count}`)
    }
  }

  /** What the HTTP credits key was charged against its successful calls (printed with the other keys). */
  async function chargeChecks(): Promise<ChargeCheck[]> {
    const credits = medianRun(runs.get('http-credits'))
    if (!credits) return []
    return [
      {
        label: 'gate, HTTP credits key',
        charged: await chargedCalls(stack.gateUrl, key.id),
        succeeded: credits.result.okTotal,
      },
    ]
  }

  /** payTo's balance gain on chain against successful paid calls × price; false on a mismatch. */
  async function checkChain(): Promise<boolean> {
    const paid = medianRun(runs.get('x402-http'))
    const calls = (paid?.result.okTotal ?? 0) + probePaid
    // PRICE_MICROS is in micro-dollars; the asset's atomic unit is 10^-decimals dollars.
    const expected = BigInt(calls) * BigInt(PRICE_MICROS) * 10n ** BigInt(chain.token.decimals - 6)
    const gained = (await payToBalance(chain)) - balanceBefore
    const match = gained === expected
    console.log(
      `\nx402 on chain (payTo balanceOf, read via viem): +${gained} atomic; ${calls} successful paid calls (${probePaid} of them the probe) × price = ${expected}  ${match ? 'MATCH' : 'MISMATCH'}`
    )
    return match
  }

  return { title, run, printTable, chargeChecks, checkChain }
}
