/**
 * An MCP server, built on the official SDK's low-level Server and its Streamable
 * HTTP transport, that implements exactly what the server scenarios of the
 * official conformance suite (@modelcontextprotocol/conformance 0.1.16) call:
 * the `test_*` tools, resources and prompts their descriptions name, logging,
 * completion, resource subscriptions, sessions with an event store for
 * resumability (SEP-1699: priming events, `retry:`, a tool that closes its POST
 * stream mid-call), and the Host/Origin check against DNS rebinding. It is the
 * origin that conformance-e2e/ runs the suite against, directly and through the
 * gate. Loopback only.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  CreateMessageResultSchema,
  ElicitResultSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js'
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { completeArgument, getPrompt, PNG_BASE64, PROMPTS } from './conformance-prompts'
import { StreamEvents } from './event-store'

/** A minimal WAV file: two 8-bit samples. */
const WAV_BASE64 = 'UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQIAAACAgA=='

const object = (properties: Record<string, unknown> = {}, required: string[] = []) => ({
  type: 'object' as const,
  properties,
  ...(required.length ? { required } : {}),
})

const TOOLS = [
  { name: 'test_simple_text', description: 'Returns a simple text', inputSchema: object() },
  { name: 'test_image_content', description: 'Returns an image', inputSchema: object() },
  { name: 'test_audio_content', description: 'Returns an audio clip', inputSchema: object() },
  {
    name: 'test_embedded_resource',
    description: 'Returns an embedded resource',
    inputSchema: object(),
  },
  {
    name: 'test_multiple_content_types',
    description: 'Returns text, an image and a resource',
    inputSchema: object(),
  },
  {
    name: 'test_tool_with_logging',
    description: 'Logs three messages while it runs',
    inputSchema: object(),
  },
  {
    name: 'test_tool_with_progress',
    description: 'Reports progress 0, 50 and 100 of 100',
    inputSchema: object(),
  },
  { name: 'test_error_handling', description: 'Always fails (isError)', inputSchema: object() },
  {
    name: 'test_reconnection',
    description: 'Closes its POST stream mid-call and answers on the resumed stream',
    inputSchema: object(),
  },
  {
    name: 'test_sampling',
    description: 'Asks the client to sample',
    inputSchema: object({ prompt: { type: 'string' } }, ['prompt']),
  },
  {
    name: 'test_elicitation',
    description: 'Asks the user for a name and an email',
    inputSchema: object({ message: { type: 'string' } }, ['message']),
  },
  {
    name: 'test_elicitation_sep1034_defaults',
    description: 'Elicits with a default for each primitive type',
    inputSchema: object(),
  },
  {
    name: 'test_elicitation_sep1330_enums',
    description: 'Elicits with the five enum forms',
    inputSchema: object(),
  },
  {
    name: 'json_schema_2020_12_tool',
    description: 'Tool with JSON Schema 2020-12 features',
    inputSchema: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object' as const,
      $defs: {
        address: {
          type: 'object',
          properties: { street: { type: 'string' }, city: { type: 'string' } },
        },
      },
      properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
      additionalProperties: false,
    },
  },
]

const RESOURCES = [
  {
    uri: 'test://static-text',
    name: 'static-text',
    description: 'A static text',
    mimeType: 'text/plain',
  },
  {
    uri: 'test://static-binary',
    name: 'static-binary',
    description: 'A static PNG',
    mimeType: 'image/png',
  },
  {
    uri: 'test://watched-resource',
    name: 'watched-resource',
    description: 'A resource to subscribe to',
    mimeType: 'text/plain',
  },
]

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const textResult = (text: string): CallToolResult => ({ content: [{ type: 'text', text }] })

type Extra = Parameters<Parameters<Server['setRequestHandler']>[1]>[1]

/** Ends a request's POST stream (the transport's closeSSEStream). */
type CloseStream = (requestId: string | number) => void

async function callTool(
  name: string,
  args: Record<string, unknown>,
  extra: Extra,
  closeStream: CloseStream
): Promise<CallToolResult> {
  const log = (data: string) =>
    extra.sendNotification({
      method: 'notifications/message',
      params: { level: 'info', logger: 'conformance-server', data },
    })
  switch (name) {
    case 'test_simple_text':
      return textResult('This is a simple text response for testing.')
    case 'test_image_content':
      return { content: [{ type: 'image', data: PNG_BASE64, mimeType: 'image/png' }] }
    case 'test_audio_content':
      return { content: [{ type: 'audio', data: WAV_BASE64, mimeType: 'audio/wav' }] }
    case 'test_embedded_resource':
      return {
        content: [
          {
            type: 'resource',
            resource: {
              uri: 'test://embedded-resource',
              mimeType: 'text/plain',
              text: 'This is an embedded resource content.',
            },
          },
        ],
      }
    case 'test_multiple_content_types':
      return {
        content: [
          { type: 'text', text: 'Multiple content types test:' },
          { type: 'image', data: PNG_BASE64, mimeType: 'image/png' },
          {
            type: 'resource',
            resource: {
              uri: 'test://mixed-content-resource',
              mimeType: 'application/json',
              text: '{"test":"data","value":123}',
            },
          },
        ],
      }
    case 'test_tool_with_logging':
      await log('Tool execution started')
      await sleep(50)
      await log('Tool processing data')
      await sleep(50)
      await log('Tool execution completed')
      return textResult('Logged three messages.')
    case 'test_tool_with_progress': {
      const token = extra._meta?.progressToken
      for (const progress of [0, 50, 100]) {
        if (token !== undefined)
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken: token, progress, total: 100 },
          })
        if (progress < 100) await sleep(50)
      }
      return textResult('Progress reported.')
    }
    case 'test_error_handling':
      return {
        isError: true,
        content: [{ type: 'text', text: 'This tool intentionally returns an error for testing' }],
      }
    case 'test_reconnection':
      // SEP-1699 server-side polling: the POST stream ends before the answer, which
      // waits in the event store for the client's GET with Last-Event-ID. The SDK
      // primes only 2025-11-25 streams (the scenario says 2025-03-26), so an event
      // with an id is sent first: the client always has an id to resume from.
      await log('Closing this stream: resume with Last-Event-ID for the answer')
      closeStream(extra.requestId)
      await sleep(100)
      return textResult('Reconnection test completed: answered on the resumed stream.')
    case 'test_sampling': {
      const sampled = await extra.sendRequest(
        {
          method: 'sampling/createMessage',
          params: {
            messages: [{ role: 'user', content: { type: 'text', text: String(args.prompt) } }],
            maxTokens: 100,
          },
        },
        CreateMessageResultSchema
      )
      const content = sampled.content as { type: string; text?: string }
      return textResult(`LLM response: ${content.type === 'text' ? content.text : content.type}`)
    }
    case 'test_elicitation':
      return elicit(
        extra,
        String(args.message),
        object(
          {
            username: { type: 'string', description: "User's response" },
            email: { type: 'string', description: "User's email address" },
          },
          ['username', 'email']
        )
      )
    case 'test_elicitation_sep1034_defaults':
      return elicit(extra, 'Please review the defaults', {
        type: 'object',
        properties: {
          name: { type: 'string', default: 'John Doe' },
          age: { type: 'integer', default: 30 },
          score: { type: 'number', default: 95.5 },
          status: { type: 'string', enum: ['active', 'inactive', 'pending'], default: 'active' },
          verified: { type: 'boolean', default: true },
        },
      })
    case 'test_elicitation_sep1330_enums':
      return elicit(extra, 'Please choose', {
        type: 'object',
        properties: {
          untitledSingle: { type: 'string', enum: ['option1', 'option2', 'option3'] },
          titledSingle: {
            type: 'string',
            oneOf: [
              { const: 'value1', title: 'First Option' },
              { const: 'value2', title: 'Second Option' },
              { const: 'value3', title: 'Third Option' },
            ],
          },
          legacyEnum: {
            type: 'string',
            enum: ['opt1', 'opt2', 'opt3'],
            enumNames: ['Option One', 'Option Two', 'Option Three'],
          },
          untitledMulti: {
            type: 'array',
            items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
          },
          titledMulti: {
            type: 'array',
            items: {
              anyOf: [
                { const: 'value1', title: 'First Choice' },
                { const: 'value2', title: 'Second Choice' },
                { const: 'value3', title: 'Third Choice' },
              ],
            },
          },
        },
      })
    case 'json_schema_2020_12_tool':
      return textResult(`Called with ${JSON.stringify(args)}`)
    default:
      return { isError: true, content: [{ type: 'text', text: `Unknown tool: ${name}` }] }
  }
}

async function elicit(
  extra: Extra,
  message: string,
  requestedSchema: Record<string, unknown>
): Promise<CallToolResult> {
  const answer = await extra.sendRequest(
    { method: 'elicitation/create', params: { message, requestedSchema } } as never,
    ElicitResultSchema
  )
  return textResult(
    `Elicitation completed: action=${answer.action}, content=${JSON.stringify(answer.content ?? {})}`
  )
}

/** One MCP server per session. */
function mcpServer(closeStream: CloseStream): Server {
  const server = new Server(
    { name: 'pay-gate-conformance-server', version: '1.0.0' },
    {
      capabilities: {
        tools: {},
        resources: { subscribe: true },
        prompts: {},
        logging: {},
        completions: {},
      },
    }
  )
  const subscribed = new Set<string>()
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: TOOLS }))
  server.setRequestHandler(CallToolRequestSchema, (request, extra) =>
    callTool(request.params.name, request.params.arguments ?? {}, extra, closeStream)
  )
  server.setRequestHandler(ListResourcesRequestSchema, () => ({ resources: RESOURCES }))
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: [
      {
        uriTemplate: 'test://template/{id}/data',
        name: 'template-data',
        description: 'Data for an id',
        mimeType: 'application/json',
      },
    ],
  }))
  server.setRequestHandler(ReadResourceRequestSchema, (request) => readResource(request.params.uri))
  server.setRequestHandler(
    SubscribeRequestSchema,
    (request) => (subscribed.add(request.params.uri), {})
  )
  server.setRequestHandler(
    UnsubscribeRequestSchema,
    (request) => (subscribed.delete(request.params.uri), {})
  )
  server.setRequestHandler(ListPromptsRequestSchema, () => ({ prompts: PROMPTS }))
  server.setRequestHandler(GetPromptRequestSchema, (request) =>
    getPrompt(request.params.name, request.params.arguments ?? {})
  )
  server.setRequestHandler(CompleteRequestSchema, (request) =>
    completeArgument(request.params.argument.name, request.params.argument.value)
  )
  return server
}

function readResource(uri: string) {
  if (uri === 'test://static-text')
    return {
      contents: [
        { uri, mimeType: 'text/plain', text: 'This is the content of the static text resource.' },
      ],
    }
  if (uri === 'test://static-binary')
    return { contents: [{ uri, mimeType: 'image/png', blob: PNG_BASE64 }] }
  if (uri === 'test://watched-resource')
    return { contents: [{ uri, mimeType: 'text/plain', text: 'Watched resource content.' }] }
  const id = /^test:\/\/template\/([^/]+)\/data$/.exec(uri)?.[1]
  if (id !== undefined)
    return {
      contents: [
        {
          uri,
          mimeType: 'application/json',
          text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }),
        },
      ],
    }
  throw new Error(`Resource not found: ${uri}`)
}

const LOCAL_HOST = /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/i

/** DNS rebinding protection (MCP 2025-11-25 §Transports, Security Warning): Host and Origin must be local. */
function localRequest(request: IncomingMessage): boolean {
  if (!LOCAL_HOST.test(request.headers.host ?? '')) return false
  const origin = request.headers.origin
  if (origin === undefined) return true
  try {
    return LOCAL_HOST.test(new URL(origin).host)
  } catch {
    return false
  }
}

function refuse(response: ServerResponse, status: number, message: string): void {
  response
    .writeHead(status, { 'content-type': 'application/json' })
    .end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message } }))
}

export interface ConformanceServer {
  /** Its MCP endpoint. */
  url: string
  close: () => Promise<void>
}

export async function startConformanceServer(): Promise<ConformanceServer> {
  const sessions = new Map<string, StreamableHTTPServerTransport>()
  const http = createServer(async (request, response) => {
    if (!localRequest(request))
      return refuse(response, 403, 'Forbidden: Host or Origin is not local')
    // Its endpoint is /mcp, below any prefix (the gate's routes put one in front).
    if (!new URL(request.url ?? '/', 'http://localhost').pathname.endsWith('/mcp'))
      return refuse(response, 404, 'Not found')
    const sessionId = request.headers['mcp-session-id']
    if (typeof sessionId === 'string') {
      const transport = sessions.get(sessionId)
      if (!transport) return refuse(response, 404, 'Session not found')
      return transport.handleRequest(request, response)
    }
    if (request.method !== 'POST') return refuse(response, 400, 'Bad Request: no session')
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      eventStore: new StreamEvents(),
      retryInterval: 500,
      onsessioninitialized: (id) => void sessions.set(id, transport),
      onsessionclosed: (id) => void sessions.delete(id),
    })
    await mcpServer((requestId) => transport.closeSSEStream(requestId)).connect(transport)
    await transport.handleRequest(request, response)
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const { port } = http.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    close: async () => {
      await Promise.all([...sessions.values()].map((transport) => transport.close()))
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    },
  }
}
