/**
 * The bench's default origin: fixed JSON-RPC answers from a bare node:http server,
 * in a process of its own. No MCP SDK and no server built per request (the SDK demo
 * origin costs about 1 ms of CPU a call, more than the gate, so with it every floor
 * is the origin's and every ratio is pushed toward 1). An answer depends only on the
 * request body, so each distinct body is answered once and its bytes kept: a repeated
 * call costs one map lookup on top of node:http itself.
 *
 * The answers have the SDK demo origin's shape and size (same tools, same texts;
 * tools/list is its captured answer), so the gate reads and passes on the same bytes.
 * Also GET /api/health, for the x402 scenarios. Prints `{"port":…}` once listening;
 * stops on SIGTERM or when stdin closes (the bench died without stopping it).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { TOOLS_LIST_RESULT } from './tools-list'

interface Answer {
  status: number
  headers: Record<string, string | number>
  body: Buffer
}

const json = (status: number, text: string): Answer => {
  const body = Buffer.from(text)
  return {
    status,
    headers: { 'content-type': 'application/json', 'content-length': body.length },
    body,
  }
}

const ACCEPTED: Answer = { status: 202, headers: { 'content-length': 0 }, body: Buffer.alloc(0) }
const HEALTH = json(200, '{"ok":true}')
const NOT_FOUND = json(404, '{"error":"not_found"}')
const TOOLS_LIST = JSON.stringify(TOOLS_LIST_RESULT)
const text = (value: string) => JSON.stringify({ content: [{ type: 'text', text: value }] })

/** The result of a tools/call, as the demo's tools give it; undefined for a tool it does not have. */
function toolResult(name: unknown, args: Record<string, unknown>): string | undefined {
  if (name === 'search')
    return text(
      [1, 2, 3]
        .map((n) => `${n}. Result ${n} for "${String(args.query)}" - https://example.com/${n}`)
        .join('\n')
    )
  if (name === 'echo') return text(String(args.text))
  if (name === 'fail')
    return JSON.stringify({
      content: [{ type: 'text', text: 'this tool always fails' }],
      isError: true,
    })
  return undefined
}

/** The answer to one JSON-RPC message (the SDK's field order: result or error, jsonrpc, id). */
function answerOf(body: string): Answer {
  let message: {
    id?: unknown
    method?: unknown
    params?: { name?: unknown; arguments?: Record<string, unknown> }
  }
  try {
    message = JSON.parse(body)
  } catch {
    return json(400, '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}')
  }
  if (message.id === undefined) return ACCEPTED // a notification
  const id = JSON.stringify(message.id)
  const ok = (result: string) => json(200, `{"result":${result},"jsonrpc":"2.0","id":${id}}`)
  const error = (code: number, text: string) =>
    json(
      200,
      `{"jsonrpc":"2.0","id":${id},"error":{"code":${code},"message":${JSON.stringify(text)}}}`
    )
  switch (message.method) {
    case 'initialize':
      return ok(
        '{"protocolVersion":"2025-06-18","capabilities":{"tools":{"listChanged":true}},"serverInfo":{"name":"pay-gate-bench-fixed-origin","version":"1.0.0"}}'
      )
    case 'ping':
      return ok('{}')
    case 'tools/list':
      return ok(TOOLS_LIST)
    case 'tools/call': {
      const result = toolResult(message.params?.name, message.params?.arguments ?? {})
      return result === undefined
        ? error(-32602, `Tool ${String(message.params?.name)} not found`)
        : ok(result)
    }
    default:
      return error(-32601, 'Method not found')
  }
}

/** Answers by request body; bounded, in case something sends ever-new bodies. */
const answers = new Map<string, Answer>()
const MAX_ANSWERS = 1024

function answerFor(body: string): Answer {
  let answer = answers.get(body)
  if (!answer) {
    answer = answerOf(body)
    if (answers.size >= MAX_ANSWERS) answers.clear()
    answers.set(body, answer)
  }
  return answer
}

function send(res: ServerResponse, answer: Answer): void {
  res.writeHead(answer.status, answer.headers).end(answer.body)
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  if (req.method === 'GET' && req.url === '/api/health') return send(res, HEALTH)
  if (req.method !== 'POST' || req.url !== '/mcp-json') {
    req.resume()
    return send(res, NOT_FOUND)
  }
  const chunks: Buffer[] = []
  req.on('data', (chunk: Buffer) => chunks.push(chunk))
  req.on('end', () => {
    const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)
    send(res, answerFor(body.toString('utf8')))
  })
}

const server = createServer(handle)
// Long idle keep-alive, so the Workers' pooled connections are reused, not raced.
server.keepAliveTimeout = 65_000
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`)
})
const stop = () => server.close(() => process.exit(0))
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
process.stdin.on('close', stop)
process.stdin.resume()
