/**
 * @module x402/requirements
 * What the gate asks to be paid, rebuilt from its own route table on every
 * request: a client's `accepted` copy is only ever compared against this, never
 * trusted as the price (x402 SDK `findMatchingRequirements`: every field equal
 * but `extra`, and our `extra` keys present with equal values in theirs).
 */
import { microsToAtomic } from '../money'
import type { X402Terms } from '../pricing'
import type { PaymentRequired, PaymentRequirements, ResourceInfo } from './wire'

/**
 * The `exact` requirements for a price on a route.
 * @throws RangeError if the price does not fit the asset (the schema refuses such tables)
 */
export function buildRequirements(terms: X402Terms, micros: number): PaymentRequirements {
  const atomic = microsToAtomic(micros, terms.asset.decimals)
  if (!atomic.ok) throw new RangeError(atomic.message)
  return {
    scheme: 'exact',
    network: terms.network,
    amount: atomic.atomic.toString(),
    asset: terms.asset.address,
    payTo: terms.payTo,
    maxTimeoutSeconds: terms.maxTimeoutSeconds,
    extra: { name: terms.asset.name, version: terms.asset.version },
  }
}

/** A PaymentRequired (x402-specification-v2 §5.1), with its extensions (such as bazaar) when there are any. */
export function paymentRequired(
  resource: ResourceInfo,
  accepts: PaymentRequirements[],
  error?: string,
  extensions?: Record<string, unknown>
): PaymentRequired {
  return {
    x402Version: 2,
    ...(error ? { error } : {}),
    resource,
    accepts,
    ...(extensions ? { extensions } : {}),
  }
}

const sameAddress = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()

/** Whether a client's `accepted` is our requirement (extra may carry more keys). */
export function matchesRequirements(
  ours: PaymentRequirements,
  theirs: PaymentRequirements
): boolean {
  if (
    ours.scheme !== theirs.scheme ||
    ours.network !== theirs.network ||
    ours.amount !== theirs.amount ||
    !sameAddress(ours.asset, theirs.asset) ||
    !sameAddress(ours.payTo, theirs.payTo) ||
    ours.maxTimeoutSeconds !== theirs.maxTimeoutSeconds
  ) {
    return false
  }
  for (const [key, value] of Object.entries(ours.extra ?? {})) {
    if (JSON.stringify(theirs.extra?.[key]) !== JSON.stringify(value)) return false
  }
  return true
}
