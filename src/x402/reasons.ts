/**
 * @module x402/reasons
 * Every reason an x402 payment is refused for, in one table: x402 §9's standard
 * codes (which a facilitator may also answer with), scheme_exact_evm.md's, and
 * the gate's own (the per-payer lock, dev mode, a settlement deferred past the
 * authorization). Each has the HTTP status it is answered with and what the
 * payer can do next. A facilitator's reason not in the table is passed on as it
 * was given, answered as a refused payment (402).
 */

interface ReasonSpec {
  /** 400 malformed, 402 payment required or refused, 503 cannot be checked now. */
  status: 400 | 402 | 503
  next: string
}

const SIGN_AGAIN = 'Sign a new payment for the requirements in PAYMENT-REQUIRED.'
const RETRY_SAME = 'Retry shortly with the same payment: nothing was taken.'

const X402_REASONS = {
  // x402-specification-v2 §9
  insufficient_funds: { status: 402, next: 'Fund the paying wallet, then sign a new payment.' },
  invalid_exact_evm_payload_authorization_valid_after: { status: 402, next: SIGN_AGAIN },
  invalid_exact_evm_payload_authorization_valid_before: { status: 402, next: SIGN_AGAIN },
  invalid_exact_evm_payload_authorization_value_mismatch: { status: 402, next: SIGN_AGAIN },
  invalid_exact_evm_payload_signature: { status: 402, next: SIGN_AGAIN },
  invalid_exact_evm_payload_recipient_mismatch: { status: 402, next: SIGN_AGAIN },
  invalid_network: { status: 402, next: SIGN_AGAIN },
  invalid_payload: {
    status: 400,
    next: 'Send an x402 v2 PaymentPayload, base64-encoded, in PAYMENT-SIGNATURE.',
  },
  invalid_payment_requirements: { status: 402, next: SIGN_AGAIN },
  invalid_scheme: { status: 402, next: SIGN_AGAIN },
  unsupported_scheme: { status: 402, next: SIGN_AGAIN },
  invalid_x402_version: {
    status: 402,
    next: 'Pay with x402 v2: the payment goes in PAYMENT-SIGNATURE.',
  },
  invalid_transaction_state: { status: 402, next: SIGN_AGAIN },
  unexpected_verify_error: { status: 402, next: SIGN_AGAIN },
  unexpected_settle_error: { status: 402, next: SIGN_AGAIN },
  // scheme_exact_evm.md
  invalid_exact_evm_missing_eip712_domain: { status: 402, next: SIGN_AGAIN },
  // the gate's own
  payment_required: { status: 402, next: SIGN_AGAIN },
  payment_in_flight: {
    status: 402,
    next: 'Wait for the request already using this payment, or sign a new one.',
  },
  payment_already_used: { status: 402, next: SIGN_AGAIN },
  authorization_expires_too_soon: {
    status: 402,
    next: 'Sign the payment valid for longer (up to maxTimeoutSeconds).',
  },
  lock_unavailable: { status: 503, next: RETRY_SAME },
  facilitator_unavailable: { status: 503, next: RETRY_SAME },
  settlement_indeterminate: {
    status: 503,
    next: 'Check the chain for the payment before paying again: its settlement may still land.',
  },
  dev_mode_not_allowed: { status: 503, next: 'Ask the operator: this gate is misconfigured.' },
} as const satisfies Record<string, ReasonSpec>

/** A reason of the table. */
export type X402Reason = keyof typeof X402_REASONS

/** Why a payment was refused: one of the table's reasons, or a facilitator's own. */
export type RefusalReason = X402Reason | (string & {})

const SPECS: Record<string, ReasonSpec | undefined> = X402_REASONS

/** The HTTP status a refusal for `reason` is answered with. */
export function reasonStatus(reason: RefusalReason): 400 | 402 | 503 {
  return SPECS[reason]?.status ?? 402
}

/** What a payer refused for `reason` can do next. */
export function reasonNext(reason: RefusalReason): string {
  return SPECS[reason]?.next ?? SIGN_AGAIN
}
