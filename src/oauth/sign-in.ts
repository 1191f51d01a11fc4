/**
 * @module oauth/sign-in
 * How a person on the consent page names the account a client's calls are paid
 * from: (a) an API key they hold, or (c) a free trial the operator offers, which
 * makes a new account (its key is never shown: the account is reached by OAuth
 * only). (b), buying credits there, makes the account from a payment the same
 * way: x402 in oauth/purchase; a card purchase (Stripe Checkout without a key)
 * would end the same way, in a `SignedIn` for the new account.
 */
import {
  accountStub,
  hashApiKey,
  holderView,
  indexStub,
  issueKey,
  looksLikeApiKey,
  NO_POLICY,
} from '../credits'
import type { Env } from '../env'
import type { OAuthTrial } from '../pricing'
import type { SignedIn } from './grants'

export type SignInResult =
  | { ok: true; who: SignedIn }
  | { ok: false; reason: 'invalid_key' | 'trial_used' | 'account_unavailable' }

/** What the consent page shows of an account a key signed in to: its name, what is left, its tool lists (the scopes). */
export interface AccountSummary {
  name: string
  available: number
  allowTools: string[] | null
  denyTools: string[]
}

/** (a) An existing key: it must open a live account. Never logged, never shown back. */
export async function signInWithKey(
  env: Env,
  key: string
): Promise<SignInResult & { account?: AccountSummary }> {
  if (!looksLikeApiKey(key)) return { ok: false, reason: 'invalid_key' }
  const keyHash = await hashApiKey(key)
  let view
  try {
    view = await holderView(env.CREDITS, keyHash)
  } catch {
    return { ok: false, reason: 'account_unavailable' }
  }
  if (!view || view.account.status !== 'active') return { ok: false, reason: 'invalid_key' }
  const { name, available, policy } = view.account
  return {
    ok: true,
    who: { keyId: view.account.id, keyHash, account: view.name },
    account: { name, available, allowTools: policy.allowTools, denyTools: policy.denyTools },
  }
}

/** Today, as the trial limits count days (UTC). */
function today(now: number): string {
  return new Date(now).toISOString().slice(0, 10)
}

/**
 * (c) A free trial for the client address `address`: counted first (per address
 * and per day, in the key index), then the account made; a failure gives the
 * count back, so nothing is left half done.
 */
export async function startTrial(
  env: Env,
  trial: OAuthTrial,
  address: string
): Promise<SignInResult> {
  const now = Date.now()
  const day = today(now)
  const index = indexStub(env.KEY_INDEX)
  if (
    !(await index.claimTrial(address, day, { perAddress: trial.perAddress, perDay: trial.perDay }))
  )
    return { ok: false, reason: 'trial_used' }
  try {
    const issued = await issueKey(
      { accounts: env.CREDITS, index: env.KEY_INDEX },
      {
        name: `OAuth trial ${day}`,
        credits: 0,
        trial: { credits: trial.micros, expiresAt: now + trial.days * 86_400_000 },
        policy: { ...NO_POLICY, allowTools: trial.allowTools },
      }
    )
    if (issued.ok) {
      const keyHash = await hashApiKey(issued.key)
      return { ok: true, who: { keyId: issued.view.id, keyHash, account: keyHash } }
    }
  } catch (error) {
    console.error('pay-gate: could not make a trial account', (error as Error).message)
  }
  await index.returnTrial(address, day)
  return { ok: false, reason: 'account_unavailable' }
}

/** Undo a trial account whose grant could not be completed: revoked, so it can never be used. */
export async function abandonAccount(env: Env, who: SignedIn): Promise<void> {
  try {
    await accountStub(env.CREDITS, who.account).setStatus('revoked')
  } catch (error) {
    console.error('pay-gate: could not revoke an abandoned trial account', (error as Error).message)
  }
}
