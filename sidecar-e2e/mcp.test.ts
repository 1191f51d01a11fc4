/**
 * An MCP server behind an nginx that already fronts it, paid for through the
 * sidecar on the same host: the official MCP SDK client, over Streamable HTTP
 * (sessions, answers as SSE), talks to nginx (templates/sidecar/nginx); nginx
 * asks the gate, run by `pay-gate serve` as on a self-hosted box, about each
 * call and proxies to the demo origin's real MCP server (official SDK). What a user of this setup counts on: free methods pass,
 * an unpaid tool call is refused in-band and never reaches the server, a paid one
 * streams through (progress notifications included) and is charged once.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startDemoOrigin, type DemoOrigin, type RecordedRequest } from '../scripts/demo-origin'
import { startServedGate, type GateServer } from './gate'
import { startNginx, type Proxy } from './proxies'

let dir: string
let origin: DemoOrigin
let gate: GateServer
let nginx: Proxy
const clients: Client[] = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pay-gate-sidecar-mcp-'))
  origin = await startDemoOrigin({ mcpPort: 0, apiPort: 0, quiet: true })
  const originUrl = `http://127.0.0.1:${origin.mcpPort}`
  gate = await startServedGate(
    {
      version: 1,
      routes: [
        {
          path: '/mcp',
          origin: originUrl,
          mcp: { price: '0', tools: { search: '0.01', 'generate-report': '0.05', echo: 'free' } },
        },
      ],
    },
    join(dir, 'gate')
  )
  nginx = await startNginx(
    { gate: gate.url, origin: originUrl, sidecarToken: gate.sidecarToken },
    join(dir, 'nginx')
  )
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()))
})

afterAll(async () => {
  await nginx?.stop()
  await gate?.stop()
  await origin?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

async function connect(key: string | undefined, tag: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(`${nginx.url}/mcp`), {
    requestInit: {
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), 'x-test-tag': tag },
    },
  })
  const client = new Client({ name: 'pay-gate-sidecar-test', version: '1.0.0' })
  await client.connect(transport)
  clients.push(client)
  return client
}

/** The tools/call requests the MCP server received with `tag`. */
async function toolCalls(tag: string): Promise<string[]> {
  const log = (await (
    await fetch(`http://127.0.0.1:${origin.mcpPort}/__origin/requests?tag=${tag}`)
  ).json()) as RecordedRequest[]
  return log.flatMap((entry) => {
    try {
      const message = JSON.parse(entry.body) as { method?: string; params?: { name?: string } }
      return message.method === 'tools/call' ? [message.params?.name ?? '?'] : []
    } catch {
      return []
    }
  })
}

/** The key's state once no hold is open (the follow-up comes just after the answer). */
async function settled(id: string) {
  for (let polls = 200; ; polls--) {
    const state = await gate.keyState(id)
    if (state.held === '0' || polls <= 0) return state
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
const charges = (state: Awaited<ReturnType<typeof settled>>) =>
  state.ledger.filter((row) => row.kind === 'charge').map((row) => row.amount)

describe('the official MCP client through nginx, with the gate as sidecar', () => {
  it('initializes, lists tools and calls a free tool without a key; a priced tool is refused in-band and never reaches the server', async () => {
    const tag = crypto.randomUUID()
    const client = await connect(undefined, tag)
    const { tools } = await client.listTools()
    expect(tools.map((tool) => tool.name)).toEqual(
      expect.arrayContaining(['search', 'generate-report', 'echo'])
    )
    expect(await client.callTool({ name: 'echo', arguments: { text: 'hi' } })).toMatchObject({
      content: [{ type: 'text' }],
    })
    const refusal = await client
      .callTool({ name: 'search', arguments: { query: 'unpaid' } })
      .catch((error: unknown) => error)
    expect(refusal).toBeInstanceOf(McpError)
    expect(refusal).toMatchObject({
      code: -32402,
      data: { reason: 'missing_api_key', tool: 'search' },
    })
    expect(await toolCalls(tag)).toEqual(['echo'])
  })

  it('charges a paid tool call once, and streams a long one with its progress notifications', async () => {
    const { id, key } = await gate.createKey('1')
    const tag = crypto.randomUUID()
    const client = await connect(key, tag)
    const found = await client.callTool({ name: 'search', arguments: { query: 'pay-gate' } })
    expect(JSON.stringify(found.content)).toContain('Result 1 for \\"pay-gate\\"')
    const progress: number[] = []
    const report = await client.callTool(
      { name: 'generate-report', arguments: { topic: 'sidecars', sections: 3 } },
      undefined,
      {
        onprogress: (update) => progress.push(update.progress),
      }
    )
    expect(report.isError).toBeFalsy()
    expect(progress).toEqual([1, 2, 3])
    expect(await toolCalls(tag)).toEqual(['search', 'generate-report'])
    const state = await settled(id)
    expect(charges(state).sort()).toEqual(['-0.01', '-0.05'])
    expect(state).toMatchObject({ balance: '0.94', held: '0' })
  })
})
