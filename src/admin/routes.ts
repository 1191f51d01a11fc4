/**
 * @module admin/routes
 * The admin API under /admin: create, list, read, top up, suspend, resume and
 * revoke keys, each raising an operator webhook event (notify); the dashboard
 * at /admin/ui (admin/ui). Balances are read from and written to each key's own account
 * object only; the index just lists ids and names. Amounts are decimal-dollar strings.
 */
import { Hono, type Context } from 'hono'
import { z } from 'zod'
import { accountStub, indexStub, issueKey, type AdminResult, type KeyStatus } from '../credits'
import type { AppEnv, Env } from '../env'
import { GateError } from '../errors'
import { formatDollars, parseDollars } from '../money'
import { emitOperatorEvent, type OperatorEventType } from '../notify'
import { adminAuth } from './auth'
import { adminUi } from './ui/routes'
import { keyJson, ledgerJson } from './views'

const Dollars = z
  .string({ error: 'expected a decimal-dollar string such as "10" or "0.50"' })
  .transform((text, ctx) => {
    const parsed = parseDollars(text)
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', message: parsed.message })
      return z.NEVER
    }
    return parsed.micros
  })

const RateLimit = z.strictObject({
  limit: z.int().min(1).max(1_000_000),
  windowSeconds: z.int().min(1).max(86_400),
})

const CreateKey = z.strictObject({
  name: z.string().trim().min(1).max(200),
  credits: Dollars.default(0),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
  rateLimit: RateLimit.optional(),
})

const TopUp = z.strictObject({
  credits: Dollars.refine((micros) => micros > 0, { error: 'a top-up must be more than 0' }),
  note: z.string().max(200).optional(),
})

async function parseJson<T>(c: Context<AppEnv>, schema: z.ZodType<T>): Promise<T> {
  let body: unknown
  try {
    body = await c.req.json()
  } catch {
    throw new GateError('invalid_request', 'The body must be JSON.')
  }
  const result = schema.safeParse(body)
  if (!result.success) {
    const issues = result.error.issues.map((issue) => ({ path: issue.path.join('.') || '(body)', message: issue.message }))
    throw new GateError('invalid_request', `Invalid body: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, {
      details: { issues },
    })
  }
  return result.data
}

/** The account object of the key with this admin id. */
async function accountById(env: Env, id: string) {
  const indexed = /^key_[a-z2-7]{20}$/.test(id) ? await indexStub(env.KEY_INDEX).get(id) : null
  if (!indexed) throw new GateError('not_found', `No key with id ${id}.`)
  return accountStub(env.CREDITS, indexed.hash)
}

function answer(c: Context<AppEnv>, result: AdminResult): Response {
  if (result.ok) return c.json(keyJson(result.view))
  switch (result.reason) {
    case 'invalid_api_key':
      throw new GateError('not_found', 'No such key.')
    case 'key_revoked':
      throw new GateError('key_revoked', 'The key is revoked; revocation is final.')
    case 'invalid_amount':
      throw new GateError('invalid_request', 'The amount is not valid.')
    case 'invalid_transition':
      throw new GateError('invalid_request', 'The key is not in a state that allows this.')
  }
}

/** Tell the operator's webhook (if any) about a key event, after the response. */
function emit(c: Context<AppEnv>, type: OperatorEventType, data: Record<string, unknown>): void {
  emitOperatorEvent(c.env, type, data, (promise) => c.executionCtx.waitUntil(promise))
}

/** The /admin sub-app. */
export function adminRoutes(): Hono<AppEnv> {
  const admin = new Hono<AppEnv>()
  // The dashboard first: it shows a login form, so it does its own auth.
  admin.route('/ui', adminUi())
  admin.use('*', adminAuth())

  admin.post('/keys', async (c) => {
    const input = await parseJson(c, CreateKey)
    const expiresAt = input.expiresAt ? Date.parse(input.expiresAt) : null
    if (expiresAt !== null && expiresAt <= Date.now()) {
      throw new GateError('invalid_request', 'expiresAt must be in the future.')
    }
    const issued = await issueKey(
      { accounts: c.env.CREDITS, index: c.env.KEY_INDEX },
      { name: input.name, credits: input.credits, expiresAt, rateLimit: input.rateLimit ?? null }
    )
    if (!issued.ok) return answer(c, issued)
    const { key } = issued
    emit(c, 'key.created', { key: keyJson(issued.view) })
    // The only time the key itself is ever shown.
    return c.json({ ...keyJson(issued.view), key }, 201)
  })

  admin.get('/keys', async (c) => {
    const limit = Math.min(100, Math.max(1, Number(c.req.query('limit') ?? '50') || 50))
    const after = c.req.query('after')
    const page = await indexStub(c.env.KEY_INDEX).list(limit, after)
    const keys = await Promise.all(
      page.map(async (entry) => {
        const view = await accountStub(c.env.CREDITS, entry.hash).view()
        return view ? keyJson(view.account) : { id: entry.id, name: entry.name, status: 'unknown' }
      })
    )
    return c.json({ keys, next: page.length === limit ? page.at(-1)?.id ?? null : null })
  })

  admin.get('/keys/:id', async (c) => {
    const limit = Math.min(1000, Math.max(0, Number(c.req.query('ledger') ?? '50') || 0))
    const view = await (await accountById(c.env, c.req.param('id'))).view(limit)
    if (!view) throw new GateError('not_found', 'No such key.')
    return c.json({ ...keyJson(view.account), ledger: view.ledger.map(ledgerJson) })
  })

  admin.post('/keys/:id/topup', async (c) => {
    const input = await parseJson(c, TopUp)
    const account = await accountById(c.env, c.req.param('id'))
    const result = await account.topUp(input.credits, input.note ?? 'admin top-up')
    if (result.ok) emit(c, 'key.topped_up', { key: keyJson(result.view), amount: formatDollars(input.credits) })
    return answer(c, result)
  })

  const transitions: Array<[string, KeyStatus, OperatorEventType]> = [
    ['suspend', 'suspended', 'key.suspended'],
    ['resume', 'active', 'key.resumed'],
    ['revoke', 'revoked', 'key.revoked'],
  ]
  for (const [action, status, event] of transitions) {
    admin.post(`/keys/:id/${action}`, async (c) => {
      const account = await accountById(c.env, c.req.param('id'))
      const result = await account.setStatus(status)
      if (result.ok) emit(c, event, { key: keyJson(result.view) })
      return answer(c, result)
    })
  }

  return admin
}
