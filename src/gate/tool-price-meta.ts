/**
 * @module gate/tool-price-meta
 * What a tool's `_meta` says about its price in `tools/list`: our own
 * `pay-gate/price` entry, the x402 terms when the route takes x402, and the
 * `agents-x402/*` keys Cloudflare's agents client reads (protocols.md §A.7).
 */
import { formatDollars } from '../money'
import type { PaymentRails } from '../pricing'
import { buildRequirements } from '../x402'

export function toolPriceMeta(micros: number, rails: PaymentRails): Record<string, unknown> {
  const accepts = [...(rails.credits ? ['credits'] : []), ...(rails.x402 ? ['x402'] : [])]
  const price = { amount: formatDollars(micros), currency: 'USD', free: micros === 0, accepts }
  if (!rails.x402 || micros === 0) return { 'pay-gate/price': price }
  const requirements = buildRequirements(rails.x402, micros)
  return {
    'pay-gate/price': { ...price, x402: requirements },
    'agents-x402/paymentRequired': true,
    'agents-x402/priceUSD': formatDollars(micros),
  }
}
