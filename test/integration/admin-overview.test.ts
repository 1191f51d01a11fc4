/**
 * The admin API the dashboard's pages stand on, through the real gate in workerd:
 * the key list searched and filtered, totals (keys, outstanding credit, today's
 * revenue), the plans, a key's ledger page by page, and usage events that record
 * the path actually called, filtered by route, in JSON and CSV.
 */
import { env } from 'cloudflare:workers'
import { beforeEach, describe, expect, it } from 'vitest'
import { admin, createKey, gate, newTag, putRouteTable, settledState } from '../helpers'
import { awaitEvents } from '../usage-helpers'

beforeEach(async () => {
  await putRouteTable({
    routes: [
      { path: '/api/*', origin: env.API_ORIGIN, price: '0.02', accept: ['credits'] },
      {
        path: '/mcp-json',
        origin: env.MCP_ORIGIN,
        mcp: { price: '0.001', tools: { search: '0.01' } },
      },
    ],
    plans: {
      starter: { kind: 'payg', freeCalls: 2 },
      team: { kind: 'subscription', fee: '20', includedCalls: 100, overage: 'deny' },
    },
  })
})

async function json(path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const response = await admin(path, init)
  return { status: response.status, body: await response.json() }
}

async function paidCall(path: string, key: string): Promise<number> {
  const response = await gate(path, {
    headers: { 'x-test-tag': newTag(), authorization: `Bearer ${key}` },
  })
  await response.arrayBuffer()
  return response.status
}

/** Every key the list gives for a query, following `next`. */
async function listAll(
  query: string
): Promise<Array<{ id: string; name: string; status: string }>> {
  const keys = []
  let after = ''
  for (;;) {
    const { status, body } = await json(`/keys?limit=2&${query}${after ? `&after=${after}` : ''}`)
    expect(status).toBe(200)
    keys.push(...body.keys)
    if (!body.next) return keys
    after = body.next
  }
}

describe('GET /admin/keys: search and status', () => {
  it('finds keys by a part of the name (any case) or of the id, and filters by status across pages', async () => {
    const tag = crypto.randomUUID().slice(0, 8)
    const made: Record<string, string> = {}
    for (const name of [`Acme ${tag} One`, `acme ${tag} two`, `Other ${tag}`]) {
      made[name] = (await createKey('1', { name })).id
    }
    expect((await admin(`/keys/${made[`Other ${tag}`]}/suspend`, { method: 'POST' })).status).toBe(
      200
    )

    expect(
      (await listAll(`q=${encodeURIComponent(`ACME ${tag}`)}`)).map((key) => key.name)
    ).toEqual([`Acme ${tag} One`, `acme ${tag} two`])
    const byId = made[`acme ${tag} two`]!
    expect((await listAll(`q=${byId.slice(4, 16)}`)).map((key) => key.id)).toEqual([byId])
    expect((await listAll(`q=${tag}&status=suspended`)).map((key) => key.name)).toEqual([
      `Other ${tag}`,
    ])
    expect((await listAll(`q=${tag}&status=active`)).map((key) => key.status)).toEqual([
      'active',
      'active',
    ])
    expect(await listAll(`q=${tag}&status=revoked`)).toEqual([])
  })

  it('refuses a status or a limit it does not know, with a clear message', async () => {
    const bad = await json('/keys?status=sleeping')
    expect(bad.status).toBe(400)
    expect(bad.body.error.message).toContain('status')
    expect((await json('/keys?limit=0')).status).toBe(400)
    expect((await json(`/keys?q=${'x'.repeat(201)}`)).status).toBe(400)
  })
})

describe('GET /admin/totals', () => {
  it("counts keys by status, sums their balances, and adds up today's revenue", async () => {
    const before = await json('/totals')
    expect(before.status).toBe(200)
    const a = await createKey('2.50')
    const b = await createKey('1')
    expect((await admin(`/keys/${b.id}/revoke`, { method: 'POST' })).status).toBe(200)
    expect(await paidCall('/api/items/1', a.key)).toBe(200)
    await settledState(a.id)
    await awaitEvents(1, 'key_id = ?', a.id)

    const after = await json('/totals')
    expect(after.body.keys.total - before.body.keys.total).toBe(2)
    expect(after.body.keys.active - before.body.keys.active).toBe(1)
    expect(after.body.keys.revoked - before.body.keys.revoked).toBe(1)
    // $2.50 + $1, less the $0.02 call: micro-dollars, and the same as dollars.
    expect(after.body.outstanding - before.body.outstanding).toBe(3_480_000)
    expect(after.body.outstandingDollars).toBe(formatMicros(after.body.outstanding))
    expect(after.body.today.revenue - before.body.today.revenue).toBe(20_000)
    expect(after.body.today.calls - before.body.today.calls).toBe(1)
    expect(after.body.today.from).toBe(`${new Date().toISOString().slice(0, 10)}T00:00:00.000Z`)
  })

  it('needs the admin token', async () => {
    expect((await gate('/admin/totals')).status).toBe(401)
  })
})

function formatMicros(micros: number): string {
  const whole = Math.floor(micros / 1_000_000)
  const fraction = String(micros % 1_000_000)
    .padStart(6, '0')
    .replace(/0+$/, '')
  return fraction ? `${whole}.${fraction}` : String(whole)
}

describe('GET /admin/plans', () => {
  it('lists the plans routes.json defines, amounts as dollars', async () => {
    const { status, body } = await json('/plans')
    expect(status).toBe(200)
    expect(body.plans).toEqual([
      { name: 'starter', kind: 'payg', period: 'month', freeCalls: 2 },
      expect.objectContaining({
        name: 'team',
        kind: 'subscription',
        fee: '20',
        includedCalls: 100,
        overage: 'deny',
      }),
    ])
  })
})

describe('GET /admin/keys/:id: the ledger page by page', () => {
  it('pages back through the ledger with before=<seq> until ledgerNext is null', async () => {
    const { id } = await createKey('1')
    for (const credits of ['1', '2', '3', '4']) {
      expect(
        (await admin(`/keys/${id}/topup`, { method: 'POST', body: JSON.stringify({ credits }) }))
          .status
      ).toBe(200)
    }
    const all = (await json(`/keys/${id}?ledger=100`)).body
    expect(all.ledgerNext).toBeNull()
    const seen: number[] = []
    let before = ''
    for (let pages = 0; pages < 10; pages++) {
      const page = (await json(`/keys/${id}?ledger=2${before ? `&before=${before}` : ''}`)).body
      seen.push(...page.ledger.map((row: { seq: number }) => row.seq))
      if (page.ledgerNext === null) break
      expect(page.ledgerNext).toBe(page.ledger.at(-1).seq)
      before = String(page.ledgerNext)
    }
    expect(seen).toEqual(all.ledger.map((row: { seq: number }) => row.seq))
    expect(seen.length).toBe(5) // the opening credit and four top-ups
    expect((await json(`/keys/${id}?before=abc`)).status).toBe(400)
  })
})

describe('usage events: the path called', () => {
  it('records the path beside the route, filters by route, and exports both as CSV', async () => {
    const { id, key } = await createKey('1')
    expect(await paidCall('/api/items/42?secret=not-recorded', key)).toBe(200)
    await settledState(id)
    const [event] = await awaitEvents(1, 'key_id = ?', id)
    expect(event).toMatchObject({ route: '/api/*', path: '/api/items/42' })

    const listed = await json(`/usage/events?keyId=${id}&route=${encodeURIComponent('/api/*')}`)
    expect(listed.body).toHaveLength(1)
    expect(listed.body[0]).toMatchObject({ path: '/api/items/42', route: '/api/*' })
    expect(
      (await json(`/usage/events?keyId=${id}&route=${encodeURIComponent('/mcp-json')}`)).body
    ).toEqual([])

    const csv = await (await admin(`/usage/events?keyId=${id}&format=csv`)).text()
    const [header, row] = csv.split('\r\n')
    const columns = header!.split(',')
    expect(columns).toContain('path')
    expect(row!.split(',')[columns.indexOf('path')]).toBe('/api/items/42')
    expect(csv).not.toContain('not-recorded')
  })
})
