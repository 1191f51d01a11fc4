/**
 * End to end: the official MCP SDK client, over Streamable HTTP, through the gate,
 * to a real MCP server built with the official SDK (the demo origin).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import { env, exports } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  charges,
  createKey,
  GATE,
  newTag,
  originRequests,
  putRoutes,
  settledState,
} from '../helpers'

const clients: Client[] = []

beforeEach(async () => {
  await putRoutes([
    {
      path: '/mcp',
      origin: env.MCP_ORIGIN,
      mcp: { price: '0.001', tools: { search: '0.01', 'generate-report': '0.05', echo: 'free' } },
    },
  ])
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()))
})

/** An SDK client that reaches the gate through the Worker's fetch handler. */
async function connect(key: string | undefined, tag: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(`${GATE}/mcp`), {
    fetch: (input, init) => exports.default.fetch(new Request(input, init)),
    requestInit: {
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), 'x-test-tag': tag },
    },
  })
  const client = new Client({ name: 'pay-gate-test', version: '1.0.0' })
  await client.connect(transport)
  clients.push(client)
  return client
}

describe('MCP through the gate, with the official SDK client', () => {
  it('lists tools for free, each annotated with its price', async () => {
    const client = await connect(undefined, newTag())
    const { tools } = await client.listTools()
    const prices = Object.fromEntries(
      tools.map((tool) => [tool.name, tool._meta?.['pay-gate/price']])
    )
    expect(prices.search).toMatchObject({ amount: '0.01', currency: 'USD', free: false })
    expect(prices['generate-report']).toMatchObject({ amount: '0.05', free: false })
    expect(prices.echo).toMatchObject({ amount: '0', free: true })
    expect(prices.fail).toMatchObject({ amount: '0.001' })
  })

  it('charges a tools/call its price, once', async () => {
    const { id, key } = await createKey('1')
    const client = await connect(key, newTag())
    const result = await client.callTool({ name: 'search', arguments: { query: 'pay-gate' } })
    expect(result.isError).toBeFalsy()
    const state = await settledState(id)
    expect(charges(state)).toEqual(['-0.01'])
    expect(state.credits).toBe('0.99')
    expect(state.ledger[0]?.label).toContain('tools/call search')
  })

  it('does not charge a free tool', async () => {
    const { id, key } = await createKey('1')
    const client = await connect(key, newTag())
    await client.callTool({ name: 'echo', arguments: { text: 'hi' } })
    expect(charges(await settledState(id))).toEqual([])
  })

  it('refunds a tool that reports an error', async () => {
    const { id, key } = await createKey('1')
    const client = await connect(key, newTag())
    const result = await client.callTool({ name: 'fail', arguments: {} })
    expect(result.isError).toBe(true)
    const state = await settledState(id)
    expect(charges(state)).toEqual([])
    expect(state.credits).toBe('1')
  })

  it('answers an empty balance with -32402 in-band, and the tool never runs', async () => {
    const { key } = await createKey('0.005')
    const tag = newTag()
    const client = await connect(key, tag)
    const error = await client
      .callTool({ name: 'search', arguments: { query: 'x' } })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(McpError)
    expect((error as McpError).code).toBe(-32402)
    expect((error as McpError).data).toMatchObject({
      reason: 'insufficient_credits',
      price: '0.01',
      credits: '0.005',
      tool: 'search',
    })
    const calls = (await originRequests(tag)).filter((r) => r.body.includes('"tools/call"'))
    expect(calls).toHaveLength(0)
  })

  it('streams an SSE response with progress through, and charges it once', async () => {
    const { id, key } = await createKey('1')
    const client = await connect(key, newTag())
    const progress: number[] = []
    const result = await client.callTool(
      { name: 'generate-report', arguments: { topic: 'edge payments', sections: 3 } },
      undefined,
      { onprogress: (update) => progress.push(update.progress) }
    )
    expect(result.isError).toBeFalsy()
    expect(progress.length).toBeGreaterThanOrEqual(3)
    expect(charges(await settledState(id))).toEqual(['-0.05'])
  })

  it('charges resources/read and prompts/get the route default', async () => {
    const { id, key } = await createKey('1')
    const client = await connect(key, newTag())
    const { resources } = await client.listResources()
    await client.readResource({ uri: resources[0]?.uri ?? 'demo://readme' })
    const { prompts } = await client.listPrompts()
    const prompt = prompts[0]?.name ?? 'summarize'
    await client.getPrompt({ name: prompt, arguments: { text: 'pay-gate' } })
    // A JSON-RPC error answer (here: missing arguments) is a failed call: not charged.
    await expect(client.getPrompt({ name: prompt, arguments: {} })).rejects.toThrow(McpError)
    expect(charges(await settledState(id))).toEqual(['-0.001', '-0.001'])
  })

  it('passes the session through: the origin sees the same Mcp-Session-Id the client holds', async () => {
    const tag = newTag()
    const client = await connect(undefined, tag)
    await client.ping()
    const transport = client.transport as StreamableHTTPClientTransport
    expect(transport.sessionId).toBeTruthy()
    const seen = (await originRequests(tag)).map((r) => r.headers['mcp-session-id']).filter(Boolean)
    expect(seen.length).toBeGreaterThan(0)
    expect(new Set(seen)).toEqual(new Set([transport.sessionId]))
    await transport.terminateSession()
    const deletes = (await originRequests(tag)).filter((r) => r.method === 'DELETE')
    expect(deletes).toHaveLength(1)
  })

  it('never lets the origin see the caller’s key, on free calls, paid calls, GET or DELETE', async () => {
    const { key } = await createKey('1')
    const tag = newTag()
    const client = await connect(key, tag)
    await client.listTools()
    await client.callTool({ name: 'echo', arguments: { text: 'free' } })
    await client.callTool({ name: 'search', arguments: { query: 'paid' } })
    await (client.transport as StreamableHTTPClientTransport).terminateSession()
    const seen = await originRequests(tag)
    expect(new Set(seen.map((r) => r.method))).toEqual(new Set(['POST', 'GET', 'DELETE']))
    expect(seen.length).toBeGreaterThanOrEqual(5)
    expect(JSON.stringify(seen)).not.toContain(key)
  })
})
