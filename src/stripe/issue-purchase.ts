/**
 * @module stripe/issue-purchase
 * A paid keyless session becomes a key, once. A fresh key is made and sealed to
 * the buyer's claim, and proposed to the session's CheckoutClaim; the first
 * proposal is kept, so every delivery of the session's events, retried or
 * concurrent, then makes sure of the same thing: that key listed in the index, its
 * account created, the package's credits topped up under the session's reference
 * (credited once, as every Stripe top-up), and the claim marked issued. Each step
 * is idempotent, so a delivery cut short anywhere is finished by the next.
 * A proposal that lost is dropped: its key was never stored anywhere.
 */
import {
  accountStub,
  generateApiKey,
  generateKeyId,
  hashApiKey,
  indexStub,
  type AccountView,
} from '../credits'
import type { Env } from '../env'
import { claimStub } from './claim-object'
import { sealTo } from './claim-seal'
import type { Purchase } from './events'

export type IssueOutcome =
  | { kind: 'issued'; keyId: string; view: AccountView; duplicate: boolean }
  | { kind: 'not_enabled' }
  | { kind: 'refused'; reason: string }

/**
 * Issue the session's key with its credits (or find it issued already).
 * @throws when the claim, the index or the account cannot be reached: Stripe is to deliver again
 */
export async function issuePurchase(env: Env, purchase: Purchase): Promise<IssueOutcome> {
  if (!env.STRIPE_CLAIMS) return { kind: 'not_enabled' }
  const claim = claimStub(env.STRIPE_CLAIMS, purchase.sessionId)
  const key = generateApiKey()
  const proposal = {
    keyId: generateKeyId(),
    keyHash: await hashApiKey(key),
    sealed: await sealTo(purchase.claimKey, key, purchase.sessionId),
  }
  const kept = await claim.propose(proposal)
  const name = `card ${purchase.pkg.name} (${purchase.sessionId})`

  const index = indexStub(env.KEY_INDEX)
  if (!(await index.get(kept.keyId))) {
    await index
      .add({ id: kept.keyId, hash: kept.keyHash, name, createdAt: Date.now() })
      .catch(async (error: unknown) => {
        // A concurrent delivery listed it first; anything else is a failure.
        if ((await index.get(kept.keyId))?.hash !== kept.keyHash) throw error
      })
  }
  const account = accountStub(env.CREDITS, kept.keyHash)
  const created = await account.init({ id: kept.keyId, name, credits: 0 })
  // invalid_transition: the account exists, made by an earlier delivery of this session.
  if (!created.ok && created.reason !== 'invalid_transition')
    return { kind: 'refused', reason: created.reason }
  const topped = await account.topUp(purchase.pkg.micros, purchase.label, purchase.reference)
  if (!topped.ok) return { kind: 'refused', reason: topped.reason }
  await claim.markIssued()
  return {
    kind: 'issued',
    keyId: kept.keyId,
    view: topped.view,
    duplicate: topped.duplicate === true,
  }
}
