/**
 * @module usage/metrics
 * GET /metrics in the Prometheus text exposition format (version 0.0.4), computed
 * from D1 at scrape time: a Worker's counters live in one isolate and would not
 * add up across the edge, while the usage table holds every event. All values are
 * totals since the table began, so they only grow (counters). Each scrape scans
 * the table: fine for scrape intervals of a minute on millions of events; keep
 * the interval modest.
 */
import { boundedColumn } from './bounds'
import type { UsageOutcome, UsageRail } from './event'
import { withUsageTable } from './schema'

/** Upper bounds of the upstream latency histogram, in milliseconds. */
export const LATENCY_BUCKETS_MS = [
  5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000,
]

/** Escape a label value: backslash, double quote and line feed (exposition format). */
function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function labels(pairs: Record<string, string>): string {
  const parts = Object.entries(pairs).map(([name, value]) => `${name}="${label(value)}"`)
  return parts.length > 0 ? `{${parts.join(',')}}` : ''
}

class Exposition {
  private readonly lines: string[] = []

  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): this {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    return this
  }

  sample(name: string, value: number, pairs: Record<string, string> = {}): this {
    this.lines.push(`${name}${labels(pairs)} ${value}`)
    return this
  }

  text(): string {
    return `${this.lines.join('\n')}\n`
  }
}

interface Totals {
  byRail: Array<{
    rail: UsageRail
    outcome: UsageOutcome
    calls: number
    amount: number
    listed: number
  }>
  denials: Array<{ rail: UsageRail; reason: string | null; calls: number }>
  latency: { buckets: number[]; sum: number; count: number }
}

async function totals(db: D1Database): Promise<Totals> {
  const bucketSums = LATENCY_BUCKETS_MS.map(
    (le, index) => `SUM(latency_ms <= ${le}) AS b${index}`
  ).join(', ')
  const [byRail, denials, latency] = await withUsageTable(db, () =>
    db.batch([
      db.prepare(
        `SELECT rail, outcome, COUNT(*) AS calls, SUM(amount) AS amount, SUM(list_price) AS listed FROM usage_events GROUP BY rail, outcome`
      ),
      // A reason read within its bound: a label never grows with what was stored.
      db.prepare(
        `SELECT rail, ${boundedColumn('reason')} AS why, COUNT(*) AS calls FROM usage_events WHERE outcome = 'denied' GROUP BY rail, why`
      ),
      db.prepare(
        `SELECT ${bucketSums}, COALESCE(SUM(latency_ms), 0) AS total, COUNT(latency_ms) AS count FROM usage_events WHERE latency_ms IS NOT NULL`
      ),
    ])
  )
  const row = (latency?.results[0] ?? {}) as Record<string, number | null>
  return {
    byRail: (byRail?.results ?? []) as Totals['byRail'],
    denials: (
      (denials?.results ?? []) as Array<{ rail: UsageRail; why: string | null; calls: number }>
    ).map((row) => ({ rail: row.rail, reason: row.why, calls: row.calls })),
    latency: {
      buckets: LATENCY_BUCKETS_MS.map((_, index) => row[`b${index}`] ?? 0),
      sum: row.total ?? 0,
      count: row.count ?? 0,
    },
  }
}

/** The metrics page. With no usage database, only `paygate_usage_enabled 0`. */
export async function metricsText(db: D1Database | undefined): Promise<string> {
  const out = new Exposition()
  out.family(
    'paygate_usage_enabled',
    'gauge',
    'Whether usage events are recorded (a D1 database is bound as USAGE_DB).'
  )
  out.sample('paygate_usage_enabled', db ? 1 : 0)
  if (!db) return out.text()
  const { byRail, denials, latency } = await totals(db)

  out.family(
    'paygate_calls_total',
    'counter',
    'Paid calls by rail and outcome (charged, refunded, denied).'
  )
  for (const row of byRail)
    if (row.outcome !== 'fee')
      out.sample('paygate_calls_total', row.calls, { rail: row.rail, outcome: row.outcome })

  out.family('paygate_denials_total', 'counter', 'Denied calls by rail and reason.')
  for (const row of denials)
    out.sample('paygate_denials_total', row.calls, {
      rail: row.rail,
      reason: row.reason ?? 'unknown',
    })

  out.family(
    'paygate_charged_micros_total',
    'counter',
    'Micro-dollars charged for calls, by rail (1e6 = 1 USD); plan fees are paygate_plan_fees_micros_total.'
  )
  for (const rail of ['credits', 'x402'] as const) {
    const charged = byRail
      .filter((row) => row.rail === rail && row.outcome === 'charged')
      .reduce((sum, row) => sum + row.amount, 0)
    out.sample('paygate_charged_micros_total', charged, { rail })
  }

  out.family(
    'paygate_plan_fees_micros_total',
    'counter',
    "Subscription plan fees taken from keys' credits, in micro-dollars."
  )
  out.sample(
    'paygate_plan_fees_micros_total',
    byRail.filter((row) => row.outcome === 'fee').reduce((sum, row) => sum + row.amount, 0)
  )

  const refunded = (rail: UsageRail) =>
    byRail.filter((row) => row.rail === rail && row.outcome === 'refunded')
  out.family(
    'paygate_refunds_total',
    'counter',
    'Calls held or paid and then not charged (the origin failed or the answer was not delivered), by rail.'
  )
  for (const rail of ['credits', 'x402'] as const)
    out.sample(
      'paygate_refunds_total',
      refunded(rail).reduce((sum, row) => sum + row.calls, 0),
      { rail }
    )
  out.family(
    'paygate_refunded_micros_total',
    'counter',
    'List price of refunded calls in micro-dollars, by rail.'
  )
  for (const rail of ['credits', 'x402'] as const)
    out.sample(
      'paygate_refunded_micros_total',
      refunded(rail).reduce((sum, row) => sum + row.listed, 0),
      { rail }
    )

  out.family(
    'paygate_upstream_latency_seconds',
    'histogram',
    'Time until the origin began to answer, for paid calls that were forwarded.'
  )
  LATENCY_BUCKETS_MS.forEach((le, index) =>
    out.sample('paygate_upstream_latency_seconds_bucket', latency.buckets[index] ?? 0, {
      le: String(le / 1000),
    })
  )
  out.sample('paygate_upstream_latency_seconds_bucket', latency.count, { le: '+Inf' })
  out.sample('paygate_upstream_latency_seconds_sum', latency.sum / 1000)
  out.sample('paygate_upstream_latency_seconds_count', latency.count)
  return out.text()
}
