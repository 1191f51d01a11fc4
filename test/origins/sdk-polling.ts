/**
 * An MCP server built with the official SDK that uses server-side polling (MCP
 * 2025-11-25): its `polled-search` tool closes its POST stream with the SDK's
 * `closeSSEStream` right after the priming event, and its answer is delivered
 * when the client resumes with GET and Last-Event-ID. The event store is ours
 * (./event-store), the rest is the SDK's.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'
import { StreamEvents } from './event-store'

function buildServer(): McpServer {
  const server = new McpServer({ name: 'sdk-polling', version: '1.0.0' })
  server.registerTool(
    'polled-search',
    { description: 'Answers on the resumed stream', inputSchema: { query: z.string() } },
    async ({ query }, extra) => {
      // Server-side polling: end this POST's stream now; the answer goes to the event store.
      extra.closeSSEStream?.()
      await new Promise((resolve) => setTimeout(resolve, 100))
      return { content: [{ type: 'text', text: `results for ${query}` }] }
    }
  )
  return server
}

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined
}

export async function startSdkPollingOrigin(): Promise<{ port: number; close(): Promise<void> }> {
  const sessions = new Map<string, StreamableHTTPServerTransport>()
  const http: Server = createServer(async (req, res) => {
    try {
      const parsed = req.method === 'POST' ? await body(req) : undefined
      const id = req.headers['mcp-session-id']
      let transport = typeof id === 'string' ? sessions.get(id) : undefined
      if (!transport) {
        if (req.method !== 'POST' || !isInitializeRequest(parsed))
          return void res.writeHead(400).end()
        const created = new StreamableHTTPServerTransport({
          sessionIdGenerator: randomUUID,
          eventStore: new StreamEvents(),
          retryInterval: 50,
          onsessioninitialized: (session) => void sessions.set(session, created),
        })
        await buildServer().connect(created)
        transport = created
      }
      await transport.handleRequest(req, res, parsed)
    } catch (error) {
      if (!res.headersSent) res.writeHead(500).end(String(error))
    }
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  return {
    port: (http.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections()
        http.close(() => resolve())
      }),
  }
}
