/**
 * Discovery for agents (x402 bazaar extension, specs/extensions/bazaar.md): every
 * PaymentRequired the gate sends, over HTTP and inside MCP, carries
 * `extensions.bazaar`, valid by @x402/extensions' own validator; the real x402
 * client echoes it and the library's facilitator-side extraction catalogues it;
 * and /.well-known/x402 lists concrete resources only, never a pattern.
 *
 * No payment here is ever verified or settled (every funded payer belongs to
 * another file): the payments are signed by a fresh, empty key and refused
 * before the facilitator is asked.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { PaymentRequired } from '@x402/core/types'
import {
  extractDiscoveryInfo,
  validateDiscoveryExtension,
  validateDiscoveryExtensionSpec,
  type DiscoveryExtension,
} from '@x402/extensions/bazaar'
import { env } from 'cloudflare:workers'
import type { Address, Hex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GATE, newTag, originRequests, putRouteTable } from '../helpers'
import { payingClient } from '../chain/client'
import { check, settle } from '../sidecar-helpers'
import { chain, decode, encode, freshPayTo, gateFetch, x402Block } from '../x402-helpers'

const payTo = freshPayTo()

/** Examples and schemas of 2,048 characters of JSON, the most routes.json takes. */
const LARGEST_DISCOVERY = (() => {
  const base = {
    input: { queryParams: { q: '' }, schema: { properties: { q: { type: 'string' } } } },
    output: { example: { text: '' } },
  }
  const room = 2048 - JSON.stringify(base).length
  return {
    input: { ...base.input, queryParams: { q: 'a'.repeat(Math.floor(room / 2)) } },
    output: { example: { text: 'b'.repeat(Math.ceil(room / 2)) } },
  }
})()

beforeAll(async () => {
  await putRouteTable({
    x402: x402Block(payTo),
    routes: [
      {
        path: '/mcp',
        origin: env.MCP_ORIGIN,
        mcp: { price: '0.001', tools: { search: '0.01', 'generate-report': '0.05', echo: 'free' } },
      },
      { path: '/api/health', origin: env.API_ORIGIN, free: true },
      {
        path: '/api/quote',
        method: 'POST',
        origin: env.API_ORIGIN,
        price: '0.03',
        discovery: { input: { body: { symbol: 'ACME' } }, output: { example: { price: 12.5 } } },
      },
      {
        path: '/api/users/:id',
        method: 'GET',
        origin: env.API_ORIGIN,
        price: '0.01',
        discovery: { resources: ['/api/users/42'] },
      },
      {
        path: '/api/*',
        method: 'GET',
        origin: env.API_ORIGIN,
        price: '0.02',
        description: 'Weather and forecasts',
        discovery: {
          resources: ['/api/weather', '/api/forecast/week'],
          input: {
            queryParams: { city: 'Paris' },
            schema: { properties: { city: { type: 'string' } } },
          },
          output: { example: { city: 'Paris', temperature: 18 } },
        },
      },
      { path: '/files/*', origin: env.API_ORIGIN, price: '0.01' },
      // Dev mode (checked here, never settled): the sidecar's deferred payment, with the largest discovery allowed.
      {
        path: '/sidecar/*',
        method: 'GET',
        origin: env.API_ORIGIN,
        price: '0.02',
        accept: ['x402'],
        x402: { mode: 'dev' },
        discovery: LARGEST_DISCOVERY,
      },
    ],
  })
})

/** Everything the library's validators say about an extension: its schema check (Ajv) and its spec check. */
function expectValid(extension: unknown) {
  expect(extension).toBeDefined()
  expect(validateDiscoveryExtension(extension as DiscoveryExtension)).toEqual({ valid: true })
  expect(validateDiscoveryExtensionSpec(extension as Record<string, unknown>)).toEqual({
    valid: true,
  })
}

async function required(path: string, init?: RequestInit): Promise<PaymentRequired> {
  const response = await gateFetch(`${GATE}${path}`, init)
  expect(response.status).toBe(402)
  return decode<PaymentRequired>(response.headers.get('payment-required'))
}

/** The real x402 client with a fresh key that holds nothing: it signs, and nothing it signs can settle. */
function emptyWallet() {
  const { network, token } = chain()
  return payingClient({
    network: network as `${string}:${string}`,
    asset: token.address as Address,
    privateKey: generatePrivateKey() as Hex,
  })
}

describe('the 402 carries the bazaar discovery extension', () => {
  it('on a GET route: the method, the example query and output, valid by the library’s validators', async () => {
    const offer = await required('/api/weather?city=Oslo')
    const bazaar = offer.extensions?.bazaar as DiscoveryExtension
    expectValid(bazaar)
    expect(bazaar.info).toEqual({
      input: { type: 'http', method: 'GET', queryParams: { city: 'Paris' } },
      output: { type: 'json', example: { city: 'Paris', temperature: 18 } },
    })
    // `/api/*` is catalogued by the concrete URL paid for, not by a template.
    expect(bazaar).not.toHaveProperty('routeTemplate')
  })

  it('on a POST route: the body example, as JSON', async () => {
    const offer = await required('/api/quote', {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    })
    const bazaar = offer.extensions?.bazaar as DiscoveryExtension
    expectValid(bazaar)
    expect(bazaar.info.input).toEqual({
      type: 'http',
      method: 'POST',
      bodyType: 'json',
      body: { symbol: 'ACME' },
    })
  })

  it('on a route with a :param: the route template and the path’s parameters', async () => {
    const offer = await required('/api/users/7')
    const bazaar = offer.extensions?.bazaar as DiscoveryExtension & { routeTemplate?: string }
    expectValid(bazaar)
    expect(bazaar.routeTemplate).toBe('/api/users/:id')
    expect(bazaar.info.input).toMatchObject({
      type: 'http',
      method: 'GET',
      pathParams: { id: '7' },
    })
  })

  it('on a route without discovery settings or a method: catalogued as GET', async () => {
    const offer = await required('/files/report.pdf')
    const bazaar = offer.extensions?.bazaar as DiscoveryExtension
    expectValid(bazaar)
    expect(bazaar.info.input).toEqual({ type: 'http', method: 'GET', queryParams: {} })
  })

  it('is echoed by the real x402 client, and the library’s facilitator side catalogues it from the payment', async () => {
    const offer = await required('/api/weather')
    const payment = await emptyWallet().createPaymentPayload(offer)
    expect(payment.extensions?.bazaar).toEqual(offer.extensions?.bazaar)
    // Echoed, it still fits one proxy header buffer (8 KB) in sidecar mode.
    expect(encode(payment).length).toBeLessThan(8192)
    const discovered = extractDiscoveryInfo(payment, payment.accepted)
    expect(discovered).toMatchObject({
      resourceUrl: `${GATE}/api/weather`,
      method: 'GET',
      description: 'Weather and forecasts',
    })
  })

  it('in the 402 of a refused payment too, so the retry can echo it', async () => {
    const tag = newTag()
    // Signed for /api/quote ($0.03), sent to /api/weather ($0.02): refused before any facilitator call.
    const payment = await emptyWallet().createPaymentPayload(
      await required('/api/quote', { method: 'POST' })
    )
    const response = await gateFetch(`${GATE}/api/weather`, {
      headers: { 'payment-signature': encode(payment), 'x-test-tag': tag },
    })
    expect(response.status).toBe(402)
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
      'invalid_payment_requirements'
    )
    const offer = decode<PaymentRequired>(response.headers.get('payment-required'))
    expectValid(offer.extensions?.bazaar)
    expect((offer.extensions?.bazaar as DiscoveryExtension).info.input).toMatchObject({
      method: 'GET',
      queryParams: { city: 'Paris' },
    })
    expect(await originRequests(tag)).toHaveLength(0)
  })
})

describe('in sidecar mode', () => {
  it('a deferred payment echoing the largest discovery still fits its reservation token, and the follow-up settles it', async () => {
    expect(JSON.stringify(LARGEST_DISCOVERY).length).toBe(2048)
    const unpaid = await check('GET', '/sidecar/report')
    expect(unpaid.status).toBe(402)
    const offer = decode<PaymentRequired>(unpaid.headers.get('payment-required'))
    expectValid(offer.extensions?.bazaar)
    const payment = await emptyWallet().createPaymentPayload(offer)
    expect(payment.extensions?.bazaar).toEqual(offer.extensions?.bazaar)
    const paid = await check('GET', '/sidecar/report', { 'payment-signature': encode(payment) })
    expect(paid.status).toBe(200)
    const token = paid.headers.get('x-pay-reservation') as string
    expect(token).toBeTruthy()
    // The route's terms (its discovery with them) and the payment are sealed in the token, which opens up to 16,384 characters.
    expect(token.length).toBeLessThan(16_384)
    const settled = await settle({ 'x-pay-reservation': token, 'x-pay-upstream-status': '200' })
    expect(settled.status).toBe(200)
    expect(await settled.json()).toMatchObject({ settled: 'charged' })
  })
})

describe('inside MCP', () => {
  const clients: Client[] = []
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()))
  })

  async function connect(): Promise<Client> {
    const transport = new StreamableHTTPClientTransport(new URL(`${GATE}/mcp`), {
      fetch: gateFetch,
    })
    const mcpClient = new Client({ name: 'x402-discovery-test', version: '1.0.0' })
    await mcpClient.connect(transport)
    clients.push(mcpClient)
    return mcpClient
  }

  it('an unpaid tools/call’s PaymentRequired names the tool, valid by the library’s validators', async () => {
    const mcpClient = await connect()
    const result = (await mcpClient.callTool({ name: 'search', arguments: { query: 'q' } })) as {
      isError?: boolean
      structuredContent?: PaymentRequired
    }
    expect(result.isError).toBe(true)
    const offer = result.structuredContent as PaymentRequired
    expect(offer.resource.url).toBe('mcp://tool/search')
    const bazaar = offer.extensions?.bazaar as DiscoveryExtension
    expectValid(bazaar)
    expect(bazaar.info.input).toEqual({
      type: 'mcp',
      toolName: 'search',
      description: 'MCP tool search',
      transport: 'streamable-http',
      inputSchema: { type: 'object' },
    })
  })

  it('a tool the route does not list (priced at mcp.price) is described too', async () => {
    const mcpClient = await connect()
    const result = (await mcpClient.callTool({ name: 'fail', arguments: {} })) as {
      structuredContent?: PaymentRequired
    }
    const bazaar = result.structuredContent?.extensions?.bazaar as DiscoveryExtension
    expectValid(bazaar)
    expect(bazaar.info.input).toMatchObject({ type: 'mcp', toolName: 'fail' })
  })
})

describe('/.well-known/x402', () => {
  type Listed = {
    resource: { url: string; description: string }
    type: string
    method?: string
    endpoint?: string
    accepts: Array<{ amount: string }>
    extensions?: { bazaar?: unknown }
  }

  async function listed(): Promise<Listed[]> {
    const response = await gateFetch(`${GATE}/.well-known/x402`)
    expect(response.status).toBe(200)
    return ((await response.json()) as { resources: Listed[] }).resources
  }

  it('lists concrete resources only: the route’s own path when it is exact, its listed resources when it is a pattern', async () => {
    const resources = await listed()
    expect(resources.map((entry) => entry.resource.url).sort()).toEqual(
      [
        `${GATE}/api/forecast/week`,
        `${GATE}/api/quote`,
        `${GATE}/api/users/42`,
        `${GATE}/api/weather`,
        'mcp://tool/generate-report',
        'mcp://tool/search',
      ].sort()
    )
    for (const entry of resources) {
      expect(entry.resource.url).not.toMatch(/[*]|\/:/)
    }
    expect(resources.find((entry) => entry.resource.url === `${GATE}/api/weather`)).toMatchObject({
      type: 'http',
      method: 'GET',
      resource: { description: 'Weather and forecasts' },
      accepts: [{ amount: '20000' }],
    })
    expect(resources.find((entry) => entry.resource.url === 'mcp://tool/search')).toMatchObject({
      type: 'mcp',
      endpoint: `${GATE}/mcp`,
      accepts: [{ amount: '10000' }],
    })
  })

  it('gives each resource the discovery extension its 402 carries', async () => {
    const resources = await listed()
    for (const entry of resources) expectValid(entry.extensions?.bazaar)
    const weather = resources.find((entry) => entry.resource.url === `${GATE}/api/weather`)
    expect(weather?.extensions?.bazaar).toEqual((await required('/api/weather')).extensions?.bazaar)
    const user = resources.find((entry) => entry.resource.url === `${GATE}/api/users/42`)
    expect(user?.extensions?.bazaar).toEqual((await required('/api/users/42')).extensions?.bazaar)
  })
})
