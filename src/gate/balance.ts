/**
 * @module gate/balance
 * `GET /balance`: a key holder reads their own credits, with the same key they
 * pay with. Never reveals whether an unknown key exists beyond "not valid".
 */
import type { Context } from 'hono'
import { balanceJson } from '../admin'
import { hashApiKey, holderView, looksLikeApiKey, presentedKey } from '../credits'
import type { AppEnv } from '../env'
import { GateError } from '../errors'

export async function balanceHandler(c: Context<AppEnv>): Promise<Response> {
  const presented = presentedKey(c.req.raw.headers)
  if (presented.kind === 'none')
    throw new GateError('missing_api_key', 'Send your API key to read its balance.')
  if (!looksLikeApiKey(presented.key))
    throw new GateError('invalid_api_key', 'The API key is not valid.')
  let view
  try {
    view = await holderView(c.env.CREDITS, await hashApiKey(presented.key))
  } catch {
    throw new GateError('ledger_unavailable', 'The balance cannot be read right now.')
  }
  if (!view) throw new GateError('invalid_api_key', 'The API key is not valid.')
  return c.json(balanceJson(view.account), 200, { 'cache-control': 'no-store' })
}
