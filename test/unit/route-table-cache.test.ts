import { describe, expect, it } from 'vitest'
import { ROUTES_KV_KEY, RouteTableCache, type RoutesKv } from '../../src/pricing'

const TABLE = JSON.stringify({
  version: 1,
  routes: [{ path: '/api/*', origin: 'http://127.0.0.1:8080', price: '0.02' }],
})

/** A KV stand-in whose answer each test sets: a value, nothing, or an outage. */
function fakeKv(): RoutesKv & { value: string | null; down: boolean; reads: number } {
  return {
    value: null,
    down: false,
    reads: 0,
    async get(key: string) {
      this.reads++
      if (this.down) throw new Error('KV unreachable')
      return key === ROUTES_KV_KEY ? this.value : null
    },
  }
}

describe('RouteTableCache', () => {
  it('reports that there has never been a table, so the gate can refuse', async () => {
    const kv = fakeKv()
    const cache = new RouteTableCache({ ttlMs: 30_000 })
    expect(await cache.get(kv)).toMatchObject({ ok: false, reason: 'missing' })
    kv.down = true
    expect(await cache.get(kv)).toMatchObject({ ok: false, reason: 'unreachable' })
    kv.down = false
    kv.value = '{"version":1,"routes":[{"path":"/x","origin":"http://a","price":"free?"}]}'
    expect(await cache.get(kv)).toMatchObject({ ok: false, reason: 'invalid' })
  })

  it('reads KV once per TTL, and keeps the last good table through an outage', async () => {
    const kv = fakeKv()
    kv.value = TABLE
    const cache = new RouteTableCache({ ttlMs: 30_000 })
    const first = await cache.get(kv, 0)
    expect(first.ok).toBe(true)
    await cache.get(kv, 29_999)
    expect(kv.reads).toBe(1)
    kv.down = true
    const during = await cache.get(kv, 30_000)
    expect(during).toMatchObject({ ok: true, stale: true })
    expect(kv.reads).toBe(2)
    kv.value = 'not json'
    kv.down = false
    expect(await cache.get(kv, 40_000)).toMatchObject({ ok: true, stale: true })
  })
})
