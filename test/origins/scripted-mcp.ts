/**
 * An MCP origin of our own that misbehaves precisely, for the wire tests of
 * issue 10: how it frames and chunks its answers, and where it delivers them, is
 * chosen per request by the path, `/m/<flag>,<flag>…/mcp`:
 *
 * - `json` (default `sse`): answer POSTs with application/json;
 * - `nolen`: a JSON answer without Content-Length;
 * - `drip`: write every answer one byte at a time;
 * - `crlf`: SSE lines end in CRLF, with a `retry:` field;
 * - `prime`: an SSE answer starts with a priming event (an `id:` and empty data,
 *   MCP 2025-11-25 §Resumability) and every event has an id;
 * - `poll`: after the priming event the POST stream is closed (server-side
 *   polling, 2025-11-25); the answer waits in the event store for a GET with
 *   `Last-Event-ID`;
 * - `late`: after the priming event, the answer comes 300 ms later, on the POST
 *   stream if the caller is still there, else only in the event store;
 * - `getanswer`: a standalone GET stream (no Last-Event-ID) carries a JSON-RPC
 *   response, which a server must not send there;
 * - `mrtr`: MCP 2026-07-28 multi round-trip requests: a tools/call without
 *   `inputResponses` is answered with an InputRequiredResult (an elicitation to
 *   answer, and request state); the retry carrying them gets the result;
 * - `tools=N`: `tools/list` lists N tools more, each with a long description.
 *
 * Tools: `search` (text), `fail` (isError), `big` (a 5 MB text), `echo`,
 * `forever` (as a task: never finishes until cancelled). A tools/call with
 * `params.task` is run as a task (MCP 2025-11-25 tasks): it answers with a
 * CreateTaskResult at once, and its result comes from `tasks/result` (which
 * waits for the task to end, ~100 ms); tasks/get, tasks/list and tasks/cancel
 * work as the spec says. Every
 * request is recorded: GET /__origin/requests?tag=X (the `x-test-tag` header).
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * The SSE field that tells a client how long to wait before reconnecting (HTML
 * §9.2.6), which this origin sends to test that the gate passes it on. A wire
 * field of the stream, not a test retry: the suites run with no retries at all.
 */
const SSE_RECONNECT_FIELD = 'retry'

interface Flags {
  json: boolean
  nolen: boolean
  drip: boolean
  crlf: boolean
  prime: boolean
  poll: boolean
  late: boolean
  getanswer: boolean
  mrtr: boolean
  tools: number
}

interface StoredEvent {
  id: string
  data: string
}

interface Recorded {
  method: string
  path: string
  headers: Record<string, string>
  body: string
}

function flagsOf(path: string): Flags {
  const spec = /^\/m\/([^/]*)\//.exec(path)?.[1] ?? ''
  const set = new Set(spec.split(',').filter(Boolean))
  const tools = [...set].find((flag) => flag.startsWith('tools='))
  return {
    json: set.has('json') || set.has('nolen'),
    nolen: set.has('nolen'),
    drip: set.has('drip'),
    crlf: set.has('crlf'),
    prime: set.has('prime') || set.has('poll') || set.has('late'),
    poll: set.has('poll'),
    late: set.has('late'),
    getanswer: set.has('getanswer'),
    mrtr: set.has('mrtr'),
    tools: tools ? Number(tools.slice(6)) : 0,
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** Write `text`, one byte at a time when dripping, honouring backpressure. */
async function write(res: ServerResponse, text: string, drip: boolean): Promise<void> {
  const bytes = Buffer.from(text)
  if (!drip) {
    if (!res.write(bytes)) await new Promise((resolve) => res.once('drain', resolve))
    return
  }
  for (let i = 0; i < bytes.length; i++) {
    if (res.destroyed) return
    res.write(bytes.subarray(i, i + 1))
    await new Promise((resolve) => setImmediate(resolve))
  }
}

function toolList(count: number): unknown[] {
  const tools: unknown[] = [
    { name: 'search', description: 'Search', inputSchema: { type: 'object' } },
    { name: 'fail', description: 'Always fails', inputSchema: { type: 'object' } },
    { name: 'big', description: 'A 5 MB answer', inputSchema: { type: 'object' } },
    { name: 'echo', description: 'Echo', inputSchema: { type: 'object' } },
  ]
  for (let i = 0; i < count; i++) {
    tools.push({
      name: `tool-${i}`,
      description: `Tool ${i}: ${'lorem ipsum dolor sit amet '.repeat(20)}`,
      inputSchema: { type: 'object' },
    })
  }
  return tools
}

interface Task {
  taskId: string
  status: 'working' | 'completed' | 'failed' | 'cancelled'
  ttl: number | null
  createdAt: string
  lastUpdatedAt: string
  result?: Record<string, unknown>
  done: Promise<void>
  finish: () => void
}

const tasks = new Map<string, Task>()
const RELATED = 'io.modelcontextprotocol/related-task'

function toolResult(name: unknown, args: unknown): Record<string, unknown> {
  if (name === 'fail') return { isError: true, content: [{ type: 'text', text: 'it failed' }] }
  if (name === 'big') return { content: [{ type: 'text', text: 'x'.repeat(5 * 1024 * 1024) }] }
  return { content: [{ type: 'text', text: `${String(name)}: ${JSON.stringify(args ?? {})}` }] }
}

function taskView(task: Task): Record<string, unknown> {
  return {
    taskId: task.taskId,
    status: task.status,
    ttl: task.ttl,
    createdAt: task.createdAt,
    lastUpdatedAt: task.lastUpdatedAt,
    pollInterval: 50,
  }
}

function startTask(params: Record<string, unknown>): Task {
  const now = new Date().toISOString()
  let finish = () => undefined as void
  const done = new Promise<void>((resolve) => (finish = resolve))
  const requested = (params.task as { ttl?: number } | undefined)?.ttl
  const task: Task = {
    taskId: randomUUID(),
    status: 'working',
    ttl: typeof requested === 'number' ? requested : 60_000,
    createdAt: now,
    lastUpdatedAt: now,
    done,
    finish,
  }
  tasks.set(task.taskId, task)
  if (params.name !== 'forever') {
    setTimeout(() => {
      if (task.status !== 'working') return
      task.result = toolResult(params.name, params.arguments)
      task.status = task.result.isError === true ? 'failed' : 'completed'
      task.lastUpdatedAt = new Date().toISOString()
      task.finish()
    }, 100)
  }
  return task
}

async function answer(
  message: Record<string, unknown>,
  flags: Flags
): Promise<Record<string, unknown>> {
  const params = (message.params ?? {}) as Record<string, unknown>
  const id = message.id
  const task = typeof params.taskId === 'string' ? tasks.get(params.taskId) : undefined
  const noTask = {
    jsonrpc: '2.0',
    id,
    error: { code: -32602, message: 'Failed to retrieve task: Task not found' },
  }
  switch (message.method) {
    case 'tasks/get':
      return task ? { jsonrpc: '2.0', id, result: taskView(task) } : noTask
    case 'tasks/list':
      return { jsonrpc: '2.0', id, result: { tasks: [...tasks.values()].map(taskView) } }
    case 'tasks/cancel':
      if (!task) return noTask
      if (task.status !== 'working')
        return {
          jsonrpc: '2.0',
          id,
          error: { code: -32602, message: `Cannot cancel task: already ${task.status}` },
        }
      task.status = 'cancelled'
      task.lastUpdatedAt = new Date().toISOString()
      task.finish()
      return { jsonrpc: '2.0', id, result: taskView(task) }
    case 'tasks/result':
      if (!task) return noTask
      await task.done
      if (task.status === 'cancelled')
        return { jsonrpc: '2.0', id, error: { code: -32603, message: 'Task was cancelled' } }
      return {
        jsonrpc: '2.0',
        id,
        result: { ...task.result, _meta: { [RELATED]: { taskId: task.taskId } } },
      }
  }
  if (flags.mrtr && message.method === 'tools/call' && params.inputResponses === undefined) {
    const ask = {
      method: 'elicitation/create',
      params: {
        mode: 'form',
        message: 'Which city?',
        requestedSchema: { type: 'object', properties: { city: { type: 'string' } } },
      },
    }
    return {
      jsonrpc: '2.0',
      id,
      result: {
        resultType: 'input_required',
        inputRequests: { city: ask },
        requestState: 'round-1',
      },
    }
  }
  if (message.method === 'tools/call' && typeof params.task === 'object' && params.task !== null) {
    return { jsonrpc: '2.0', id, result: { task: taskView(startTask(params)) } }
  }
  switch (message.method) {
    case 'initialize':
      return {
        jsonrpc: '2.0',
        id,
        result: {
          protocolVersion: params.protocolVersion ?? '2025-11-25',
          capabilities: {
            tools: {},
            tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
          },
          serverInfo: { name: 'scripted', version: '1.0.0' },
        },
      }
    case 'tools/list':
      return { jsonrpc: '2.0', id, result: { tools: toolList(flags.tools) } }
    case 'tools/call':
      return { jsonrpc: '2.0', id, result: toolResult(params.name, params.arguments) }
    default:
      return { jsonrpc: '2.0', id, error: { code: -32601, message: 'Method not found' } }
  }
}

export interface ScriptedOrigin {
  port: number
  close(): Promise<void>
}

export async function startScriptedOrigin(): Promise<ScriptedOrigin> {
  const log: Array<Recorded & { tag: string }> = []
  /** Event streams by stream id, for resumption; an event id names its stream. */
  const streams = new Map<string, StoredEvent[]>()
  const sse = (flags: Flags, event: { id?: string; data: string }) => {
    const nl = flags.crlf ? '\r\n' : '\n'
    const lines = [
      ...(event.id !== undefined ? [`id: ${event.id}`] : []),
      ...event.data.split('\n').map((line) => `data: ${line}`),
    ]
    return lines.join(nl) + nl + nl
  }

  const server: Server = createServer(async (req, res) => {
    const url = req.url ?? '/'
    const path = url.split('?')[0] ?? '/'
    const body = await readBody(req)
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(req.headers))
      if (typeof value === 'string') headers[name] = value
    if (path === '/__origin/requests') {
      const tag = new URL(url, 'http://x').searchParams.get('tag')
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(log.filter((r) => r.tag === tag)))
      return
    }
    log.push({
      method: req.method ?? '',
      path: url,
      headers,
      body,
      tag: headers['x-test-tag'] ?? '',
    })
    const flags = flagsOf(path)
    try {
      if (req.method === 'GET') return await resume(req, res, flags)
      if (req.method === 'DELETE') return void res.writeHead(200).end()
      const parsed = JSON.parse(body) as Record<string, unknown> | Array<Record<string, unknown>>
      const messages = Array.isArray(parsed) ? parsed : [parsed]
      const requests = messages.filter((m) => typeof m.method === 'string' && 'id' in m)
      if (requests.length === 0) return void res.writeHead(202).end()
      const answers = await Promise.all(requests.map((m) => answer(m, flags)))
      const session =
        req.headers['mcp-session-id'] ??
        (requests.some((m) => m.method === 'initialize') ? randomUUID() : undefined)
      const sessionHeader: Record<string, string> = session
        ? { 'mcp-session-id': String(session) }
        : {}
      if (flags.json) {
        const text = JSON.stringify(Array.isArray(parsed) ? answers : answers[0])
        res.writeHead(200, {
          'content-type': 'application/json',
          ...(flags.nolen ? {} : { 'content-length': String(Buffer.byteLength(text)) }),
          ...sessionHeader,
        })
        await write(res, text, flags.drip)
        return void res.end()
      }
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        ...sessionHeader,
      })
      const streamId = randomUUID()
      const events: StoredEvent[] = []
      streams.set(streamId, events)
      let seq = 0
      const nextId = () => `${streamId}.${seq++}`
      // The SSE reconnection-time field (HTML §9.2.6) the gate must pass through, CRLF-framed.
      if (flags.crlf) await write(res, `${SSE_RECONNECT_FIELD}: 100\r\n\r\n`, flags.drip)
      if (flags.prime) {
        const id = nextId()
        events.push({ id, data: '' })
        await write(
          res,
          `id: ${id}\n${flags.poll ? `${SSE_RECONNECT_FIELD}: 50\n` : ''}data:\n\n`,
          flags.drip
        )
      }
      for (const message of answers) {
        const event = { id: nextId(), data: JSON.stringify(message) }
        events.push(event)
        // Polling: the answer waits in the store for the client's GET with Last-Event-ID.
        if (flags.poll) continue
        if (flags.late) await new Promise((resolve) => setTimeout(resolve, 300))
        if (res.destroyed) continue
        await write(res, sse(flags, flags.prime ? event : { data: event.data }), flags.drip)
      }
      res.end()
    } catch (error) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({
          jsonrpc: '2.0',
          id: null,
          error: { code: -32603, message: String(error) },
        })
      )
    }
  })

  /** GET: resume the stream an event id belongs to, replaying what came after it. */
  async function resume(req: IncomingMessage, res: ServerResponse, flags: Flags): Promise<void> {
    const last = req.headers['last-event-id']
    if (typeof last !== 'string') {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(': standalone stream\n\n')
      if (flags.getanswer) {
        res.write(
          `id: standalone.0\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'hello' } })}\n\n`
        )
        res.write(
          `data: ${JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'paid content' }] } })}\n\n`
        )
        res.end()
        return
      }
      req.on('close', () => res.end())
      return
    }
    const streamId = last.slice(0, last.lastIndexOf('.'))
    const events = streams.get(streamId)
    if (!events) return void res.writeHead(404).end()
    const from = events.findIndex((event) => event.id === last)
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    for (const event of events.slice(from + 1)) await write(res, sse(flags, event), flags.drip)
    res.end()
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
