/**
 * @module admin/routes
 * The admin API under /admin: create, list, read, top up, suspend, resume and
 * revoke keys, each raising an operator webhook event (notify); the dashboard
 * at /admin/ui (admin/ui). Balances are read from and written to each key's own account
 * object only; the index just lists ids and names. Amounts are decimal-dollar strings.
 */
import { Hono } from 'hono'
import * as z from 'zod'
import { issueKey, type KeyStatus } from '../credits'
import type { AppEnv } from '../env'
import { GateError } from '../errors'
import { formatDollars } from '../money'
import type { OperatorEventType } from '../notify'
import { adminAuth } from './auth'
import { accountById, answer, Dollars, emit, parseJson } from './common'
import { findPlan, futureInstant, keyPolicyRoutes, type PlanCatalogue } from './key-policy-routes'
import { PolicyInput, toPolicy, TrialInput } from './policy-input'
import { adminUi } from './ui/routes'
import { keyJson, ledgerJson } from './views'
import { overviewRoutes } from './overview-routes'
import { mountUsageRoutes } from './usage-routes'

const RateLimit = z.strictObject({
  limit: z.int().min(1).max(1_000_000),
  windowSeconds: z.int().min(1).max(86_400),
})

const CreateKey = z.strictObject({
  name: z.string().trim().min(1).max(200),
  credits: Dollars.default(0),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
  rateLimit: RateLimit.optional(),
  policy: PolicyInput.optional(),
  plan: z.string().min(1).max(64).optional(),
  trial: TrialInput.optional(),
})

const TopUp = z.strictObject({
  credits: Dollars.refine((micros) => micros > 0, { error: 'a top-up must be more than 0' }),
  note: z.string().max(200).optional(),
})

/**
 * The /admin sub-app.
 * @param plans the plans routes.json defines, for assigning them to keys
 */
export function adminRoutes(plans: PlanCatalogue): Hono<AppEnv> {
  const admin = new Hono<AppEnv>()
  // The dashboard first: it shows a login form, so it does its own auth.
  admin.route('/ui', adminUi())
  admin.use('*', adminAuth())

  admin.post('/keys', async (c) => {
    const input = await parseJson(c, CreateKey)
    const expiresAt = input.expiresAt ? futureInstant(input.expiresAt, 'expiresAt') : null
    const trial = input.trial
      ? {
          credits: input.trial.credits,
          expiresAt: futureInstant(input.trial.expiresAt, 'trial.expiresAt'),
        }
      : null
    const plan = input.plan ? await findPlan(plans, c.env, input.plan) : null
    const issued = await issueKey(
      { accounts: c.env.CREDITS, index: c.env.KEY_INDEX },
      {
        name: input.name,
        credits: input.credits,
        expiresAt,
        rateLimit: input.rateLimit ?? null,
        policy: input.policy ? toPolicy(input.policy) : undefined,
        plan,
        trial,
      }
    )
    if (!issued.ok) return answer(c, issued)
    const { key } = issued
    emit(c, 'key.created', { key: keyJson(issued.view) })
    // The only time the key itself is ever shown.
    return c.json({ ...keyJson(issued.view), key }, 201)
  })

  overviewRoutes(admin, plans)

  admin.get('/keys/:id', async (c) => {
    const limit = Math.min(1000, Math.max(0, Number(c.req.query('ledger') ?? '50') || 0))
    const before = c.req.query('before')
    if (before !== undefined && !/^[1-9]\d{0,14}$/.test(before))
      throw new GateError('invalid_request', "before must be a ledger row's seq (a whole number).")
    const view = await (
      await accountById(c.env, c.req.param('id'))
    ).view(limit, before === undefined ? undefined : Number(before))
    if (!view) throw new GateError('not_found', 'No such key.')
    // The next page is the rows before the last one shown; null when this page was the last.
    const ledgerNext =
      limit > 0 && view.ledger.length === limit ? (view.ledger.at(-1)?.seq ?? null) : null
    return c.json({ ...keyJson(view.account), ledger: view.ledger.map(ledgerJson), ledgerNext })
  })

  admin.post('/keys/:id/topup', async (c) => {
    const input = await parseJson(c, TopUp)
    // With an Idempotency-Key, a top-up sent twice (a double click, a retry after a lost answer) credits once.
    const idempotencyKey = c.req.header('idempotency-key')?.trim()
    if (idempotencyKey !== undefined && !/^[\x21-\x7e]{1,128}$/.test(idempotencyKey)) {
      throw new GateError(
        'invalid_request',
        'The Idempotency-Key must be 1 to 128 visible ASCII characters.'
      )
    }
    const account = await accountById(c.env, c.req.param('id'))
    const reference = idempotencyKey === undefined ? undefined : `admin:${idempotencyKey}`
    const result = await account.topUp(input.credits, input.note ?? 'admin top-up', reference)
    if (result.ok && !result.duplicate)
      emit(c, 'key.topped_up', { key: keyJson(result.view), amount: formatDollars(input.credits) })
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

  keyPolicyRoutes(admin, plans)
  mountUsageRoutes(admin)
  return admin
}
