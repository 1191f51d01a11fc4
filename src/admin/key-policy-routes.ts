/**
 * @module admin/key-policy-routes
 * The admin API's key policy endpoints: replace a key's policy, put it on a plan
 * from routes.json, grant credits that expire, and rotate the key. Each is one
 * call to the key's account object, applied atomically there.
 */
import type { Hono } from 'hono'
import * as z from 'zod'
import { indexStub, rotateKey, type AssignedPlan } from '../credits'
import type { AppEnv, Env } from '../env'
import { GateError } from '../errors'
import { accountById, answer, Dollars, emit, parseJson } from './common'
import { PolicyInput, toPolicy } from './policy-input'
import { keyJson } from './views'

/** The plans routes.json defines, by name, with amounts in micro-dollars. */
export type PlanCatalogue = (env: Env) => Promise<ReadonlyMap<string, AssignedPlan['definition']>>

const PlanChoice = z.strictObject({ plan: z.string().min(1).max(64).nullable() })

const Grant = z.strictObject({
  credits: Dollars.refine((micros) => micros > 0, { error: 'a grant must be more than 0' }),
  expiresAt: z.iso.datetime({ offset: true }),
  note: z.string().max(200).optional(),
})

/** Look a plan up by name; a name routes.json does not define is refused. */
export async function findPlan(
  plans: PlanCatalogue,
  env: Env,
  name: string
): Promise<AssignedPlan> {
  const definition = (await plans(env)).get(name)
  if (!definition)
    throw new GateError('invalid_request', `No plan named "${name}" in routes.json.`, {
      details: { plans: [...(await plans(env)).keys()] },
    })
  return { name, definition }
}

/** A future instant from an ISO string, or a clear refusal. */
export function futureInstant(text: string, field: string): number {
  const at = Date.parse(text)
  if (!(at > Date.now())) throw new GateError('invalid_request', `${field} must be in the future.`)
  return at
}

export function keyPolicyRoutes(admin: Hono<AppEnv>, plans: PlanCatalogue): void {
  admin.put('/keys/:id/policy', async (c) => {
    const input = await parseJson(c, PolicyInput)
    const account = await accountById(c.env, c.req.param('id'))
    const result = await account.setPolicy(toPolicy(input))
    if (result.ok) emit(c, 'key.policy_changed', { key: keyJson(result.view) })
    return answer(c, result)
  })

  admin.put('/keys/:id/plan', async (c) => {
    const input = await parseJson(c, PlanChoice)
    const plan = input.plan === null ? null : await findPlan(plans, c.env, input.plan)
    const account = await accountById(c.env, c.req.param('id'))
    const result = await account.setPlan(plan)
    if (result.ok) emit(c, 'key.plan_changed', { key: keyJson(result.view) })
    return answer(c, result)
  })

  admin.post('/keys/:id/grants', async (c) => {
    const input = await parseJson(c, Grant)
    const expiresAt = futureInstant(input.expiresAt, 'expiresAt')
    const account = await accountById(c.env, c.req.param('id'))
    return answer(
      c,
      await account.grant(input.credits, expiresAt, input.note ?? 'expiring credits')
    )
  })

  admin.post('/keys/:id/rotate', async (c) => {
    const id = c.req.param('id')
    await accountById(c.env, id) // 404 for an unknown id
    const indexed = await indexStub(c.env.KEY_INDEX).get(id)
    if (!indexed) throw new GateError('not_found', `No key with id ${id}.`)
    const rotated = await rotateKey(c.env.CREDITS, indexed.hash)
    if (!rotated.ok) return answer(c, rotated)
    emit(c, 'key.rotated', { key: keyJson(rotated.view) })
    // The only time the new key is ever shown; the old one stopped working with this answer.
    return c.json({ ...keyJson(rotated.view), key: rotated.key })
  })
}
