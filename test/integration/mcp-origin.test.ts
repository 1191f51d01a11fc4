/**
 * DNS-rebinding protection through the gate (issue 10): Streamable HTTP says a
 * server MUST validate Origin and answer 403 to one it does not accept. The
 * origin behind the gate sees the gate's request, so the gate checks Origin
 * (its own, or the route's allowlist) and passes the host the caller asked for
 * on as X-Forwarded-Host.
 */
import { env } from 'cloudflare:workers'
import { beforeEach, describe, expect, it } from 'vitest'
import { gate, mcpHeaders, newTag, putRoutes, scriptedRequests } from '../helpers'

beforeEach(async () => {
  await putRoutes([
    { path: '/m/*', origin: env.SCRIPTED_ORIGIN, mcp: { price: '0.001', tools: { echo: 'free' } } },
    {
      path: '/open/*',
      origin: `${env.SCRIPTED_ORIGIN}/m/json`,
      mcp: { price: '0.001', tools: { echo: 'free' }, allowedOrigins: ['https://App.example.com'] },
    },
  ])
})

const list = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }

function post(path: string, tag: string, extra: Record<string, string>) {
  return gate(path, {
    method: 'POST',
    headers: mcpHeaders(undefined, tag, extra),
    body: JSON.stringify(list),
  })
}

describe('the Origin of an MCP request', () => {
  it('of another site is refused 403, on POST, GET and DELETE, and reaches nobody', async () => {
    const tag = newTag()
    for (const method of ['POST', 'GET', 'DELETE']) {
      const headers = mcpHeaders(undefined, tag, { origin: 'https://evil.example' })
      const response = await gate('/m/json/mcp', {
        method,
        headers,
        ...(method === 'POST' ? { body: JSON.stringify(list) } : {}),
      })
      expect(response.status).toBe(403)
      expect(await response.json()).toMatchObject({
        jsonrpc: '2.0',
        id: null,
        error: { data: { reason: 'origin_not_allowed' } },
      })
    }
    for (const origin of [
      'null',
      'http://gate.test',
      'https://gate.test.evil.example',
      'https://app.example.com',
    ]) {
      expect((await post('/m/json/mcp', tag, { origin })).status).toBe(403)
    }
    expect(await scriptedRequests(tag)).toHaveLength(0)
  })

  it('absent (not a browser), or the gate’s own, or one the route allows, passes', async () => {
    const tag = newTag()
    expect((await post('/m/json/mcp', tag, {})).status).toBe(200)
    expect((await post('/m/json/mcp', tag, { origin: 'https://gate.test' })).status).toBe(200)
    expect((await post('/open/mcp', tag, { origin: 'https://app.example.com' })).status).toBe(200)
    expect(await scriptedRequests(tag)).toHaveLength(3)
  })
})

describe('the host the caller asked for', () => {
  it('reaches the origin as X-Forwarded-Host, whatever the caller claimed', async () => {
    const tag = newTag()
    await (
      await post('/m/json/mcp', tag, {
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'http',
      })
    ).text()
    const [seen] = await scriptedRequests(tag)
    expect(seen?.headers['x-forwarded-host']).toBe('gate.test')
    expect(seen?.headers['x-forwarded-proto']).toBe('https')
  })
})
