import { describe, expect, it } from 'vitest'
import { McpResponseReader, parseMcpBody, responseOutcome, SseReader } from '../../src/mcp'

describe('parseMcpBody', () => {
  it('classifies requests, notifications and responses, single or batched', () => {
    const parsed = parseMcpBody(
      JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'search', arguments: {} } },
        { jsonrpc: '2.0', method: 'notifications/initialized' },
        { jsonrpc: '2.0', id: 'a', result: {} },
      ])
    )
    expect(parsed).toMatchObject({
      ok: true,
      batch: true,
      messages: [
        { kind: 'request', id: 1, method: 'tools/call', tool: 'search' },
        { kind: 'notification', method: 'notifications/initialized' },
        { kind: 'response', id: 'a' },
      ],
    })
  })

  it.each([
    ['{', -32700],
    ['[]', -32600],
    ['{"jsonrpc":"1.0","id":1,"method":"x"}', -32600],
    ['{"jsonrpc":"2.0","id":null,"method":"x"}', -32600],
    ['{"jsonrpc":"2.0","id":{},"method":"x"}', -32600],
    ['{"jsonrpc":"2.0","id":1,"method":""}', -32600],
    ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}', -32602],
    ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}', -32602],
    ['[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","id":1,"method":"b"}]', -32600],
    ['"just a string"', -32600],
    ['{"jsonrpc":"2.0","id":1,"result":{},"error":{}}', -32600],
  ])('refuses %s with %i', (body, code) => {
    const parsed = parseMcpBody(body)
    expect(parsed.ok).toBe(false)
    if (!parsed.ok) expect(parsed.code).toBe(code)
  })

  it('keeps ids 1 and "1" apart', () => {
    const parsed = parseMcpBody(
      '[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","id":"1","method":"b"}]'
    )
    expect(parsed.ok).toBe(true)
  })

  it('survives absurd nesting without throwing', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000)
    expect(parseMcpBody(deep).ok).toBe(false)
  })
})

describe('responseOutcome', () => {
  it('counts JSON-RPC errors and isError results as failures', () => {
    expect(responseOutcome({ jsonrpc: '2.0', id: 1, result: { content: [] } })).toEqual({
      id: 1,
      outcome: 'success',
    })
    expect(responseOutcome({ jsonrpc: '2.0', id: 1, result: { isError: true } })).toEqual({
      id: 1,
      outcome: 'failure',
    })
    expect(responseOutcome({ jsonrpc: '2.0', id: 1, error: { code: -1, message: 'x' } })).toEqual({
      id: 1,
      outcome: 'failure',
    })
    expect(responseOutcome({ jsonrpc: '2.0', method: 'notifications/progress' })).toBeNull()
  })

  it('counts an InputRequiredResult (MCP 2026-07-28 MRTR) as incomplete, never a success', () => {
    const incomplete = { id: 1, outcome: 'incomplete' }
    expect(
      responseOutcome({
        jsonrpc: '2.0',
        id: 1,
        result: { resultType: 'input_required', inputRequests: {} },
      })
    ).toEqual(incomplete)
    expect(
      responseOutcome({
        jsonrpc: '2.0',
        id: 1,
        result: { inputRequests: { a: { method: 'roots/list' } } },
      })
    ).toEqual(incomplete)
    expect(responseOutcome({ jsonrpc: '2.0', id: 1, result: { requestState: 'opaque' } })).toEqual(
      incomplete
    )
    // A result that carries content is an answer, whatever else it says.
    expect(
      responseOutcome({ jsonrpc: '2.0', id: 1, result: { content: [], requestState: 'x' } })
    ).toEqual({ id: 1, outcome: 'success' })
  })
})

describe('SseReader', () => {
  it('finds events across chunk boundaries and line-end styles', () => {
    const reader = new SseReader()
    const text = 'event: message\r\nid: 1\r\ndata: {"a":\r\ndata: 1}\r\n\r\n: comment\n\nda'
    const events = [...text].flatMap((char) => reader.push(char))
    expect(events).toHaveLength(1)
    expect(events[0]?.data).toBe('{"a":\n1}')
    expect(reader.push('ta: 2\r')).toHaveLength(0)
    expect(reader.push('\n\r\n')[0]?.data).toBe('2')
  })
})

describe('McpResponseReader', () => {
  const encode = (text: string) => new TextEncoder().encode(text)

  it('passes SSE bytes through untouched and reads each message once complete', () => {
    const reader = new McpResponseReader('sse')
    const first = encode(
      'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress"}\n\ndata: {"jsonrpc":"2.0",'
    )
    expect(reader.chunk(first)).toBe(first)
    expect(reader.take()).toHaveLength(1)
    reader.chunk(encode('"id":1,"result":{}}\n\n'))
    expect(reader.take()).toEqual([{ jsonrpc: '2.0', id: 1, result: {} }])
  })

  it('reads a JSON body at its end, and rewrites when asked', () => {
    const plain = new McpResponseReader('json')
    plain.chunk(encode('{"jsonrpc":"2.0","id":1,'))
    plain.chunk(encode('"result":{"isError":true}}'))
    expect(plain.flush()).toBeUndefined()
    expect(plain.take()).toEqual([{ jsonrpc: '2.0', id: 1, result: { isError: true } }])

    const rewriting = new McpResponseReader('json', (message) => ({
      ...(message as object),
      seen: true,
    }))
    expect(rewriting.chunk(encode('{"id":1}'))).toBeUndefined()
    expect(new TextDecoder().decode(rewriting.flush())).toBe('{"id":1,"seen":true}')
  })
})
