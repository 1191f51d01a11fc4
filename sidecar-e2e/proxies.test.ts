/**
 * Sidecar mode for real: nginx (njs) and Caddy (forward_auth) from the
 * machine's packages, started on 127.0.0.1 with the templates in
 * templates/sidecar/, in front of a Node origin that counts what it gets, with
 * the gate (wrangler dev on this repository) as their sidecar.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGate, type GateServer } from './gate'
import { startOrigin, type Origin } from './origin'
import { startCaddy, startNginx, type Proxy } from './proxies'

let dir: string
let origin: Origin
let gate: GateServer
const proxies: Record<'nginx' | 'caddy', Proxy | undefined> = { nginx: undefined, caddy: undefined }

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pay-gate-sidecar-'))
  origin = await startOrigin()
  gate = await startGate(
    {
      version: 1,
      routes: [
        { path: '/api/free', origin: origin.url, free: true },
        { path: '/api/*', origin: origin.url, price: '0.02' },
        { path: '/mcp', origin: origin.url, mcp: { price: '0', tools: { search: '0.01' } } },
      ],
    },
    join(dir, 'gate')
  )
  const upstreams = { gate: gate.url, origin: origin.url, sidecarToken: gate.sidecarToken }
  proxies.nginx = await startNginx(upstreams, join(dir, 'nginx'))
  proxies.caddy = await startCaddy(upstreams, join(dir, 'caddy'))
})

afterAll(async () => {
  await proxies.nginx?.stop()
  await proxies.caddy?.stop()
  await gate?.stop()
  await origin?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** GET `path` exactly as written; resolves with the status. */
function rawGet(base: string, path: string, headers: Record<string, string>): Promise<number> {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: hostname, port, path, headers }, (response) => {
      response.resume()
      response.on('end', () => resolve(response.statusCode ?? 0))
    })
    request.on('error', reject)
    request.end()
  })
}

/** Requests the origin got for `path` (with query) since `from`. */
const hitsFor = (path: string) => origin.hits.filter((hit) => hit.url === path)
const unique = () => `/api/item-${crypto.randomUUID()}`
const charges = (state: Awaited<ReturnType<GateServer['keyState']>>) =>
  state.ledger.filter((row) => row.kind === 'charge').map((row) => row.amount)

/** The key's state once no hold is open: the follow-up settles just after the answer. */
async function settled(id: string) {
  const deadline = Date.now() + 5_000
  for (;;) {
    const state = await gate.keyState(id)
    if (state.held === '0' || Date.now() > deadline) return state
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

describe.each(['nginx', 'caddy'] as const)(
  '%s in front of the origin, the gate as sidecar',
  (name) => {
    const proxy = () => proxies[name] as Proxy

    it('passes a free route through', async () => {
      const response = await fetch(`${proxy().url}/api/free`)
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual({ ok: true, path: '/api/free' })
    })

    it('answers an unpaid call with the gate’s payment answer, and the origin never sees it', async () => {
      const path = unique()
      const response = await fetch(`${proxy().url}${path}`)
      expect(response.status).toBe(401)
      expect(await response.json()).toMatchObject({
        error: { code: 'missing_api_key', price: '0.02' },
      })
      const { key } = await gate.createKey('0.01')
      const poor = await fetch(`${proxy().url}${path}`, {
        headers: { authorization: `Bearer ${key}` },
      })
      expect(poor.status).toBe(402)
      expect(await poor.json()).toMatchObject({
        error: { code: 'insufficient_credits', credits: '0.01' },
      })
      expect(hitsFor(path)).toHaveLength(0)
    })

    it('forwards a paid POST with its body intact', async () => {
      const { id, key } = await gate.createKey('1')
      const path = unique()
      const response = await fetch(`${proxy().url}${path}`, {
        method: 'POST',
        headers: { 'x-api-key': key, 'content-type': 'text/plain' },
        body: 'hello origin',
      })
      expect(response.status).toBe(200)
      expect(hitsFor(path).map((hit) => [hit.method, hit.body])).toEqual([['POST', 'hello origin']])
      expect(charges(await settled(id))).toEqual(['-0.02'])
    })

    it('is not fooled by a client sending the original-request headers itself', async () => {
      const path = unique()
      const disguises: Array<Record<string, string>> = [
        { 'x-original-uri': '/api/free' },
        { 'x-forwarded-uri': '/api/free' },
        { 'x-forwarded-method': 'OPTIONS', 'x-original-method': 'OPTIONS' },
      ]
      for (const disguise of disguises) {
        const response = await fetch(`${proxy().url}${path}`, { headers: disguise })
        expect(response.status).toBeGreaterThanOrEqual(400)
      }
      expect(hitsFor(path)).toHaveLength(0)
    })

    it('streams a paid SSE answer as the origin writes it, and charges it once', async () => {
      const { id, key } = await gate.createKey('1')
      const path = `/api/stream-${crypto.randomUUID()}`
      const response = await fetch(`${proxy().url}${path}`, { headers: { 'x-api-key': key } })
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toContain('text/event-stream')
      const reader = (response.body as ReadableStream<Uint8Array>)
        .pipeThrough(new TextDecoderStream())
        .getReader()
      // The origin holds the rest back until this first event has reached the client.
      let text = ''
      while (!text.includes('data: first')) {
        const { value, done } = await reader.read()
        if (done)
          throw new Error(`the stream ended before its first event: ${JSON.stringify(text)}`)
        text += value
      }
      origin.finishStream(path)
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        text += value
      }
      expect(text).toBe('data: first\n\ndata: last\n\n')
      expect(hitsFor(path)).toHaveLength(1)
      expect(charges(await settled(id))).toEqual(['-0.02'])
    })

    it('does not let a path with dot segments be priced as a free route and reach the origin raw', async () => {
      const { id, key } = await gate.createKey('1')
      // node:http sends the path as written (fetch would resolve the dot segments before sending).
      for (const trick of [
        '/api/paid-x/%2e%2e/free',
        '/api/paid-x/%2E%2E/%2e%2e/api/free',
        '/api/paid-x/../free',
      ]) {
        const status = await rawGet(proxy().url, trick, { 'x-api-key': key })
        expect(status, trick).toBeGreaterThanOrEqual(400)
        expect(origin.hits.filter((hit) => hit.url.startsWith('/api/paid-x'))).toEqual([])
      }
      expect(await settled(id)).toMatchObject({ balance: '1', held: '0' })
    })

    it('does not let another spelling of a free route be priced free and reach the origin as written', async () => {
      // Each matches the free /api/free in the gate; the proxy would forward it raw, into the origin's paid /api/*.
      for (const spelling of ['/API/FREE', '/api/%66ree', '/api//free', '/api/free/']) {
        const before = origin.hits.length
        const status = await rawGet(proxy().url, spelling, {})
        expect(status, spelling).toBe(400)
        expect(origin.hits.slice(before), spelling).toEqual([])
      }
    })

    it('lets a paid call reach the origin once, charged once; the origin sees who paid, never the key', async () => {
      const { id, key } = await gate.createKey('1')
      const path = unique()
      const response = await fetch(`${proxy().url}${path}?q=1`, {
        headers: { authorization: `Bearer ${key}`, 'x-pay-verified': 'forged' },
      })
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual({ ok: true, path: `${path}?q=1` })
      const hits = hitsFor(`${path}?q=1`)
      expect(hits).toHaveLength(1)
      expect(hits[0]?.headers).toMatchObject({ 'x-pay-verified': 'true', 'x-pay-rail': 'credits' })
      expect(JSON.stringify(hits[0]?.headers)).not.toContain(key)
      const state = await settled(id)
      expect(state).toMatchObject({ balance: '0.98', held: '0' })
      expect(charges(state)).toEqual(['-0.02'])
    })
  }
)

describe('nginx (njs): what a follow-up makes possible', () => {
  it('does not charge a call the origin failed (503): the follow-up releases the hold', async () => {
    const { id, key } = await gate.createKey('1')
    const response = await fetch(`${proxies.nginx?.url}/api/fail`, {
      headers: { 'x-api-key': key },
    })
    expect(response.status).toBe(503)
    expect(hitsFor('/api/fail').length).toBeGreaterThan(0)
    const state = await settled(id)
    expect(state).toMatchObject({ balance: '1', held: '0' })
    expect(charges(state)).toEqual([])
  })

  it('does not charge an SSE answer the origin broke off midway, though its status was 200', async () => {
    const { id, key } = await gate.createKey('1')
    const path = `/api/cut-${crypto.randomUUID()}`
    const response = await fetch(`${proxies.nginx?.url}${path}`, { headers: { 'x-api-key': key } })
    expect(response.status).toBe(200)
    await expect(response.text()).rejects.toThrow()
    expect(hitsFor(path)).toHaveLength(1)
    const state = await settled(id)
    expect(state).toMatchObject({ balance: '1', held: '0' })
    expect(charges(state)).toEqual([])
  })

  it('does not charge a stream the client hung up on before its end', async () => {
    const { id, key } = await gate.createKey('1')
    const path = `/api/stream-${crypto.randomUUID()}`
    const abort = new AbortController()
    const response = await fetch(`${proxies.nginx?.url}${path}`, {
      headers: { 'x-api-key': key },
      signal: abort.signal,
    })
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    await reader.read()
    abort.abort()
    const state = await settled(id)
    expect(state).toMatchObject({ balance: '1', held: '0' })
    expect(charges(state)).toEqual([])
    origin.finishStream(path)
  })

  it('charges a paid HEAD, whose answer has no body to see the end of', async () => {
    const { id, key } = await gate.createKey('1')
    const path = unique()
    const response = await fetch(`${proxies.nginx?.url}${path}`, {
      method: 'HEAD',
      headers: { 'x-api-key': key },
    })
    expect(response.status).toBe(200)
    expect(hitsFor(path).map((hit) => hit.method)).toEqual(['HEAD'])
    expect(charges(await settled(id))).toEqual(['-0.02'])
  })

  it('tells the client what is left (X-Credits-Remaining), only on answers below 400', async () => {
    const { id, key } = await gate.createKey('1')
    const response = await fetch(`${proxies.nginx?.url}${unique()}`, {
      headers: { 'x-api-key': key },
    })
    expect(response.headers.get('x-credits-remaining')).toBe('0.98')
    const failed = await fetch(`${proxies.nginx?.url}/api/fail`, { headers: { 'x-api-key': key } })
    expect(failed.status).toBe(503)
    expect(failed.headers.get('x-credits-remaining')).toBeNull()
    await settled(id)
  })

  it('prices an MCP tools/call from its body: unpaid gets -32402 with HTTP 200; paid reaches the origin once, charged once', async () => {
    const call = (id: number) =>
      JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'search', arguments: { q: 'x' } },
      })
    const before = origin.hits.filter((hit) => hit.url === '/mcp').length
    const unpaid = await fetch(`${proxies.nginx?.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: call(1),
    })
    expect(unpaid.status).toBe(200)
    expect(await unpaid.json()).toMatchObject({
      id: 1,
      error: { code: -32402, data: { reason: 'missing_api_key', tool: 'search' } },
    })
    expect(origin.hits.filter((hit) => hit.url === '/mcp')).toHaveLength(before)

    const { id, key } = await gate.createKey('1')
    const paid = await fetch(`${proxies.nginx?.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: call(2),
    })
    expect(paid.status).toBe(200)
    expect(await paid.json()).toMatchObject({ id: 2, result: { content: [{ text: 'found' }] } })
    const hits = origin.hits.filter((hit) => hit.url === '/mcp').slice(before)
    expect(hits).toHaveLength(1)
    expect(hits[0]?.body).toBe(call(2))
    expect(charges(await settled(id))).toEqual(['-0.01'])
  })
})

describe('Caddy (forward_auth): its documented limits', () => {
  it('charges when it lets a call through, so a failed origin call is still charged (no follow-up)', async () => {
    const { id, key } = await gate.createKey('1')
    const response = await fetch(`${proxies.caddy?.url}/api/fail`, {
      headers: { 'x-api-key': key },
    })
    expect(response.status).toBe(503)
    expect(charges(await settled(id))).toEqual(['-0.02'])
  })

  it('refuses an MCP tools/call, whose body it cannot send to the check (fail closed), and the origin never sees it', async () => {
    const { id, key } = await gate.createKey('1')
    const before = origin.hits.filter((hit) => hit.url === '/mcp').length
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'search', arguments: {} },
    })
    const response = await fetch(`${proxies.caddy?.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body,
    })
    expect(response.status).toBe(502)
    expect(await response.json()).toMatchObject({
      error: { data: { reason: 'sidecar_body_missing' } },
    })
    expect(origin.hits.filter((hit) => hit.url === '/mcp')).toHaveLength(before)
    expect(await settled(id)).toMatchObject({ balance: '1', held: '0' })
  })
})
