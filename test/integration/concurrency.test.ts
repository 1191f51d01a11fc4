/**
 * Many more paid calls than a key can pay for, all at once. The key's account
 * object is the single writer of its balance: exactly as many calls succeed as
 * the balance covers, it ends at zero and never below, and the ledger adds up.
 */
import { env } from 'cloudflare:workers'
import { beforeEach, describe, expect, it } from 'vitest'
import { parseDollars } from '../../src/money'
import {
  createKey,
  gate,
  mcpHeaders,
  mcpMessages,
  newTag,
  originRequests,
  putRoutes,
  settledState,
} from '../helpers'

beforeEach(async () => {
  await putRoutes([
    {
      path: '/mcp-json',
      origin: env.MCP_ORIGIN,
      mcp: { price: '0.001', tools: { search: '0.01' } },
    },
    { path: '/api/*', origin: env.API_ORIGIN, price: '0.03' },
  ])
})

const micros = (text: string) => {
  const parsed = parseDollars(text.replace(/^-/, ''))
  if (!parsed.ok) throw new Error(text)
  return text.startsWith('-') ? -parsed.micros : parsed.micros
}

describe('concurrent calls on one key', () => {
  it('MCP: 60 calls at once on a balance for 10 — 10 served and charged, 50 refused, balance 0', async () => {
    const { id, key } = await createKey('0.1')
    const tag = newTag()
    const responses = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        gate('/mcp-json', {
          method: 'POST',
          headers: mcpHeaders(key, tag),
          body: JSON.stringify({
            jsonrpc: '2.0',
            id: i,
            method: 'tools/call',
            params: { name: 'search', arguments: { query: `q${i}` } },
          }),
        })
      )
    )
    const messages = (await Promise.all(responses.map(mcpMessages))).map((m) => m[0])
    const served = messages.filter((m) => m && 'result' in m)
    const refused = messages.filter(
      (m) => (m?.error as { code?: number } | undefined)?.code === -32402
    )
    expect(served).toHaveLength(10)
    expect(refused).toHaveLength(50)
    const calls = (await originRequests(tag)).filter((r) => r.body.includes('tools/call'))
    expect(calls).toHaveLength(10)

    const state = await settledState(id)
    expect(state.credits).toBe('0')
    const chargeRows = state.ledger.filter((row) => row.kind === 'charge')
    expect(chargeRows).toHaveLength(10)
    // Oldest first: every row's balance is the previous one plus its amount, never below 0.
    let balance = 0
    for (const row of [...state.ledger].reverse()) {
      balance += micros(row.amount)
      expect(micros(row.balanceAfter)).toBe(balance)
      expect(balance).toBeGreaterThanOrEqual(0)
    }
    expect(balance).toBe(0)
  })

  it('HTTP: 40 calls at once on a balance for 7 — 7 served, 33 answered 402', async () => {
    const { id, key } = await createKey('0.21')
    const tag = newTag()
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        gate(`/api/item/${i}`, { headers: { 'x-api-key': key, 'x-test-tag': tag } })
      )
    )
    await Promise.all(responses.map((r) => r.arrayBuffer()))
    const statuses = responses.map((r) => r.status)
    expect(statuses.filter((s) => s === 200)).toHaveLength(7)
    expect(statuses.filter((s) => s === 402)).toHaveLength(33)
    expect(await originRequests(tag)).toHaveLength(7)
    const state = await settledState(id)
    expect(state.credits).toBe('0')
    expect(state.ledger.filter((row) => row.kind === 'charge')).toHaveLength(7)
  })

  it('the same Idempotency-Key sent 20 times at once is served and charged once', async () => {
    const { id, key } = await createKey('1')
    const tag = newTag()
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        gate('/api/orders/1', {
          headers: { 'x-api-key': key, 'idempotency-key': 'once', 'x-test-tag': tag },
        })
      )
    )
    await Promise.all(responses.map((r) => r.arrayBuffer()))
    const statuses = responses.map((r) => r.status)
    // One holds the key; the others find it in progress (409) or, if it already settled, replay it free.
    expect(statuses.every((s) => s === 200 || s === 409)).toBe(true)
    const state = await settledState(id)
    expect(state.ledger.filter((row) => row.kind === 'charge')).toHaveLength(1)
    expect(state.credits).toBe('0.97')
  })
})
