/**
 * @module admin/overview-routes
 * What the admin API answers about all keys at once: the key list (searched by
 * name or id, filtered by status), the totals a dashboard heads with (keys by
 * status, outstanding credit, today's revenue), and the plans routes.json defines.
 * Balances are read from each key's own account object; the index only lists.
 */
import type { Hono } from 'hono'
import * as z from 'zod'
import {
  accountStub,
  indexStub,
  type AccountView,
  type EffectiveStatus,
  type IndexedKey,
} from '../credits'
import type { AppEnv, Env } from '../env'
import { GateError } from '../errors'
import { formatDollars } from '../money'
import { usageBy } from '../usage'
import type { PlanCatalogue } from './key-policy-routes'
import { planJson } from './policy-input'
import { keyJson } from './views'

const STATUSES = [
  'active',
  'suspended',
  'revoked',
  'expired',
] as const satisfies readonly EffectiveStatus[]

const KeyListQuery = z.object({
  limit: z
    .string()
    .regex(/^\d{1,4}$/, { error: 'expected a whole number from 1 to 100' })
    .transform(Number)
    .pipe(z.number().int().min(1).max(100))
    .default(50),
  after: z.string().max(64).optional(),
  q: z.string().trim().max(200, { error: 'at most 200 characters' }).optional(),
  status: z.enum(STATUSES).optional(),
})

/** Index entries read in one page when totalling (the index's own maximum). */
const TOTALS_PAGE = 500
/** Account objects asked at once. */
const PARALLEL_READS = 50

async function viewsOf(
  env: Env,
  entries: readonly IndexedKey[]
): Promise<Array<AccountView | null>> {
  const views: Array<AccountView | null> = []
  for (let i = 0; i < entries.length; i += PARALLEL_READS) {
    const chunk = entries.slice(i, i + PARALLEL_READS)
    views.push(
      ...(await Promise.all(
        chunk.map(
          async (entry) => (await accountStub(env.CREDITS, entry.hash).view())?.account ?? null
        )
      ))
    )
  }
  return views
}

/** The start of the current UTC day. */
function utcMidnight(now: number): number {
  const day = new Date(now)
  day.setUTCHours(0, 0, 0, 0)
  return day.getTime()
}

/** Calls and revenue (charges and plan fees) since UTC midnight; null without USAGE_DB. */
async function today(env: Env, now: number) {
  if (!env.USAGE_DB) return null
  const from = utcMidnight(now)
  const rows = await usageBy(env.USAGE_DB, 'rail', { from, to: now + 1 })
  const revenue = rows.reduce((sum, row) => sum + row.charged, 0)
  return {
    from: new Date(from).toISOString(),
    calls: rows.reduce((sum, row) => sum + row.calls, 0),
    revenue,
    revenueDollars: formatDollars(revenue),
  }
}

export function overviewRoutes(admin: Hono<AppEnv>, plans: PlanCatalogue): void {
  admin.get('/keys', async (c) => {
    const parsed = KeyListQuery.safeParse(c.req.query())
    if (!parsed.success) {
      throw new GateError(
        'invalid_request',
        `Invalid query: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`
      )
    }
    const { limit, after, q, status } = parsed.data
    const page = await indexStub(c.env.KEY_INDEX).list(limit, after, q || undefined)
    const views = await viewsOf(c.env, page)
    const keys = page
      .map((entry, i) => {
        const view = views[i]
        return view ? keyJson(view) : { id: entry.id, name: entry.name, status: 'unknown' }
      })
      .filter((key) => status === undefined || key.status === status)
    // The cursor follows the index, not the filter: with `status`, a page may hold fewer keys than `limit`.
    return c.json({ keys, next: page.length === limit ? (page.at(-1)?.id ?? null) : null })
  })

  admin.get('/totals', async (c) => {
    const now = Date.now()
    const index = indexStub(c.env.KEY_INDEX)
    const byStatus: Record<(typeof STATUSES)[number], number> = {
      active: 0,
      suspended: 0,
      revoked: 0,
      expired: 0,
    }
    let keys = 0
    let outstanding = 0
    let held = 0
    for (let after: string | undefined; ;) {
      const page = await index.list(TOTALS_PAGE, after)
      for (const view of await viewsOf(c.env, page)) {
        if (!view) continue
        keys++
        byStatus[view.status]++
        outstanding += view.balance
        held += view.held
      }
      if (page.length < TOTALS_PAGE) break
      after = page.at(-1)?.id
    }
    return c.json({
      at: new Date(now).toISOString(),
      keys: { total: keys, ...byStatus },
      outstanding,
      outstandingDollars: formatDollars(outstanding),
      held,
      heldDollars: formatDollars(held),
      today: await today(c.env, now),
    })
  })

  admin.get('/plans', async (c) => {
    const catalogue = await plans(c.env)
    return c.json({
      plans: [...catalogue].map(([name, definition]) => planJson({ name, definition })),
    })
  })
}
