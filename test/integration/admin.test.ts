import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { createGate } from '../../src/app'
import type { Env } from '../../src/env'
import { TEST_ADMIN_TOKEN } from '../constants'
import { admin, createKey, gate, keyState, putRoutes, settledState } from '../helpers'

/** Every admin route, with a request that would succeed given the right token. */
const ROUTES: Array<[string, string, unknown?]> = [
  ['POST', '/admin/keys', { name: 'x', credits: '1' }],
  ['GET', '/admin/keys'],
  ['GET', '/admin/keys/key_aaaaaaaaaaaaaaaaaaaa'],
  ['POST', '/admin/keys/key_aaaaaaaaaaaaaaaaaaaa/topup', { credits: '1' }],
  ['POST', '/admin/keys/key_aaaaaaaaaaaaaaaaaaaa/suspend'],
  ['POST', '/admin/keys/key_aaaaaaaaaaaaaaaaaaaa/resume'],
  ['POST', '/admin/keys/key_aaaaaaaaaaaaaaaaaaaa/revoke'],
]

const WRONG_TOKENS: Array<[string, Record<string, string>]> = [
  ['no token', {}],
  ['a wrong token', { authorization: 'Bearer not-the-admin-token-at-all' }],
  ['an almost-right token', { authorization: `Bearer ${TEST_ADMIN_TOKEN.slice(0, -1)}x` }],
  ['the token with a suffix', { authorization: `Bearer ${TEST_ADMIN_TOKEN}x` }],
  ['the token without "Bearer"', { authorization: TEST_ADMIN_TOKEN }],
  ['the token as an API key header', { 'x-api-key': TEST_ADMIN_TOKEN }],
  ['the token after a tab, not a space', { authorization: `Bearer\t${TEST_ADMIN_TOKEN}` }],
  ['the token followed by a second word', { authorization: `Bearer ${TEST_ADMIN_TOKEN} extra` }],
]

/** Spellings RFC 9110 §11.4 makes the same credential: case-insensitive scheme, 1*SP before the token. */
const RIGHT_SPELLINGS = [
  `Bearer ${TEST_ADMIN_TOKEN}`,
  `bearer ${TEST_ADMIN_TOKEN}`,
  `BEARER   ${TEST_ADMIN_TOKEN}`,
  ` Bearer ${TEST_ADMIN_TOKEN}\t`,
]

/** A client address of its own per case (TEST-NET-3 strings, no traffic), so the throttle stays out of the matrix. */
let client = 0
const nextClient = () => `203.0.113.${++client}`

describe('admin authorization', () => {
  for (const [method, path, body] of ROUTES) {
    it.each(WRONG_TOKENS)(
      `${method} ${path} refuses %s with 401 and changes nothing`,
      async (_what, headers) => {
        const before = await admin('/keys?limit=100').then((r) => r.json())
        const response = await gate(path, {
          method,
          headers: {
            ...headers,
            'content-type': 'application/json',
            'cf-connecting-ip': nextClient(),
          },
          body: body ? JSON.stringify(body) : undefined,
        })
        expect(response.status).toBe(401)
        expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
          'unauthorized'
        )
        expect(await admin('/keys?limit=100').then((r) => r.json())).toEqual(before)
      }
    )
  }
})

describe('admin token spellings', () => {
  it.each(RIGHT_SPELLINGS)('accepts %j', async (authorization) => {
    expect(
      (await gate('/admin/keys', { headers: { authorization, 'cf-connecting-ip': nextClient() } }))
        .status
    ).toBe(200)
  })
})

describe('admin throttling', () => {
  it('slows down a client that keeps sending wrong tokens, and still lets the right token in', async () => {
    const ip = '198.51.100.7'
    const wrong = { authorization: 'Bearer wrong-token-guess-000000', 'cf-connecting-ip': ip }
    for (let attempt = 0; attempt < 5; attempt++)
      expect((await gate('/admin/keys', { headers: wrong })).status).toBe(401)
    const slowed = await gate('/admin/keys', { headers: wrong })
    expect(slowed.status).toBe(429)
    expect(Number(slowed.headers.get('retry-after'))).toBeGreaterThan(0)
    const right = await gate('/admin/keys', {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'cf-connecting-ip': ip },
    })
    expect(right.status).toBe(200)
    expect(
      (await gate('/admin/keys', { headers: { ...wrong, 'cf-connecting-ip': '198.51.100.8' } }))
        .status
    ).toBe(401)
  })

  /** The gate with CLIENT_IP_HEADER set, as `pay-gate serve` or an operator behind a proxy runs it. */
  async function adminKeysWith(setting: string, headers: Record<string, string>): Promise<number> {
    const ctx = createExecutionContext()
    const response = await createGate().fetch(
      new Request('https://gate.test/admin/keys', { headers }),
      { ...env, CLIENT_IP_HEADER: setting } as unknown as Env,
      ctx
    )
    await response.text()
    await waitOnExecutionContext(ctx)
    return response.status
  }

  it("self-hosted (CLIENT_IP_HEADER=none), a CF-Connecting-IP of the client's choosing buys no fresh allowance", async () => {
    const statuses: number[] = []
    for (let n = 0; n < 8; n++) {
      statuses.push(
        await adminKeysWith('none', {
          authorization: `Bearer wrong-self-hosted-${n}-000000`,
          'cf-connecting-ip': `192.0.2.${100 + n}`,
        })
      )
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429])
    expect(
      await adminKeysWith('none', {
        authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
        'cf-connecting-ip': '192.0.2.99',
      })
    ).toBe(200)
  })

  it('behind a proxy (CLIENT_IP_HEADER=X-Forwarded-For), only the address the proxy appended counts', async () => {
    const wrong = (n: number, chain: string) => ({
      authorization: `Bearer wrong-proxied-${n}-00000000`,
      'x-forwarded-for': chain,
      'cf-connecting-ip': `192.0.2.${200 + n}`,
    })
    const statuses: number[] = []
    // The client varies what it sends (its own X-Forwarded-For entry, CF-Connecting-IP); the proxy appends its peer.
    for (let n = 0; n < 6; n++)
      statuses.push(await adminKeysWith('X-Forwarded-For', wrong(n, `10.9.${n}.1, 198.51.100.60`)))
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429])
    expect(await adminKeysWith('X-Forwarded-For', wrong(9, '198.51.100.60, 198.51.100.61'))).toBe(
      401
    )
  })
})

describe('admin keys', () => {
  it('creates a key, shows it once, and stores only what it needs', async () => {
    const response = await admin('/keys', {
      method: 'POST',
      body: JSON.stringify({ name: 'alice', credits: '12.5' }),
    })
    expect(response.status).toBe(201)
    const created = (await response.json()) as Record<string, unknown>
    expect(created).toMatchObject({ name: 'alice', status: 'active', credits: '12.5' })
    expect(created.key).toMatch(/^pg_[A-Za-z0-9_-]{43}$/)
    expect(created.id).toMatch(/^key_[a-z2-7]{20}$/)
    const read = (await admin(`/keys/${created.id}`).then((r) => r.json())) as Record<
      string,
      unknown
    >
    expect(read).toMatchObject({ id: created.id, name: 'alice', status: 'active', credits: '12.5' })
    expect(JSON.stringify(read)).not.toContain(created.key as string)
    const listed = (await admin('/keys?limit=100').then((r) => r.json())) as {
      keys: Array<Record<string, unknown>>
    }
    const entry = listed.keys.find((k) => k.id === created.id)
    expect(entry).toMatchObject({ name: 'alice', credits: '12.5' })
    expect(JSON.stringify(listed)).not.toContain(created.key as string)
  })

  it('a top-up sent twice with one Idempotency-Key credits once, even sent at once; a new key credits again', async () => {
    const { id } = await createKey('1')
    const topUp = (idempotencyKey: string, credits = '0.5') =>
      admin(`/keys/${id}/topup`, {
        method: 'POST',
        headers: { 'idempotency-key': idempotencyKey },
        body: JSON.stringify({ credits }),
      })
    const answers = await Promise.all([topUp('click-1'), topUp('click-1'), topUp('click-1')])
    expect(answers.map((response) => response.status)).toEqual([200, 200, 200])
    const bodies = (await Promise.all(answers.map((response) => response.json()))) as Array<{
      duplicate?: boolean
    }>
    expect(bodies.filter((body) => body.duplicate === true)).toHaveLength(2) // the repeats say they credited nothing
    expect((await keyState(id)).credits).toBe('1.5')
    // The same key for another amount is a mistake, not a repeat: refused, and nothing credited.
    const reused = await topUp('click-1', '5')
    expect(reused.status).toBe(422)
    expect(await reused.json()).toMatchObject({ error: { code: 'idempotency_mismatch' } })
    expect((await keyState(id)).credits).toBe('1.5')
    expect((await topUp('click-2')).status).toBe(200)
    const state = await keyState(id)
    expect(state.credits).toBe('2')
    expect(state.ledger.filter((row) => row.kind === 'topup')).toHaveLength(2)
    expect((await topUp('not valid\u0001')).status).toBe(400)
  })

  it('tops up, suspends, resumes and revokes, each a ledger row', async () => {
    const { id, key } = await createKey('1')
    expect(
      await admin(`/keys/${id}/topup`, {
        method: 'POST',
        body: JSON.stringify({ credits: '0.5' }),
      }).then((r) => r.json())
    ).toMatchObject({ credits: '1.5' })
    expect(
      await admin(`/keys/${id}/suspend`, { method: 'POST' }).then((r) => r.json())
    ).toMatchObject({ status: 'suspended' })
    expect(
      await admin(`/keys/${id}/resume`, { method: 'POST' }).then((r) => r.json())
    ).toMatchObject({ status: 'active' })
    expect(
      await admin(`/keys/${id}/revoke`, { method: 'POST' }).then((r) => r.json())
    ).toMatchObject({ status: 'revoked' })
    const resumed = await admin(`/keys/${id}/resume`, { method: 'POST' })
    expect(resumed.status).toBe(403)
    const state = await keyState(id)
    expect(state.ledger.map((row) => row.kind)).toEqual([
      'revoke',
      'resume',
      'suspend',
      'topup',
      'grant',
    ])
    const balance = await gate('/balance', { headers: { authorization: `Bearer ${key}` } })
    expect(await balance.json()).toMatchObject({ credits: '1.5', status: 'revoked' })
  })

  it.each([
    [{ name: '', credits: '1' }],
    [{ name: 'x', credits: 1 }],
    [{ name: 'x', credits: '1.0000001' }],
    [{ name: 'x', credits: '-1' }],
    [{ name: 'x', credits: '1', expiresAt: 'tomorrow' }],
    [{ name: 'x', credits: '1', expiresAt: '2000-01-01T00:00:00Z' }],
    [{ name: 'x', credits: '1', rateLimit: { limit: 0, windowSeconds: 60 } }],
    [{ name: 'x', credits: '1', surprise: true }],
  ])('refuses to create a key from %j with 400', async (body) => {
    const before = (await admin('/keys?limit=100').then((r) => r.json())) as { keys: unknown[] }
    const response = await admin('/keys', { method: 'POST', body: JSON.stringify(body) })
    expect(response.status).toBe(400)
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
      'invalid_request'
    )
    const after = (await admin('/keys?limit=100').then((r) => r.json())) as { keys: unknown[] }
    expect(after.keys).toHaveLength(before.keys.length)
  })

  it('refuses a bad top-up and leaves the balance alone', async () => {
    const { id } = await createKey('1')
    for (const body of [
      '{',
      JSON.stringify({ credits: '0' }),
      JSON.stringify({ credits: '1e3' }),
      JSON.stringify({}),
    ]) {
      const response = await admin(`/keys/${id}/topup`, { method: 'POST', body })
      expect(response.status, body).toBe(400)
    }
    expect((await keyState(id)).credits).toBe('1')
    expect(
      (
        await admin('/keys/key_doesnotexistatall23/topup', {
          method: 'POST',
          body: '{"credits":"1"}',
        })
      ).status
    ).toBe(404)
  })

  it('pages through the key list', async () => {
    for (let i = 0; i < 3; i++) await createKey('1')
    const first = (await admin('/keys?limit=2').then((r) => r.json())) as {
      keys: Array<{ id: string }>
      next: string | null
    }
    expect(first.keys).toHaveLength(2)
    expect(first.next).toBe(first.keys[1]?.id)
    const second = (await admin(`/keys?limit=2&after=${first.next}`).then((r) => r.json())) as {
      keys: Array<{ id: string }>
    }
    expect(second.keys[0]?.id).not.toBe(first.keys[1]?.id)
  })
})

describe('GET /balance', () => {
  it('shows a key holder their credits, and nothing to anyone else', async () => {
    await putRoutes([{ path: '/api/*', origin: env.API_ORIGIN, price: '0.25' }])
    const { id, key } = await createKey('1')
    await (await gate('/api/x', { headers: { 'x-api-key': key } })).arrayBuffer()
    await settledState(id)
    const mine = await gate('/balance', { headers: { 'x-api-key': key } })
    expect(mine.status).toBe(200)
    expect(await mine.json()).toMatchObject({ credits: '0.75', status: 'active' })
    expect((await gate('/balance')).status).toBe(401)
    expect(
      (await gate('/balance', { headers: { 'x-api-key': `pg_${'z'.repeat(43)}` } })).status
    ).toBe(401)
  })
})
