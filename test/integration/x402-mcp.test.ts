/**
 * x402 inside MCP, end to end: the official MCP SDK client calls a real MCP
 * server through the gate and pays per the x402 MCP transport, with the real
 * x402 client building the payment and a real facilitator settling on anvil.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { PaymentRequired } from '@x402/core/types'
import { env } from 'cloudflare:workers'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createKey, GATE, keyState, newTag, originRequests, putRouteTable } from '../helpers'
import {
  balanceOf,
  client as x402,
  encode,
  freshPayTo,
  gateFetch,
  payerAddress,
  x402Block,
} from '../x402-helpers'

const PAYER = 1
const payTo = freshPayTo()
const payer = payerAddress(PAYER)
const clients: Client[] = []

beforeAll(async () => {
  const mcp = { price: '0.001', tools: { search: '0.01', 'generate-report': '0.05', echo: 'free' } }
  await putRouteTable({
    x402: x402Block(payTo),
    routes: [
      { path: '/mcp', origin: env.MCP_ORIGIN, mcp },
      { path: '/mcp-json', origin: env.MCP_ORIGIN, mcp },
      { path: '/mcp-x402-only', origin: env.MCP_ORIGIN, mcp, accept: ['x402'] },
    ],
  })
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})

async function connect(path: string, tag: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(`${GATE}${path}`), {
    fetch: gateFetch,
    requestInit: { headers: { 'x-test-tag': tag } },
  })
  const mcpClient = new Client({ name: 'x402-test', version: '1.0.0' })
  await mcpClient.connect(transport)
  clients.push(mcpClient)
  return mcpClient
}

type ToolResult = {
  isError?: boolean
  structuredContent?: unknown
  content?: Array<{ text?: string }>
  _meta?: Record<string, unknown>
}

/** x402 MCP transport, client side: call, read PaymentRequired, pay, call again. */
async function payAndCall(
  mcpClient: Client,
  name: string,
  args: Record<string, unknown>,
  asBase64 = false,
  onprogress?: () => void
) {
  const unpaid = (await mcpClient.callTool({ name, arguments: args })) as ToolResult
  expect(unpaid.isError).toBe(true)
  const required = unpaid.structuredContent as PaymentRequired
  expect(JSON.parse(unpaid.content?.[0]?.text ?? '')).toEqual(required)
  expect(unpaid._meta?.['x402/error']).toEqual(required)
  const payment = await x402(PAYER).createPaymentPayload(required)
  const paid = (await mcpClient.callTool(
    { name, arguments: args, _meta: { 'x402/payment': asBase64 ? encode(payment) : payment } },
    undefined,
    onprogress ? { onprogress } : undefined
  )) as ToolResult
  return { required, paid }
}

describe('x402 inside MCP', () => {
  it('refuses an unpaid tools/call with a PaymentRequired tool result, and the tool never runs', async () => {
    const tag = newTag()
    const mcpClient = await connect('/mcp', tag)
    const result = (await mcpClient.callTool({
      name: 'search',
      arguments: { query: 'q' },
    })) as ToolResult
    expect(result.isError).toBe(true)
    expect(result.structuredContent).toMatchObject({
      x402Version: 2,
      resource: { url: 'mcp://tool/search' },
      accepts: [{ scheme: 'exact', amount: '10000', payTo, network: 'eip155:31337' }],
    })
    expect((await originRequests(tag)).filter((r) => r.body.includes('tools/call'))).toHaveLength(0)
  })

  it('is paid with _meta["x402/payment"]: settled on chain once, the payment stripped before the origin', async () => {
    const tag = newTag()
    const mcpClient = await connect('/mcp', tag)
    const before = await balanceOf(payTo)
    const { paid } = await payAndCall(mcpClient, 'search', { query: 'pay-gate' })
    expect(paid.isError).toBeFalsy()
    expect(paid.content?.[0]?.text).toContain('pay-gate')
    const settlement = paid._meta?.['x402/payment-response'] as {
      success: boolean
      transaction: string
      payer: string
    }
    expect(settlement).toMatchObject({ success: true, network: 'eip155:31337' })
    expect(settlement.transaction).toMatch(/^0x[0-9a-f]{64}$/)
    expect(settlement.payer.toLowerCase()).toBe(payer.toLowerCase())
    expect(await balanceOf(payTo)).toBe(before + 10_000n)
    const calls = (await originRequests(tag)).filter((r) => r.body.includes('tools/call'))
    expect(calls).toHaveLength(2 - 1) // the unpaid call never reached it
    expect(calls[0]?.body).not.toContain('x402/payment')
    expect(calls[0]?.headers['x-pay-verified']).toBe('true')
  })

  it('takes the payment as base64 in _meta too, as Cloudflare’s agents client sends it', async () => {
    const mcpClient = await connect('/mcp-json', newTag())
    const before = await balanceOf(payTo)
    const { paid } = await payAndCall(mcpClient, 'search', { query: 'b64' }, true)
    expect(paid._meta?.['x402/payment-response']).toMatchObject({ success: true })
    expect(await balanceOf(payTo)).toBe(before + 10_000n)
  })

  it('streams progress of a paid SSE call while holding its answer until settled', async () => {
    const mcpClient = await connect('/mcp', newTag())
    const before = await balanceOf(payTo)
    let progress = 0
    const { paid } = await payAndCall(
      mcpClient,
      'generate-report',
      { topic: 'x402', sections: 3 },
      false,
      () => progress++
    )
    expect(progress).toBeGreaterThanOrEqual(3)
    expect(paid._meta?.['x402/payment-response']).toMatchObject({ success: true })
    expect(await balanceOf(payTo)).toBe(before + 50_000n)
  })

  it('settles nothing for a tool that fails', async () => {
    const mcpClient = await connect('/mcp', newTag())
    const before = await balanceOf(payer)
    const { paid } = await payAndCall(mcpClient, 'fail', {})
    expect(paid.isError).toBe(true)
    expect(paid._meta?.['x402/payment-response']).toBeUndefined()
    expect(await balanceOf(payer)).toBe(before)
  })

  it('takes the payment from the PAYMENT-SIGNATURE header as well', async () => {
    const unpaid = await gateFetch(`${GATE}/mcp-json`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'search', arguments: { query: 'h' } },
      }),
    })
    const required = ((await unpaid.json()) as { result: ToolResult }).result
      .structuredContent as PaymentRequired
    const payment = await x402(PAYER).createPaymentPayload(required)
    const before = await balanceOf(payTo)
    const paid = await gateFetch(`${GATE}/mcp-json`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'payment-signature': encode(payment),
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'search', arguments: { query: 'h' } },
      }),
    })
    expect(paid.headers.get('payment-response')).toBeTruthy()
    expect(
      ((await paid.json()) as { result: ToolResult }).result._meta?.['x402/payment-response']
    ).toMatchObject({ success: true })
    expect(await balanceOf(payTo)).toBe(before + 10_000n)
  })

  it('lists each tool with its x402 price', async () => {
    const mcpClient = await connect('/mcp', newTag())
    const { tools } = await mcpClient.listTools()
    const search = tools.find((tool) => tool.name === 'search')
    expect(search?._meta?.['pay-gate/price']).toMatchObject({
      amount: '0.01',
      accepts: ['credits', 'x402'],
      x402: { amount: '10000', payTo, network: 'eip155:31337' },
    })
    expect(search?._meta?.['agents-x402/paymentRequired']).toBe(true)
    expect(search?._meta?.['agents-x402/priceUSD']).toBe('0.01')
    expect(
      tools.find((tool) => tool.name === 'echo')?._meta?.['agents-x402/paymentRequired']
    ).toBeUndefined()
  })

  it('answers a batch without payment in-band, and refuses an x402 payment for a batch', async () => {
    const headers = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    }
    const call = (id: number, meta?: unknown) => ({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'search', arguments: { query: 'b' }, ...(meta ? { _meta: meta } : {}) },
    })
    const unpaid = await gateFetch(`${GATE}/mcp-json`, {
      method: 'POST',
      headers,
      body: JSON.stringify([call(1), call(2)]),
    })
    expect(unpaid.status).toBe(200)
    const answers = (await unpaid.json()) as Array<{
      error: { code: number; data: { reason: string } }
    }>
    expect(answers.map((a) => [a.error.code, a.error.data.reason])).toEqual([
      [-32402, 'missing_api_key'],
      [-32402, 'missing_api_key'],
    ])
    const withPayment = await gateFetch(`${GATE}/mcp-json`, {
      method: 'POST',
      headers,
      body: JSON.stringify([call(3, { 'x402/payment': { x402Version: 2 } }), call(4)]),
    })
    expect(withPayment.status).toBe(400)
  })

  it('refuses a priced batch on a route that takes x402 only, even from a key holder: never charged to credits', async () => {
    const { id, key } = await createKey('1')
    const tag = newTag()
    const headers = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${key}`,
      'x-test-tag': tag,
    }
    const call = (n: number) => ({
      jsonrpc: '2.0',
      id: n,
      method: 'tools/call',
      params: { name: 'search', arguments: { query: 'b' } },
    })
    const response = await gateFetch(`${GATE}/mcp-x402-only`, {
      method: 'POST',
      headers,
      body: JSON.stringify([call(1), call(2)]),
    })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({
      error: { code: -32600, data: { reason: 'invalid_request' } },
    })
    expect(await originRequests(tag)).toEqual([])
    expect(await keyState(id)).toMatchObject({ credits: '1', held: '0' })
  })
})
