/**
 * Concurrency: thousands of calls across 3 hot keys and 50 cold ones, 64 in
 * flight, a fixed (seeded) mix of free calls, paid successes, upstream failures,
 * tool errors, batches, SSE answers and retries with and without an
 * Idempotency-Key, while the hot keys' account objects are restarted twice
 * (storage kept). The client counts what should be charged; afterwards every
 * key's ledger must say exactly that, and each origin must have received exactly
 * the calls the gate let through.
 */
import { evictAllDurableObjects, evictDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { it } from 'vitest'
import { hashApiKey } from '../../src/credits'
import {
  admin,
  createKey,
  gate,
  mcpHeaders,
  mcpMessages,
  originRequests,
  putRoutes,
  type TestKey,
} from '../helpers'
import { bounded, checkLedger, faultRequests, prng, sleep, Tally } from './harness'

const CALLS = 3_000
const IN_FLIGHT = 64

/** Micros: the prices in the table below. */
const PRICE = { item: 2_000, search: 3_000, fail: 4_000 }

const ROUTES = () => [
  { path: '/api/health', origin: env.API_ORIGIN, free: true },
  { path: '/api/*', method: 'GET', origin: env.API_ORIGIN, price: '0.002' },
  {
    path: '/mcp-json',
    origin: env.MCP_ORIGIN,
    mcp: { price: '0.001', tools: { search: '0.003', fail: '0.004', echo: 'free' } },
  },
  {
    path: '/fault/mcp/*',
    origin: env.FAULT_ORIGIN,
    mcp: { price: '0.001', tools: { search: '0.003', fail: '0.004' } },
  },
]

type Kind =
  | 'health'
  | 'item'
  | 'status500'
  | 'retry'
  | 'search'
  | 'fail'
  | 'echo'
  | 'batch'
  | 'sse'
  | 'idem'
  | 'idem-race'
const KINDS: Array<[Kind, number]> = [
  ['health', 8],
  ['item', 22],
  ['status500', 8],
  ['retry', 5],
  ['search', 15],
  ['fail', 6],
  ['echo', 4],
  ['batch', 8],
  ['sse', 8],
  ['idem', 10],
  ['idem-race', 6],
]

interface Key extends TestKey {
  name: string
  tag: string
  /** What the client expects: charges, their sum, and requests that reach each origin. */
  charges: number
  charged: number
  demo: number
  fault: number
}

/** What one request did, as the client sees it. */
interface Seen {
  charged: number
  charges: number
  origin: 'demo' | 'fault' | null
}

/** The gate's own refusals carry `{"error":{"code":…}}`; the demo origin's errors are `{"status":…}`. */
function refusedByGate(text: string): boolean {
  try {
    return typeof (JSON.parse(text) as { error?: { code?: unknown } }).error?.code === 'string'
  } catch {
    return false
  }
}

async function httpGet(
  key: Key,
  path: string,
  price: number,
  extra: Record<string, string> = {}
): Promise<Seen & { status: number }> {
  const response = await gate(path, {
    headers: { 'x-api-key': key.key, 'x-test-tag': key.tag, ...extra },
  })
  const text = await response.text()
  if (refusedByGate(text)) return { status: response.status, charged: 0, charges: 0, origin: null }
  const ok = response.status < 400
  return {
    status: response.status,
    charged: ok ? price : 0,
    charges: ok && price > 0 ? 1 : 0,
    origin: 'demo',
  }
}

const call = (id: number, tool: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: tool, arguments: args },
})

/** Post JSON-RPC; charged = the prices of the priced ids answered with a non-error result. */
async function mcpPost(
  key: Key,
  path: string,
  body: unknown,
  prices: Record<number, number>,
  origin: 'demo' | 'fault'
): Promise<Seen> {
  const response = await gate(path, {
    method: 'POST',
    headers: mcpHeaders(key.key, key.tag),
    body: JSON.stringify(body),
  })
  const messages = await mcpMessages(response)
  // Refused before the origin was called: a payment refusal (-32402), or the gate's own error
  // (the ledger unreachable while account objects restart, say). An error about the origin
  // (upstream_*) came after the call reached it. Origins never put a `reason` in their errors.
  const refused = messages.some((m) => {
    const error = m.error as { code?: number; data?: { reason?: unknown } } | undefined
    const reason = error?.data?.reason
    return error?.code === -32402 || (typeof reason === 'string' && !reason.startsWith('upstream_'))
  })
  if (refused) return { charged: 0, charges: 0, origin: null }
  let charged = 0
  for (const message of messages) {
    const price = prices[message.id as number]
    const result = message.result as { isError?: boolean } | undefined
    if (price && result && result.isError !== true) charged += price
  }
  return { charged, charges: charged > 0 ? 1 : 0, origin }
}

/** Two attempts with one Idempotency-Key, one after the other or both at once: charged once if either was served. */
async function idempotent(key: Key, n: number, together: boolean): Promise<Seen[]> {
  const attempt = () =>
    httpGet(key, `/api/orders/${n}`, PRICE.item, { 'idempotency-key': `order-${key.name}-${n}` })
  const attempts = together
    ? await Promise.all([attempt(), attempt()])
    : [await attempt(), await attempt()]
  const served = attempts.some((a) => a.status === 200)
  return attempts.map((a, i) => ({
    // The first success carries the one charge; replays reach the origin free.
    charged: served && i === attempts.findIndex((b) => b.status === 200) ? PRICE.item : 0,
    charges: served && i === attempts.findIndex((b) => b.status === 200) ? 1 : 0,
    origin: a.status === 200 ? 'demo' : null,
  }))
}

async function run(kind: Kind, key: Key, n: number): Promise<Seen[]> {
  switch (kind) {
    case 'health':
      return [await httpGet(key, '/api/health', 0)]
    case 'item':
      return [await httpGet(key, `/api/item/${n}`, PRICE.item)]
    case 'status500':
      return [await httpGet(key, '/api/status/500', PRICE.item)]
    case 'retry': {
      // A failed call retried without an Idempotency-Key: two separate calls.
      const first = await httpGet(key, '/api/status/500', PRICE.item)
      return [first, await httpGet(key, `/api/item/retry-${n}`, PRICE.item)]
    }
    case 'search':
      return [
        await mcpPost(
          key,
          '/mcp-json',
          call(1, 'search', { query: `q${n}` }),
          { 1: PRICE.search },
          'demo'
        ),
      ]
    case 'fail':
      return [await mcpPost(key, '/mcp-json', call(1, 'fail'), { 1: PRICE.fail }, 'demo')]
    case 'echo':
      return [await mcpPost(key, '/mcp-json', call(1, 'echo', { text: `e${n}` }), {}, 'demo')]
    case 'batch': {
      const body = [
        call(1, 'search'),
        call(2, 'fail'),
        { jsonrpc: '2.0', id: 3, method: 'tools/list' },
      ]
      return [
        await mcpPost(key, '/fault/mcp/json', body, { 1: PRICE.search, 2: PRICE.fail }, 'fault'),
      ]
    }
    case 'sse':
      return [await mcpPost(key, '/fault/mcp/sse', call(1, 'search'), { 1: PRICE.search }, 'fault')]
    case 'idem':
      return idempotent(key, n, false)
    case 'idem-race':
      return idempotent(key, n, true)
  }
}

function pick(random: () => number): Kind {
  const total = KINDS.reduce((sum, [, weight]) => sum + weight, 0)
  let roll = random() * total
  for (const [kind, weight] of KINDS) {
    roll -= weight
    if (roll < 0) return kind
  }
  return 'item'
}

async function newKey(name: string, credits: string): Promise<Key> {
  return {
    ...(await createKey(credits)),
    name,
    tag: crypto.randomUUID(),
    charges: 0,
    charged: 0,
    demo: 0,
    fault: 0,
  }
}

/** Restart account objects mid-run, storage kept: first the hot keys one by one, later every object. */
async function restart(tally: Tally, hot: Key[], all: boolean): Promise<void> {
  if (all) {
    await evictAllDurableObjects()
    tally.fault()
    return
  }
  for (const key of hot) {
    const evicted = await evictDurableObject(env.CREDITS.getByName(await hashApiKey(key.key))).then(
      () => true,
      () => false
    )
    if (evicted) tally.fault()
  }
}

it(`${CALLS}+ calls on 3 hot and 50 cold keys, with account objects restarted mid-run: every charge is exactly a served call`, async ({
  task,
}) => {
  const tally = new Tally(task)
  await putRoutes(ROUTES())
  const hot = await Promise.all([0, 1, 2].map((i) => newKey(`hot-${i}`, '50')))
  const cold = await bounded(
    Array.from({ length: 50 }, (_, i) => i),
    8,
    (i) => newKey(`cold-${i}`, '0.01')
  )
  const random = prng(6)
  const plan = Array.from({ length: CALLS }, () => ({
    kind: pick(random),
    key: random() < 0.7 ? hot[Math.floor(random() * 3)] : cold[Math.floor(random() * 50)],
  }))

  // Meanwhile an operator tops up hot-0 and suspends and resumes hot-2 (its calls meanwhile refused, not charged).
  let running = true
  const operator = (async () => {
    let topups = 0
    while (running && topups < 10) {
      await admin(`/keys/${(hot[0] as Key).id}/topup`, {
        method: 'POST',
        body: JSON.stringify({ credits: '1' }),
      })
      await admin(`/keys/${(hot[2] as Key).id}/suspend`, { method: 'POST' })
      await sleep(30)
      await admin(`/keys/${(hot[2] as Key).id}/resume`, { method: 'POST' })
      tally.call(3)
      tally.fault()
      topups++
      await sleep(200)
    }
    return topups
  })()

  const restarts: Promise<void>[] = []
  await bounded(plan, IN_FLIGHT, async ({ kind, key }, n) => {
    if (n === Math.floor(CALLS / 3)) restarts.push(restart(tally, hot, false))
    if (n === Math.floor((2 * CALLS) / 3)) restarts.push(restart(tally, hot, true))
    const seen = await run(kind, key as Key, n)
    for (const s of seen) {
      tally.call()
      const k = key as Key
      k.charges += s.charges
      k.charged += s.charged
      if (s.origin === 'demo') k.demo++
      if (s.origin === 'fault') k.fault++
    }
  })
  await Promise.all(restarts)
  running = false
  const topups = await operator

  for (const key of [...hot, ...cold]) {
    const credited =
      key === hot[0]
        ? 50_000_000 + topups * 1_000_000
        : key.name.startsWith('hot')
          ? 50_000_000
          : 10_000
    await checkLedger(tally, key, { charges: key.charges, charged: key.charged, credited })
    tally.equal(
      (await originRequests(key.tag)).length,
      key.demo,
      `${key.name}: requests at the demo origin = calls the gate let through`
    )
    tally.equal(
      (await faultRequests(key.tag)).length,
      key.fault,
      `${key.name}: requests at the fault origin = calls the gate let through`
    )
  }
  // The cold keys ran dry under load and still never went below zero (checked above); make sure they did run dry.
  tally.check(
    cold.some((key) => key.charged > 0) && cold.every((key) => key.charged <= 10_000),
    'cold keys spent at most their $0.01'
  )
  tally.assertClean()
})

it('a rate-limited key under 40 concurrent calls: exactly its limit is served and charged', async ({
  task,
}) => {
  const tally = new Tally(task)
  await putRoutes(ROUTES())
  // A day-long window, so the run cannot straddle two windows.
  const limited = {
    ...(await createKey('1', { rateLimit: { limit: 10, windowSeconds: 86_400 } })),
    name: 'limited',
    tag: crypto.randomUUID(),
  }
  const statuses = await bounded(
    Array.from({ length: 40 }, (_, i) => i),
    40,
    async (i) => {
      const response = await gate(`/api/item/${i}`, {
        headers: { 'x-api-key': limited.key, 'x-test-tag': limited.tag },
      })
      await response.text()
      tally.call()
      return response.status
    }
  )
  tally.equal(statuses.filter((s) => s === 200).length, 10, 'served = the limit')
  tally.equal(statuses.filter((s) => s === 429).length, 30, 'the rest refused with 429')
  await checkLedger(tally, limited, { charges: 10, charged: 10 * PRICE.item, credited: 1_000_000 })
  tally.equal(
    (await originRequests(limited.tag)).length,
    10,
    'the origin saw only the served calls'
  )
  tally.assertClean()
})
