/**
 * MCP routes at the wire: batches, JSON and SSE answers, bad input, and the
 * in-band refusals, each checked against what the origin received and what the
 * ledger says afterwards.
 */
import { env } from 'cloudflare:workers'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  admin,
  charges,
  createKey,
  gate,
  keyState,
  mcpHeaders,
  mcpMessages,
  newTag,
  originRequests,
  putRoutes,
  settledState,
} from '../helpers'

beforeEach(async () => {
  const mcp = {
    price: '0.001',
    tools: { search: '0.01', 'generate-report': '0.05', echo: 'free', slow: '0.02' },
  }
  await putRoutes([
    { path: '/mcp-json', origin: env.MCP_ORIGIN, mcp, maxBodyBytes: 4096 },
    { path: '/mcp', origin: env.MCP_ORIGIN, mcp },
  ])
})

const call = (id: number | string, tool: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: tool, arguments: args },
})

function post(
  path: string,
  body: unknown,
  key: string | undefined,
  tag: string,
  headers: Record<string, string> = {}
) {
  return gate(path, {
    method: 'POST',
    headers: mcpHeaders(key, tag, headers),
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

/** Requests that reached the origin's MCP server carrying a tools/call. */
async function toolCallsAtOrigin(tag: string) {
  return (await originRequests(tag)).filter(
    (r) => r.method === 'POST' && r.body.includes('tools/call')
  )
}

describe('MCP JSON answers (stateless origin)', () => {
  it('charges a tools/call answered with application/json', async () => {
    const { id, key } = await createKey('1')
    const response = await post('/mcp-json', call(1, 'search', { query: 'q' }), key, newTag())
    expect(response.headers.get('content-type')).toContain('application/json')
    expect(response.headers.get('x-credits-remaining')).toBe('0.99')
    const [message] = await mcpMessages(response)
    expect(message).toMatchObject({ id: 1, result: { content: [{ type: 'text' }] } })
    expect(charges(await settledState(id))).toEqual(['-0.01'])
  })

  it('prices a batch as its sum and charges only the calls that succeeded', async () => {
    const { id, key } = await createKey('1')
    const batch = [
      call(1, 'search', { query: 'a' }),
      call(2, 'fail'),
      call('3', 'echo', { text: 'x' }),
      call(4, 'search', { query: 'b' }),
    ]
    const response = await post('/mcp-json', batch, key, newTag())
    expect(response.headers.get('x-credits-remaining')).toBe('0.979') // 1 − (0.01 + 0.001 + 0 + 0.01)
    const messages = await mcpMessages(response)
    expect(messages).toHaveLength(4)
    const state = await settledState(id)
    expect(state.credits).toBe('0.98') // the failing tool was released
    expect(charges(state)).toEqual(['-0.02'])
  })

  it('an Idempotency-Key names the call with its query: the same key and body to another query string is no replay, never served free', async () => {
    const { id, key } = await createKey('1')
    const tag = newTag()
    const body = call(1, 'search', { query: 'q' })
    await post('/mcp-json?tenant=a', body, key, tag, { 'idempotency-key': 'tools-1' })
    const other = await post('/mcp-json?tenant=b', body, key, tag, { 'idempotency-key': 'tools-1' })
    expect(JSON.stringify(await other.json())).toContain('idempotency_mismatch')
    expect((await toolCallsAtOrigin(tag)).map((request) => request.path)).toEqual([
      '/mcp-json?tenant=a',
    ])
    expect(charges(await settledState(id))).toEqual(['-0.01'])
  })

  it('a batch served only in part is not replayed free under its Idempotency-Key: the retry is refused and reaches nobody', async () => {
    const { id, key } = await createKey('1')
    const tag = newTag()
    const batch = [call(1, 'search', { query: 'a' }), call(2, 'fail')]
    await mcpMessages(await post('/mcp-json', batch, key, tag, { 'idempotency-key': 'batch-1' }))
    expect(charges(await settledState(id))).toEqual(['-0.01'])
    const retry = await post('/mcp-json', batch, key, tag, { 'idempotency-key': 'batch-1' })
    expect(JSON.stringify(await mcpMessages(retry))).toContain('idempotency_mismatch')
    expect(await toolCallsAtOrigin(tag)).toHaveLength(1)
    expect(charges(await settledState(id))).toEqual(['-0.01'])
    // A call charged in full is still replayed free, once charged.
    await mcpMessages(
      await post('/mcp-json', call(3, 'search', { query: 'c' }), key, tag, {
        'idempotency-key': 'single-1',
      })
    )
    await mcpMessages(
      await post('/mcp-json', call(3, 'search', { query: 'c' }), key, tag, {
        'idempotency-key': 'single-1',
      })
    )
    expect(await toolCallsAtOrigin(tag)).toHaveLength(3)
    expect(charges(await settledState(id))).toEqual(['-0.01', '-0.01'])
  })

  it('refuses a whole batch its key cannot pay for, one -32402 per request, and forwards none of it', async () => {
    const { id, key } = await createKey('0.015')
    const tag = newTag()
    const batch = [
      call(1, 'search', { query: 'a' }),
      call(2, 'search', { query: 'b' }),
      { jsonrpc: '2.0', method: 'notifications/x' },
    ]
    const response = await post('/mcp-json', batch, key, tag)
    expect(response.status).toBe(200)
    const messages = await mcpMessages(response)
    expect(messages).toHaveLength(2)
    for (const message of messages) {
      expect(message).toMatchObject({
        error: { code: -32402, data: { reason: 'insufficient_credits', credits: '0.015' } },
      })
    }
    expect(await toolCallsAtOrigin(tag)).toHaveLength(0)
    expect((await keyState(id)).credits).toBe('0.015')
  })
})

describe('MCP refusals are in-band, HTTP 200, JSON-RPC -32402', () => {
  it.each([
    ['no key', undefined, 'missing_api_key'],
    ['an unknown key', `pg_${'x'.repeat(43)}`, 'invalid_api_key'],
    ['a malformed key', 'pg_nope', 'invalid_api_key'],
  ])('with %s', async (_what, key, reason) => {
    const tag = newTag()
    const response = await post('/mcp-json', call(7, 'search', { query: 'q' }), key, tag)
    expect(response.status).toBe(200)
    const [message] = await mcpMessages(response)
    expect(message).toMatchObject({
      jsonrpc: '2.0',
      id: 7,
      error: { code: -32402, data: { reason, price: '0.01', tool: 'search' } },
    })
    expect(await toolCallsAtOrigin(tag)).toHaveLength(0)
  })

  it('for suspended and revoked keys, and for a key over its rate limit', async () => {
    const suspended = await createKey('1')
    await admin(`/keys/${suspended.id}/suspend`, { method: 'POST' })
    const revoked = await createKey('1')
    await admin(`/keys/${revoked.id}/revoke`, { method: 'POST' })
    const limited = await createKey('1', { rateLimit: { limit: 1, windowSeconds: 3600 } })
    await (await post('/mcp-json', call(1, 'search', { query: 'q' }), limited.key, newTag())).text()
    const tag = newTag()
    for (const [key, reason] of [
      [suspended.key, 'key_suspended'],
      [revoked.key, 'key_revoked'],
      [limited.key, 'rate_limited'],
    ] as const) {
      const response = await post('/mcp-json', call(1, 'search', { query: 'q' }), key, tag)
      expect(response.status).toBe(200)
      const [message] = await mcpMessages(response)
      expect(message).toMatchObject({ error: { code: -32402, data: { reason } } })
    }
    expect(await toolCallsAtOrigin(tag)).toHaveLength(0)
    expect(charges(await settledState(limited.id))).toEqual(['-0.01'])
  })
})

describe('per-tool rate limits', () => {
  it('count each key’s calls to one tool, batch members included, and leave other tools alone', async () => {
    await putRoutes([
      {
        path: '/mcp-json',
        origin: env.MCP_ORIGIN,
        mcp: {
          price: '0.001',
          tools: { search: { price: '0.01', rateLimit: { limit: 3, windowSeconds: 3600 } } },
        },
      },
    ])
    const { id, key } = await createKey('1')
    const other = await createKey('1')
    const tag = newTag()
    const pair = await post(
      '/mcp-json',
      [call(1, 'search', { query: 'a' }), call(2, 'search', { query: 'b' })],
      key,
      tag
    )
    expect(pair.headers.get('x-ratelimit-remaining')).toBe('1')
    await pair.text()
    const over = await post(
      '/mcp-json',
      [call(3, 'search', { query: 'c' }), call(4, 'search', { query: 'd' })],
      key,
      tag
    )
    const refused = await mcpMessages(over)
    expect(
      refused.every(
        (m) => (m.error as { data?: { reason?: string } })?.data?.reason === 'rate_limited'
      )
    ).toBe(true)
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0)
    const third = await post('/mcp-json', call(5, 'search', { query: 'e' }), key, tag)
    expect(await mcpMessages(third)).toMatchObject([{ id: 5, result: {} }])
    const otherTool = await post('/mcp-json', call(6, 'echo', { text: 'x' }), key, tag)
    expect(await mcpMessages(otherTool)).toMatchObject([{ id: 6, result: {} }])
    const otherKey = await post('/mcp-json', call(7, 'search', { query: 'f' }), other.key, tag)
    expect(await mcpMessages(otherKey)).toMatchObject([{ id: 7, result: {} }])
    expect(charges(await settledState(id))).toEqual(['-0.001', '-0.01', '-0.02'])
  })
})

describe('bad input gets a clear error, reaches nobody, and changes no balance', () => {
  let key: string
  let id: string
  beforeEach(async () => {
    ;({ id, key } = await createKey('1'))
  })

  it.each([
    ['malformed JSON', '{"jsonrpc":"2.0",', 400, -32700],
    ['invalid JSON-RPC', '{"jsonrpc":"2.0","id":1}', 400, -32600],
    [
      'tools/call without a name',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}',
      400,
      -32602,
    ],
    [
      'a body over the size limit',
      JSON.stringify(call(1, 'search', { query: 'x'.repeat(5000) })),
      413,
      -32000,
    ],
  ])('%s', async (_what, body, status, code) => {
    const tag = newTag()
    const response = await post('/mcp-json', body, key, tag)
    expect(response.status).toBe(status)
    expect(await response.json()).toMatchObject({ jsonrpc: '2.0', id: null, error: { code } })
    expect(await originRequests(tag)).toHaveLength(0)
    expect((await keyState(id)).credits).toBe('1')
  })

  it('the wrong content type (415)', async () => {
    const tag = newTag()
    const response = await post('/mcp-json', JSON.stringify(call(1, 'search')), key, tag, {
      'content-type': 'text/plain',
    })
    expect(response.status).toBe(415)
    expect(await originRequests(tag)).toHaveLength(0)
  })

  it('a body that lies about its length in chunks still stops at the limit', async () => {
    const tag = newTag()
    const chunks = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(1000)))
        controller.close()
      },
    })
    const response = await gate('/mcp-json', {
      method: 'POST',
      headers: mcpHeaders(key, tag),
      body: chunks,
      duplex: 'half',
    } as RequestInit)
    expect(response.status).toBe(413)
    expect(await originRequests(tag)).toHaveLength(0)
  })
})

describe('SSE answers (stateful origin)', () => {
  async function session(key: string, tag: string): Promise<Record<string, string>> {
    const init = await post(
      '/mcp',
      {
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 't', version: '1' },
        },
      },
      key,
      tag
    )
    const sessionId = init.headers.get('mcp-session-id') ?? ''
    await init.text()
    const headers = { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' }
    const initialized = await post(
      '/mcp',
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      key,
      tag,
      headers
    )
    expect(initialized.status).toBe(202)
    return headers
  }

  it('streams a tools/call answer and charges it once', async () => {
    const { id, key } = await createKey('1')
    const tag = newTag()
    const headers = await session(key, tag)
    const response = await post('/mcp', call(5, 'search', { query: 'q' }), key, tag, headers)
    expect(response.headers.get('content-type')).toContain('text/event-stream')
    const messages = await mcpMessages(response)
    expect(messages.at(-1)).toMatchObject({ id: 5, result: {} })
    expect(charges(await settledState(id))).toEqual(['-0.01'])
  })

  it('releases the hold when the caller goes away before the answer arrives', async () => {
    const { id, key } = await createKey('1')
    const tag = newTag()
    const headers = await session(key, tag)
    const response = await post('/mcp', call(6, 'slow', { ms: 500 }), key, tag, headers)
    expect((await keyState(id)).held).toBe('0.02')
    await response.body?.cancel()
    const state = await settledState(id)
    expect(state.credits).toBe('1')
    expect(charges(state)).toEqual([])
  })

  it('passes the GET notification stream and DELETE through, free', async () => {
    const { id, key } = await createKey('1')
    const tag = newTag()
    const headers = await session(key, tag)
    const stream = await gate('/mcp', {
      method: 'GET',
      // A Last-Event-ID must be one the gate handed out (mcp-resume.test.ts): a standalone stream has none.
      headers: { ...headers, accept: 'text/event-stream', 'x-test-tag': tag },
    })
    expect(stream.status).toBe(200)
    expect(stream.headers.get('content-type')).toContain('text/event-stream')
    await stream.body?.cancel()
    const end = await gate('/mcp', { method: 'DELETE', headers: { ...headers, 'x-test-tag': tag } })
    expect(end.status).toBe(200)
    const seen = await originRequests(tag)
    const get = seen.filter((r) => r.method === 'GET')[0]
    expect(get?.headers['mcp-session-id']).toBe(headers['mcp-session-id'])
    expect(get?.headers['mcp-protocol-version']).toBe('2025-06-18')
    expect(seen.filter((r) => r.method === 'DELETE')).toHaveLength(1)
    expect(charges(await keyState(id))).toEqual([])
  })
})
