/**
 * x402 inside MCP on servers that resume streams (issue 10): a payment is
 * settled when its call's answer is handed on, on whichever stream it comes.
 * A POST stream that ends before the answer leaves the payment waiting (its
 * event ids carry it); the resumed stream claims it in the payer's lock and
 * settles it once; a repeat of a settled answer is handed on, never settled
 * again; a Last-Event-ID the gate did not hand out, or from another session,
 * is refused and never forwarded.
 */
import type { PaymentRequired } from '@x402/core/types'
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, it } from 'vitest'
import { gate, mcpHeaders, mcpMessages, newTag, putRouteTable, scriptedRequests } from '../helpers'
import { lockName } from '../../src/x402'
import {
  balanceOf,
  chain,
  client as x402,
  freshPayTo,
  payerAddress,
  x402Block,
} from '../x402-helpers'

const PAYER = 6
const payTo = freshPayTo()

beforeAll(async () => {
  await putRouteTable({
    x402: x402Block(payTo),
    routes: [
      {
        path: '/m/*',
        origin: env.SCRIPTED_ORIGIN,
        mcp: { price: '0.001', tools: { search: '0.01' } },
      },
    ],
  })
})

const SESSION = { 'mcp-session-id': 'x402-resume' }
const call = (id: number, meta?: Record<string, unknown>) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'search', arguments: {}, ...(meta ? { _meta: meta } : {}) },
})

async function paidCall(path: string, tag: string): Promise<{ text: string; ids: string[] }> {
  const unpaid = await gate(path, {
    method: 'POST',
    headers: mcpHeaders(undefined, tag, SESSION),
    body: JSON.stringify(call(1)),
  })
  const [refusal] = await mcpMessages(unpaid)
  const required = (refusal?.result as { structuredContent: PaymentRequired }).structuredContent
  const payment = await x402(PAYER).createPaymentPayload(required)
  const paid = await gate(path, {
    method: 'POST',
    headers: mcpHeaders(undefined, tag, SESSION),
    body: JSON.stringify(call(2, { 'x402/payment': payment })),
  })
  const text = await paid.text()
  return {
    text,
    ids: [...text.matchAll(/^id: (.+)$/gm)].map((match) => (match[1] as string).trim()),
  }
}

function resume(path: string, lastEventId: string, tag: string) {
  const headers = mcpHeaders(undefined, tag, {
    accept: 'text/event-stream',
    'last-event-id': lastEventId,
    ...SESSION,
  })
  headers.delete('content-type')
  return gate(path, { headers })
}

const answerOf = async (response: Response) =>
  [...(await response.text()).matchAll(/^data: (.+)$/gm)]
    .map((match) => JSON.parse(match[1] as string) as Record<string, unknown>)
    .find((m) => 'result' in m || 'error' in m)

describe('x402 on a server that resumes streams', () => {
  it('settles once, on the resumed stream, a call whose POST stream ended before its answer', async () => {
    const tag = newTag()
    const before = await balanceOf(payTo)
    const { text, ids } = await paidCall('/m/poll/mcp', tag)
    expect(text).not.toContain('"result"')
    // Not released, not settled: waiting for its answer.
    expect(await balanceOf(payTo)).toBe(before)
    expect(ids[0]).toMatch(/^pg1\./)
    const answer = await answerOf(await resume('/m/poll/mcp', ids[0] as string, tag))
    expect(answer).toMatchObject({
      id: 2,
      result: {
        content: [{ type: 'text' }],
        _meta: { 'x402/payment-response': { success: true } },
      },
    })
    expect(await balanceOf(payTo)).toBe(before + 10_000n)
    // A second resume replays the answer: handed on, never settled again.
    expect(await answerOf(await resume('/m/poll/mcp', ids[0] as string, tag))).toMatchObject({
      id: 2,
      result: { content: [{ type: 'text' }] },
    })
    expect(await balanceOf(payTo)).toBe(before + 10_000n)
  })

  it('settles an answer handed on the POST stream once; a resume that replays it is not settled again', async () => {
    const tag = newTag()
    const before = await balanceOf(payTo)
    const { text, ids } = await paidCall('/m/prime/mcp', tag)
    expect(text).toContain('x402/payment-response')
    expect(await balanceOf(payTo)).toBe(before + 10_000n)
    expect(await answerOf(await resume('/m/prime/mcp', ids[0] as string, tag))).toMatchObject({
      id: 2,
      result: { content: [{ type: 'text' }] },
    })
    expect(await balanceOf(payTo)).toBe(before + 10_000n)
  })

  it('does not hand on an answer whose payment was settled for another call (the same authorization reused after this call’s settle failed)', async () => {
    const tag = newTag()
    const before = await balanceOf(payTo)
    const unpaid = await gate('/m/poll/mcp', {
      method: 'POST',
      headers: mcpHeaders(undefined, tag, SESSION),
      body: JSON.stringify(call(1)),
    })
    const [refusal] = await mcpMessages(unpaid)
    const payment = await x402(PAYER).createPaymentPayload(
      (refusal?.result as { structuredContent: PaymentRequired }).structuredContent
    )
    // Call A: its POST stream ends after the priming event; its payment waits.
    const paidA = await gate('/m/poll/mcp', {
      method: 'POST',
      headers: mcpHeaders(undefined, tag, SESSION),
      body: JSON.stringify(call(2, { 'x402/payment': payment })),
    })
    const ticketA = [...(await paidA.text()).matchAll(/^id: (.+)$/gm)].map((m) =>
      (m[1] as string).trim()
    )[0] as string
    // What a failed settle records for A: released, so the authorization can be taken again.
    const nonce = (
      payment.payload as { authorization: { nonce: string } }
    ).authorization.nonce.toLowerCase()
    await env.X402_LOCKS.getByName(
      lockName(chain().network, chain().token.address, payerAddress(PAYER))
    ).finish(nonce, 'released', { reason: 'settle failed' })
    // Call B, paid with the same authorization, is served and settled once.
    const [answerB] = await mcpMessages(
      await gate('/m/json/mcp', {
        method: 'POST',
        headers: mcpHeaders(undefined, tag, SESSION),
        body: JSON.stringify(call(3, { 'x402/payment': payment })),
      })
    )
    expect(answerB).toMatchObject({
      id: 3,
      result: { _meta: { 'x402/payment-response': { success: true } } },
    })
    expect(await balanceOf(payTo)).toBe(before + 10_000n)
    // A's answer on a resume: its own payment was never settled for it, so it is not handed on.
    const answerA = await answerOf(await resume('/m/poll/mcp', ticketA, tag))
    expect(answerA).toMatchObject({
      id: 2,
      error: { code: -32402, data: { reason: 'answer_not_held' } },
    })
    expect(await balanceOf(payTo)).toBe(before + 10_000n)
  })

  it('refuses, and never forwards, a resume from the origin’s own id or in another session', async () => {
    const tag = newTag()
    const { ids } = await paidCall('/m/poll/mcp', tag)
    const primed = ids[0] as string
    const originId = primed.slice(primed.indexOf('.', primed.indexOf('.', 4) + 1) + 1)
    expect((await resume('/m/poll/mcp', originId, tag)).status).toBe(400)
    const other = mcpHeaders(undefined, tag, {
      accept: 'text/event-stream',
      'last-event-id': primed,
      'mcp-session-id': 'another',
    })
    other.delete('content-type')
    expect((await gate('/m/poll/mcp', { headers: other })).status).toBe(400)
    expect((await scriptedRequests(tag)).filter((r) => r.method === 'GET')).toHaveLength(0)
  })
})
