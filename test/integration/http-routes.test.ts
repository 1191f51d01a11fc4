import { env } from 'cloudflare:workers'
import { beforeEach, describe, expect, it } from 'vitest'
import { ROUTES_KV_KEY } from '../../src/pricing'
import {
  admin,
  charges,
  createKey,
  gate,
  keyState,
  newTag,
  originRequests,
  putRoutes,
  settledState,
} from '../helpers'

beforeEach(async () => {
  await putRoutes([
    { path: '/api/health', origin: env.API_ORIGIN, free: true },
    { path: '/api/slow', origin: env.API_ORIGIN, price: '0.02', timeoutMs: 300 },
    {
      path: '/api/headers',
      origin: env.API_ORIGIN,
      price: '0.02',
      upstreamAuth: { secret: 'UPSTREAM_TOKEN', header: 'X-Operator-Token', prefix: 'Token ' },
    },
    {
      path: '/api/limited/*',
      origin: env.API_ORIGIN,
      price: '0.01',
      rateLimit: { limit: 2, windowSeconds: 3600 },
    },
    { path: '/api/*', method: 'GET', origin: env.API_ORIGIN, price: '0.02' },
    { path: '/down/*', origin: 'http://127.0.0.1:9', price: '0.02' },
  ])
})

function get(
  path: string,
  key: string | undefined,
  tag: string,
  headers: Record<string, string> = {}
) {
  return gate(path, {
    headers: { 'x-test-tag': tag, ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
  })
}

describe('free routes', () => {
  it('pass straight through, no key needed', async () => {
    const tag = newTag()
    const response = await get('/api/health', undefined, tag)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ ok: true })
    expect(await originRequests(tag)).toHaveLength(1)
  })

  it('never forward a gate key, even where no payment is needed', async () => {
    const { key } = await createKey('1')
    const tag = newTag()
    await (await gate('/api/health', { headers: { 'x-api-key': key, 'x-test-tag': tag } })).text()
    await (await get('/api/health', key, tag)).text()
    const seen = await originRequests(tag)
    expect(seen).toHaveLength(2)
    expect(JSON.stringify(seen)).not.toContain(key)
  })
})

describe('priced HTTP routes', () => {
  it('refuse a call without a key with 401, and the origin never sees it', async () => {
    const tag = newTag()
    const response = await get('/api/users', undefined, tag)
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({
      error: { code: 'missing_api_key', price: '0.02' },
    })
    expect(await originRequests(tag)).toHaveLength(0)
  })

  it('refuse an unknown or malformed key with 401', async () => {
    const tag = newTag()
    for (const key of ['pg_' + 'A'.repeat(43), 'pg_short', 'not-ours-at-all']) {
      const response = await gate('/api/users', {
        headers: { 'x-api-key': key, 'x-test-tag': tag },
      })
      expect(response.status, key).toBe(401)
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
        'invalid_api_key'
      )
    }
    expect(await originRequests(tag)).toHaveLength(0)
  })

  it('charge a successful call its price once, with a ledger row, and say what is left', async () => {
    const { id, key } = await createKey('1')
    const tag = newTag()
    const response = await get('/api/users/7?expand=1', key, tag)
    expect(response.status).toBe(200)
    expect(response.headers.get('x-credits-remaining')).toBe('0.98')
    expect(await response.json()).toMatchObject({
      path: '/api/users/7',
      query: 'expand=1',
      method: 'GET',
    })
    const state = await settledState(id)
    expect(state.credits).toBe('0.98')
    expect(charges(state)).toEqual(['-0.02'])
    expect(state.ledger[0]).toMatchObject({ kind: 'charge', amount: '-0.02', balanceAfter: '0.98' })
  })

  it('strip the caller’s key and any X-Pay-* header before the origin, and add the operator’s credential', async () => {
    const { key } = await createKey('1')
    const tag = newTag()
    const response = await gate('/api/headers', {
      headers: {
        'x-api-key': key,
        'x-test-tag': tag,
        'x-pay-verified': 'true',
        'x-pay-from': '0xdead',
        'X-Operator-Token': 'forged',
      },
    })
    expect(response.status).toBe(200)
    const seen = (await response.json()) as Record<string, string>
    expect(seen['x-api-key']).toBeUndefined()
    // What the gate vouches for replaces what the caller claimed.
    expect(seen['x-pay-verified']).toBe('true')
    expect(seen['x-pay-rail']).toBe('credits')
    expect(seen['x-pay-from']).toBeUndefined()
    expect(seen['x-operator-token']).toBe('Token operator-secret-upstream-token')
    expect(JSON.stringify([...response.headers])).not.toContain('operator-secret')
  })

  it('leave an Authorization header that is not one of our keys to the origin', async () => {
    const { key } = await createKey('1')
    const tag = newTag()
    const response = await gate('/api/headers', {
      headers: { 'x-api-key': key, authorization: 'Bearer origin-oauth-token', 'x-test-tag': tag },
    })
    const seen = (await response.json()) as Record<string, string>
    expect(seen.authorization).toBe('Bearer origin-oauth-token')
  })

  it.each([500, 503, 404, 400])('do not charge when the origin answers %i', async (status) => {
    const { id, key } = await createKey('1')
    const response = await get(`/api/status/${status}`, key, newTag())
    expect(response.status).toBe(status)
    await response.arrayBuffer()
    const state = await settledState(id)
    expect(state.credits).toBe('1')
    expect(charges(state)).toEqual([])
  })

  it('do not charge when the origin times out (504) or cannot be reached (502)', async () => {
    const { id, key } = await createKey('1')
    const slow = await get('/api/slow?ms=2000', key, newTag())
    expect(slow.status).toBe(504)
    expect(((await slow.json()) as { error: { code: string } }).error.code).toBe('upstream_timeout')
    const down = await get('/down/x', key, newTag())
    expect(down.status).toBe(502)
    const state = await settledState(id)
    expect(state.credits).toBe('1')
    expect(charges(state)).toEqual([])
  })

  it('charge a streamed body only once it has been delivered in full', async () => {
    const { id, key } = await createKey('1')
    const response = await get('/api/stream?chunks=5&delay=20', key, newTag())
    expect(response.status).toBe(200)
    expect((await keyState(id)).held).toBe('0.02')
    expect((await response.text()).length).toBeGreaterThan(0)
    expect(charges(await settledState(id))).toEqual(['-0.02'])
  })

  it('release the hold when the caller goes away mid-stream', async () => {
    const { id, key } = await createKey('1')
    const response = await get('/api/stream?chunks=20&delay=50', key, newTag())
    const reader = (response.body as ReadableStream).getReader()
    await reader.read()
    await reader.cancel()
    const state = await settledState(id)
    expect(state.credits).toBe('1')
    expect(charges(state)).toEqual([])
  })

  it('answer 402 when the balance does not cover the price, without calling the origin', async () => {
    const { id, key } = await createKey('0.01')
    const tag = newTag()
    const response = await get('/api/users', key, tag)
    expect(response.status).toBe(402)
    expect(await response.json()).toMatchObject({
      error: { code: 'insufficient_credits', price: '0.02', credits: '0.01' },
    })
    expect(await originRequests(tag)).toHaveLength(0)
    expect((await keyState(id)).credits).toBe('0.01')
  })

  it('answer 403 for suspended, revoked and expired keys', async () => {
    const suspended = await createKey('1')
    await admin(`/keys/${suspended.id}/suspend`, { method: 'POST' })
    const revoked = await createKey('1')
    await admin(`/keys/${revoked.id}/revoke`, { method: 'POST' })
    const expiring = await createKey('1', { expiresAt: new Date(Date.now() + 1500).toISOString() })
    await new Promise((resolve) => setTimeout(resolve, 1600))
    const tag = newTag()
    for (const [key, code] of [
      [suspended.key, 'key_suspended'],
      [revoked.key, 'key_revoked'],
      [expiring.key, 'key_expired'],
    ] as const) {
      const response = await get('/api/users', key, tag)
      expect(response.status).toBe(403)
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe(code)
    }
    expect(await originRequests(tag)).toHaveLength(0)
  })

  it('rate-limit per key exactly, with Retry-After and X-RateLimit-* headers', async () => {
    const { id, key } = await createKey('1')
    const first = await get('/api/limited/a', key, newTag())
    expect(first.headers.get('x-ratelimit-limit')).toBe('2')
    expect(first.headers.get('x-ratelimit-remaining')).toBe('1')
    expect(Number(first.headers.get('x-ratelimit-reset'))).toBeGreaterThan(0)
    await first.arrayBuffer()
    const second = await get('/api/limited/b', key, newTag())
    expect(second.headers.get('x-ratelimit-remaining')).toBe('0')
    await second.arrayBuffer()
    const tag = newTag()
    const third = await get('/api/limited/c', key, tag)
    expect(third.status).toBe(429)
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await originRequests(tag)).toHaveLength(0)
    expect(charges(await settledState(id))).toEqual(['-0.01', '-0.01'])
  })

  it('charge a retried request with the same Idempotency-Key once', async () => {
    const { id, key } = await createKey('1')
    const headers = { 'idempotency-key': 'order-42' }
    for (let attempt = 0; attempt < 3; attempt++) {
      const response = await get('/api/orders/42', key, newTag(), headers)
      expect(response.status).toBe(200)
      await response.arrayBuffer()
      await settledState(id)
    }
    const reused = await get('/api/orders/43', key, newTag(), headers)
    expect(reused.status).toBe(422)
    expect(charges(await settledState(id))).toEqual(['-0.02'])
  })
})

describe('routing', () => {
  it('answers 404 for a path no route names, 405 for a method a route does not take', async () => {
    const tag = newTag()
    expect((await get('/nowhere', undefined, tag)).status).toBe(404)
    const post = await gate('/api/users', { method: 'POST', headers: { 'x-test-tag': tag } })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET')
    expect(await originRequests(tag)).toHaveLength(0)
  })

  it('charges the price of the route a path reaches, however it is spelled', async () => {
    const { id, key } = await createKey('1')
    const tag = newTag()
    for (const path of ['/API/users', '/api//users', '/api/health/../users', '/api/%75sers']) {
      const response = await get(path, key, tag)
      expect(response.status, path).toBe(200)
      await response.arrayBuffer()
    }
    expect((await originRequests(tag)).map((r) => r.path)).toEqual([
      '/api/users',
      '/api/users',
      '/api/users',
      '/api/%75sers',
    ])
    expect(charges(await settledState(id))).toHaveLength(4)
  })

  it('keeps the last good table when the stored one is corrupted or gone', async () => {
    const { id, key } = await createKey('1')
    const first = await get('/api/users', key, newTag())
    expect(first.status).toBe(200)
    await first.arrayBuffer()
    await env.ROUTES.put(
      ROUTES_KV_KEY,
      JSON.stringify({
        version: 1,
        routes: [{ path: '/api/*', origin: env.API_ORIGIN, price: 'free!' }],
      })
    )
    const corrupted = await get('/api/users', key, newTag())
    expect(corrupted.status).toBe(200)
    await corrupted.arrayBuffer()
    await env.ROUTES.delete(ROUTES_KV_KEY)
    const gone = await get('/api/users', key, newTag())
    expect(gone.status).toBe(200)
    await gone.arrayBuffer()
    expect(charges(await settledState(id))).toEqual(['-0.02', '-0.02', '-0.02'])
  })
})
