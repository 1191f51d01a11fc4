/**
 * @module gate/route-table
 * The route table as the gate's handlers see it: loaded through one per-isolate
 * cache, and an error (503, fail closed) when there has never been one.
 */
import type { Env } from '../env'
import { numberSetting } from '../env'
import { GateError } from '../errors'
import { RouteTableCache, type PriceTable } from '../pricing'

/** Default seconds a route table is used before KV is read again. */
const DEFAULT_ROUTES_TTL_SECONDS = 30

export type RouteTables = (env: Env) => Promise<PriceTable>

/** One cache for every handler of one gate. */
export function routeTables(): RouteTables {
  let cache: RouteTableCache | undefined
  return async function routeTable(env) {
    cache ??= new RouteTableCache({
      ttlMs: numberSetting(env.ROUTES_CACHE_TTL_SECONDS, DEFAULT_ROUTES_TTL_SECONDS) * 1000,
    })
    const load = await cache.get(env.ROUTES)
    if (load.ok) return load.table
    console.error(`pay-gate: no route table (${load.reason}): ${load.message}`)
    throw new GateError(
      'routes_unavailable',
      'The gate has no route table yet; nothing is served until it has.',
      {
        headers: { 'retry-after': '5' },
      }
    )
  }
}
