/**
 * @module gate/credit-sale
 * Selling credits for one x402 payment: the payment is checked, settled on chain,
 * and only then credited, exactly what was settled. Shared by `POST /credits/buy`
 * (gate/buy-credits) and the OAuth consent page (src/oauth), which both make a new
 * account from a sale; the top-up of an existing key stays in buy-credits.
 */
import { issueKey, type AccountView } from '../credits'
import type { Env } from '../env'
import type { X402Terms } from '../pricing'
import type { ResourceInfo, SettlementResponse } from '../x402'
import type { X402Refusal, X402Attempt } from './x402-payment'
import { acceptX402Payment } from './x402-rail'

export type Settled =
  | { ok: true; attempt: X402Attempt; settlement: SettlementResponse & { transaction: string } }
  | { ok: false; refusal: X402Refusal }
  | { ok: false; refusal: null; message: string }

/** Take one x402 payment of `micros` for `resource`, settled on chain (never dev mode, never unsettled). */
export async function settleSale(
  env: Env,
  terms: X402Terms,
  micros: number,
  resource: ResourceInfo,
  payment: unknown
): Promise<Settled> {
  const accepted = await acceptX402Payment({ env }, terms, micros, resource, payment)
  if (!accepted.ok) {
    if (accepted.refusal.rail === 'x402') return { ok: false, refusal: accepted.refusal.refusal }
    throw accepted.refusal.error
  }
  const sold = accepted.payment
  // The credits are what the sale delivers: settled first, then credited.
  const end = await sold.finish({ delivered: true })
  if (end.kind === 'refused') return { ok: false, refusal: end.refusal }
  const settlement = sold.settlement
  if (!settlement?.transaction) {
    // Credits are sold only for money that arrived, which has a transaction: not unsettled
    // (fail-open), not free-pass, not dev mode.
    return {
      ok: false,
      refusal: null,
      message: 'Credits can only be bought with a settled payment.',
    }
  }
  return {
    ok: true,
    attempt: sold.attempt,
    settlement: { ...settlement, transaction: settlement.transaction },
  }
}

/** A new key holding what a settled sale paid for. */
export async function issueSoldKey(
  env: Env,
  sale: Extract<Settled, { ok: true }>,
  micros: number
): Promise<{ key: string; view: AccountView } | null> {
  const issued = await issueKey(
    { accounts: env.CREDITS, index: env.KEY_INDEX },
    { name: `x402 ${sale.attempt.payer}`, credits: micros }
  )
  if (!issued.ok) {
    console.error(
      `pay-gate: PAID BUT NO KEY: x402 ${sale.settlement.transaction} from ${sale.attempt.payer}`
    )
    return null
  }
  return { key: issued.key, view: issued.view }
}
