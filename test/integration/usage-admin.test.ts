/**
 * The admin usage and revenue endpoints and /metrics, on events seeded straight
 * into D1 in a range no live call falls into (January 2020), so every aggregate
 * is known exactly.
 */
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  insertEvents,
  MAX_ROUTE_CHARS,
  MAX_TEXT_CHARS,
  UNKNOWN_NAME,
  withUsageTable,
  type UsageEvent,
} from '../../src/usage'
import { admin, gate, TEST_ADMIN_TOKEN } from '../helpers'

const KEY_A = 'key_aaaaaaaaaaaaaaaaaaaa'
const KEY_B = 'key_bbbbbbbbbbbbbbbbbbbb'
const day = (d: number, hour = 12) => Date.UTC(2020, 0, d, hour)

let seq = 0
function event(fields: Partial<UsageEvent>): UsageEvent {
  seq++
  return {
    id: `seed-${seq}-${crypto.randomUUID()}`,
    at: day(1),
    keyId: KEY_A,
    payer: null,
    rail: 'credits',
    route: '/api/*',
    path: '/api/items',
    method: 'GET',
    tool: null,
    amount: 0,
    listPrice: 10_000,
    outcome: 'charged',
    reason: null,
    status: 200,
    latencyMs: 20,
    reservationId: String(seq),
    payment: null,
    ...fields,
  }
}

const SEEDED: UsageEvent[] = [
  event({ at: day(1), amount: 10_000, tool: 'search', route: '/mcp', method: 'tools/call' }),
  event({ at: day(1, 13), amount: 10_000, tool: 'search', route: '/mcp', method: 'tools/call' }),
  event({
    at: day(2),
    amount: 0,
    outcome: 'refunded',
    reason: 'origin_error',
    status: 500,
    tool: 'search',
    route: '/mcp',
    method: 'tools/call',
  }),
  event({
    at: day(2),
    keyId: KEY_B,
    amount: 0,
    outcome: 'denied',
    reason: 'insufficient_credits',
    status: 402,
    latencyMs: null,
    reservationId: null,
  }),
  event({ at: day(3), keyId: KEY_B, amount: 20_000, listPrice: 20_000, latencyMs: 700 }),
  event({
    at: day(3),
    keyId: null,
    payer: '0xPayer',
    rail: 'x402',
    amount: 30_000,
    listPrice: 30_000,
    payment: '0xabc',
    reservationId: null,
    latencyMs: 3,
  }),
  // Hostile text, as a caller could name a tool.
  event({
    at: day(4),
    keyId: null,
    rail: 'x402',
    amount: 0,
    outcome: 'denied',
    reason: 'payment_required',
    status: 402,
    tool: '=HYPERLINK("http://evil","x"),\r\nnext',
    latencyMs: null,
    reservationId: null,
  }),
  // Outside the range queried below.
  event({ at: Date.UTC(2020, 1, 1), amount: 999_000 }),
]

const RANGE = 'from=2020-01-01&to=2020-02-01'

beforeAll(async () => {
  expect(await insertEvents(env.USAGE_DB, SEEDED)).toBe(SEEDED.length)
})

async function json<T = Record<string, unknown>>(path: string): Promise<T> {
  const response = await admin(path)
  expect(response.status, path).toBe(200)
  return (await response.json()) as T
}

describe('GET /admin/usage', () => {
  it('groups by day, UTC, with calls, micros and dollars charged, refunds and denials', async () => {
    const body = await json(`/usage?groupBy=day&${RANGE}`)
    expect(body).toEqual({
      from: '2020-01-01T00:00:00.000Z',
      to: '2020-02-01T00:00:00.000Z',
      groupBy: 'day',
      rows: [
        {
          group: '2020-01-01',
          calls: 2,
          charged: 20_000,
          chargedDollars: '0.02',
          refunded: 0,
          denied: 0,
        },
        { group: '2020-01-02', calls: 2, charged: 0, chargedDollars: '0', refunded: 1, denied: 1 },
        {
          group: '2020-01-03',
          calls: 2,
          charged: 50_000,
          chargedDollars: '0.05',
          refunded: 0,
          denied: 0,
        },
        { group: '2020-01-04', calls: 1, charged: 0, chargedDollars: '0', refunded: 0, denied: 1 },
      ],
    })
  })

  it('groups by tool, rail, key, route and outcome', async () => {
    const rows = async (groupBy: string) =>
      (await json<{ rows: unknown[] }>(`/usage?groupBy=${groupBy}&${RANGE}`)).rows
    expect(await rows('rail')).toEqual([
      {
        group: 'credits',
        calls: 5,
        charged: 40_000,
        chargedDollars: '0.04',
        refunded: 1,
        denied: 1,
      },
      { group: 'x402', calls: 2, charged: 30_000, chargedDollars: '0.03', refunded: 0, denied: 1 },
    ])
    expect(await rows('key')).toEqual([
      { group: null, calls: 2, charged: 30_000, chargedDollars: '0.03', refunded: 0, denied: 1 },
      { group: KEY_A, calls: 3, charged: 20_000, chargedDollars: '0.02', refunded: 1, denied: 0 },
      { group: KEY_B, calls: 2, charged: 20_000, chargedDollars: '0.02', refunded: 0, denied: 1 },
    ])
    expect(await rows('tool')).toMatchObject([
      { group: null, calls: 3, charged: 50_000 },
      { group: 'search', calls: 3, charged: 20_000, refunded: 1 },
      { group: '=HYPERLINK("http://evil","x"),\r\nnext', calls: 1, charged: 0, denied: 1 },
    ])
    expect(await rows('route')).toMatchObject([
      { group: '/api/*', calls: 4, charged: 50_000 },
      { group: '/mcp', calls: 3, charged: 20_000 },
    ])
    expect(await rows('outcome')).toMatchObject([
      { group: 'charged', calls: 4, charged: 70_000, chargedDollars: '0.07' },
      { group: 'denied', calls: 2, charged: 0, denied: 2 },
      { group: 'refunded', calls: 1, charged: 0, refunded: 1 },
    ])
  })

  it('defaults to the last 30 days, grouped by day', async () => {
    const body = await json<{ from: string; to: string; groupBy: string }>('/usage')
    expect(body.groupBy).toBe('day')
    expect(Date.parse(body.to) - Date.parse(body.from)).toBe(30 * 86_400_000)
  })
})

describe('GET /admin/usage/top and /admin/revenue', () => {
  it('lists the keys charged most, with a limit', async () => {
    expect(await json(`/usage/top?${RANGE}`)).toEqual({
      from: '2020-01-01T00:00:00.000Z',
      to: '2020-02-01T00:00:00.000Z',
      rows: [
        { keyId: KEY_A, calls: 3, charged: 20_000, chargedDollars: '0.02' },
        { keyId: KEY_B, calls: 2, charged: 20_000, chargedDollars: '0.02' },
      ],
    })
    expect((await json<{ rows: unknown[] }>(`/usage/top?${RANGE}&limit=1`)).rows).toHaveLength(1)
  })

  it('sums revenue by rail, with a gap-free daily series', async () => {
    const body = await json<{ series: Array<{ period: string; total: number }> }>(
      '/revenue?from=2020-01-01&to=2020-01-05&interval=day'
    )
    expect(body).toEqual({
      from: '2020-01-01T00:00:00.000Z',
      to: '2020-01-05T00:00:00.000Z',
      interval: 'day',
      total: 70_000,
      totalDollars: '0.07',
      byRail: { credits: 40_000, x402: 30_000 },
      byRailDollars: { credits: '0.04', x402: '0.03' },
      series: [
        { period: '2020-01-01', credits: 20_000, x402: 0, total: 20_000, totalDollars: '0.02' },
        { period: '2020-01-02', credits: 0, x402: 0, total: 0, totalDollars: '0' },
        {
          period: '2020-01-03',
          credits: 20_000,
          x402: 30_000,
          total: 50_000,
          totalDollars: '0.05',
        },
        { period: '2020-01-04', credits: 0, x402: 0, total: 0, totalDollars: '0' },
      ],
    })
  })

  it('sums revenue by month', async () => {
    const body = await json<{ total: number; series: unknown[] }>(
      '/revenue?from=2020-01-01&to=2020-03-01&interval=month'
    )
    expect(body.total).toBe(1_069_000)
    expect(body.series).toEqual([
      { period: '2020-01', credits: 40_000, x402: 30_000, total: 70_000, totalDollars: '0.07' },
      { period: '2020-02', credits: 999_000, x402: 0, total: 999_000, totalDollars: '0.999' },
    ])
  })
})

describe('subscription plan fees', () => {
  // March 2020: its own range, so the aggregates above stay exact.
  const march = (d: number) => Date.UTC(2020, 2, d, 12)
  const FEE_RANGE = 'from=2020-03-01&to=2020-04-01'

  beforeAll(async () => {
    const fee = {
      outcome: 'fee' as const,
      reason: 'plan_fee',
      amount: 5_000_000,
      listPrice: 5_000_000,
      latencyMs: null,
    }
    expect(
      await insertEvents(env.USAGE_DB, [
        event({ at: march(1), ...fee, tool: 'search', route: '/mcp', method: 'tools/call' }),
        event({
          at: march(1),
          amount: 0,
          reason: 'plan_included',
          tool: 'search',
          route: '/mcp',
          method: 'tools/call',
        }),
        event({
          at: march(2),
          amount: 10_000,
          tool: 'search',
          route: '/mcp',
          method: 'tools/call',
        }),
      ])
    ).toBe(3)
  })

  it('are revenue, but not calls', async () => {
    const revenue = await json<{
      total: number
      series: Array<{ period: string; credits: number }>
    }>(`/revenue?${FEE_RANGE}&interval=month`)
    expect(revenue.total).toBe(5_010_000)
    expect(revenue.series).toMatchObject([{ period: '2020-03', credits: 5_010_000 }])
    const byKey = await json<{ rows: Array<{ group: string; calls: number; charged: number }> }>(
      `/usage?${FEE_RANGE}&groupBy=key`
    )
    expect(byKey.rows).toMatchObject([{ group: KEY_A, calls: 2, charged: 5_010_000 }])
    const byOutcome = await json<{
      rows: Array<{ group: string; calls: number; charged: number }>
    }>(`/usage?${FEE_RANGE}&groupBy=outcome`)
    expect(byOutcome.rows).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ group: 'fee', calls: 0, charged: 5_000_000 }),
      ])
    )
    expect(await json(`/usage/top?${FEE_RANGE}`)).toMatchObject({
      rows: [{ keyId: KEY_A, calls: 2, charged: 5_010_000 }],
    })
    const fees = await json<Array<{ outcome: string; amount: number }>>(
      `/usage/events?${FEE_RANGE}&outcome=fee`
    )
    expect(fees).toMatchObject([{ outcome: 'fee', amount: 5_000_000 }])
  })
})

describe('GET /admin/usage/events', () => {
  it('exports events as JSON, newest first, filtered by key and outcome', async () => {
    const all = await json<Array<UsageEvent & { amountDollars: string }>>(`/usage/events?${RANGE}`)
    expect(all).toHaveLength(7)
    expect(all.map((e) => e.at)).toEqual([...all.map((e) => e.at)].sort((a, b) => b - a))
    expect(all.find((e) => e.payment === '0xabc')).toMatchObject({
      rail: 'x402',
      amount: 30_000,
      amountDollars: '0.03',
      listPriceDollars: '0.03',
      payer: '0xPayer',
    })
    const denied = await json<UsageEvent[]>(`/usage/events?${RANGE}&keyId=${KEY_B}&outcome=denied`)
    expect(denied).toMatchObject([
      { keyId: KEY_B, outcome: 'denied', reason: 'insufficient_credits' },
    ])
    expect(await json<unknown[]>(`/usage/events?${RANGE}&limit=2`)).toHaveLength(2)
  })

  it('exports CSV: a header, RFC 4180 quoting, CRLF, and no formula a spreadsheet would run', async () => {
    const response = await admin(`/usage/events?${RANGE}&format=csv&outcome=denied`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toContain('text/csv')
    const text = await response.text()
    const lines = text.split('\r\n')
    expect(lines[0]).toBe(
      'id,time,at,keyId,payer,rail,route,method,tool,amount,amountDollars,listPrice,listPriceDollars,outcome,reason,status,latencyMs,reservationId,payment,path'
    )
    expect(text.endsWith('\r\n')).toBe(true)
    // The hostile tool name: apostrophe first, quoted, quotes doubled, its CRLF kept inside the quotes.
    expect(text).toContain(
      `,"'=HYPERLINK(""http://evil"",""x""),\r\nnext",0,0,10000,0.01,denied,payment_required,402,,,,/api/items`
    )
    const row = parseCsv(text).find((cells) => cells[8]?.startsWith("'=HYPERLINK"))
    expect(row?.[8]).toBe(`'=HYPERLINK("http://evil","x"),\r\nnext`)
    expect(parseCsv(text).every((cells) => cells.length === 20)).toBe(true)
  })
})

describe('rows stored before text was bounded', () => {
  // As an older gate stored them: a refused call's method and tool whole, 300 KB each.
  const HUGE = 300_000
  const LEGACY_RANGE = 'from=2019-06-01&to=2019-07-01'

  beforeAll(async () => {
    const db = env.USAGE_DB
    const insert = `INSERT INTO usage_events (id, at, key_id, payer, rail, route, method, tool, amount, list_price, outcome, reason, status, latency_ms, reservation_id, payment)
      VALUES (?, ?, NULL, ?, 'x402', ?, ?, ?, 0, 1000, 'denied', ?, 402, NULL, NULL, NULL)`
    await withUsageTable(db, () =>
      db.batch(
        [1, 2, 3].map((n) =>
          db
            .prepare(insert)
            .bind(
              `legacy-${n}-${crypto.randomUUID()}`,
              Date.UTC(2019, 5, n),
              'p'.repeat(HUGE),
              `/${'r'.repeat(HUGE)}`,
              'm'.repeat(HUGE),
              't'.repeat(HUGE),
              `legacy-${'x'.repeat(HUGE)}`
            )
        )
      )
    )
  })

  it('read back small in every admin answer: events (JSON and CSV), groupings and /metrics', async () => {
    const events = await admin(`/usage/events?${LEGACY_RANGE}`)
    const text = await events.text()
    expect(text.length).toBeLessThan(3 * 4_000)
    const listed = JSON.parse(text) as UsageEvent[]
    expect(listed).toHaveLength(3)
    for (const event of listed) {
      expect(event).toMatchObject({ method: UNKNOWN_NAME, tool: UNKNOWN_NAME })
      expect(event.route).toHaveLength(MAX_ROUTE_CHARS)
      expect(event.payer).toHaveLength(MAX_TEXT_CHARS)
      expect(event.reason?.endsWith('x…')).toBe(true)
    }
    const csv = await (await admin(`/usage/events?${LEGACY_RANGE}&format=csv`)).text()
    expect(csv.length).toBeLessThan(4 * 4_000)
    const byTool = await json<{ rows: Array<{ group: string; denied: number }> }>(
      `/usage?${LEGACY_RANGE}&groupBy=tool`
    )
    expect(byTool.rows).toEqual([expect.objectContaining({ group: UNKNOWN_NAME, denied: 3 })])
    const byRoute = await json<{ rows: Array<{ group: string; denied: number }> }>(
      `/usage?${LEGACY_RANGE}&groupBy=route`
    )
    expect(byRoute.rows).toHaveLength(1)
    expect(byRoute.rows[0]?.group).toHaveLength(MAX_ROUTE_CHARS)
    const metrics = await (
      await gate('/metrics', { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })
    ).text()
    expect(metrics.length).toBeLessThan(50_000)
    expect(metrics).toContain(`reason="legacy-${'x'.repeat(MAX_TEXT_CHARS - 8)}…"} 3`)
  })
})

/** A strict RFC 4180 reader, to check that what we write reads back. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') ((field += '"'), i++)
      else if (ch === '"') quoted = false
      else field += ch
    } else if (ch === '"') quoted = true
    else if (ch === ',') (row.push(field), (field = ''))
    else if (ch === '\r' && text[i + 1] === '\n')
      (row.push(field), rows.push(row), (row = []), (field = ''), i++)
    else field += ch
  }
  return rows
}

describe('bad input and auth', () => {
  it('answers 400 invalid_request to bad parameters, and nothing else', async () => {
    const bad = [
      '/usage?groupBy=week',
      '/usage?from=yesterday',
      '/usage?from=2020-02-01&to=2020-01-01',
      '/usage?from=2020-01-01&to=2020-01-01',
      '/usage?from=2000-01-01&to=2020-01-01',
      '/usage/top?limit=0',
      '/usage/top?limit=abc',
      '/usage/top?limit=101',
      '/revenue?interval=year',
      '/usage/events?outcome=won',
      '/usage/events?keyId=robert%27);DROP%20TABLE%20usage_events;--',
      '/usage/events?format=xml',
      '/usage/events?limit=10001',
    ]
    for (const path of bad) {
      const response = await admin(path)
      expect(response.status, path).toBe(400)
      expect(((await response.json()) as { error: { code: string } }).error.code, path).toBe(
        'invalid_request'
      )
    }
    expect(await json<unknown[]>(`/usage/events?${RANGE}`)).toHaveLength(7)
  })

  it('refuses every usage endpoint and /metrics without the right token', async () => {
    let client = 0
    const paths = [
      '/admin/usage',
      '/admin/usage/top',
      '/admin/revenue',
      '/admin/usage/events',
      '/admin/usage/events?format=csv',
      '/metrics',
    ]
    for (const path of paths) {
      for (const authorization of [
        undefined,
        'Bearer wrong-token-0123456789abcdef',
        `Bearer ${TEST_ADMIN_TOKEN}x`,
        TEST_ADMIN_TOKEN,
      ]) {
        const headers: Record<string, string> = { 'cf-connecting-ip': `192.0.2.${++client}` }
        if (authorization) headers.authorization = authorization
        const response = await gate(path, { headers })
        expect(response.status, `${path} ${authorization}`).toBe(401)
        const text = await response.text()
        expect(text).not.toContain('usage_events')
      }
    }
  })
})

describe('GET /metrics', () => {
  it('is Prometheus text, readable with the metrics token or the admin token, and counts the seeded events', async () => {
    const byMetricsToken = await gate('/metrics', {
      headers: { authorization: `Bearer ${env.METRICS_TOKEN}` },
    })
    expect(byMetricsToken.status).toBe(200)
    expect(byMetricsToken.headers.get('content-type')).toBe(
      'text/plain; version=0.0.4; charset=utf-8'
    )
    const before = parseExposition(await byMetricsToken.text())
    const extra = [
      event({ at: day(20), keyId: KEY_A, amount: 7, listPrice: 7, latencyMs: 40 }),
      event({
        at: day(20),
        amount: 0,
        outcome: 'denied',
        reason: 'weird "reason"\\\n',
        latencyMs: null,
      }),
      event({
        at: day(20),
        amount: 0,
        outcome: 'refunded',
        reason: 'origin_error',
        listPrice: 11,
        latencyMs: 60_000,
      }),
      event({
        at: day(20),
        amount: 5_000,
        outcome: 'fee',
        reason: 'plan_fee',
        listPrice: 5_000,
        latencyMs: null,
      }),
    ]
    await insertEvents(env.USAGE_DB, extra)
    const response = await gate('/metrics', {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    })
    expect(response.status).toBe(200)
    const after = parseExposition(await response.text())
    const delta = (sample: string) =>
      (after.samples.get(sample) ?? 0) - (before.samples.get(sample) ?? 0)
    expect(after.samples.get('paygate_usage_enabled')).toBe(1)
    expect(delta('paygate_calls_total{rail="credits",outcome="charged"}')).toBe(1)
    expect(delta('paygate_calls_total{rail="credits",outcome="denied"}')).toBe(1)
    expect(delta('paygate_denials_total{rail="credits",reason="weird \\"reason\\"\\\\\\n"}')).toBe(
      1
    )
    expect(delta('paygate_charged_micros_total{rail="credits"}')).toBe(7)
    expect(delta('paygate_refunds_total{rail="credits"}')).toBe(1)
    expect(delta('paygate_refunded_micros_total{rail="credits"}')).toBe(11)
    // A plan fee is revenue of its own, never a call.
    expect(delta('paygate_plan_fees_micros_total')).toBe(5_000)
    expect([...after.samples.keys()].some((sample) => sample.includes('outcome="fee"'))).toBe(false)
    expect(delta('paygate_upstream_latency_seconds_count')).toBe(2)
    expect(delta('paygate_upstream_latency_seconds_bucket{le="0.05"}')).toBe(1)
    expect(delta('paygate_upstream_latency_seconds_bucket{le="30"}')).toBe(1)
    expect(delta('paygate_upstream_latency_seconds_bucket{le="+Inf"}')).toBe(2)
    expect(delta('paygate_upstream_latency_seconds_sum')).toBeCloseTo(60.04, 6)
    // Histogram buckets only grow with le, and +Inf is the count.
    const buckets = [...after.samples]
      .filter(([name]) => name.startsWith('paygate_upstream_latency_seconds_bucket'))
      .map(([, value]) => value)
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b))
    expect(buckets.at(-1)).toBe(after.samples.get('paygate_upstream_latency_seconds_count'))
  })
})

/**
 * A strict reader of the text exposition format (0.0.4): every line is a comment
 * (HELP, TYPE) or a sample `name{labels} value`; every sample belongs to the
 * family whose TYPE came last; no family appears twice.
 */
function parseExposition(text: string): {
  samples: Map<string, number>
  types: Map<string, string>
} {
  expect(text.endsWith('\n')).toBe(true)
  const samples = new Map<string, number>()
  const types = new Map<string, string>()
  let family = ''
  const labelValue = String.raw`"(?:[^"\\\n]|\\[\\"n])*"`
  const sampleLine = new RegExp(
    String.raw`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*=${labelValue}(?:,[a-zA-Z_][a-zA-Z0-9_]*=${labelValue})*\})? (-?[0-9.e+-]+|\+Inf|NaN)$`
  )
  for (const line of text.slice(0, -1).split('\n')) {
    const type =
      /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (type) {
      expect(types.has(type[1] as string), `family ${type[1]} twice`).toBe(false)
      types.set(type[1] as string, type[2] as string)
      family = type[1] as string
      continue
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue
    const sample = sampleLine.exec(line)
    expect(sample, `not a sample line: ${line}`).not.toBeNull()
    const name = sample?.[1] as string
    const base = types.get(family) === 'histogram' ? name.replace(/_(bucket|sum|count)$/, '') : name
    expect(base, `${name} outside its family`).toBe(family)
    samples.set(`${name}${sample?.[2] ?? ''}`, Number(sample?.[3]))
  }
  return { samples, types }
}
