/**
 * OAuth's consent page, (b) with x402: buying credits with one x402 payment makes
 * the account the client's calls are paid from. The payment is made by the real
 * x402 client (@x402/core) from the requirements the page shows, settled on the
 * test chain; the new account holds exactly what settled.
 */
import type { PaymentRequired } from '@x402/core/types'
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, it } from 'vitest'
import { gate, mcpHeaders, newTag, putRouteTable } from '../helpers'
import {
  authorizeUrl,
  openConsent,
  pkce,
  REDIRECT_URI,
  register,
  submitConsent,
  tokenRequest,
} from '../oauth-flow'
import { balanceOf, client, decode, encode, freshPayTo, x402Block } from '../x402-helpers'

/** Payer 4 (usage-events' second payer): no test reads its balance. */
const PAYER = 4
const payTo = freshPayTo()

beforeAll(async () => {
  await putRouteTable({
    x402: { ...x402Block(payTo), buyCredits: { min: '0.1', max: '10' } },
    routes: [
      {
        path: '/mcp-json',
        origin: env.MCP_ORIGIN,
        mcp: { price: '0.001', tools: { search: '0.01' }, oauth: true },
      },
    ],
  })
})

const unescape = (text: string) =>
  text.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))

describe('buying credits with x402 on the consent page', () => {
  it('shows the requirements, takes the signed payment, makes the account, and its token pays', async () => {
    const before = await balanceOf(payTo)
    const clientId = await register()
    const { verifier, challenge } = await pkce()
    const page = await openConsent(authorizeUrl({ clientId, challenge, method: 'S256' }))
    expect(page.html).toContain('Buy credits with one x402 payment')
    expect(page.html).toContain('$0.1 to $10')

    const offer = await submitConsent(page, {
      decision: 'buy',
      amount: '0.5',
      client: 'Test Client',
    })
    expect(offer.status).toBe(200)
    const html = await offer.text()
    const required = decode<PaymentRequired>(
      unescape(/<textarea id="required" readonly[^>]*>([^<]+)<\/textarea>/.exec(html)?.[1] ?? '')
    )
    expect(required.accepts[0]).toMatchObject({ amount: '500000', payTo })
    const payment = encode(await client(PAYER).createPaymentPayload(required))

    const answer = await submitConsent(page, { decision: 'pay', amount: '0.5', payment })
    expect(answer.status).toBe(302)
    expect(await balanceOf(payTo)).toBe(before + 500_000n)
    const code = new URL(answer.headers.get('location') ?? '').searchParams.get('code') ?? ''
    const tokens = (await (
      await tokenRequest({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: REDIRECT_URI,
        client_id: clientId,
      })
    ).json()) as { access_token: string }
    const paid = await gate('/mcp-json', {
      method: 'POST',
      headers: mcpHeaders(tokens.access_token, newTag()),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'search', arguments: { query: 'bought' } },
      }),
    })
    expect(paid.status).toBe(200)
    expect(paid.headers.get('x-credits-remaining')).toBe('0.49')
  })

  it('takes no money for an amount out of bounds or a payment that is not one', async () => {
    const before = await balanceOf(payTo)
    const clientId = await register()
    const page = await openConsent(
      authorizeUrl({ clientId, challenge: (await pkce()).challenge, method: 'S256' })
    )
    expect((await submitConsent(page, { decision: 'buy', amount: '50' })).status).toBe(400)
    const refused = await submitConsent(page, {
      decision: 'pay',
      amount: '0.5',
      payment: 'not-a-payment',
    })
    expect(refused.status).toBe(402)
    expect(await refused.text()).toContain('not an x402 payment')
    expect(await balanceOf(payTo)).toBe(before)
  })
})
