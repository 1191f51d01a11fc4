/**
 * The bundled demo origin: an MCP server (official SDK, Streamable HTTP) and a
 * plain HTTP API, on two loopback ports, for `npm run dev` and the tests.
 *
 *   tsx scripts/demo-origin.ts [--mcp-port 3001] [--api-port 8080]
 *   DEMO_MCP_PORT=4001 DEMO_API_PORT=9080 tsx scripts/demo-origin.ts
 *
 * Both servers record every request they receive, so tests can check what the
 * gate actually forwarded: GET /__origin/requests[?tag=X] (X matches the
 * `x-test-tag` header) and DELETE /__origin/requests, on either port.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { pathToFileURL } from 'node:url'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js'
import { buildMcpServer } from './demo-mcp'

export interface DemoOrigin {
  mcpPort: number
  apiPort: number
  close(): Promise<void>
}

export interface RecordedRequest {
  server: 'mcp' | 'api'
  method: string
  /** As received, query included, not normalised. */
  path: string
  headers: Record<string, string>
  body: string
  at: number
}

/** The ports `npm run dev` and a direct run use when nothing else is said. */
export const DEFAULT_DEMO_PORTS = { mcpPort: 3001, apiPort: 8080 } as const

/** Keeps a long `npm run dev` session from growing without bound. */
const MAX_RECORDED = 10_000

type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: string,
  body: string
) => Promise<void>

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {}
): void {
  res
    .writeHead(status, { 'content-type': 'application/json', ...headers })
    .end(JSON.stringify(value))
}

const jsonRpcError = (
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  headers?: Record<string, string>
) => sendJson(res, status, { jsonrpc: '2.0', id: null, error: { code, message } }, headers)

function headersOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return out
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

function intParam(
  params: URLSearchParams,
  name: string,
  fallback: number,
  min: number,
  max: number
): number {
  const value = Number.parseInt(params.get(name) ?? '', 10)
  return Number.isNaN(value) ? fallback : Math.min(max, Math.max(min, value))
}

/** One HTTP server: the recorder endpoints first, then record, then the real handler. */
function makeServer(
  kind: 'mcp' | 'api',
  log: RecordedRequest[],
  handle: Handler,
  quiet: boolean
): Server {
  const server = createServer(async (req, res) => {
    // Raw split, not `new URL()`: that would normalise the very paths the tests probe.
    const raw = req.url ?? '/'
    const mark = raw.indexOf('?')
    const path = mark === -1 ? raw : raw.slice(0, mark)
    const query = mark === -1 ? '' : raw.slice(mark + 1)
    try {
      if (path === '/__origin/requests') {
        if (req.method === 'DELETE') {
          log.splice(0)
          return void res.writeHead(204).end()
        }
        const tag = new URLSearchParams(query).get('tag')
        return sendJson(
          res,
          200,
          tag === null ? log : log.filter((entry) => entry.headers['x-test-tag'] === tag)
        )
      }
      const body = await readBody(req)
      log.push({
        server: kind,
        method: req.method ?? 'GET',
        path: raw,
        headers: headersOf(req),
        body,
        at: Date.now(),
      })
      if (log.length > MAX_RECORDED) log.splice(0, log.length - MAX_RECORDED)
      await handle(req, res, path, query, body)
    } catch (error) {
      if (!quiet) console.error(`demo origin (${kind}): ${req.method} ${raw} failed:`, error)
      if (!res.headersSent) sendJson(res, 500, { error: (error as Error).message })
      else res.destroy()
    }
  })
  // Long idle keep-alive, so a proxy reusing a pooled connection rarely races our closing it.
  server.keepAliveTimeout = 65_000
  return server
}

/** The MCP endpoints: stateful /mcp (SSE answers) and stateless /mcp-json (JSON answers). */
function mcpHandler(sessions: Map<string, StreamableHTTPServerTransport>): Handler {
  return async (req, res, path, _query, body) => {
    if (path !== '/mcp' && path !== '/mcp-json')
      return sendJson(res, 404, { error: 'not_found', path })
    const allowed = path === '/mcp' ? ['POST', 'GET', 'DELETE'] : ['POST']
    if (!allowed.includes(req.method ?? '')) {
      return jsonRpcError(res, 405, -32000, 'Method not allowed.', { allow: allowed.join(', ') })
    }
    // We read the body ourselves (for the recorder), so the transport gets it parsed.
    let parsed: unknown
    if (req.method === 'POST') {
      try {
        parsed = JSON.parse(body)
      } catch {
        return jsonRpcError(res, 400, -32700, 'Parse error: the body is not JSON.')
      }
    }

    if (path === '/mcp-json') {
      const server = buildMcpServer()
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      })
      res.on('close', () => void transport.close().then(() => server.close()))
      await server.connect(transport)
      return transport.handleRequest(req, res, parsed)
    }

    const sessionId = req.headers['mcp-session-id']
    let transport = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined
    if (typeof sessionId === 'string' && !transport)
      return jsonRpcError(res, 404, -32001, 'Session not found.')
    if (!transport) {
      const initializes = Array.isArray(parsed)
        ? parsed.some((m) => isInitializeRequest(m))
        : isInitializeRequest(parsed)
      if (!initializes)
        return jsonRpcError(
          res,
          400,
          -32000,
          'Bad Request: no valid session id; send initialize first.'
        )
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        onsessioninitialized: (id) => void sessions.set(id, created),
      })
      // Covers DELETE and close() alike.
      created.onclose = () => {
        if (created.sessionId) sessions.delete(created.sessionId)
      }
      await buildMcpServer().connect(created)
      transport = created
    }
    await transport.handleRequest(req, res, parsed)
  }
}

/** The plain HTTP API under /api. */
const apiHandler: Handler = async (req, res, path, query) => {
  const params = new URLSearchParams(query)
  const get = req.method === 'GET' || req.method === 'HEAD'
  const status = /^\/api\/status\/(\d{3})$/.exec(path)
  if (get && path === '/api/health') return sendJson(res, 200, { ok: true })
  if (get && status) {
    const code = Number(status[1])
    if (code < 200 || code > 599) return sendJson(res, 400, { error: 'status must be 200-599' })
    if (code === 204 || code === 304) return void res.writeHead(code).end() // no body allowed
    return sendJson(res, code, { status: code })
  }
  if (get && path === '/api/slow') {
    const ms = intParam(params, 'ms', 0, 0, 600_000)
    await sleep(ms)
    if (!res.destroyed) sendJson(res, 200, { waited: ms })
    return
  }
  if (get && path === '/api/stream') {
    const chunks = intParam(params, 'chunks', 3, 1, 10_000)
    const delay = intParam(params, 'delay', 50, 0, 60_000)
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
    res.flushHeaders()
    for (let i = 1; i <= chunks && !res.destroyed; i++) {
      if (i > 1) await sleep(delay)
      res.write(`chunk ${i} of ${chunks}\n`) // each write goes out as its own HTTP chunk
    }
    return void res.end()
  }
  if (get && path === '/api/headers') return sendJson(res, 200, headersOf(req))
  if (get && path.startsWith('/api/echo/')) return echoRequest(req, res, params)
  if (path === '/api' || path.startsWith('/api/'))
    return sendJson(res, 200, { path, query, method: req.method })
  sendJson(res, 404, { error: 'not_found', path })
}

/**
 * A careless origin: it redirects to a page carrying the request's query, and
 * echoes the request's URL, query values and headers in response headers, the
 * way the gate must never let the operator's upstream credential reach a caller.
 */
function echoRequest(req: IncomingMessage, res: ServerResponse, params: URLSearchParams): void {
  const raw = req.url ?? '/'
  const query = raw.includes('?') ? raw.slice(raw.indexOf('?')) : ''
  res.setHeader('location', `/api/landing${query}`)
  res.setHeader('content-location', raw)
  res.setHeader('link', `<${raw}>; rel="canonical"`)
  res.setHeader('set-cookie', [
    `last=${encodeURIComponent(raw)}; Path=/`,
    `again=${encodeURIComponent(encodeURIComponent(raw))}; Path=/`,
  ])
  res.setHeader('x-echo-url', raw)
  res.setHeader('x-echo-params', [...params.values()].join(' | '))
  res.setHeader('x-echo-headers', Object.values(headersOf(req)).join(' | '))
  sendJson(res, 302, { redirected: true })
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const why = error.code === 'EADDRINUSE' ? 'the port is in use' : error.message
      reject(
        Object.assign(new Error(`demo origin: cannot listen on ${host}:${port}: ${why}`), {
          code: error.code,
          port,
        })
      )
    })
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port))
  })
}

function stop(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve()
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections() // open SSE streams would otherwise hold close() forever
  })
}

/** Start both servers. Port 0 picks a free port; the result says which. */
export async function startDemoOrigin(
  options: { mcpPort?: number; apiPort?: number; host?: string; quiet?: boolean } = {}
): Promise<DemoOrigin> {
  const host = options.host ?? '127.0.0.1'
  const quiet = options.quiet ?? false
  const log: RecordedRequest[] = []
  const sessions = new Map<string, StreamableHTTPServerTransport>()
  const mcp = makeServer('mcp', log, mcpHandler(sessions), quiet)
  const api = makeServer('api', log, apiHandler, quiet)
  const close = async () => {
    await Promise.allSettled([...sessions.values()].map((transport) => transport.close()))
    await Promise.all([stop(mcp), stop(api)])
  }
  try {
    const mcpPort = await listen(mcp, options.mcpPort ?? DEFAULT_DEMO_PORTS.mcpPort, host)
    const apiPort = await listen(api, options.apiPort ?? DEFAULT_DEMO_PORTS.apiPort, host)
    if (!quiet) {
      console.log(`demo origin: MCP  http://${host}:${mcpPort}/mcp  (stateless JSON: /mcp-json)`)
      console.log(`demo origin: API  http://${host}:${apiPort}/api/health`)
    }
    return { mcpPort, apiPort, close }
  } catch (error) {
    await close()
    throw error
  }
}

/** A port number as written in a flag or an environment variable; 0 picks a free one. */
export function parsePort(text: string): number | undefined {
  return /^\d{1,5}$/.test(text) && Number(text) <= 65_535 ? Number(text) : undefined
}

export type DemoPorts =
  { ok: true; mcpPort: number; apiPort: number } | { ok: false; message: string }

/** The demo origin's ports from DEMO_MCP_PORT and DEMO_API_PORT, each 3001 / 8080 when unset. */
export function demoPorts(env: Record<string, string | undefined>): DemoPorts {
  const ports = {
    mcpPort: DEFAULT_DEMO_PORTS.mcpPort as number,
    apiPort: DEFAULT_DEMO_PORTS.apiPort as number,
  }
  for (const [name, key] of [
    ['DEMO_MCP_PORT', 'mcpPort'],
    ['DEMO_API_PORT', 'apiPort'],
  ] as const) {
    const text = env[name]?.trim()
    if (!text) continue
    const port = parsePort(text)
    if (port === undefined)
      return {
        ok: false,
        message: `${name} must be a port number (0-65535; 0 picks a free one), not "${text}"`,
      }
    ports[key] = port
  }
  return { ok: true, ...ports }
}

// Run directly: start, and stop cleanly on Ctrl-C / SIGTERM. Flags win over
// DEMO_MCP_PORT / DEMO_API_PORT, which win over 3001 / 8080.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2)
  const fromEnv = demoPorts(process.env)
  if (!fromEnv.ok) {
    console.error(fromEnv.message)
    process.exit(2)
  }
  const port = (flag: string, fallback: number) => {
    const index = args.indexOf(flag)
    const value = index === -1 ? fallback : parsePort(args[index + 1] ?? '')
    if (value === undefined) {
      console.error(`${flag} needs a port number (0 picks a free one)`)
      process.exit(2)
    }
    return value
  }
  const origin = await startDemoOrigin({
    mcpPort: port('--mcp-port', fromEnv.mcpPort),
    apiPort: port('--api-port', fromEnv.apiPort),
  }).catch((error: Error) => {
    console.error(error.message)
    process.exit(1)
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void origin.close().then(() => process.exit(0)))
  }
}
