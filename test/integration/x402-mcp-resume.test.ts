/**
 * x402 inside MCP on servers that resume streams (issue 10): a call paid with
 * x402 is settled only on an answer the gate hands on itself. Its POST stream's
 * event ids are the origin's own, so a resume from one is refused and never
 * forwarded: an answer withheld on the POST (settlement failed, or none came)
 * can never reach the caller through a resumed stream, and a payment whose
 * answer never came is released, not settled.
 */
import type { PaymentRequired } from '@x402/core/types'
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, it } from 'vitest'
import { gate, mcpHeaders, mcpMessages, newTag, putRouteTable, scriptedRequests } from '../helpers'
import { balanceOf, client as x402, freshPayTo, x402Block } from '../x402-helpers'

const PAYER = 6
const payTo = freshPayTo()

beforeAll(async () => {
  await putRouteTable({ x402: x402Block(payTo), routes: [{ path: '/m/*', origin: env.SCRIPTED_ORIGIN, mcp: { price: '0.001', tools: { search: '0.01' } } }] })
})

const SESSION = { 'mcp-session-id': 'x402-resume' }
const call = (id: number, meta?: Record<string, unknown>) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'search', arguments: {}, ...(meta ? { _meta: meta } : {}) } })

async function paidCall(path: string, tag: string): Promise<{ text: string; ids: string[] }> {
  const unpaid = await gate(path, { method: 'POST', headers: mcpHeaders(undefined, tag, SESSION), body: JSON.stringify(call(1)) })
  const [refusal] = await mcpMessages(unpaid)
  const required = (refusal?.result as { structuredContent: PaymentRequired }).structuredContent
  const payment = await x402(PAYER).createPaymentPayload(required)
  const paid = await gate(path, { method: 'POST', headers: mcpHeaders(undefined, tag, SESSION), body: JSON.stringify(call(2, { 'x402/payment': payment })) })
  const text = await paid.text()
  return { text, ids: [...text.matchAll(/^id: (.+)$/gm)].map((match) => (match[1] as string).trim()) }
}

function resume(path: string, lastEventId: string, tag: string) {
  const headers = mcpHeaders(undefined, tag, { accept: 'text/event-stream', 'last-event-id': lastEventId, ...SESSION })
  headers.delete('content-type')
  return gate(path, { headers })
}

describe('x402 on a server that resumes streams', () => {
  it('settles an answer handed on the POST stream; a resume from its event ids is refused and never forwarded', async () => {
    const tag = newTag()
    const before = await balanceOf(payTo)
    const { text, ids } = await paidCall('/m/prime/mcp', tag)
    expect(text).toContain('x402/payment-response')
    expect(await balanceOf(payTo)).toBe(before + 10_000n)
    expect(ids.length).toBeGreaterThan(0)
    for (const id of ids) expect((await resume('/m/prime/mcp', id, tag)).status).toBe(400)
    expect((await scriptedRequests(tag)).filter((r) => r.method === 'GET')).toHaveLength(0)
  })

  it('releases the payment of a call whose POST stream ended before its answer, and its answer never comes through a resume', async () => {
    const tag = newTag()
    const before = await balanceOf(payTo)
    const { text, ids } = await paidCall('/m/poll/mcp', tag)
    expect(text).not.toContain('"result"')
    const response = await resume('/m/poll/mcp', ids[0] as string, tag)
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: { data: { reason: 'invalid_resume' } } })
    expect((await scriptedRequests(tag)).filter((r) => r.method === 'GET')).toHaveLength(0)
    expect(await balanceOf(payTo)).toBe(before)
  })
})
