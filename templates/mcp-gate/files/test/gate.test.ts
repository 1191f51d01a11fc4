/**
 * The gate in front of your MCP server, run inside workerd with this project's
 * wrangler.toml and routes.json. Nothing needs to be listening at the origin:
 * every call below is answered by the gate itself, and a refused call never
 * reaches the origin.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import routes from '../routes.json'
import { gate, seedRoutes } from './gate'

const endpoint = routes.routes[0].path
const takesX402 = 'x402' in routes

beforeAll(seedRoutes)

describe('an unpaid tool call', () => {
  it('is refused in-band, before it reaches the MCP server', async () => {
    const response = await gate(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'any-tool', arguments: {} },
      }),
    })
    // MCP clients throw on any non-2xx answer, so the refusal comes with 200.
    expect(response.status).toBe(200)
    const body = await response.json<{ result?: unknown; error?: unknown }>()
    if (takesX402) {
      // The x402 MCP transport: a tool result with isError and the payment terms.
      expect(body.result).toMatchObject({ isError: true, structuredContent: { x402Version: 2 } })
    } else {
      expect(body.error).toMatchObject({ code: -32402, data: { reason: 'missing_api_key' } })
    }
  })
})

describe('GET /pricing', () => {
  it('lists the routes of routes.json', async () => {
    const response = await gate('/pricing')
    expect(response.status).toBe(200)
    const body = await response.json<{ routes: Array<{ path: string }> }>()
    expect(body.routes.map((route) => route.path)).toEqual(routes.routes.map((route) => route.path))
  })
})
