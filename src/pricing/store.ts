/**
 * @module pricing/store
 * The only reader of the route table in KV. The table is cached per isolate and
 * refreshed on a short TTL. When KV cannot be read, or holds something invalid, the
 * last good table stays in force; when there has never been one, callers are told
 * so and refuse paid routes (fail closed: a priced route is never served free).
 */
import { validateRoutesFile } from './validate'
import { compileTable, type PriceTable } from './table'

/** The KV key that holds the whole route table: one key, so an upload is atomic. */
export const ROUTES_KV_KEY = 'pay-gate/routes'

/** After a failed refresh, wait this long before asking KV again. */
const RETRY_AFTER_FAILURE_MS = 5_000

export type TableLoad =
  | { ok: true; table: PriceTable; stale: boolean }
  | { ok: false; reason: 'missing' | 'unreachable' | 'invalid'; message: string }

/** Minimal view of a KV namespace: what the cache needs, nothing more. */
export interface RoutesKv {
  get(key: string, type: 'text'): Promise<string | null>
}

/**
 * A per-isolate cache of the compiled route table.
 * @example
 * const routes = new RouteTableCache({ ttlMs: 30_000 })
 * const load = await routes.get(env.ROUTES)
 */
export class RouteTableCache {
  private table: PriceTable | undefined
  private nextRefreshAt = 0
  private readonly ttlMs: number

  /** @param options.ttlMs how long a table is used before KV is read again (0: every request) */
  constructor(options: { ttlMs: number }) {
    this.ttlMs = options.ttlMs
  }

  async get(kv: RoutesKv, now: number = Date.now()): Promise<TableLoad> {
    if (this.table && now < this.nextRefreshAt) return { ok: true, table: this.table, stale: false }
    const fresh = await readTable(kv)
    if (fresh.ok) {
      this.table = fresh.table
      this.nextRefreshAt = now + this.ttlMs
      return fresh
    }
    if (this.table) {
      console.warn(
        `pay-gate: route table refresh failed (${fresh.reason}: ${fresh.message}); keeping the last good table`
      )
      this.nextRefreshAt = now + Math.min(this.ttlMs, RETRY_AFTER_FAILURE_MS)
      return { ok: true, table: this.table, stale: true }
    }
    return fresh
  }
}

async function readTable(kv: RoutesKv): Promise<TableLoad> {
  let text: string | null
  try {
    text = await kv.get(ROUTES_KV_KEY, 'text')
  } catch (error) {
    return { ok: false, reason: 'unreachable', message: (error as Error).message }
  }
  if (text === null) {
    return {
      ok: false,
      reason: 'missing',
      message: `no route table in KV under "${ROUTES_KV_KEY}"`,
    }
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return { ok: false, reason: 'invalid', message: 'the stored route table is not JSON' }
  }
  const validation = validateRoutesFile(parsed)
  if (!validation.ok) {
    const first = validation.issues[0]
    return { ok: false, reason: 'invalid', message: `${first?.path}: ${first?.message}` }
  }
  return { ok: true, table: compileTable(validation.file), stale: false }
}
