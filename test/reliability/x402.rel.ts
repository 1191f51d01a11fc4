/**
 * x402 under load and under faults, against the real chain and the
 * fault-injecting facilitator (only this file switches its mode). After each
 * scenario: every payment settled on chain matches exactly one served call (or
 * one the payer was told is indeterminate), no authorization is settled twice,
 * none is left in flight, and nothing unpaid reached the origin.
 */
import type { PaymentRequired } from '@x402/core/types'
import type { x402Client } from '@x402/core/client'
import { env } from 'cloudflare:workers'
import { afterEach, describe, it } from 'vitest'
import { lockName, type PaymentRecord } from '../../src/x402'
import { clearFacilitatorCalls, facilitatorCalls, payingClient, setFacilitatorMode } from '../chain/client'
import { createKey, GATE, keyState, originRequests } from '../helpers'
import { balanceOf, chain, client, decode, encode, freshPayTo, gateFetch, payerAddress, x402Block } from '../x402-helpers'
import { bounded, checkPaymentEvents, faultRequests, Tally } from './harness'
import type { Address } from 'viem'
import { generatePrivateKey } from 'viem/accounts'

const PAYERS = [0, 1, 2, 3]
const PRICE = 10_000n // $0.01 in the token's 6 decimals
const payTo = freshPayTo()

type Mode = 'normal' | 'down' | 'unavailable' | 'slow' | 'settle-fails'
const mode = (name: Mode, delayMs?: number) => setFacilitatorMode(chain().faultyControlUrl, name, delayMs)

async function useRoutes(failMode: 'open' | 'closed', facilitator: Record<string, unknown> = {}): Promise<void> {
  const x402 = {
    ...x402Block(payTo, { failMode, facilitator: { url: chain().faultyFacilitatorUrl, verifyTimeoutMs: 1_000, settleTimeoutMs: 1_000, ...facilitator } }),
    buyCredits: { min: '0.1', max: '10' },
  }
  const mcp = { price: '0.001', tools: { search: '0.01' } }
  const routes = [
    { path: '/api/*', origin: env.API_ORIGIN, price: '0.01', accept: ['x402'] },
    { path: '/fault/http/*', origin: env.FAULT_ORIGIN, price: '0.01', accept: ['x402'], timeoutMs: 300 },
    { path: '/fault/mcp/*', origin: env.FAULT_ORIGIN, mcp, accept: ['x402'], timeoutMs: 300 },
    { path: '/mcp-json', origin: env.MCP_ORIGIN, mcp, accept: ['x402'] },
  ]
  await env.ROUTES.put('pay-gate/routes', JSON.stringify({ version: 1, x402, routes }))
}

interface Payment {
  payload: Record<string, unknown>
  header: string
  nonce: string
}

function paymentOf(payload: Record<string, unknown>): Payment {
  const nonce = (payload.payload as { authorization: { nonce: string } }).authorization.nonce.toLowerCase()
  return { payload, header: encode(payload), nonce }
}

/** A payment for GET `path`, signed by the real x402 client from the gate's own 402. */
async function httpPayment(path: string, signer: x402Client): Promise<Payment> {
  const unpaid = await gateFetch(`${GATE}${path}`)
  await unpaid.text()
  const required = decode<PaymentRequired>(unpaid.headers.get('payment-required'))
  return paymentOf((await signer.createPaymentPayload(required)) as unknown as Record<string, unknown>)
}

const search = (id: number, meta?: unknown) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'search', arguments: { query: 'x402' }, ...(meta ? { _meta: meta } : {}) },
})
const mcpInit = (body: unknown, tag = 'none'): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'x-test-tag': tag },
  body: JSON.stringify(body),
})

/** A payment for a tools/call of `search` on an MCP `path`, from the gate's in-band PaymentRequired. */
async function mcpPayment(path: string, signer: x402Client): Promise<Payment> {
  const unpaid = (await (await gateFetch(`${GATE}${path}`, mcpInit(search(1)))).json()) as { result: { structuredContent: PaymentRequired } }
  return paymentOf((await signer.createPaymentPayload(unpaid.result.structuredContent)) as unknown as Record<string, unknown>)
}

async function paidGet(path: string, payment: Payment, tag: string): Promise<{ status: number; text: string; broken: boolean; settled: boolean }> {
  const response = await gateFetch(`${GATE}${path}`, { headers: { 'payment-signature': payment.header, 'x-test-tag': tag } })
  const settled = response.headers.get('payment-response') !== null && decode<{ success: boolean }>(response.headers.get('payment-response')).success
  try {
    return { status: response.status, text: await response.text(), broken: false, settled }
  } catch {
    return { status: response.status, text: '', broken: true, settled }
  }
}

/** Every record of every payer's PaymentLock. */
async function lockRecords(payers: Address[]): Promise<PaymentRecord[]> {
  const { network, token } = chain()
  const lists = await Promise.all(payers.map((payer) => env.X402_LOCKS.getByName(lockName(network, token.address, payer)).list(1000)))
  return lists.flat()
}

type Call = { path: string; body?: { paymentPayload?: { payload?: { authorization?: { nonce?: string } } } }; response?: { success?: boolean; transaction?: string } }

/**
 * The x402 invariants since the facilitator's log was last cleared:
 * - nothing is left in flight;
 * - no authorization is settled twice, and no transaction is recorded twice;
 * - the payments settled are exactly the ones the client counted as served (plus any it was told are indeterminate);
 * - payTo received exactly their sum on chain;
 * - each served call's settlement has exactly one `charged` x402 usage event naming its transaction
 *   (not for credit purchases, `calls: false`, which are top-ups rather than calls).
 */
async function checkX402(
  tally: Tally,
  scenario: string,
  expected: { served: string[]; indeterminate?: string[]; payers: Address[]; before: bigint; price?: bigint; calls?: false }
): Promise<void> {
  const records = await lockRecords(expected.payers)
  tally.check(records.every((r) => r.state !== 'in_flight'), `${scenario}: no authorization left in flight (${records.filter((r) => r.state === 'in_flight').map((r) => r.nonce.slice(0, 10)).join(', ')})`)
  const settles = ((await facilitatorCalls(chain().faultyControlUrl)) as Call[]).filter((c) => c.path === '/settle' && c.response?.success === true)
  const settledNonces = settles.map((c) => c.body?.paymentPayload?.payload?.authorization?.nonce?.toLowerCase() ?? '?')
  tally.equal(new Set(settledNonces).size, settledNonces.length, `${scenario}: no authorization settled twice`)
  const transactions = settles.map((c) => c.response?.transaction)
  tally.equal(new Set(transactions).size, transactions.length, `${scenario}: every settlement is its own transaction`)
  const allowed = new Set([...expected.served, ...(expected.indeterminate ?? [])])
  tally.check(settledNonces.every((nonce) => allowed.has(nonce)), `${scenario}: every settled payment is a served call`)
  tally.check(expected.served.every((nonce) => settledNonces.includes(nonce)), `${scenario}: every served call was settled`)
  const gateSettled = records.filter((r) => r.state === 'settled').map((r) => r.nonce)
  tally.check(expected.served.every((nonce) => gateSettled.includes(nonce)), `${scenario}: the lock records every served call as settled`)
  const received = (await balanceOf(payTo)) - expected.before
  tally.equal(received, (expected.price ?? PRICE) * BigInt(settledNonces.length), `${scenario}: payTo received exactly the settled payments`)
  if (expected.calls !== false) {
    const servedSettles = settles.filter((c) => expected.served.includes(c.body?.paymentPayload?.payload?.authorization?.nonce?.toLowerCase() ?? '?'))
    await checkPaymentEvents(tally, scenario, servedSettles.map((c) => ({ transaction: c.response?.transaction ?? '?', micros: Number(expected.price ?? PRICE) })))
  }
}

afterEach(async () => {
  await mode('normal')
})

describe('x402 under load', () => {
  it('32 paid calls from 4 payers, each signature sent 4 times at once: one served and settled per signature', async ({ task }) => {
    const tally = new Tally(task)
    await useRoutes('closed')
    await clearFacilitatorCalls(chain().faultyControlUrl)
    const before = await balanceOf(payTo)
    const tag = crypto.randomUUID()
    const served: string[] = []
    const jobs = Array.from({ length: 32 }, (_, i) => ({ payer: PAYERS[i % PAYERS.length] as number, mcp: i % 4 === 3 }))
    await bounded(jobs, 8, async ({ payer, mcp }, i) => {
      const signer = client(payer)
      const payment = mcp ? await mcpPayment('/mcp-json', signer) : await httpPayment(`/api/paid/${i}`, signer)
      tally.call()
      const attempts = await Promise.all(
        Array.from({ length: 4 }, async () => {
          tally.call()
          if (!mcp) return (await paidGet(`/api/paid/${i}`, payment, tag)).status === 200
          const response = await gateFetch(`${GATE}/mcp-json`, mcpInit(search(i, { 'x402/payment': payment.payload }), tag))
          const message = (await response.json()) as { result?: { isError?: boolean } }
          return response.status === 200 && message.result?.isError !== true
        })
      )
      tally.equal(attempts.filter(Boolean).length, 1, `signature ${i}: served exactly once of 4`)
      if (attempts.some(Boolean)) served.push(payment.nonce)
      // And once more after it settled: refused.
      const replay = mcp ? null : await paidGet(`/api/paid/${i}`, payment, tag)
      if (replay) {
        tally.call()
        tally.check(replay.status === 402 && replay.text.includes('payment_already_used'), `signature ${i}: replay refused`)
      }
    })
    const seen = await originRequests(tag)
    tally.equal(seen.length, served.length, 'the origin saw each paid call once and no replay')
    tally.check(
      seen.every((r) => r.headers['payment-signature'] === undefined && !r.body.includes('x402/payment') && r.headers['x-pay-verified'] === 'true' && r.headers['x-pay-rail'] === 'x402'),
      'the origin got the gate\'s X-Pay-* and never the payment itself'
    )
    await checkX402(tally, 'load', { served, payers: PAYERS.map(payerAddress), before })
    tally.assertClean()
  })
})

describe('buying credits with x402', () => {
  it('one payment sent 4 times at once credits once, to the key or as one new key; a replay credits nothing', async ({ task }) => {
    const tally = new Tally(task)
    await useRoutes('closed')
    await clearFacilitatorCalls(chain().faultyControlUrl)
    const before = await balanceOf(payTo)
    const signer = client(2)
    const served: string[] = []
    const buy = (payment: Payment | undefined, key?: string) =>
      gateFetch(`${GATE}/credits/buy`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(payment ? { 'payment-signature': payment.header } : {}), ...(key ? { 'x-api-key': key } : {}) },
        body: JSON.stringify({ credits: '0.25' }),
      })
    const payment = async () => {
      const unpaid = await buy(undefined)
      await unpaid.text()
      return paymentOf((await signer.createPaymentPayload(decode<PaymentRequired>(unpaid.headers.get('payment-required')))) as unknown as Record<string, unknown>)
    }
    const target = await createKey('1')
    for (const key of [target.key, undefined]) {
      const paid = await payment()
      const answers = await Promise.all(Array.from({ length: 4 }, async () => {
        const response = await buy(paid, key)
        tally.call()
        return { status: response.status, body: (await response.json()) as { key?: string } }
      }))
      const credited = answers.filter((a) => a.status === 200 || a.status === 201)
      tally.equal(credited.length, 1, `${key ? 'top-up' : 'new key'}: credited once of 4`)
      tally.check(answers.every((a) => [200, 201, 402].includes(a.status)), `${key ? 'top-up' : 'new key'}: the others refused with 402`)
      if (credited.length > 0) served.push(paid.nonce)
      const replay = await buy(paid, key)
      tally.call()
      tally.equal(replay.status, 402, `${key ? 'top-up' : 'new key'}: a later replay is refused`)
      await replay.text()
    }
    tally.equal((await keyState(target.id)).credits, '1.25', 'the key holds its grant plus one purchase')
    await checkX402(tally, 'buy credits', { served, payers: [payerAddress(2)], before, price: 250_000n, calls: false })
    tally.assertClean()
  })
})

describe('x402 faults', () => {
  it('facilitator down, unavailable, slow or refusing to settle; origin failing: never paid without service, retry paid once', async ({ task }) => {
    const tally = new Tally(task)
    const payer = 0
    const signer = client(payer)
    await useRoutes('closed')
    await clearFacilitatorCalls(chain().faultyControlUrl)
    const before = await balanceOf(payTo)
    const served: string[] = []
    const indeterminate: string[] = []
    const tag = crypto.randomUUID()
    let reachOrigin = 0

    /** The same payment again, once the fault is gone: served and paid exactly once. */
    const retry = async (what: string, payment: Payment, path = '/fault/http/ok') => {
      await mode('normal')
      const again = await paidGet(path, payment, tag)
      tally.call()
      reachOrigin++
      tally.check(again.status === 200 && again.settled, `${what}: the same payment is served and paid once the fault is gone`)
      if (again.status === 200) served.push(payment.nonce)
    }

    // The facilitator cannot be asked: 503, the origin is not called, the authorization is released.
    for (const [what, fault] of [['facilitator down', () => mode('down')], ['facilitator 503', () => mode('unavailable')], ['verify too slow', () => mode('slow', 1_500)]] as const) {
      const payment = await httpPayment('/fault/http/ok', signer)
      await fault()
      const refused = await paidGet('/fault/http/ok', payment, tag)
      tally.call()
      tally.fault()
      tally.check(refused.status === 503 && !refused.settled, `${what}: 503 and nothing settled (got ${refused.status})`)
      await retry(what, payment)
    }

    // Verify ok, then settle fails: the origin served, the caller gets the payment error, not the content.
    {
      const payment = await httpPayment('/api/settle-fails', signer)
      await mode('settle-fails')
      const refused = await paidGet('/api/settle-fails', payment, tag)
      tally.call()
      tally.fault()
      reachOrigin++
      tally.check(refused.status === 402 && !refused.text.includes('"query"'), `settle fails: 402 and the content withheld (got ${refused.status})`)
      await retry('settle fails', payment, '/api/settle-fails')
    }

    // Settle slower than its timeout: indeterminate. Content withheld, the authorization stays spent
    // (the slow facilitator still settles after the gate gave up: the payer paid for a call not served).
    {
      const payment = await httpPayment('/api/slow-settle', signer)
      await useRoutes('closed', { verifyTimeoutMs: 5_000, settleTimeoutMs: 400 })
      await mode('slow', 1_000)
      const refused = await paidGet('/api/slow-settle', payment, tag)
      tally.call()
      tally.fault()
      reachOrigin++
      tally.check(refused.status === 503 && refused.text.includes('settlement_indeterminate'), `slow settle: 503 settlement_indeterminate (got ${refused.status})`)
      indeterminate.push(payment.nonce)
      await mode('normal')
      await useRoutes('closed')
      const replay = await paidGet('/api/slow-settle', payment, tag)
      tally.call()
      tally.check(replay.status === 402 && replay.text.includes('payment_already_used'), 'slow settle: the payment cannot be used again')
      await new Promise((resolve) => setTimeout(resolve, 1_200))
    }

    // The origin fails: nothing settled, the authorization released, so the same payment pays for a retry.
    for (const [fault, status] of [['error', 500], ['reset', 502], ['hang', 504]] as const) {
      const payment = await httpPayment(`/fault/http/${fault}`, signer)
      const failed = await paidGet(`/fault/http/${fault}`, payment, tag)
      tally.call()
      tally.fault()
      reachOrigin++
      tally.check(failed.status === status && !failed.settled, `origin ${fault}: ${status} and nothing settled (got ${failed.status})`)
      await retry(`origin ${fault}`, payment)
    }

    // The origin breaks the body off after its headers: x402 settles on the headers (documented), so it is paid.
    {
      const payment = await httpPayment('/fault/http/cut', signer)
      const cut = await paidGet('/fault/http/cut', payment, tag)
      tally.call()
      tally.fault()
      reachOrigin++
      tally.check(cut.status === 200 && cut.settled && cut.broken, 'cut body: settled on the headers, then the body broke (documented)')
      if (cut.settled) served.push(payment.nonce)
    }

    const atOrigin = (await originRequests(tag)).length + (await faultRequests(tag)).length
    tally.equal(atOrigin, reachOrigin, 'the origins saw exactly the calls that passed the payment checks')
    await checkX402(tally, 'faults', { served, indeterminate, payers: [payerAddress(payer)], before })
    tally.assertClean()
  })

  it('MCP: an answer broken off or never sent is not paid for, and its authorization is not left in flight', async ({ task }) => {
    const tally = new Tally(task)
    const payer = 1
    const signer = client(payer)
    await useRoutes('closed')
    await clearFacilitatorCalls(chain().faultyControlUrl)
    const before = await balanceOf(payTo)
    const served: string[] = []
    for (const [endpoint, paid] of [['json', true], ['sse', true], ['sse-cut-before-answer', false], ['json-chunked-cut', false], ['error', false], ['json-cut', false]] as const) {
      const payment = await mcpPayment(`/fault/mcp/${endpoint}`, signer)
      const response = await gateFetch(`${GATE}/fault/mcp/${endpoint}`, mcpInit(search(7, { 'x402/payment': payment.payload })))
      let text = ''
      try {
        text = await response.text()
      } catch {
        text = '(broken)'
      }
      tally.call()
      if (!paid) tally.fault()
      const answered = text.includes('x402/payment-response') && text.includes('"success":true')
      tally.equal(answered, paid, `${endpoint}: paid`)
      tally.check(!(response.status === 500 && text.includes('internal_error')), `${endpoint}: no internal error (got ${response.status} ${text.slice(0, 80)})`)
      if (answered) served.push(payment.nonce)
    }
    await checkX402(tally, 'mcp faults', { served, payers: [payerAddress(payer)], before })
    tally.assertClean()
  })
})

describe('x402 payments the facilitator cannot read', () => {
  // A payer with a valid signature but no funds pads the payment until the facilitator refuses to
  // read it (this facilitator: bodies over 1 MB; express.json's default is 100 kB). The padding sits
  // in `extensions`, which the gate forwards untouched. The facilitator's 4xx must not be mistaken
  // for "unreachable", or failMode "open" serves the call free.
  const unfunded = () => payingClient({ network: chain().network as `${string}:${string}`, asset: chain().token.address as Address, privateKey: generatePrivateKey() })

  for (const failMode of ['open', 'closed'] as const) {
    it(`failMode ${failMode}: an oversized payment from an empty wallet is refused (4xx) and never served`, async ({ task }) => {
      const tally = new Tally(task)
      await useRoutes(failMode)
      const tag = crypto.randomUUID()
      const payment = await mcpPayment('/mcp-json', unfunded())
      const padded = { ...payment.payload, extensions: { pad: 'x'.repeat(1_010_000) } }
      const response = await gateFetch(`${GATE}/mcp-json`, mcpInit(search(9, { 'x402/payment': padded }), tag))
      const text = await response.text()
      tally.call()
      tally.fault()
      const calls = (await originRequests(tag)).filter((r) => r.body.includes('tools/call'))
      tally.equal(calls.length, 0, `failMode ${failMode}: the unpaid call never reaches the origin (x-pay-verified: ${calls[0]?.headers['x-pay-verified']})`)
      tally.check(!text.includes('Result 1 for'), `failMode ${failMode}: no content for an unpaid call`)
      tally.check(response.status < 500 && !text.includes('facilitator_unavailable'), `failMode ${failMode}: refused as the caller's fault, not as an outage (got ${response.status} ${text.slice(0, 120)})`)
      tally.assertClean()
    })
  }
})
