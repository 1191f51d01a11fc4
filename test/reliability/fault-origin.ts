/**
 * A vitest globalSetup (Node): an origin that misbehaves on purpose, for the
 * faults the demo origin cannot make. Loopback, port 0, provided as `faultPort`.
 *
 *   GET  /fault/http/ok | error | reset | hang | cut | stream-cut | sse-cut
 *   POST /fault/mcp/json | json-chunked | sse | json-cut | json-chunked-cut |
 *        sse-cut-after-first | sse-cut-before-answer | reset | hang | error
 *   GET  /__fault/requests?tag=X   what arrived with `x-test-tag: X`
 *
 * The MCP endpoints answer every JSON-RPC request in the body themselves (no SDK),
 * so a test decides exactly where an answer breaks off: `tools/call` of a tool
 * named `fail` gets `isError: true`, anything else succeeds.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    faultPort: number
  }
}

interface Recorded {
  method: string
  path: string
  headers: Record<string, string | string[] | undefined>
  body: string
}

type Message = { id?: unknown; method?: unknown; params?: { name?: unknown } }

/** The answers to every request in a JSON-RPC body (notifications get none). */
function answers(body: string): unknown[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return [{ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } }]
  }
  const messages = (Array.isArray(parsed) ? parsed : [parsed]) as Message[]
  return messages
    .filter((m) => m && typeof m === 'object' && 'id' in m && typeof m.method === 'string')
    .map((m) => ({
      jsonrpc: '2.0',
      id: m.id,
      result: {
        content: [{ type: 'text', text: `answer to ${String(m.method)}` }],
        ...(m.params?.name === 'fail' ? { isError: true } : {}),
      },
    }))
}

const sse = (value: unknown) => `event: message\ndata: ${JSON.stringify(value)}\n\n`

/** Breaks the connection the rude way (TCP RST), as a crashed origin would. */
function reset(res: ServerResponse): void {
  const socket = res.socket as (Socket & { resetAndDestroy?: () => void }) | null
  if (socket?.resetAndDestroy) socket.resetAndDestroy()
  else socket?.destroy()
}

/**
 * Breaks a body off midway: what was written is flushed, then the connection is
 * closed (FIN) before the body is complete. Not a reset here: a reset can make
 * the kernel drop bytes the gate has not read yet, and then which part of the
 * answer arrived would depend on timing.
 */
function cut(res: ServerResponse): void {
  setTimeout(() => res.socket?.end(), 20)
}

function http(path: string, res: ServerResponse): void {
  switch (path) {
    case 'ok':
      return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
    case 'error':
      return void res
        .writeHead(500, { 'content-type': 'application/json' })
        .end('{"error":"origin failed"}')
    case 'reset':
      return reset(res)
    case 'hang':
      return // never answers; the server closes the socket at teardown
    case 'cut':
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '64' })
      res.write('{"partial":')
      return cut(res)
    case 'stream-cut':
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('chunk 1\n')
      return cut(res)
    case 'sse-cut':
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('data: one\n\n')
      return cut(res)
    default:
      return void res.writeHead(404).end()
  }
}

function mcp(path: string, body: string, res: ServerResponse): void {
  const all = answers(body)
  const json = JSON.stringify(all.length === 1 ? all[0] : all)
  switch (path) {
    case 'json':
      return void res
        .writeHead(200, {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(json)),
        })
        .end(json)
    case 'json-chunked':
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write(json.slice(0, 5))
      return void res.end(json.slice(5))
    case 'sse':
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      return void res.end(all.map(sse).join(''))
    case 'json-cut':
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(json)),
      })
      res.write(json.slice(0, Math.floor(json.length / 2)))
      return cut(res)
    case 'json-chunked-cut':
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write(json.slice(0, Math.floor(json.length / 2)))
      return cut(res)
    case 'sse-cut-after-first':
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(sse(all[0]))
      return cut(res)
    case 'sse-cut-before-answer':
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(
        sse({
          jsonrpc: '2.0',
          method: 'notifications/progress',
          params: { progressToken: 1, progress: 1 },
        })
      )
      return cut(res)
    case 'reset':
      return reset(res)
    case 'hang':
      return
    case 'error':
      return void res
        .writeHead(500, { 'content-type': 'application/json' })
        .end('{"error":"origin failed"}')
    default:
      return void res.writeHead(404).end()
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log: Recorded[] = []
  const sockets = new Set<Socket>()
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fault')
    if (url.pathname === '/__fault/requests') {
      const tag = url.searchParams.get('tag')
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(log.filter((r) => r.headers['x-test-tag'] === tag)))
    }
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      log.push({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body })
      const [, kind, what] = /^\/fault\/(http|mcp)\/([a-z-]+)$/.exec(url.pathname) ?? []
      if (kind === 'http') return http(what ?? '', res)
      if (kind === 'mcp') return mcp(what ?? '', body, res)
      res.writeHead(404).end()
    })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  const port = await new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))
  )
  project.provide('faultPort', port)
  return async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
