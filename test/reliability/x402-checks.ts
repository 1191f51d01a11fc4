/**
 * The x402 scenarios' checks (test/reliability/x402.rel.ts), read from the
 * payers' PaymentLock records, the faulty facilitator's log and the chain, so
 * nothing the gate says about itself is trusted.
 */
import { env } from 'cloudflare:workers'
import type { Address } from 'viem'
import { lockName, type PaymentRecord } from '../../src/x402'
import { facilitatorCalls } from '../chain/client'
import { balanceOf, chain } from '../x402-helpers'
import { checkPaymentEvents, type Tally } from './harness'
import { countTimeout, facilitatorSettled, TIMEOUT_ENDINGS, type X402Answer } from './x402-endings'

/** Every record of every payer's PaymentLock. */
export async function lockRecords(payers: Address[]): Promise<PaymentRecord[]> {
  const { network, token } = chain()
  const lists = await Promise.all(
    payers.map((payer) =>
      env.X402_LOCKS.getByName(lockName(network, token.address, payer)).list(1000)
    )
  )
  return lists.flat()
}

type Call = {
  path: string
  body?: { paymentPayload?: { payload?: { authorization?: { nonce?: string } } } }
  response?: { success?: boolean; transaction?: string }
}

/**
 * The x402 invariants since the facilitator's log was last cleared:
 * - nothing is left in flight;
 * - no authorization is settled twice, and no transaction is recorded twice;
 * - the payments settled are exactly the ones the client counted as served (plus any it was told are
 *   indeterminate: a settle that timed out, test/reliability/x402-endings.ts);
 * - payTo received exactly their sum on chain;
 * - each served call's settlement has exactly one `charged` x402 usage event naming its transaction
 *   (not for credit purchases, `calls: false`, which are top-ups rather than calls).
 */
export async function checkX402(
  tally: Tally,
  scenario: string,
  expected: {
    served: string[]
    indeterminate?: string[]
    payTo: Address
    price: bigint
    payers: Address[]
    before: bigint
    calls?: false
  }
): Promise<void> {
  // A settle the gate gave up on (indeterminate) may still be running at the facilitator: wait for its answer.
  await facilitatorSettled(expected.indeterminate ?? [])
  const records = await lockRecords(expected.payers)
  tally.check(
    records.every((r) => r.state !== 'in_flight'),
    `${scenario}: no authorization left in flight (${records
      .filter((r) => r.state === 'in_flight')
      .map((r) => r.nonce.slice(0, 10))
      .join(', ')})`
  )
  const settles = ((await facilitatorCalls(chain().faultyControlUrl)) as Call[]).filter(
    (c) => c.path === '/settle' && c.response?.success === true
  )
  const settledNonces = settles.map(
    (c) => c.body?.paymentPayload?.payload?.authorization?.nonce?.toLowerCase() ?? '?'
  )
  tally.equal(
    new Set(settledNonces).size,
    settledNonces.length,
    `${scenario}: no authorization settled twice`
  )
  const transactions = settles.map((c) => c.response?.transaction)
  tally.equal(
    new Set(transactions).size,
    transactions.length,
    `${scenario}: every settlement is its own transaction`
  )
  const allowed = new Set([...expected.served, ...(expected.indeterminate ?? [])])
  tally.check(
    settledNonces.every((nonce) => allowed.has(nonce)),
    `${scenario}: every settled payment is a served call`
  )
  tally.check(
    expected.served.every((nonce) => settledNonces.includes(nonce)),
    `${scenario}: every served call was settled`
  )
  const gateSettled = records.filter((r) => r.state === 'settled').map((r) => r.nonce)
  tally.check(
    expected.served.every((nonce) => gateSettled.includes(nonce)),
    `${scenario}: the lock records every served call as settled`
  )
  const received = (await balanceOf(expected.payTo)) - expected.before
  tally.equal(
    received,
    expected.price * BigInt(settledNonces.length),
    `${scenario}: payTo received exactly the settled payments`
  )
  if (expected.calls !== false) {
    const servedSettles = settles.filter((c) =>
      expected.served.includes(
        c.body?.paymentPayload?.payload?.authorization?.nonce?.toLowerCase() ?? '?'
      )
    )
    await checkPaymentEvents(
      tally,
      scenario,
      servedSettles.map((c) => ({
        transaction: c.response?.transaction ?? '?',
        micros: Number(expected.price),
      }))
    )
  }
}

/**
 * Checks the answers to one payment's concurrent uses. Each is served, refused because another use
 * holds or spent the authorization, or (under load) a timeout's ending; at most one use spends it
 * (served or indeterminate), and exactly one is served unless a timeout decided one of them.
 * Returns whether the authorization is spent.
 */
export function checkUses(
  tally: Tally,
  what: string,
  answers: X402Answer[],
  ledger: { served: string[]; indeterminate: string[] },
  nonce: string
): boolean {
  const served = answers.filter((a) => a.ending === 'served').length
  const spent = served + answers.filter((a) => a.ending === 'indeterminate').length
  const timeouts = answers.filter((a) => TIMEOUT_ENDINGS.has(a.ending))
  for (const answer of timeouts) countTimeout(tally, answer)
  const odd = answers.filter(
    (a) =>
      !(
        a.ending === 'served' ||
        TIMEOUT_ENDINGS.has(a.ending) ||
        (a.ending === 'refused' && /^payment_(in_flight|already_used)$/.test(a.reason ?? ''))
      )
  )
  tally.check(
    odd.length === 0,
    `${what}: each use served, refused as in flight or used, or a timeout's ending (got ${odd.map((a) => `${a.ending} ${a.reason ?? ''}`).join(', ')})`
  )
  tally.check(
    spent <= 1,
    `${what}: the authorization spent at most once (${served} served, ${spent - served} indeterminate)`
  )
  if (timeouts.length === 0)
    tally.equal(served, 1, `${what}: served exactly once of ${answers.length}`)
  if (served > 0) ledger.served.push(nonce)
  else if (spent > 0) ledger.indeterminate.push(nonce)
  return spent > 0
}
