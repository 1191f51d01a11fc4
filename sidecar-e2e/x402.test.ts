/**
 * x402 through nginx with the gate as sidecar, against a real chain (anvil,
 * TestUSDC) and a real facilitator (test/chain). The official x402 fetch client
 * pays nginx's 402; the check verifies the payment and locks it, nginx serves
 * the call from the origin, and its follow-up has the gate settle on chain only
 * then. A call the origin fails is not paid: its authorization is released, and
 * the same signed payment pays for the next call instead.
 */
import { wrapFetchWithPayment } from '@x402/fetch'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startChain, type Chain } from '../test/chain/chain'
import { payingClient, tokenBalance } from '../test/chain/client'
import { startFacilitator, type Facilitator } from '../test/chain/facilitator'
import { startGate, type GateServer } from './gate'
import { startOrigin, type Origin } from './origin'
import { startNginx, type Proxy } from './proxies'

let dir: string
let chain: Chain
let facilitator: Facilitator
let origin: Origin
let gate: GateServer
let nginx: Proxy
const PRICE_UNITS = 10_000n

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pay-gate-sidecar-x402-'))
  chain = await startChain({ payerCount: 1 })
  facilitator = await startFacilitator({ chain })
  origin = await startOrigin()
  const x402 = {
    network: chain.network,
    payTo: chain.accounts.payTo.address,
    asset: chain.token,
    facilitator: { url: facilitator.url },
    maxTimeoutSeconds: 60,
  }
  gate = await startGate(
    {
      version: 1,
      x402,
      routes: [{ path: '/api/*', origin: origin.url, price: '0.01', accept: ['x402'] }],
    },
    join(dir, 'gate')
  )
  nginx = await startNginx(
    { gate: gate.url, origin: origin.url, sidecarToken: gate.sidecarToken },
    join(dir, 'nginx')
  )
})

afterAll(async () => {
  await nginx?.stop()
  await gate?.stop()
  await origin?.close()
  await facilitator?.close()
  await chain?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const client = () =>
  payingClient({
    network: chain.network,
    asset: chain.token.address,
    privateKey: chain.accounts.payers[0]?.privateKey as Hex,
  })
const received = async () =>
  tokenBalance(chain.rpcUrl, chain.token.address, chain.accounts.payTo.address)

/** payTo's balance once it has moved from `from` (the follow-up settles just after the answer), or after 10 s. */
async function receivedAfter(from: bigint): Promise<bigint> {
  for (let polls = 200; ; polls--) {
    const now = await received()
    if (now !== from || polls <= 0) return now
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('x402 through nginx, settled by the follow-up', () => {
  it('the official x402 client pays nginx’s 402; the origin serves once; payTo is paid on chain once, after the answer', async () => {
    const before = await received()
    const path = `/api/paid-${crypto.randomUUID()}`
    const response = await wrapFetchWithPayment(fetch, client())(`${nginx.url}${path}`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ ok: true, path })
    const hits = origin.hits.filter((hit) => hit.url === path)
    expect(hits).toHaveLength(1)
    expect(hits[0]?.headers).toMatchObject({ 'x-pay-verified': 'true', 'x-pay-rail': 'x402' })
    expect(hits[0]?.headers['payment-signature']).toBeUndefined()
    expect((await receivedAfter(before)) - before).toBe(PRICE_UNITS)
  })

  it('a call the origin fails is not paid, and the same payment then pays for a call that is served', async () => {
    const unpaid = await fetch(`${nginx.url}/api/fail`)
    expect(unpaid.status).toBe(402)
    const required = JSON.parse(
      Buffer.from(unpaid.headers.get('payment-required') as string, 'base64').toString('utf8')
    )
    const signature = Buffer.from(
      JSON.stringify(await client().createPaymentPayload(required))
    ).toString('base64')
    const before = await received()
    const failed = await fetch(`${nginx.url}/api/fail`, {
      headers: { 'payment-signature': signature },
    })
    expect(failed.status).toBe(503)
    // The follow-up releases the payment just after the 503 went out; until then it is in flight.
    const path = `/api/retry-${crypto.randomUUID()}`
    let served: Response | undefined
    for (let polls = 100; polls > 0 && !served; polls--) {
      const attempt = await fetch(`${nginx.url}${path}`, {
        headers: { 'payment-signature': signature },
      })
      if (
        attempt.status === 402 &&
        ((await attempt.clone().json()) as { error?: { code?: string } }).error?.code ===
          'payment_in_flight'
      ) {
        await new Promise((resolve) => setTimeout(resolve, 50))
        continue
      }
      served = attempt
    }
    expect(served?.status).toBe(200)
    expect(origin.hits.filter((hit) => hit.url === path)).toHaveLength(1)
    expect((await receivedAfter(before)) - before).toBe(PRICE_UNITS)
    // Spent now: a third use is refused, and nothing more moves.
    const third = await fetch(`${nginx.url}/api/third`, {
      headers: { 'payment-signature': signature },
    })
    expect(third.status).toBe(402)
    expect(await received()).toBe(before + PRICE_UNITS)
  })

  it('a client that hangs up on a paid stream after reading it still pays: x402 is settled on the status, as the gate settles it', async () => {
    const path = `/api/stream-${crypto.randomUUID()}`
    const unpaid = await fetch(`${nginx.url}${path}`)
    const required = JSON.parse(
      Buffer.from(unpaid.headers.get('payment-required') as string, 'base64').toString('utf8')
    )
    await unpaid.text()
    const signature = Buffer.from(
      JSON.stringify(await client().createPaymentPayload(required))
    ).toString('base64')
    const before = await received()
    const abort = new AbortController()
    const response = await fetch(`${nginx.url}${path}`, {
      headers: { 'payment-signature': signature },
      signal: abort.signal,
    })
    expect(response.status).toBe(200)
    await (response.body as ReadableStream<Uint8Array>).getReader().read()
    abort.abort()
    expect((await receivedAfter(before)) - before).toBe(PRICE_UNITS)
    origin.finishStream(path)
    // Spent: it cannot pay for another call.
    expect(
      (await fetch(`${nginx.url}/api/again`, { headers: { 'payment-signature': signature } }))
        .status
    ).toBe(402)
  })
})
