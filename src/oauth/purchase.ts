/**
 * @module oauth/purchase
 * (b) on the consent page, the x402 half: buying credits with one x402 payment
 * makes the account the client's calls are paid from, as `POST /credits/buy` does
 * for a key (gate/credit-sale). The page shows the payment requirements (the
 * PAYMENT-REQUIRED value, x402 v2 over HTTP); the person's wallet signs them and
 * the PAYMENT-SIGNATURE value is sent back in the form. The consent handle is used
 * before any money moves, so a payment is taken only for an authorization that
 * can complete. By card, the page links to Stripe Checkout without a key
 * (/stripe/buy, in its own tab), which shows the new key once; the person then
 * signs in with it on this page, as with any key.
 */
import { formatDollars, parseDollars } from '../money'
import type { PriceTable, X402Terms } from '../pricing'
import { issueSoldKey, requiredFor, settleSale } from '../gate'
import type { Env } from '../env'
import { decodeHeader, encodeHeader, type ResourceInfo } from '../x402'
import { hashApiKey } from '../credits'
import type { SignedIn } from './grants'

export interface Offer {
  terms: X402Terms
  minMicros: number
  maxMicros: number
}

/** What can be bought here: x402 credit sales enabled, never in dev mode (its payments never settle). */
export function offerOf(table: PriceTable): Offer | undefined {
  const terms = table.x402
  if (!terms || terms.mode === 'dev' || !table.buyCredits) return undefined
  return { terms, ...table.buyCredits }
}

/** The amount asked for, within the offer's bounds; undefined otherwise. */
export function amountOf(offer: Offer, text: unknown): number | undefined {
  const parsed = typeof text === 'string' ? parseDollars(text.trim()) : undefined
  if (!parsed?.ok || parsed.micros < offer.minMicros || parsed.micros > offer.maxMicros)
    return undefined
  return parsed.micros
}

/** The same resource `POST /credits/buy` sells under: a payment for one is a payment for the other. */
export function saleResource(origin: string, micros: number): ResourceInfo {
  return {
    url: `${origin}/credits/buy?credits=${formatDollars(micros)}`,
    description: `$${formatDollars(micros)} of pay-gate credits`,
  }
}

/** The PAYMENT-REQUIRED value for buying `micros` of credits. */
export function paymentRequiredFor(offer: Offer, origin: string, micros: number): string {
  return encodeHeader(
    requiredFor(
      offer.terms,
      micros,
      saleResource(origin, micros),
      'Pay with x402 to buy these credits'
    )
  )
}

export type Bought =
  { ok: true; who: SignedIn; transaction: string; key: string } | { ok: false; message: string }

/** Settle the payment and make the account; the key is kept for the one page that may show it. */
export async function buyAccount(
  env: Env,
  offer: Offer,
  origin: string,
  micros: number,
  payment: string
): Promise<Bought> {
  const decoded = decodeHeader(payment.trim())
  if (decoded === null || decoded === undefined)
    return { ok: false, message: 'That is not an x402 payment (a PAYMENT-SIGNATURE value).' }
  const sale = await settleSale(env, offer.terms, micros, saleResource(origin, micros), decoded)
  if (!sale.ok)
    return {
      ok: false,
      message: sale.refusal
        ? `The payment was refused (${sale.refusal.reason}): ${sale.refusal.message}`
        : sale.message,
    }
  const issued = await issueSoldKey(env, sale, micros)
  if (!issued)
    return {
      ok: false,
      message: `Your payment settled (${sale.settlement.transaction}) but the account could not be made; contact the operator with this transaction.`,
    }
  const keyHash = await hashApiKey(issued.key)
  return {
    ok: true,
    who: { keyId: issued.view.id, keyHash, account: keyHash },
    transaction: sale.settlement.transaction,
    key: issued.key,
  }
}
