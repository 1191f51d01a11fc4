/**
 * @module x402/lock
 * The fail-closed way to reach a payer's PaymentLock: an RPC that throws is
 * "unavailable", and an unavailable lock refuses the payment.
 */
import { withRetries } from '../retry'
import type { AcquireResult, ClaimResult, PaymentLock, PaymentState } from './payment-lock-object'

export type LockNamespace = DurableObjectNamespace<PaymentLock>

/** One lock object per payer and asset: the unit an EIP-3009 nonce is unique in. */
export function lockName(network: string, asset: string, payer: string): string {
  return `${network}|${asset.toLowerCase()}|${payer.toLowerCase()}`
}

export async function acquireAuthorization(
  namespace: LockNamespace,
  name: string,
  entry: {
    nonce: string
    amount: string
    payTo: string
    resource: string
    validBefore: number
    flight?: string
  }
): Promise<AcquireResult | 'unavailable'> {
  try {
    return await namespace.getByName(name).acquire(entry)
  } catch (error) {
    console.error('pay-gate: payment lock unavailable', (error as Error).message)
    return 'unavailable'
  }
}

/** Claim an authorization in flight for its deferred settlement, for `leaseMs` (see PaymentLock.claim). */
export async function claimAuthorization(
  namespace: LockNamespace,
  name: string,
  nonce: string,
  flight: string,
  leaseMs: number
): Promise<ClaimResult | 'unavailable'> {
  try {
    return await namespace.getByName(name).claim(nonce, flight, leaseMs)
  } catch (error) {
    console.error('pay-gate: payment lock unavailable', (error as Error).message)
    return 'unavailable'
  }
}

/** Put back a claim whose settlement could not be attempted; false when the lock could not be reached. */
export async function unclaimAuthorization(
  namespace: LockNamespace,
  name: string,
  nonce: string,
  claim: string
): Promise<boolean> {
  try {
    await namespace.getByName(name).unclaim(nonce, claim)
    return true
  } catch (error) {
    console.error('pay-gate: payment lock unavailable', (error as Error).message)
    return false
  }
}

/** Whether an end was recorded: `superseded` when the claim it was recorded under had been taken over. */
export type FinishRecord = 'recorded' | 'superseded' | 'unrecorded'

/**
 * Record the end of an authorization's flight; retried, since it guards against replay.
 * @param claim a deferred settlement's claim: recorded only while it holds the payment
 */
export async function finishAuthorization(
  namespace: LockNamespace,
  name: string,
  nonce: string,
  state: Exclude<PaymentState, 'in_flight'>,
  detail: { transaction?: string; reason?: string } = {},
  claim?: string
): Promise<FinishRecord> {
  const tried = await withRetries(
    () => namespace.getByName(name).finish(nonce, state, detail, claim),
    { attempts: 3, baseMs: 50 }
  )
  if (tried.ok) return tried.value ? 'recorded' : 'superseded'
  console.error(
    `pay-gate: could not record payment ${nonce} as ${state}`,
    (tried.error as Error)?.message
  )
  return 'unrecorded'
}

/** Whether `flight` is the one that settled the authorization (false when unknown). Throws when the lock cannot be reached. */
export async function settledByFlight(
  namespace: LockNamespace,
  name: string,
  nonce: string,
  flight: string
): Promise<boolean> {
  return namespace.getByName(name).settledFor(nonce, flight)
}
