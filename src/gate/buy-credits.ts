/**
 * @module gate/buy-credits
 * `POST /credits/buy {"credits":"5"}`: one x402 payment buys credits, so an agent
 * can pay on chain once and then make many cheap calls without a settlement each.
 * With an API key, the key is topped up; without one, a new key is issued and
 * shown once. The credited amount is exactly what was settled. The top-up is
 * referenced by the payment's nonce, so retrying it can never credit twice.
 */
import type { Context } from 'hono'
import { accountStub, hashApiKey, holderView, looksLikeApiKey, presentedKey } from '../credits'
import type { AppEnv } from '../env'
import { GateError } from '../errors'
import { formatDollars, parseDollars } from '../money'
import {
  encodeHeader,
  PAYMENT_RESPONSE_HEADER,
  V1_PAYMENT_HEADER,
  type ResourceInfo,
} from '../x402'
import { x402RefusalResponse } from './http-x402'
import { headerPayment } from './rails'
import type { RouteTables } from './route-table'
import { issueSoldKey, settleSale } from './credit-sale'
import type { X402Refusal } from './x402-payment'
import { unpaid } from './x402-rail'

async function requestedAmount(
  c: Context<AppEnv>,
  bounds: { minMicros: number; maxMicros: number }
): Promise<number> {
  let text = c.req.query('credits')
  if (text === undefined) {
    const body = (await c.req.json().catch(() => null)) as { credits?: unknown } | null
    text = typeof body?.credits === 'string' ? body.credits : undefined
  }
  const parsed = text === undefined ? undefined : parseDollars(text)
  if (!parsed?.ok || parsed.micros < bounds.minMicros || parsed.micros > bounds.maxMicros) {
    throw new GateError(
      'invalid_request',
      `Say how many credits to buy, from $${formatDollars(bounds.minMicros)} to $${formatDollars(bounds.maxMicros)}: {"credits":"5"}.`
    )
  }
  return parsed.micros
}

export function buyCreditsHandler(tables: RouteTables) {
  return async function buyCredits(c: Context<AppEnv>): Promise<Response> {
    const table = await tables(c.env)
    const terms = table.x402
    if (terms?.mode === 'dev') {
      // Dev mode checks payments and never settles them: a signature from an empty wallet would do.
      throw new GateError(
        'not_found',
        'Credits cannot be bought while x402 is in dev mode: dev-mode payments are never settled, and credits are sold only for a payment settled on chain.'
      )
    }
    if (!terms || !table.buyCredits)
      throw new GateError('not_found', 'Buying credits with x402 is not enabled here.')
    const micros = await requestedAmount(c, table.buyCredits)
    const url = new URL(c.req.url)
    const resource: ResourceInfo = {
      url: `${url.origin}/credits/buy?credits=${formatDollars(micros)}`,
      description: `$${formatDollars(micros)} of pay-gate credits`,
    }

    // The key to credit must be valid before any money is taken.
    const presented = presentedKey(c.req.raw.headers)
    let keyHash: string | undefined
    if (presented.kind === 'key') {
      if (!looksLikeApiKey(presented.key))
        throw new GateError('invalid_api_key', 'The API key is not valid.')
      // The account the key opens (after a rotation, not the key's own object).
      const view = await holderView(c.env.CREDITS, await hashApiKey(presented.key))
      if (!view) throw new GateError('invalid_api_key', 'The API key is not valid.')
      keyHash = view.name
      if (view.account.status === 'revoked')
        throw new GateError('key_revoked', 'The API key has been revoked.')
    }

    const refused = (refusal: X402Refusal) => x402RefusalResponse(refusal, { credits: false })
    const offered = headerPayment(c.req.raw.headers)
    if (!offered.present)
      return refused(
        unpaid(
          terms,
          micros,
          resource,
          c.req.raw.headers.has(V1_PAYMENT_HEADER),
          'Pay with x402 (PAYMENT-SIGNATURE) to buy these credits'
        )
      )
    const sale = await settleSale(c.env, terms, micros, resource, offered.decoded)
    if (!sale.ok) {
      if (!sale.refusal) throw new GateError('invalid_request', sale.message)
      return refused(sale.refusal)
    }
    const { attempt } = sale
    const settlement = sale.settlement
    const headers = {
      [PAYMENT_RESPONSE_HEADER]: encodeHeader(settlement),
      'cache-control': 'no-store',
    }
    const label = `x402 ${settlement.transaction} from ${attempt.payer}`
    if (keyHash) {
      const reference = `x402:${attempt.lock}:${attempt.nonce}`
      let result
      for (let tries = 0; tries < 3 && !result?.ok; tries++) {
        result = await accountStub(c.env.CREDITS, keyHash)
          .topUp(micros, label, reference)
          .catch(() => undefined)
      }
      if (!result?.ok) {
        console.error(
          `pay-gate: PAID BUT NOT CREDITED: ${label}, ${formatDollars(micros)} for key ${keyHash}`
        )
        throw new GateError(
          'ledger_unavailable',
          `Your payment settled (${settlement.transaction}) but the credits could not be added yet; contact the operator with this transaction.`
        )
      }
      return c.json(
        {
          added: formatDollars(micros),
          credits: formatDollars(result.view.available),
          transaction: settlement.transaction,
        },
        200,
        headers
      )
    }
    const issued = await issueSoldKey(c.env, sale, micros)
    if (!issued) throw new GateError('internal_error', 'The key could not be issued.')
    return c.json(
      {
        key: issued.key,
        id: issued.view.id,
        credits: formatDollars(issued.view.available),
        transaction: settlement.transaction,
      },
      201,
      headers
    )
  }
}
