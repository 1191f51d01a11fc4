/**
 * @module admin/usage-routes
 * The admin API's usage and revenue endpoints (under /admin, admin token), and
 * GET /metrics (admin token or METRICS_TOKEN). Every amount is given twice:
 * integer micro-dollars and a decimal-dollar string (`…Dollars`). Time ranges are
 * `from`/`to` in ISO 8601, [from, to), by default the last 30 days.
 * Without a USAGE_DB binding the usage endpoints answer 404 and /metrics says
 * `paygate_usage_enabled 0`.
 */
import { createMiddleware } from 'hono/factory'
import type { Context, Hono } from 'hono'
import { bearerToken } from '../bearer'
import type { AppEnv } from '../env'
import { GateError } from '../errors'
import { formatDollars } from '../money'
import {
  eventsCsv,
  metricsText,
  parseEventsQuery,
  parseRevenueQuery,
  parseTopQuery,
  parseUsageQuery,
  recentEvents,
  revenueSeries,
  topKeys,
  usageBy,
  type UsageEvent,
} from '../usage'
import { secretsEqual } from '../secret-compare'
import { adminAuth } from './auth'

function usageDb(c: Context<AppEnv>): D1Database {
  const db = c.env.USAGE_DB
  if (!db)
    throw new GateError('not_found', 'Usage is not recorded: bind a D1 database as USAGE_DB.')
  return db
}

function valid<T>(parsed: { ok: true; value: T } | { ok: false; message: string }): T {
  if (!parsed.ok) throw new GateError('invalid_request', `Invalid query: ${parsed.message}`)
  return parsed.value
}

const iso = (ms: number) => new Date(ms).toISOString()

function eventJson(event: UsageEvent) {
  return {
    ...event,
    amountDollars: formatDollars(event.amount),
    listPriceDollars: formatDollars(event.listPrice),
  }
}

/** Mount the usage endpoints on the /admin sub-app (which already checks the admin token). */
export function mountUsageRoutes(admin: Hono<AppEnv>): void {
  admin.get('/usage', async (c) => {
    const query = valid(parseUsageQuery(c.req.query()))
    const rows = await usageBy(usageDb(c), query.groupBy, query)
    return c.json({
      from: iso(query.from),
      to: iso(query.to),
      groupBy: query.groupBy,
      rows: rows.map((row) => ({ ...row, chargedDollars: formatDollars(row.charged) })),
    })
  })

  admin.get('/usage/top', async (c) => {
    const query = valid(parseTopQuery(c.req.query()))
    const rows = await topKeys(usageDb(c), query, query.limit)
    return c.json({
      from: iso(query.from),
      to: iso(query.to),
      rows: rows.map((row) => ({ ...row, chargedDollars: formatDollars(row.charged) })),
    })
  })

  admin.get('/revenue', async (c) => {
    const query = valid(parseRevenueQuery(c.req.query()))
    const series = await revenueSeries(usageDb(c), query, query.interval)
    const credits = series.reduce((sum, period) => sum + period.credits, 0)
    const x402 = series.reduce((sum, period) => sum + period.x402, 0)
    return c.json({
      from: iso(query.from),
      to: iso(query.to),
      interval: query.interval,
      total: credits + x402,
      totalDollars: formatDollars(credits + x402),
      byRail: { credits, x402 },
      byRailDollars: { credits: formatDollars(credits), x402: formatDollars(x402) },
      series: series.map((period) => ({ ...period, totalDollars: formatDollars(period.total) })),
    })
  })

  admin.get('/usage/events', async (c) => {
    const query = valid(parseEventsQuery(c.req.query()))
    const events = await recentEvents(usageDb(c), query)
    if (query.format === 'csv') {
      return c.body(eventsCsv(events), 200, {
        'content-type': 'text/csv; charset=utf-8; header=present',
        'content-disposition': 'attachment; filename="usage-events.csv"',
        'cache-control': 'no-store',
      })
    }
    return c.json(events.map(eventJson))
  })
}

/** `Authorization: Bearer $METRICS_TOKEN` (16 characters or more), or else the admin token. */
function metricsAuth() {
  const admin = adminAuth()
  return createMiddleware<AppEnv>(async (c, next) => {
    const token = c.env.METRICS_TOKEN
    const given = bearerToken(c.req.raw.headers)
    if (
      typeof token === 'string' &&
      token.length >= 16 &&
      given &&
      (await secretsEqual(given, token))
    )
      return next()
    return admin(c, next)
  })
}

/** Mount GET /metrics on the gate. */
export function mountMetrics(app: Hono<AppEnv>): void {
  app.get('/metrics', metricsAuth(), async (c) =>
    c.body(await metricsText(c.env.USAGE_DB), 200, {
      'content-type': 'text/plain; version=0.0.4; charset=utf-8',
      'cache-control': 'no-store',
    })
  )
}
