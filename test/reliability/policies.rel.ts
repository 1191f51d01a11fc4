/**
 * Key policies under load: bursts of concurrent calls against a quota, a
 * lifetime cap and a plan's free and included calls. The account object decides
 * each in the transaction that takes the hold, so exactly the allowed number is
 * served and charged, whatever the interleaving; failed calls give their share
 * back; the ledger invariants hold for every key.
 */
import { env } from 'cloudflare:workers'
import { it } from 'vitest'
import {
  createKey,
  gate,
  keyState,
  mcpHeaders,
  mcpMessages,
  originRequests,
  putRouteTable,
} from '../helpers'
import { bounded, checkLedger, Tally } from './harness'

const PRICE = 2_000

async function seedRoutes(): Promise<void> {
  await putRouteTable({
    routes: [
      { path: '/api/*', method: 'GET', origin: env.API_ORIGIN, price: '0.002' },
      {
        path: '/mcp-json',
        origin: env.MCP_ORIGIN,
        mcp: { price: '0.002', tools: { search: '0.002' } },
      },
    ],
    plans: {
      free5: { kind: 'payg', freeCalls: 5 },
      sub8: { kind: 'subscription', fee: '0.01', includedCalls: 8, overage: 'deny' },
    },
  })
}

async function burst(tally: Tally, key: string, tag: string, paths: string[]): Promise<number[]> {
  return bounded(paths, paths.length, async (path) => {
    const response = await gate(path, { headers: { 'x-api-key': key, 'x-test-tag': tag } })
    await response.text()
    tally.call()
    return response.status
  })
}

it('60 concurrent calls on a key with a daily quota of 12 calls, a quarter failing upstream: exactly 12 succeed', async ({
  task,
}) => {
  const tally = new Tally(task)
  await seedRoutes()
  const tag = crypto.randomUUID()
  const key = {
    ...(await createKey('1', { policy: { quotas: { daily: { calls: 12 } } } })),
    name: 'quota',
  }
  // Failures give their quota back, so keep asking until the quota is used: the total served must be exactly 12.
  let served = 0
  for (let round = 0; round < 5 && served < 12; round++) {
    const paths = Array.from({ length: 60 }, (_, i) =>
      i % 4 === 0 ? '/api/status/500' : `/api/item/${round}-${i}`
    )
    const statuses = await burst(tally, key.key, tag, paths)
    tally.fault(paths.filter((path) => path.includes('500')).length)
    served += statuses.filter((status) => status === 200).length
    tally.check(
      statuses.every((status) => [200, 429, 500].includes(status)),
      `quota: only 200, 429 or 500 (${[...new Set(statuses)].join(',')})`
    )
    await checkLedger(tally, key, {})
  }
  tally.equal(served, 12, 'quota: served = the quota')
  await checkLedger(tally, key, { charges: 12, charged: 12 * PRICE, credited: 1_000_000 })
  const view = (await keyState(key.id)) as unknown as { usage: { today: { calls: number } } }
  tally.equal(
    view.usage.today.calls,
    12,
    'quota: the day counter = served calls (failures given back)'
  )
  tally.assertClean()
})

it('50 concurrent calls against a lifetime cap of 9 calls: exactly 9 served and charged', async ({
  task,
}) => {
  const tally = new Tally(task)
  await seedRoutes()
  const tag = crypto.randomUUID()
  const key = {
    ...(await createKey('1', { policy: { lifetimeLimit: '0.018' } })),
    name: 'lifetime',
  }
  const statuses = await burst(
    tally,
    key.key,
    tag,
    Array.from({ length: 50 }, (_, i) => `/api/item/${i}`)
  )
  tally.equal(statuses.filter((status) => status === 200).length, 9, 'lifetime: served = the cap')
  tally.equal(
    statuses.filter((status) => status === 402).length,
    41,
    'lifetime: the rest refused with 402'
  )
  await checkLedger(tally, key, { charges: 9, charged: 9 * PRICE, credited: 1_000_000 })
  tally.equal(
    (await originRequests(tag)).length,
    9,
    'lifetime: the origin saw only the served calls'
  )
  tally.assertClean()
})

it('40 concurrent MCP calls on plans: free calls and included calls counted exactly once', async ({
  task,
}) => {
  const tally = new Tally(task)
  await seedRoutes()
  const search = (id: number) => ({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'search', arguments: { query: `q${id}` } },
  })
  const post = async (key: string, tag: string, id: number) => {
    const [answer] = await mcpMessages(
      await gate('/mcp-json', {
        method: 'POST',
        headers: mcpHeaders(key, tag),
        body: JSON.stringify(search(id)),
      })
    )
    tally.call()
    return answer?.error ? 'refused' : 'served'
  }

  const payg = { ...(await createKey('1', { plan: 'free5' })), name: 'payg' }
  const paygTag = crypto.randomUUID()
  const paygOutcomes = await bounded(
    Array.from({ length: 40 }, (_, i) => i),
    40,
    (i) => post(payg.key, paygTag, i)
  )
  tally.equal(paygOutcomes.filter((o) => o === 'served').length, 40, 'payg: every call served')
  const paygLedger = await checkLedger(tally, payg, {
    charges: 40,
    charged: 35 * PRICE,
    credited: 1_000_000,
  })
  tally.equal(
    paygLedger.ledger.filter((row) => row.kind === 'charge' && row.amount === 0).length,
    5,
    'payg: exactly 5 free calls'
  )

  const sub = { ...(await createKey('1', { plan: 'sub8' })), name: 'subscription' }
  const subTag = crypto.randomUUID()
  const subOutcomes = await bounded(
    Array.from({ length: 40 }, (_, i) => i),
    40,
    (i) => post(sub.key, subTag, i)
  )
  tally.equal(
    subOutcomes.filter((o) => o === 'served').length,
    8,
    'subscription: served = included calls'
  )
  const subLedger = await checkLedger(tally, sub, { charges: 8, charged: 0, credited: 1_000_000 })
  tally.equal(
    subLedger.ledger.filter((row) => row.kind === 'fee').length,
    1,
    'subscription: one fee for the period'
  )
  tally.equal(
    subLedger.account.balance,
    1_000_000 - 10_000,
    'subscription: balance = credits − fee'
  )
  tally.equal(
    (await originRequests(subTag)).filter((r) => r.body.includes('tools/call')).length,
    8,
    'subscription: the origin saw only the included calls'
  )
  tally.assertClean()
})
