/**
 * @module gate/credits-refusals
 * The account's refusals of a hold, as the caller is told them: one entry per
 * reason (its HTTP status, in-band answer and next step are in the refusal table,
 * errors.ts), with the message and the details a caller needs to act on it.
 */
import type { LedgerReserveResult, Quota, RateLimitState } from '../credits'
import { GateError } from '../errors'
import { formatDollars } from '../money'

type Denial = Extract<LedgerReserveResult, { ok: false }>
type AccountDenial = Exclude<Denial, { reason: 'ledger_unavailable' }>

/** The rate limit state, as `X-RateLimit-*` headers. */
export function rateLimitHeaders(state: RateLimitState | undefined): Record<string, string> {
  if (!state) return {}
  return {
    'x-ratelimit-limit': String(state.limit),
    'x-ratelimit-remaining': String(Math.max(0, state.remaining)),
    'x-ratelimit-reset': String(state.resetSeconds),
  }
}

/** What one refusal says: its message, what it adds to the details, its headers. */
interface Told {
  message: string
  /** Shows the key's balance in the details. */
  balance?: true
  /** Shows none of the call's details (a refusal of the request, not of its price). */
  bare?: true
  details?: Record<string, unknown>
  headers?: Record<string, string>
}

function quotaText(quota: Quota | undefined): string {
  if (!quota) return 'its quota'
  return `${quota.metric === 'calls' ? `${quota.limit} calls` : `$${formatDollars(quota.limit)}`} a ${quota.period}`
}

const TOLD: {
  [R in AccountDenial['reason']]: (
    denial: AccountDenial,
    price: string,
    credits: string | undefined
  ) => Told
} = {
  insufficient_credits: (denial, price, credits) => ({
    message: `This call costs $${price}; the key has $${credits ?? '0'} left.`,
    balance: true,
    headers: rateLimitHeaders(denial.rateLimit),
  }),
  rate_limited: (denial) => {
    const retry = String(denial.retryAfterSeconds ?? 1)
    return {
      message: `Rate limit reached; retry in ${retry} s.`,
      balance: true,
      details: { retryAfterSeconds: denial.retryAfterSeconds },
      headers: { 'retry-after': retry, ...rateLimitHeaders(denial.rateLimit) },
    }
  },
  invalid_api_key: () => ({ message: 'The API key is not valid.' }),
  key_suspended: () => ({ message: 'The API key is suspended.', balance: true }),
  key_revoked: () => ({ message: 'The API key has been revoked.' }),
  key_expired: () => ({ message: 'The API key has expired.', balance: true }),
  tool_not_allowed: (denial) => ({
    message: `This key may not call ${denial.tool ? `the tool "${denial.tool}"` : 'this tool'}.`,
    details: denial.tool ? { tool: denial.tool } : {},
  }),
  quota_exceeded: (denial) => {
    const { quota } = denial
    const retry = String(denial.retryAfterSeconds ?? 1)
    return {
      message: `This key has used its quota of ${quotaText(quota)}; it resets in ${retry} s.`,
      balance: true,
      details: {
        ...(quota
          ? {
              quota: {
                period: quota.period,
                metric: quota.metric,
                limit: quota.metric === 'spend' ? formatDollars(quota.limit) : quota.limit,
              },
            }
          : {}),
        retryAfterSeconds: denial.retryAfterSeconds,
      },
      headers: { 'retry-after': retry },
    }
  },
  spending_limit_reached: () => ({
    message: 'This call would take the key past its lifetime spending limit.',
    balance: true,
  }),
  plan_allowance_exhausted: () => ({
    message: `The key's plan has no calls left this period.`,
    balance: true,
  }),
  idempotency_in_progress: () => ({
    message: 'A request with this Idempotency-Key is still in progress.',
    bare: true,
  }),
  idempotency_mismatch: () => ({
    message:
      'This Idempotency-Key was used for a different request, or for a batch that was served only in part: send a new key.',
    bare: true,
  }),
}

/**
 * The refusal of a hold, to answer the caller with.
 * @param price the call's price in dollars
 * @param details what every refusal of this call shows (its price, what is bought, how to pay)
 */
export function creditsRefusal(
  denial: Denial,
  price: string,
  details: Record<string, unknown>
): GateError {
  if (denial.reason === 'ledger_unavailable') {
    return new GateError(
      'ledger_unavailable',
      'Payments cannot be checked right now; nothing was charged.',
      { headers: { 'retry-after': '1' } }
    )
  }
  const credits = denial.available !== undefined ? formatDollars(denial.available) : undefined
  const told = TOLD[denial.reason](denial, price, credits)
  const shown = told.bare
    ? {}
    : { ...details, ...(told.balance && credits !== undefined ? { credits } : {}), ...told.details }
  return new GateError(denial.reason, told.message, {
    details: shown,
    keyId: denial.keyId,
    ...(told.headers ? { headers: told.headers } : {}),
  })
}
