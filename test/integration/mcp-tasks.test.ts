/**
 * Tasks (MCP 2025-11-25, issue 10): a task-augmented tools/call is priced as its
 * tool and held when asked; its CreateTaskResult charges nothing; tasks/get,
 * tasks/list and tasks/cancel are free; tasks/result is charged once when it
 * hands on a successful result; a failed or cancelled task releases its hold.
 * The task id the caller sees is the gate's ticket: another key's, another
 * session's or a made-up one gets no result.
 */
import { env } from 'cloudflare:workers'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  charges,
  createKey,
  gate,
  keyState,
  mcpHeaders,
  mcpMessages,
  newTag,
  putRoutes,
  scriptedRequests,
  settledState,
} from '../helpers'

beforeEach(async () => {
  const mcp = {
    price: '0.001',
    tools: { search: '0.03', fail: '0.03', forever: '0.03', echo: 'free' },
  }
  await putRoutes([{ path: '/m/*', origin: env.SCRIPTED_ORIGIN, mcp }])
})

const SESSION = { 'mcp-session-id': 'task-session' }

async function rpc(
  path: string,
  id: number,
  method: string,
  params: Record<string, unknown>,
  key: string | undefined,
  tag: string,
  extra: Record<string, string> = SESSION
) {
  const response = await gate(path, {
    method: 'POST',
    headers: mcpHeaders(key, tag, extra),
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
  })
  const [message] = await mcpMessages(response)
  return message as {
    id: number
    result?: Record<string, unknown> & { task?: { taskId: string; status: string } }
    error?: { code: number; data?: { reason?: string } }
  }
}

async function startTask(
  path: string,
  tool: string,
  key: string | undefined,
  tag: string
): Promise<string> {
  const created = await rpc(
    path,
    1,
    'tools/call',
    { name: tool, arguments: { q: 1 }, task: { ttl: 60_000 } },
    key,
    tag
  )
  expect(created.result?.task?.status).toBe('working')
  expect(created.result?.task?.taskId).toMatch(/^pgt1\./)
  return created.result?.task?.taskId as string
}

for (const mode of ['json', 'sse']) {
  describe(`a task-augmented call (${mode})`, () => {
    const path = `/m/${mode}/mcp`

    it('is held when created, free to poll, and charged once when tasks/result delivers its result', async () => {
      const { id, key } = await createKey('1')
      const tag = newTag()
      const taskId = await startTask(path, 'search', key, tag)
      expect((await keyState(id)).held).toBe('0.03')
      for (let poll = 0; poll < 10; poll++) {
        const got = await rpc(path, 10 + poll, 'tasks/get', { taskId }, key, tag)
        expect(got.result?.taskId).toBe(taskId)
      }
      expect((await rpc(path, 30, 'tasks/list', {}, key, tag)).result).toBeDefined()
      const result = await rpc(path, 40, 'tasks/result', { taskId }, key, tag)
      expect(result.result).toMatchObject({
        content: [{ type: 'text', text: expect.stringContaining('search') }],
      })
      expect(
        (result.result?._meta as Record<string, { taskId: string }>)[
          'io.modelcontextprotocol/related-task'
        ]?.taskId
      ).toBe(taskId)
      // Fetched again: handed on, not charged again.
      expect((await rpc(path, 41, 'tasks/result', { taskId }, key, tag)).result).toMatchObject({
        content: [{ type: 'text' }],
      })
      const state = await settledState(id)
      expect(charges(state)).toEqual(['-0.03'])
      expect(state.credits).toBe('0.97')
    })

    it('that fails releases its hold: nothing charged', async () => {
      const { id, key } = await createKey('1')
      const tag = newTag()
      const taskId = await startTask(path, 'fail', key, tag)
      const result = await rpc(path, 2, 'tasks/result', { taskId }, key, tag)
      expect(result.result).toMatchObject({ isError: true })
      const state = await settledState(id)
      expect(charges(state)).toEqual([])
      expect(state.credits).toBe('1')
    })

    it('that is cancelled releases its hold, and its result is never charged', async () => {
      const { id, key } = await createKey('1')
      const tag = newTag()
      const taskId = await startTask(path, 'forever', key, tag)
      const cancelled = await rpc(path, 2, 'tasks/cancel', { taskId }, key, tag)
      expect(cancelled.result).toMatchObject({ taskId, status: 'cancelled' })
      const result = await rpc(path, 3, 'tasks/result', { taskId }, key, tag)
      expect(result.error).toBeDefined()
      const state = await settledState(id)
      expect(charges(state)).toEqual([])
      expect(state.credits).toBe('1')
    })
  })
}

describe('tasks/result is refused, and never forwarded, for a task id', () => {
  it('the gate did not hand out (the origin’s own, from tasks/list, or made up)', async () => {
    const { id, key } = await createKey('1')
    const tag = newTag()
    await startTask('/m/json/mcp', 'search', key, tag)
    const listed = await rpc('/m/json/mcp', 2, 'tasks/list', {}, key, tag)
    const originId = (listed.result?.tasks as Array<{ taskId: string }>)[0]?.taskId as string
    for (const forged of [originId, 'pgt1.e30.AAAAAAAAAAAAAAAAAAAAAA.x', 'made-up']) {
      const refused = await rpc('/m/json/mcp', 3, 'tasks/result', { taskId: forged }, key, tag)
      expect(refused.error?.data?.reason).toBe('unknown_task')
    }
    expect(
      (await scriptedRequests(tag)).filter((r) => r.body.includes('tasks/result'))
    ).toHaveLength(0)
    expect((await keyState(id)).held).toBe('0.03')
  })

  it('of another key, of no key, or of another session', async () => {
    const payer = await createKey('1')
    const other = await createKey('1')
    const tag = newTag()
    const taskId = await startTask('/m/json/mcp', 'search', payer.key, tag)
    for (const [key, extra] of [
      [other.key, SESSION],
      [undefined, SESSION],
      [payer.key, { 'mcp-session-id': 'another' }],
    ] as const) {
      const refused = await rpc('/m/json/mcp', 3, 'tasks/result', { taskId }, key, tag, extra)
      expect(refused.error?.data?.reason).toBe('unknown_task')
    }
    expect(
      (await scriptedRequests(tag)).filter((r) => r.body.includes('tasks/result'))
    ).toHaveLength(0)
    expect(charges(await keyState(other.id))).toEqual([])
    expect((await keyState(payer.id)).held).toBe('0.03')
  })
})

describe('a task of a free tool', () => {
  it('needs no key for its result', async () => {
    const tag = newTag()
    const taskId = await startTask('/m/json/mcp', 'echo', undefined, tag)
    expect(
      (await rpc('/m/json/mcp', 2, 'tasks/result', { taskId }, undefined, tag)).result
    ).toMatchObject({ content: [{ type: 'text' }] })
  })
})

describe('a task request outside the rules', () => {
  it('tasks/result in a batch of one, naming the origin’s own task id (in the clear in the ticket), is refused and reaches nobody', async () => {
    const { id, key } = await createKey('1')
    const tag = newTag()
    const taskId = await startTask('/m/json/mcp', 'search', key, tag)
    const originId = taskId.slice('pgt1.'.length).split('.').slice(2).join('.')
    for (const params of [{ taskId: originId }, { taskId }]) {
      const response = await gate('/m/json/mcp', {
        method: 'POST',
        headers: mcpHeaders(undefined, tag, SESSION),
        body: JSON.stringify([{ jsonrpc: '2.0', id: 2, method: 'tasks/result', params }]),
      })
      expect(response.status).toBe(400)
      expect(await response.text()).not.toContain('search:')
    }
    expect(
      (await scriptedRequests(tag)).filter((r) => r.body.includes('tasks/result'))
    ).toHaveLength(0)
    expect(charges(await keyState(id))).toEqual([])
  })

  it('tasks/result with a taskId that is not a string is refused, never forwarded', async () => {
    const tag = newTag()
    const refused = await rpc('/m/json/mcp', 2, 'tasks/result', { taskId: 12 }, undefined, tag)
    expect(refused.error?.data?.reason).toBe('unknown_task')
    expect(await scriptedRequests(tag)).toHaveLength(0)
  })

  it('a task whose creation never came on its POST stream (a polling server) is released, and its creation is not delivered on a resume', async () => {
    const { id, key } = await createKey('1')
    const tag = newTag()
    const response = await gate('/m/poll/mcp', {
      method: 'POST',
      headers: mcpHeaders(key, tag, SESSION),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'search', task: { ttl: 60_000 } },
      }),
    })
    const primed = /id: (\S+)/.exec(await response.text())?.[1] as string
    expect(primed).toMatch(/^pg1\./)
    const state = await settledState(id)
    expect(state.held).toBe('0')
    const headers = mcpHeaders(key, tag, {
      accept: 'text/event-stream',
      'last-event-id': primed,
      ...SESSION,
    })
    headers.delete('content-type')
    const [resumed] = await mcpMessages(await gate('/m/poll/mcp', { headers }))
    expect(resumed).toMatchObject({
      id: 1,
      error: { code: -32402, data: { reason: 'answer_not_held' } },
    })
    expect(charges(await keyState(id))).toEqual([])
  })
})

describe('a batch', () => {
  it('with a task-augmented call is refused: tasks go on their own', async () => {
    const { key } = await createKey('1')
    const body = [
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'search', task: {} } },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'search' } },
    ]
    const response = await gate('/m/json/mcp', {
      method: 'POST',
      headers: mcpHeaders(key, newTag(), SESSION),
      body: JSON.stringify(body),
    })
    expect(response.status).toBe(400)
  })
})
