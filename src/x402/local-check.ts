/**
 * @module x402/local-check
 * The checks the gate makes itself before any facilitator call, so garbage never
 * costs one: the payload's shape, the recipient, the amount, the validity window,
 * and (for plain 65-byte ECDSA signatures) that the EIP-712 signature recovers the
 * payer (authorization-signer). Rules and reason strings follow scheme_exact_evm.md and x402 §9.
 */
import { authorizationDigest, recoverSigner } from './authorization-signer'
import { Eip3009PayloadSchema, type Eip3009Payload, type PaymentRequirements } from './wire'

/** EIP-3009 `TransferWithAuthorization`, as USDC and the x402 SDK sign it (for viem in tests and clients; authorization-signer hashes it). */
export const AUTHORIZATION_TYPES = {
  TransferWithAuthorization: [
    { name: 'from', type: 'address' },
    { name: 'to', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'validAfter', type: 'uint256' },
    { name: 'validBefore', type: 'uint256' },
    { name: 'nonce', type: 'bytes32' },
  ],
} as const

/** The facilitator refuses authorizations that expire sooner than this (x402 SDK: 6 s). */
const MIN_VALIDITY_SECONDS = 6

export type LocalCheck =
  /** signatureChecked: whether the signature was recovered here (false: only the chain can check it). */
  | { ok: true; payload: Eip3009Payload; payer: string; signatureChecked: boolean }
  | { ok: false; reason: string; message: string }

const fail = (reason: string, message: string): LocalCheck => ({ ok: false, reason, message })

/**
 * Check an `exact` EIP-3009 payment against our requirements.
 * @param now seconds since the epoch
 */
export async function checkLocally(
  requirements: PaymentRequirements,
  chainId: number,
  rawPayload: unknown,
  now: number
): Promise<LocalCheck> {
  if (requirements.scheme !== 'exact')
    return fail('unsupported_scheme', `scheme ${requirements.scheme} is not supported`)
  const parsed = Eip3009PayloadSchema.safeParse(rawPayload)
  if (!parsed.success)
    return fail('invalid_payload', 'the payload is not an EIP-3009 authorization with a signature')
  const payload = parsed.data
  const auth = payload.authorization
  if (auth.to.toLowerCase() !== requirements.payTo.toLowerCase()) {
    return fail(
      'invalid_exact_evm_payload_recipient_mismatch',
      'the authorization pays someone else'
    )
  }
  if (BigInt(auth.value) !== BigInt(requirements.amount)) {
    return fail(
      'invalid_exact_evm_payload_authorization_value_mismatch',
      `the authorization is for ${auth.value}, not ${requirements.amount}`
    )
  }
  if (BigInt(auth.validAfter) > BigInt(now)) {
    return fail(
      'invalid_exact_evm_payload_authorization_valid_after',
      'the authorization is not valid yet'
    )
  }
  if (BigInt(auth.validBefore) < BigInt(now + MIN_VALIDITY_SECONDS)) {
    return fail(
      'invalid_exact_evm_payload_authorization_valid_before',
      'the authorization has expired or expires too soon'
    )
  }
  // 65 bytes is a plain ECDSA signature and can be checked here; a smart wallet's
  // ERC-1271 or ERC-6492 signature needs the chain, so only the facilitator can:
  // `signatureChecked: false`, and the gate never serves such a payment on this
  // check alone (not in dev mode, not as a free pass, not fail-open).
  if (payload.signature.length !== 132)
    return { ok: true, payload, payer: auth.from, signatureChecked: false }
  const name = requirements.extra?.name
  const version = requirements.extra?.version
  if (typeof name !== 'string' || typeof version !== 'string') {
    return fail(
      'invalid_exact_evm_missing_eip712_domain',
      'the requirements lack the EIP-712 name and version'
    )
  }
  let signer: string
  try {
    signer = recoverSigner(
      authorizationDigest({ name, version, chainId, verifyingContract: requirements.asset }, auth),
      payload.signature
    )
  } catch {
    return fail('invalid_exact_evm_payload_signature', 'the signature cannot be recovered')
  }
  if (signer.toLowerCase() !== auth.from.toLowerCase()) {
    return fail('invalid_exact_evm_payload_signature', 'the signature was not made by the payer')
  }
  return { ok: true, payload, payer: auth.from, signatureChecked: true }
}
