/**
 * @module admin/common
 * What the admin API's route files share: JSON bodies checked with zod, amounts as
 * decimal-dollar strings, finding a key's account by its admin id, and turning an
 * account's answer into a response.
 */
import type { Context } from 'hono'
import * as z from 'zod'
import { accountStub, indexStub, KEY_ID_PATTERN, type AdminResult } from '../credits'
import type { AppEnv, Env } from '../env'
import { GateError } from '../errors'
import { emitOperatorEvent, type OperatorEventType } from '../notify'
import { keyJson } from './views'

export { Dollars } from './dollars'

export async function parseJson<T>(c: Context<AppEnv>, schema: z.ZodType<T>): Promise<T> {
  let body: unknown
  try {
    body = await c.req.json()
  } catch {
    throw new GateError('invalid_request', 'The body must be JSON.')
  }
  const result = schema.safeParse(body)
  if (!result.success) {
    const issues = result.error.issues.map((issue) => ({
      path: issue.path.join('.') || '(body)',
      message: issue.message,
    }))
    throw new GateError(
      'invalid_request',
      `Invalid body: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      {
        details: { issues },
      }
    )
  }
  return result.data
}

/** The account object of the key with this admin id. */
export async function accountById(env: Env, id: string) {
  const indexed = KEY_ID_PATTERN.test(id) ? await indexStub(env.KEY_INDEX).get(id) : null
  if (!indexed) throw new GateError('not_found', `No key with id ${id}.`)
  return accountStub(env.CREDITS, indexed.hash)
}

export function answer(c: Context<AppEnv>, result: AdminResult): Response {
  if (result.ok)
    return c.json(
      result.duplicate ? { ...keyJson(result.view), duplicate: true } : keyJson(result.view)
    )
  switch (result.reason) {
    case 'invalid_api_key':
      throw new GateError('not_found', 'No such key.')
    case 'key_revoked':
      throw new GateError('key_revoked', 'The key is revoked; revocation is final.')
    case 'invalid_amount':
      throw new GateError('invalid_request', 'The amount is not valid.')
    case 'invalid_transition':
      throw new GateError('invalid_request', 'The key is not in a state that allows this.')
    case 'reference_conflict':
      throw new GateError(
        'idempotency_mismatch',
        'This Idempotency-Key was used for a top-up of another amount; nothing was credited.'
      )
  }
}

/** Tell the operator's webhook (if any) about a key event, after the response. */
export function emit(
  c: Context<AppEnv>,
  type: OperatorEventType,
  data: Record<string, unknown>
): void {
  emitOperatorEvent(c.env, type, data, (promise) => c.executionCtx.waitUntil(promise))
}
