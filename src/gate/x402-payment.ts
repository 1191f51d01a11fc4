/**
 * @module gate/x402-payment
 * Paying with x402: accept a payment before the origin is called (decode,
 * validate, match our own requirements, check locally, take the per-payer lock,
 * verify with the facilitator); gate/x402-finish settles it after, only when the
 * origin served the call. Any failure denies, except that `failMode: "open"`
 * serves when the facilitator cannot be reached and the payment's signature was
 * checked here (a plain ECDSA one).
 */
import type { Env } from '../env'
import type { X402Terms } from '../pricing'
import {
  acquireAuthorization,
  buildRequirements,
  checkLocally,
  discoveryExtensions,
  finishAuthorization,
  lockName,
  matchesRequirements,
  paymentRequired,
  PaymentPayloadSchema,
  verifyPayment,
  type FacilitatorOptions,
  type PaymentPayload,
  type PaymentRequired,
  reasonNext,
  reasonStatus,
  type PaymentRequirements,
  type RefusalReason,
  type ResourceInfo,
  type SettlementResponse,
} from '../x402'

/** How an accepted payment is to be finished. */
export type X402Mode = 'verified' | 'unverified-open' | 'free-pass' | 'dev'

export interface X402Attempt {
  /** Milliseconds spent waiting on others, for Server-Timing (facilitator verify and settle). */
  timings: { verifyMs?: number; settleMs?: number }
  terms: X402Terms
  requirements: PaymentRequirements
  payload: PaymentPayload
  payer: string
  nonce: string
  lock: string
  /** When the authorization stops being valid (unix seconds): no settlement after it. */
  validBefore: number
  mode: X402Mode
  /** Set when the settlement is deferred to a sidecar follow-up: the flight that holds the authorization. */
  flight?: string
  /** The call's price in micro-dollars. */
  micros: number
}

/** Why a payment was not accepted, with what the caller needs to pay again. */
export class X402Refusal extends Error {
  override readonly name = 'X402Refusal'
  /** 400 malformed, 402 payment required or refused, 503 cannot be checked now: from the reason (x402/reasons). */
  readonly status: 400 | 402 | 503
  /** What the payer can do next. */
  readonly next: string
  constructor(
    readonly reason: RefusalReason,
    message: string,
    readonly required: PaymentRequired,
    readonly settlement?: SettlementResponse,
    /** The facilitator refused a payment the gate had read: never the caller's malformed request (400), a refused payment (402). */
    byFacilitator = false
  ) {
    super(message)
    const status = reasonStatus(reason)
    this.status = byFacilitator && status === 400 ? 402 : status
    this.next = reasonNext(reason)
  }
}

/** Headers that tell the origin who paid; callers' own X-Pay-* never get this far. */
export function paidHeaders(attempt: X402Attempt): Record<string, string> {
  const verified = {
    verified: 'true',
    'unverified-open': 'unverified',
    'free-pass': 'free-pass',
    dev: 'dev-unsettled',
  }[attempt.mode]
  return {
    'x-pay-verified': verified,
    'x-pay-rail': 'x402',
    'x-pay-from': attempt.payer,
    'x-pay-amount': attempt.requirements.amount,
    'x-pay-asset': attempt.requirements.asset,
    'x-pay-network': attempt.requirements.network,
  }
}

export function facilitatorOptions(env: Env, terms: X402Terms): FacilitatorOptions {
  const auth = terms.facilitator.authHeader
  const value = auth ? env[auth.secret] : undefined
  if (auth && typeof value !== 'string')
    throw new Error(`secret ${auth.secret} for the facilitator is not set`)
  return {
    url: terms.facilitator.url,
    headers: auth ? { [auth.name]: `${auth.prefix ?? ''}${value as string}` } : {},
    verifyTimeoutMs: terms.facilitator.verifyTimeoutMs,
    settleTimeoutMs: terms.facilitator.settleTimeoutMs,
  }
}

/**
 * A Server-Timing header with the time spent waiting on the facilitator and the
 * origin, so an operator (and the bench) can tell the gate's own time from theirs.
 */
export function serverTiming(attempt: X402Attempt, originMs?: number): string {
  const parts: string[] = []
  if (attempt.timings.verifyMs !== undefined)
    parts.push(`x402-verify;dur=${attempt.timings.verifyMs}`)
  if (originMs !== undefined) parts.push(`origin;dur=${originMs}`)
  if (attempt.timings.settleMs !== undefined)
    parts.push(`x402-settle;dur=${attempt.timings.settleMs}`)
  return parts.join(', ')
}

/** What the gate asks for on this resource, at this price. */
export function requiredFor(
  terms: X402Terms,
  micros: number,
  resource: ResourceInfo,
  error?: string
): PaymentRequired {
  return asked(terms, buildRequirements(terms, micros), resource, error)
}

/** Every PaymentRequired the gate sends, refusals too: with the bazaar extension a client echoes, for catalogues (bazaar.md). */
export function asked(
  terms: X402Terms,
  requirements: PaymentRequirements,
  resource: ResourceInfo,
  error?: string
): PaymentRequired {
  return paymentRequired(
    resource,
    [requirements],
    error,
    discoveryExtensions(terms.discovery, resource)
  )
}

/**
 * Accept a payment for a call costing `micros`, before the origin is called.
 * @param decoded the PaymentPayload as sent (already base64-decoded where it was)
 * @param flight set when another request settles it (a sidecar follow-up): only that flight's follow-up may
 * @param settleBy with `flight`: when (ms) the follow-up may come at the latest; an authorization that
 *   expires before then is refused
 * @throws X402Refusal
 */
export async function acceptX402(
  env: Env,
  terms: X402Terms,
  micros: number,
  resource: ResourceInfo,
  decoded: unknown,
  flight?: string,
  settleBy?: number
): Promise<X402Attempt> {
  const requirements = buildRequirements(terms, micros)
  const refuse = (reason: RefusalReason, message: string): X402Refusal =>
    new X402Refusal(reason, message, asked(terms, requirements, resource, message))
  const parsed = PaymentPayloadSchema.safeParse(decoded)
  if (!parsed.success)
    throw refuse('invalid_payload', 'The payment is not an x402 v2 PaymentPayload.')
  const payload = parsed.data
  if (payload.accepted.network !== terms.network)
    throw refuse('invalid_network', `This route is paid on ${terms.network}.`)
  if (!matchesRequirements(requirements, payload.accepted)) {
    throw refuse('invalid_payment_requirements', 'The payment does not match what this call costs.')
  }
  const local = await checkLocally(
    requirements,
    terms.chainId,
    payload.payload,
    Math.floor(Date.now() / 1000)
  )
  if (!local.ok) throw refuse(local.reason, local.message)
  const auth = local.payload.authorization
  // Settled later (a sidecar follow-up, after the call): the authorization must still be good then,
  // or the call would be served and its settlement refused as expired.
  if (settleBy !== undefined && Number(auth.validBefore) * 1000 < settleBy) {
    throw refuse(
      'authorization_expires_too_soon',
      'The payment expires before this call can be settled: sign it valid for longer (up to maxTimeoutSeconds).'
    )
  }
  const freePass = local.signatureChecked && terms.freePass.includes(local.payer.toLowerCase())
  if (terms.mode === 'dev') {
    if (env.X402_DEV_MODE !== 'allow') {
      throw refuse(
        'dev_mode_not_allowed',
        'x402 dev mode is configured but not allowed on this Worker (X402_DEV_MODE).'
      )
    }
    if (!local.signatureChecked)
      throw refuse(
        'invalid_exact_evm_payload_signature',
        'Dev mode checks only plain ECDSA signatures.'
      )
  }

  const lock = lockName(terms.network, terms.asset.address, local.payer)
  const taken = await acquireAuthorization(env.X402_LOCKS, lock, {
    nonce: auth.nonce.toLowerCase(),
    amount: requirements.amount,
    payTo: requirements.payTo,
    resource: resource.url,
    validBefore: Number(auth.validBefore),
    flight,
  })
  if (taken === 'unavailable')
    throw refuse('lock_unavailable', 'Payments cannot be checked right now; nothing was taken.')
  if (taken === 'in_flight')
    throw refuse('payment_in_flight', 'This payment is already being used by another request.')
  if (taken === 'spent') throw refuse('payment_already_used', 'This payment has already been used.')

  const attempt: X402Attempt = {
    timings: {},
    terms,
    requirements,
    payload,
    payer: local.payer,
    nonce: auth.nonce.toLowerCase(),
    lock,
    validBefore: Number(auth.validBefore),
    mode: 'verified',
    flight,
    micros,
  }
  if (terms.mode === 'dev') {
    console.warn(
      `pay-gate: x402 DEV MODE: payment from ${local.payer} checked locally, NOT verified or settled`
    )
    return { ...attempt, mode: 'dev' }
  }
  if (freePass) return { ...attempt, mode: 'free-pass' }

  let verdict
  try {
    const started = Date.now()
    verdict = await verifyPayment(facilitatorOptions(env, terms), payload, requirements)
    attempt.timings.verifyMs = Date.now() - started
  } catch (error) {
    verdict = { kind: 'unavailable' as const, message: (error as Error).message }
  }
  if (verdict.kind === 'valid') return attempt
  // Fail-open serves on our own check alone, so only a payment that check covered in full: a
  // smart wallet's signature (ERC-1271, ERC-6492) is checked on chain, by the facilitator only.
  if (verdict.kind === 'unavailable' && terms.failMode === 'open' && local.signatureChecked) {
    console.warn(
      `pay-gate: facilitator unreachable (${verdict.message}); serving unverified (failMode open)`
    )
    return { ...attempt, mode: 'unverified-open' }
  }
  await finishAuthorization(env.X402_LOCKS, lock, attempt.nonce, 'released', {
    reason: verdict.kind === 'invalid' ? verdict.reason : 'facilitator_unavailable',
  })
  const refusedWith =
    verdict.kind === 'invalid'
      ? (verdict.message ?? `The facilitator refused the payment: ${verdict.reason}.`)
      : ''
  if (verdict.kind === 'invalid')
    throw new X402Refusal(
      verdict.reason,
      refusedWith,
      asked(terms, requirements, resource, refusedWith),
      undefined,
      true
    )
  if (terms.failMode === 'open') {
    throw refuse(
      'facilitator_unavailable',
      'The payment facilitator cannot be reached, and this payment’s signature (a smart wallet’s) cannot be checked without it; nothing was taken.'
    )
  }
  throw refuse(
    'facilitator_unavailable',
    'The payment facilitator cannot be reached; nothing was taken.'
  )
}
