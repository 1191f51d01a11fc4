/**
 * The origin the proxies front: a plain Node HTTP server that records every
 * request it gets (method, path, headers, body), answers JSON, and fails on
 * request (`/api/fail` answers 503). MCP POSTs get a JSON-RPC result for their id.
 * `/api/stream…` answers an SSE stream: one event, then nothing until the test
 * calls `finishStream(path)`, so a proxy that buffers never shows the first
 * event in time. `/api/cut…` sends one event and then drops the connection.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import { once } from 'node:events'

export interface Hit {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: string
}

export interface Origin {
  url: string
  port: number
  hits: Hit[]
  /** Let the held stream at `path` write its last event and end. */
  finishStream: (path: string) => void
  close: () => Promise<void>
}

export async function startOrigin(): Promise<Origin> {
  const hits: Hit[] = []
  const heldStreams = new Map<string, () => void>()
  const server: Server = createServer((request, response) => {
    let body = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => (body += chunk))
    request.on('end', () => {
      hits.push({
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body,
      })
      const path = (request.url ?? '').split('?')[0] ?? ''
      if (path.startsWith('/api/fail')) {
        response
          .writeHead(503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: 'origin down' }))
        return
      }
      if (path.startsWith('/api/stream')) {
        response.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-cache',
        })
        response.write('data: first\n\n')
        heldStreams.set(path, () => response.end('data: last\n\n'))
        return
      }
      if (path.startsWith('/api/cut')) {
        response.writeHead(200, { 'content-type': 'text/event-stream' })
        response.write('data: first\n\n', () => setTimeout(() => response.socket?.destroy(), 50))
        return
      }
      if (path === '/mcp' && request.method === 'POST') {
        const id = (JSON.parse(body || '{}') as { id?: unknown }).id ?? null
        response.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            jsonrpc: '2.0',
            id,
            result: { content: [{ type: 'text', text: 'found' }] },
          })
        )
        return
      }
      response
        .writeHead(200, { 'content-type': 'application/json', 'x-origin': 'yes' })
        .end(JSON.stringify({ ok: true, path: request.url }))
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    hits,
    finishStream: (path) => heldStreams.get(path)?.(),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
