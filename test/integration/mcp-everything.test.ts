/**
 * A server no one here wrote, through the gate: the MCP project's reference
 * server, @modelcontextprotocol/server-everything (Streamable HTTP, sessions, an
 * event store for resumability, tasks; test/origins/everything.ts), driven by the
 * official SDK client (protocol 2025-11-25). Its tools are priced on the route;
 * each test checks what the money rule says: a paid call is charged once, when
 * its answer reaches the caller, wherever that answer comes (the POST's stream or
 * a resumed one); the client's answers to the server's own requests (sampling,
 * elicitation, roots) are free.
 */
import { Client, type ClientOptions } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import {
  CallToolResultSchema,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js'
import { env } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  charges,
  createKey,
  gate,
  GATE,
  keyState,
  newTag,
  putRoutes,
  settledState,
} from '../helpers'
import { isClientResponse, McpTap } from '../mcp-tap'

const PRICES = {
  echo: 'free',
  'get-sum': '0.01',
  'trigger-long-running-operation': '0.05',
  'get-roots-list': '0.002',
  'trigger-sampling-request': '0.02',
  'trigger-elicitation-request': '0.03',
  'simulate-research-query': '0.04',
}

const clients: Client[] = []

beforeEach(async () => {
  await putRoutes([
    { path: '/mcp', origin: env.EVERYTHING_ORIGIN, mcp: { price: '0.001', tools: PRICES } },
  ])
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()))
})

/** An SDK client on the gate, with its key (if any) and a tap on its wire. */
async function connect(
  key: string | undefined,
  capabilities: NonNullable<ClientOptions['capabilities']> = {}
) {
  const tap = new McpTap()
  // The standalone GET stream the SDK opens after initialize, once the gate has answered it.
  const standalone = tap.waitFor(
    (exchange) => exchange.method === 'GET' && exchange.lastEventId === null
  )
  const transport = new StreamableHTTPClientTransport(new URL(`${GATE}/mcp`), {
    fetch: tap.fetch,
    requestInit: {
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), 'x-test-tag': newTag() },
    },
    // A lost stream is resumed at once (the everything server sends no `retry:`).
    reconnectionOptions: {
      initialReconnectionDelay: 0,
      maxReconnectionDelay: 0,
      reconnectionDelayGrowFactor: 1,
      maxRetries: 2,
    },
  })
  const client = new Client(
    { name: 'pay-gate-everything-test', version: '1.0.0' },
    { capabilities }
  )
  await client.connect(transport)
  clients.push(client)
  return { client, tap, standalone }
}

function text(result: unknown): string {
  return ((result as { content?: Array<{ type: string; text?: string }> }).content ?? [])
    .map((part) => part.text ?? '')
    .join('\n')
}

/** A promise and its resolver. */
function signal<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

describe('server-everything through the gate, with the official SDK client', () => {
  it('lists its tools for free, each annotated with its price', async () => {
    const { client } = await connect(undefined, { sampling: {}, elicitation: {}, roots: {} })
    const { tools } = await client.listTools()
    expect(tools.length).toBeGreaterThan(10)
    for (const tool of tools)
      expect(tool._meta?.['pay-gate/price'], tool.name).toMatchObject({ currency: 'USD' })
    const prices = Object.fromEntries(
      tools.map((tool) => [tool.name, tool._meta?.['pay-gate/price']])
    )
    expect(prices.echo).toMatchObject({ amount: '0', free: true })
    expect(prices['get-sum']).toMatchObject({ amount: '0.01', free: false })
    expect(prices['trigger-long-running-operation']).toMatchObject({ amount: '0.05', free: false })
    // A tool the route does not name costs the route's default.
    expect(prices['get-tiny-image']).toMatchObject({ amount: '0.001', free: false })
    // Tools it registers only for clients that can sample, elicit or give roots are listed and priced too.
    expect(prices['trigger-sampling-request']).toMatchObject({ amount: '0.02' })
    expect(prices['simulate-research-query']).toMatchObject({ amount: '0.04' })
  })

  it('charges a paid call once, and a free one nothing', async () => {
    const { id, key } = await createKey('1')
    const { client } = await connect(key)
    expect(text(await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } }))).toBe(
      'The sum of 2 and 3 is 5.'
    )
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'free' } }))).toBe(
      'Echo: free'
    )
    const state = await settledState(id)
    expect(charges(state)).toEqual(['-0.01'])
    expect(state.credits).toBe('0.99')
    expect(state.ledger[0]?.label).toContain('tools/call get-sum')
  })

  it('does not charge a call the server fails (isError): invalid arguments, an unknown tool', async () => {
    const { id, key } = await createKey('1')
    const { client } = await connect(key)
    const invalid = await client.callTool({ name: 'get-sum', arguments: { a: 'two', b: 3 } })
    expect(invalid.isError).toBe(true)
    // Priced at the route's default; the SDK's McpServer answers an unknown tool with isError too.
    const unknown = await client.callTool({ name: 'no-such-tool', arguments: {} })
    expect(unknown.isError).toBe(true)
    const state = await settledState(id)
    expect(charges(state)).toEqual([])
    expect(state.credits).toBe('1')
  })

  it('meters concurrent calls on one session by request id: each paid one charged once', async () => {
    const { id, key } = await createKey('1')
    const { client } = await connect(key)
    const [first, second, free] = await Promise.all([
      client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } }),
      client.callTool({ name: 'get-sum', arguments: { a: 3, b: 4 } }),
      client.callTool({ name: 'echo', arguments: { message: 'x' } }),
    ])
    expect([text(first), text(second), text(free)]).toEqual([
      'The sum of 1 and 2 is 3.',
      'The sum of 3 and 4 is 7.',
      'Echo: x',
    ])
    const state = await settledState(id)
    expect(charges(state)).toEqual(['-0.01', '-0.01'])
    expect(state.credits).toBe('0.98')
  })

  it('refuses an unpaid call in-band, and the balance is untouched', async () => {
    const { client: anonymous } = await connect(undefined)
    const refused = await anonymous
      .callTool({ name: 'get-sum', arguments: { a: 1, b: 1 } })
      .catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(McpError)
    expect((refused as McpError).code).toBe(-32402)
    expect((refused as McpError).data).toMatchObject({ reason: 'missing_api_key' })

    const { id, key } = await createKey('0.005')
    const { client } = await connect(key)
    const error = await client
      .callTool({ name: 'get-sum', arguments: { a: 1, b: 1 } })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(McpError)
    expect((error as McpError).code).toBe(-32402)
    expect((error as McpError).data).toMatchObject({
      reason: 'insufficient_credits',
      price: '0.01',
      tool: 'get-sum',
    })
    const state = await settledState(id)
    expect(charges(state)).toEqual([])
    expect(state.credits).toBe('0.005')
  })

  it('opens the GET stream after initialize; a server request on it (roots/list) is answered for free', async () => {
    const { id, key } = await createKey('1')
    const { client, tap, standalone } = await connect(key, { roots: { listChanged: true } })
    const asked = signal()
    client.setRequestHandler(ListRootsRequestSchema, () => {
      asked.resolve()
      return { roots: [{ uri: 'file:///srv/pay-gate', name: 'pay-gate' }] }
    })
    // The SDK opens it after `notifications/initialized`; the gate passes it through as SSE.
    const stream = await standalone
    expect(stream.status).toBe(200)
    expect(stream.contentType).toMatch(/^text\/event-stream/)
    // The tool asks the client for its roots on that stream (no related request), then answers.
    const result = await client.callTool({ name: 'get-roots-list', arguments: {} })
    await asked.promise
    expect(text(result)).toContain('file:///srv/pay-gate')
    const answers = tap.exchanges.filter(isClientResponse)
    expect(answers.length).toBeGreaterThan(0)
    expect(answers.map((exchange) => exchange.status)).toEqual(answers.map(() => 202))
    expect(charges(await settledState(id))).toEqual(['-0.002'])
  })

  it('passes the server’s own refusal of a GET with a forged session id: no 5xx, nothing charged', async () => {
    const { id, key } = await createKey('1')
    const headers = {
      authorization: `Bearer ${key}`,
      accept: 'text/event-stream',
      'mcp-session-id': 'forged-session',
      'mcp-protocol-version': '2025-11-25',
      'x-test-tag': newTag(),
    }
    const response = await gate('/mcp', { headers })
    expect(response.status).toBe(400)
    await response.body?.cancel()
    expect(charges(await keyState(id))).toEqual([])
  })

  it('answers on the resumed stream a call whose POST stream the client lost after the gate delivered it: charged once', async () => {
    const { id, key } = await createKey('1')
    const { client, tap } = await connect(key)
    const progressed = signal()
    const progress: number[] = []
    // The client loses its POST stream after the first progress notification; the gate reads it to the end.
    tap.cutNext({
      tool: 'trigger-long-running-operation',
      after: (message) => message.method === 'notifications/progress',
      seen: progressed.promise,
      gate: 'drain',
    })
    const result = await client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 0.2, steps: 2 } },
      undefined,
      {
        onprogress: (update) => {
          progress.push(update.progress)
          progressed.resolve()
        },
      }
    )
    expect(text(result)).toContain('Long running operation completed')
    expect(progress).toEqual([1, 2])
    // It came on the GET the client resumed with, from an event id the gate handed out (a ticket).
    const resumed = tap.exchanges.filter(
      (exchange) => exchange.method === 'GET' && exchange.lastEventId !== null
    )
    expect(resumed).toHaveLength(1)
    expect(resumed[0]?.lastEventId).toMatch(/^pg1\./)
    expect(resumed[0]?.status).toBe(200)
    const state = await settledState(id)
    expect(charges(state)).toEqual(['-0.05'])
    expect(state.credits).toBe('0.95')
  })

  it('holds a call whose POST stream the client lost before its answer, and charges it once on the resumed stream', async () => {
    const { id, key } = await createKey('1')
    const { client, tap } = await connect(key, { elicitation: {} })
    const elicited = signal()
    // The resume reaches the gate only once the client's answer to the elicitation was taken (202),
    // so the tool's answer is already in the server's event store: it comes on the resumed stream.
    const answered = tap.waitFor(isClientResponse)
    tap.cutNext({
      tool: 'trigger-elicitation-request',
      after: (message) => message.method === 'elicitation/create',
      seen: elicited.promise,
      gate: 'cancel',
      resumeAfter: answered,
    })
    client.setRequestHandler(ElicitRequestSchema, async () => {
      elicited.resolve()
      // The caller hangs up (the gate's stream is cancelled) before the tool can answer.
      await tap.cutDone
      expect((await keyState(id)).held).toBe('0.03')
      return { action: 'accept', content: { name: 'Ada Lovelace' } }
    })
    const result = await client.callTool({ name: 'trigger-elicitation-request', arguments: {} })
    expect(text(result)).toContain('Name: Ada Lovelace')
    expect((await answered).status).toBe(202)
    const resumed = tap.exchanges.filter(
      (exchange) => exchange.method === 'GET' && exchange.lastEventId !== null
    )
    expect(resumed.map((exchange) => exchange.status)).toEqual([200])
    const state = await settledState(id)
    expect(charges(state)).toEqual(['-0.03'])
    expect(state.credits).toBe('0.97')
  })

  it('relays a sampling request during a paid call; the call is charged once, the client’s answer is free', async () => {
    const { id, key } = await createKey('1')
    const { client, tap } = await connect(key, { sampling: {} })
    const asked: unknown[] = []
    client.setRequestHandler(CreateMessageRequestSchema, (request) => {
      asked.push(request.params.messages)
      return {
        role: 'assistant',
        content: { type: 'text', text: 'sampled through pay-gate' },
        model: 'test-model',
        stopReason: 'endTurn',
      }
    })
    const result = await client.callTool({
      name: 'trigger-sampling-request',
      arguments: { prompt: 'hello', maxTokens: 10 },
    })
    expect(asked).toHaveLength(1)
    expect(text(result)).toContain('sampled through pay-gate')
    expect(tap.exchanges.filter(isClientResponse).map((exchange) => exchange.status)).toEqual([202])
    const state = await settledState(id)
    expect(charges(state)).toEqual(['-0.02'])
    expect(state.ledger.filter((row) => row.kind === 'charge')).toHaveLength(1)
  })

  it('relays an elicitation request during a paid call; the call is charged once, the client’s answer is free', async () => {
    const { id, key } = await createKey('1')
    const { client, tap } = await connect(key, { elicitation: {} })
    client.setRequestHandler(ElicitRequestSchema, () => ({
      action: 'accept',
      content: { name: 'Grace Hopper', check: true },
    }))
    const result = await client.callTool({ name: 'trigger-elicitation-request', arguments: {} })
    expect(text(result)).toContain('Name: Grace Hopper')
    expect(tap.exchanges.filter(isClientResponse).map((exchange) => exchange.status)).toEqual([202])
    expect(charges(await settledState(id))).toEqual(['-0.03'])
  })

  // MCP 2025-11-25 §Tasks: a CreateTaskResult is an acknowledgement, not the tool's
  // result. Nothing is charged when the task is created, tasks/get polls are free,
  // and the call is charged once, when tasks/result delivers the tool's result.
  it('charges a task-augmented call once, when tasks/result delivers its result, never at creation or per poll', async () => {
    const { id, key } = await createKey('1')
    const { client } = await connect(key)
    const stream = client.experimental.tasks.callToolStream(
      { name: 'simulate-research-query', arguments: { topic: 'edge payments' } },
      CallToolResultSchema,
      { task: { ttl: 60_000 } }
    )
    let polls = 0
    for await (const message of stream) {
      // Held, not charged, while the task runs (so not settledState: the hold is meant to stay).
      if (message.type === 'taskCreated') expect(await keyState(id)).toMatchObject({ held: '0.04' })
      if (message.type === 'taskStatus') {
        polls++
        if (message.task.status !== 'completed') expect(charges(await keyState(id))).toEqual([])
      }
      if (message.type === 'error') throw message.error
      if (message.type === 'result')
        expect(text(message.result)).toContain('Research Report: edge payments')
    }
    expect(polls).toBeGreaterThan(0)
    const state = await settledState(id)
    expect(charges(state)).toEqual(['-0.04'])
    expect(state.ledger[0]?.label).toContain('simulate-research-query')
  })
})
