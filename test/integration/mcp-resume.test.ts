/**
 * Answers on resumed streams (issue 10): a server may end a POST's stream after
 * its priming event and deliver the answer when the client resumes with GET and
 * Last-Event-ID (MCP 2025-11-25 §Resumability, server-side polling). The answer
 * to a held call is charged there, once; an answer the gate does not hold is
 * never delivered; a Last-Event-ID the gate did not hand out, or from another
 * session or key, is refused before the origin sees it.
 */
import { env } from 'cloudflare:workers'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  charges,
  createKey,
  gate,
  keyState,
  mcpHeaders,
  newTag,
  scriptedRequests,
  putRoutes,
  settledState,
} from '../helpers'

beforeEach(async () => {
  const mcp = { price: '0.001', tools: { search: '0.01', echo: 'free' } }
  await putRoutes([
    { path: '/m/*', origin: env.SCRIPTED_ORIGIN, mcp },
    {
      path: '/short/*',
      origin: `${env.SCRIPTED_ORIGIN}/m/poll`,
      mcp: { ...mcp, resumeSeconds: 1 },
      timeoutMs: 500,
    },
  ])
})

interface Event {
  id?: string
  data?: unknown
}

async function events(response: Response): Promise<Event[]> {
  const text = await response.text()
  return text
    .split(/\r?\n\r?\n/)
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const event: Event = {}
      const data: string[] = []
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith('id:')) event.id = line.slice(3).trim()
        if (line.startsWith('data:')) data.push(line.slice(5).trimStart())
      }
      if (data.join('') !== '') event.data = JSON.parse(data.join('\n'))
      return event
    })
}

const call = (id: number, name: string) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: {} },
})
const SESSION = { 'mcp-session-id': 'session-a' }

function post(
  path: string,
  body: unknown,
  key: string | undefined,
  tag: string,
  extra: Record<string, string> = SESSION
) {
  return gate(path, {
    method: 'POST',
    headers: mcpHeaders(key, tag, extra),
    body: JSON.stringify(body),
  })
}

function resume(
  path: string,
  lastEventId: string,
  key: string | undefined,
  tag: string,
  extra: Record<string, string> = SESSION
) {
  const headers = mcpHeaders(key, tag, {
    accept: 'text/event-stream',
    'last-event-id': lastEventId,
    ...extra,
  })
  headers.delete('content-type')
  return gate(path, { headers })
}

/** A paid call whose POST stream ends after its priming event: returns the event id handed out. */
async function pollingCall(path: string, key: string, tag: string, id = 1): Promise<string> {
  const response = await post(path, call(id, 'search'), key, tag)
  const got = await events(response)
  expect(got.some((event) => event.data !== undefined)).toBe(false)
  const primed = got.find((event) => event.id !== undefined)?.id
  expect(primed).toMatch(/^pg1\./)
  return primed as string
}

describe('an answer delivered on a resumed stream', () => {
  it('is charged once, there, and the hold waits for it after the POST stream ended', async () => {
    const { id, key } = await createKey('1')
    const tag = newTag()
    const primed = await pollingCall('/m/poll/mcp', key, tag)
    // The POST stream ended without the answer: the call stays held, not released.
    expect((await keyState(id)).held).toBe('0.01')
    const resumed = await events(await resume('/m/poll/mcp', primed, key, tag))
    expect(resumed.find((event) => event.data !== undefined)?.data).toMatchObject({
      id: 1,
      result: { content: [{ type: 'text' }] },
    })
    const state = await settledState(id)
    expect(charges(state)).toEqual(['-0.01'])
    expect(state.credits).toBe('0.99')
    // The origin got its own event id back, never the gate's ticket.
    const gets = (await scriptedRequests(tag)).filter((r) => r.method === 'GET')
    expect(gets[0]?.headers['last-event-id']).not.toMatch(/^pg1\./)
  })

  it('a second resume from the same id replays the answer without charging it again', async () => {
    const { id, key } = await createKey('1')
    const tag = newTag()
    const primed = await pollingCall('/m/poll/mcp', key, tag)
    await (await resume('/m/poll/mcp', primed, key, tag)).text()
    const again = await events(await resume('/m/poll/mcp', primed, key, tag))
    expect(again.find((event) => event.data !== undefined)?.data).toMatchObject({
      id: 1,
      result: {},
    })
    expect(charges(await settledState(id))).toEqual(['-0.01'])
  })

  it('a caller who hangs up after the priming event and resumes gets the answer, charged once', async () => {
    const { id, key } = await createKey('1')
    const tag = newTag()
    const response = await post('/m/late/mcp', call(2, 'search'), key, tag)
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    let text = ''
    while (!/id: (\S+)\r?\n/.test(text))
      text += new TextDecoder().decode((await reader.read()).value)
    const primed = /id: (\S+)\r?\n/.exec(text)?.[1] as string
    await reader.cancel()
    expect((await keyState(id)).held).toBe('0.01')
    // Resume until the origin has put its answer in its store (a resume before that replays nothing, harmlessly).
    let answer: unknown
    for (let tries = 0; answer === undefined && tries < 100; tries++) {
      if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 50))
      answer = (await events(await resume('/m/late/mcp', primed, key, tag))).find(
        (event) => event.data !== undefined
      )?.data
    }
    expect(answer).toMatchObject({ id: 2, result: {} })
    expect(charges(await settledState(id))).toEqual(['-0.01'])
  })

  it('an answer after the hold ran out is refused in-band and not charged', async () => {
    const { id, key } = await createKey('1')
    const tag = newTag()
    const primed = await pollingCall('/short/mcp', key, tag)
    await new Promise((resolve) => setTimeout(resolve, 1_700))
    const resumed = await events(await resume('/short/mcp', primed, key, tag))
    const answer = resumed.find((event) => event.data !== undefined)?.data
    expect(answer).toMatchObject({
      id: 1,
      error: { code: -32402, data: { reason: 'answer_not_held' } },
    })
    expect(JSON.stringify(answer)).not.toContain('search:')
    // Never charged; still held until the key's alarm lets the hold go.
    const state = await keyState(id)
    expect(charges(state)).toEqual([])
    expect(state.held).toBe('0.01')
  })
})

describe('resuming is refused, and reaches nobody, when the Last-Event-ID', () => {
  it('was not handed out by the gate (the origin’s own id, or made up)', async () => {
    const { id, key } = await createKey('1')
    const tag = newTag()
    const primed = await pollingCall('/m/poll/mcp', key, tag)
    const originId = primed.slice(primed.lastIndexOf('.', primed.lastIndexOf('.') - 1) + 1)
    for (const forged of [
      originId,
      'pg1.e30.AAAAAAAAAAAAAAAAAAAAAA.x',
      `${primed}x`,
      'x'.repeat(5000),
    ]) {
      const response = await resume('/m/poll/mcp', forged, key, tag)
      expect(response.status).toBe(400)
      expect(await response.json()).toMatchObject({ error: { data: { reason: 'invalid_resume' } } })
    }
    expect((await scriptedRequests(tag)).filter((r) => r.method === 'GET')).toHaveLength(0)
    expect((await keyState(id)).held).toBe('0.01')
  })

  it('belongs to another session', async () => {
    const { key } = await createKey('1')
    const tag = newTag()
    const primed = await pollingCall('/m/poll/mcp', key, tag)
    const response = await resume('/m/poll/mcp', primed, key, tag, {
      'mcp-session-id': 'session-b',
    })
    expect(response.status).toBe(400)
    expect((await scriptedRequests(tag)).filter((r) => r.method === 'GET')).toHaveLength(0)
  })

  it('belongs to a stream paid with another key, or is sent with no key', async () => {
    const payer = await createKey('1')
    const other = await createKey('1')
    const tag = newTag()
    const primed = await pollingCall('/m/poll/mcp', payer.key, tag)
    for (const key of [other.key, undefined])
      expect((await resume('/m/poll/mcp', primed, key, tag)).status).toBe(400)
    expect((await scriptedRequests(tag)).filter((r) => r.method === 'GET')).toHaveLength(0)
    expect(charges(await keyState(other.id))).toEqual([])
    expect((await keyState(payer.id)).held).toBe('0.01')
  })
})

describe('a standalone GET stream', () => {
  it('passes requests and notifications, but never an answer: the origin must not send one there', async () => {
    const headers = mcpHeaders(undefined, newTag(), { accept: 'text/event-stream', ...SESSION })
    headers.delete('content-type')
    const got = await events(await gate('/m/getanswer/mcp', { headers }))
    const messages = got.flatMap((event) => (event.data === undefined ? [] : [event.data]))
    expect(messages[0]).toMatchObject({ method: 'notifications/message' })
    expect(messages[1]).toMatchObject({
      id: 1,
      error: { code: -32402, data: { reason: 'answer_not_held' } },
    })
    expect(JSON.stringify(messages)).not.toContain('paid content')
    expect(got[0]?.id).toMatch(/^pg1\./)
  })
})

describe('giving up on a call that waits for its answer', () => {
  const cancel = (requestId: number | string) => ({
    jsonrpc: '2.0',
    method: 'notifications/cancelled',
    params: { requestId, reason: 'the user gave up' },
  })

  it('notifications/cancelled releases its hold, and an answer that still comes is not handed on', async () => {
    const { id, key } = await createKey('1')
    const tag = newTag()
    const primed = await pollingCall('/m/poll/mcp', key, tag, 5)
    expect((await post('/m/poll/mcp', cancel(5), key, tag)).status).toBe(202)
    const state = await settledState(id)
    expect(state.held).toBe('0')
    expect(charges(state)).toEqual([])
    const resumed = await events(await resume('/m/poll/mcp', primed, key, tag))
    expect(resumed.find((event) => event.data !== undefined)?.data).toMatchObject({
      id: 5,
      error: { code: -32402, data: { reason: 'answer_not_held' } },
    })
    expect(charges(await keyState(id))).toEqual([])
  })

  it('a cancellation by another key, for another id or in another session releases nothing', async () => {
    const payer = await createKey('1')
    const other = await createKey('1')
    const tag = newTag()
    const primed = await pollingCall('/m/poll/mcp', payer.key, tag, 6)
    await post('/m/poll/mcp', cancel(6), other.key, tag)
    await post('/m/poll/mcp', cancel('6'), payer.key, tag)
    await post('/m/poll/mcp', cancel(7), payer.key, tag)
    await post('/m/poll/mcp', cancel(6), payer.key, tag, { 'mcp-session-id': 'session-b' })
    await post('/m/poll/mcp', cancel(6), undefined, tag)
    expect((await keyState(payer.id)).held).toBe('0.01')
    await (await resume('/m/poll/mcp', primed, payer.key, tag)).text()
    expect(charges(await settledState(payer.id))).toEqual(['-0.01'])
  })

  it('the session’s DELETE releases every call of the key waiting in it', async () => {
    const { id, key } = await createKey('1')
    const tag = newTag()
    const primed = await pollingCall('/m/poll/mcp', key, tag, 8)
    await pollingCall('/m/poll/mcp', key, tag, 9)
    expect((await keyState(id)).held).toBe('0.02')
    const headers = mcpHeaders(key, tag, SESSION)
    expect((await gate('/m/poll/mcp', { method: 'DELETE', headers })).status).toBe(200)
    const state = await settledState(id)
    expect(state.held).toBe('0')
    expect(charges(state)).toEqual([])
    const resumed = await events(await resume('/m/poll/mcp', primed, key, tag))
    expect(resumed.find((event) => event.data !== undefined)?.data).toMatchObject({
      id: 8,
      error: { data: { reason: 'answer_not_held' } },
    })
  })
})
