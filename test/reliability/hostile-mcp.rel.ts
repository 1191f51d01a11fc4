/**
 * Hostile JSON-RPC, property-based (fast-check): random and malformed bodies
 * and batches, deep nesting, huge strings and odd Unicode, posted to MCP routes
 * (the real MCP SDK server and the fault origin's plain one) without a key, with
 * a forged key, with an empty key and with a funded one. For every body:
 * - no 500 from the gate itself, nothing secret or stack-like in the answer;
 * - a priced call nobody paid for never reaches the origin;
 * - the funded key is charged exactly for the priced calls answered with success,
 *   and nothing else moves: checked against the ledger at the end.
 * The price of a body is worked out here, independently of the gate's code.
 */
import { env } from 'cloudflare:workers'
import fc from 'fast-check'
import { it } from 'vitest'
import { createKey, gate, mcpHeaders, originRequests, putRoutes } from '../helpers'
import { checkLedger, faultRequests, forAll, leaks, Tally } from './harness'

const FREE_METHODS = new Set([
  'initialize',
  'ping',
  'tools/list',
  'resources/list',
  'resources/templates/list',
  'prompts/list',
  'logging/setLevel',
  'tasks/get',
  'tasks/list',
  'tasks/result',
  'tasks/cancel',
  'subscriptions/listen',
])
const TOOLS: Record<string, number> = { search: 3_000, echo: 0 }
const DEFAULT = 1_000

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** What one message costs under the table below: requests only (an id and a string method). */
function priceOf(message: unknown): number {
  if (!isObject(message) || !('id' in message) || typeof message.method !== 'string') return 0
  if (message.method === 'tools/call') {
    const name = isObject(message.params) ? message.params.name : undefined
    return typeof name === 'string' && name in TOOLS ? (TOOLS[name] as number) : DEFAULT
  }
  return FREE_METHODS.has(message.method) ? 0 : DEFAULT
}

/** Each priced request's price, by its id as JSON (so 1 and "1" stay apart). */
function pricedIds(body: string): Map<string, number> {
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    return new Map()
  }
  const prices = new Map<string, number>()
  for (const message of Array.isArray(value) ? value : [value]) {
    const price = priceOf(message)
    if (price > 0 && isObject(message)) prices.set(JSON.stringify(message.id), price)
  }
  return prices
}

/** The JSON-RPC messages in an answer, JSON or SSE; none if it is neither. */
function messagesOf(text: string): Array<Record<string, unknown>> {
  const parse = (chunk: string): unknown[] => {
    try {
      const value = JSON.parse(chunk) as unknown
      return Array.isArray(value) ? value : [value]
    } catch {
      return []
    }
  }
  const events = text.split(/\r?\n\r?\n/).flatMap((event) => {
    const data = event
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trimStart())
    return data.length ? parse(data.join('\n')) : []
  })
  return (events.length ? events : parse(text)).filter(isObject)
}

/** What the answer says was served with success, priced: the gate must charge exactly this. */
function servedPrice(
  prices: Map<string, number>,
  messages: Array<Record<string, unknown>>
): number {
  let total = 0
  const seen = new Set<string>()
  for (const message of messages) {
    const id = JSON.stringify(message.id)
    const price = prices.get(id)
    if (price === undefined || seen.has(id) || !('result' in message) || 'error' in message)
      continue
    seen.add(id)
    if (!(isObject(message.result) && message.result.isError === true)) total += price
  }
  return total
}

// ---- the bodies ----------------------------------------------------------

const odd = fc.constantFrom(
  '',
  'tools/call',
  'search',
  'echo',
  'SEARCH',
  'search ',
  'se\u200barch',
  '\u202esearch',
  'ｓｅａｒｃｈ',
  '\u0000',
  '\ud800',
  '🔥',
  'tools/call\u0000',
  'a'.repeat(300)
)
const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), odd)
const id = fc.oneof(
  fc.integer(),
  fc.string({ maxLength: 8 }),
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  fc.constant(-0),
  fc.constant({}),
  fc.constantFrom(1, '1', 0)
)
const method = fc.oneof(
  fc.constantFrom(
    'tools/call',
    'tools/call',
    'tools/call',
    'tools/list',
    'initialize',
    'ping',
    'resources/read',
    'prompts/get',
    'completion/complete',
    'notifications/initialized'
  ),
  text,
  fc.integer()
)
const params = fc.oneof(
  fc.record(
    {
      name: fc.oneof(
        fc.constantFrom('search', 'search', 'echo', 'fail', 'crash', 'nope'),
        text,
        fc.integer()
      ),
      arguments: fc.oneof(fc.constant({ query: 'q', text: 't' }), fc.jsonValue({ maxDepth: 2 })),
      _meta: fc.jsonValue({ maxDepth: 2 }),
    },
    { requiredKeys: ['name'] }
  ),
  fc.jsonValue({ maxDepth: 2 })
)
const message = fc.record(
  {
    jsonrpc: fc.constantFrom('2.0', '2.0', '2.0', '2.0', '1.0', 2),
    id,
    method,
    params,
    result: fc.jsonValue({ maxDepth: 1 }),
  },
  { requiredKeys: ['jsonrpc'] }
)
const deep = (depth: number, leaf: string) => `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}`
const body = fc.oneof(
  { weight: 5, arbitrary: message.map((m) => JSON.stringify(m)) },
  { weight: 3, arbitrary: fc.array(message, { maxLength: 8 }).map((ms) => JSON.stringify(ms)) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 98, max: 102 }).map((n) =>
      JSON.stringify(
        Array.from({ length: n }, (_, i) => ({
          jsonrpc: '2.0',
          id: i,
          method: 'tools/call',
          params: { name: 'search', arguments: { query: 'b' } },
        }))
      )
    ),
  },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.string(),
      fc.jsonValue().map((v) => JSON.stringify(v))
    ),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(message, fc.nat())
      .map(([m, cut]) => JSON.stringify(m).slice(0, cut % (JSON.stringify(m).length + 1))),
  },
  // Deep nesting inside a priced call, and instead of one.
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 1_000, max: 100_000 })
      .map(
        (d) =>
          `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{"query":${deep(d, '"q"')}}}}`
      ),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 1_000, max: 100_000 })
      .map((d) =>
        deep(d, '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search"}}')
      ),
  },
  // Huge strings: just under and just over the 1 MiB limit.
  {
    weight: 1,
    arbitrary: fc.constantFrom(900_000, 1_100_000).map((n) =>
      JSON.stringify({
        jsonrpc: '2.0',
        id: 'big',
        method: 'tools/call',
        params: { name: 'search', arguments: { query: 'x'.repeat(n) } },
      })
    ),
  }
)

type KeyMode = 'none' | 'forged' | 'empty' | 'funded'

it('random, malformed, deep, huge and odd JSON-RPC: no gate error, nothing unpaid served, exact charges', async ({
  task,
}) => {
  const tally = new Tally(task)
  const mcp = { price: '0.001', tools: { search: '0.003', echo: 'free' } }
  await putRoutes([
    { path: '/mcp-json', origin: env.MCP_ORIGIN, mcp },
    { path: '/fault/mcp/*', origin: env.FAULT_ORIGIN, mcp },
  ])
  const funded = await createKey('100')
  const empty = await createKey('0')
  const forged = `pg_${'A'.repeat(43)}`
  let charges = 0
  let charged = 0

  const input = fc.tuple(
    body,
    fc.constantFrom<KeyMode>('none', 'forged', 'empty', 'funded', 'funded'),
    fc.constantFrom('/mcp-json', '/fault/mcp/json', '/fault/mcp/sse')
  )
  await forAll(
    tally,
    'hostile JSON-RPC',
    input,
    async ([text, mode, path]) => {
      const tag = crypto.randomUUID()
      const key = { none: undefined, forged, empty: empty.key, funded: funded.key }[mode]
      const response = await gate(path, {
        method: 'POST',
        headers: mcpHeaders(key, tag),
        body: text,
      })
      const answer = await response.text().catch(() => '(broken)')
      tally.call()
      const prices = pricedIds(text)
      const atOrigin = path === '/mcp-json' ? await originRequests(tag) : await faultRequests(tag)
      if (mode === 'funded') {
        const price = servedPrice(prices, messagesOf(answer))
        if (price > 0) {
          charges++
          charged += price
        }
      }
      const problems: string[] = []
      if (response.status === 500 || (response.status >= 500 && answer.includes('internal_error')))
        problems.push(`gate error ${response.status}`)
      for (const what of leaks(answer)) problems.push(`the answer shows ${what}`)
      if (mode !== 'funded' && prices.size > 0 && atOrigin.length > 0)
        problems.push('an unpaid priced call reached the origin')
      return problems.map(
        (problem) => `${problem} (${mode} ${path} → ${response.status} ${answer.slice(0, 100)})`
      )
    },
    250
  )
  await checkLedger(tally, { ...funded, name: 'funded' }, { charges, charged })
  await checkLedger(tally, { ...empty, name: 'empty' }, { charges: 0, charged: 0 })
  tally.check(
    charges > 0,
    'some hostile bodies were paid for and served (the property is not vacuous)'
  )
  tally.assertClean()
})
