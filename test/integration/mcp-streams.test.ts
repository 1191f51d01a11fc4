/**
 * MCP answers stream through whole, however the origin frames and chunks them
 * (issue 10, "streams never stall"): priming events, one byte at a time, CRLF and
 * `retry:` fields, JSON without Content-Length, lists of hundreds of KB and 5 MB
 * answers. Each is read in full through the gate, annotated where it is a tools
 * list, and a paid answer is charged once.
 */
import { env } from 'cloudflare:workers'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  charges,
  createKey,
  gate,
  mcpHeaders,
  mcpMessages,
  newTag,
  putRoutes,
  scriptedRequests,
  settledState,
} from '../helpers'

const MODES = [
  'sse',
  'prime',
  'drip',
  'prime,drip',
  'crlf,drip',
  'json,drip',
  'nolen',
  'nolen,drip',
  'crlf,prime',
]

beforeEach(async () => {
  const mcp = { price: '0.001', tools: { search: '0.01', big: '0.02', echo: 'free' } }
  await putRoutes([{ path: '/m/*', origin: env.SCRIPTED_ORIGIN, mcp }])
})

function post(path: string, body: unknown, key?: string) {
  return gate(path, {
    method: 'POST',
    headers: mcpHeaders(key, newTag()),
    body: JSON.stringify(body),
  })
}

const list = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/list', params: {} })
const call = (id: number, name: string) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: {} },
})

describe('MCP answers stream through whole', () => {
  for (const mode of MODES) {
    it(`an annotated tools/list (${mode})`, async () => {
      const response = await post(`/m/${mode},tools=40/mcp`, list(1))
      expect(response.status).toBe(200)
      const [message] = await mcpMessages(response)
      const tools = (
        message?.result as { tools: Array<{ name: string; _meta?: Record<string, unknown> }> }
      ).tools
      expect(tools).toHaveLength(44)
      expect(tools.find((tool) => tool.name === 'search')?._meta?.['pay-gate/price']).toMatchObject(
        { amount: '0.01' }
      )
    })

    it(`a paid tools/call, charged once (${mode})`, async () => {
      const { id, key } = await createKey('1')
      const response = await post(`/m/${mode}/mcp`, call(7, 'search'), key)
      const messages = await mcpMessages(response)
      expect(messages.find((m) => m.id === 7)).toMatchObject({
        result: { content: [{ type: 'text' }] },
      })
      expect(charges(await settledState(id))).toEqual(['-0.01'])
    })
  }

  it('a list of 600 tools (several hundred KB) over SSE and over JSON', async () => {
    for (const mode of ['sse', 'prime', 'json', 'nolen']) {
      const response = await post(`/m/${mode},tools=600/mcp`, list(2))
      const [message] = await mcpMessages(response)
      const tools = (message?.result as { tools: unknown[] }).tools
      expect(tools).toHaveLength(604)
    }
  })

  it('a paid 5 MB answer over SSE and over JSON without Content-Length, charged once each', async () => {
    const { id, key } = await createKey('1')
    for (const mode of ['sse', 'prime', 'nolen', 'json']) {
      const response = await post(`/m/${mode}/mcp`, call(3, 'big'), key)
      const [message] = await mcpMessages(response)
      const text = (message?.result as { content: Array<{ text: string }> }).content[0]?.text
      expect(text?.length).toBe(5 * 1024 * 1024)
    }
    expect(charges(await settledState(id))).toEqual(['-0.02', '-0.02', '-0.02', '-0.02'])
  })
})

describe('free by default', () => {
  // (tasks/result is free too, but only for a task id the gate handed out: mcp-tasks.test.ts.)
  for (const method of [
    'logging/setLevel',
    'tasks/get',
    'tasks/list',
    'tasks/cancel',
    'subscriptions/listen',
  ]) {
    it(`${method} reaches the origin without a key`, async () => {
      const tag = newTag()
      const response = await gate('/m/json/mcp', {
        method: 'POST',
        headers: mcpHeaders(undefined, tag),
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: {} }),
      })
      const [message] = await mcpMessages(response)
      // The origin's own answer (here an error: no such task, or no such method), never the gate's -32402.
      expect((message?.error as { code?: number } | undefined)?.code).not.toBe(-32402)
      expect(await scriptedRequests(tag)).toHaveLength(1)
    })
  }
})
