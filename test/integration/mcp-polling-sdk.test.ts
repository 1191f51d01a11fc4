/**
 * Server-side polling with the official SDK on both ends (issue 10): the server
 * closes its POST stream with the SDK's closeSSEStream right after the priming
 * event, and the SDK client resumes by itself with GET and Last-Event-ID. The
 * paid answer arrives there, through the gate, and is charged once.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { env, exports } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { charges, createKey, GATE, keyState, putRoutes, settledState } from '../helpers'

const clients: Client[] = []
const requests: Array<{ method: string; lastEventId: string | null }> = []

beforeEach(async () => {
  requests.length = 0
  await putRoutes([
    {
      path: '/mcp',
      origin: env.POLLING_ORIGIN,
      mcp: { price: '0.001', tools: { 'polled-search': '0.02' } },
    },
  ])
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()))
})

async function connect(key: string | undefined): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(`${GATE}/mcp`), {
    fetch: (input, init) => {
      const request = new Request(input, init)
      requests.push({ method: request.method, lastEventId: request.headers.get('last-event-id') })
      return exports.default.fetch(request)
    },
    requestInit: { headers: key ? { authorization: `Bearer ${key}` } : {} },
    reconnectionOptions: {
      initialReconnectionDelay: 20,
      maxReconnectionDelay: 200,
      reconnectionDelayGrowFactor: 1.5,
      maxRetries: 10,
    },
  })
  const client = new Client({ name: 'pay-gate-polling-test', version: '1.0.0' })
  await client.connect(transport)
  clients.push(client)
  return client
}

describe('server-side polling (the SDK’s closeSSEStream) through the gate', () => {
  it('delivers the paid answer on the client’s own resumed stream, charged once', async () => {
    const { id, key } = await createKey('1')
    const client = await connect(key)
    const result = await client.callTool({ name: 'polled-search', arguments: { query: 'edge' } })
    expect(result.content).toEqual([{ type: 'text', text: 'results for edge' }])
    // The client resumed from an event id the gate handed out.
    expect(requests.some((r) => r.method === 'GET' && r.lastEventId?.startsWith('pg1.'))).toBe(true)
    const state = await settledState(id)
    expect(charges(state)).toEqual(['-0.02'])
    expect(state.credits).toBe('0.98')
  })

  it('without a key the call is refused in-band and never runs: nothing to resume', async () => {
    const client = await connect(undefined)
    const result = await client
      .callTool({ name: 'polled-search', arguments: { query: 'edge' } })
      .catch((error: Error) => error)
    expect(String((result as Error).message ?? JSON.stringify(result))).toMatch(/32402|API key/)
    expect(requests.filter((r) => r.method === 'GET' && r.lastEventId)).toHaveLength(0)
  })

  it('two calls at once on one session: each answered on its resumed stream, each charged once', async () => {
    const { id, key } = await createKey('1')
    const client = await connect(key)
    const results = await Promise.all(
      ['a', 'b'].map((query) => client.callTool({ name: 'polled-search', arguments: { query } }))
    )
    expect(results.map((r) => (r.content as Array<{ text: string }>)[0]?.text)).toEqual([
      'results for a',
      'results for b',
    ])
    expect(charges(await settledState(id))).toEqual(['-0.02', '-0.02'])
    expect((await keyState(id)).held).toBe('0')
  })
})
