/**
 * Signing an EIP-3009 TransferWithAuthorization by hand, for tests that need a
 * payment a well-behaved client would never send (or need one without a client).
 */
import type { Address, Hex, LocalAccount } from 'viem'
import { AUTHORIZATION_TYPES } from '../src/x402'

export interface Authorization {
  from: string
  to: string
  value: string
  validAfter: string
  validBefore: string
  nonce: string
}

export function signAuthorization(
  signer: LocalAccount,
  domain: { name: string; version: string; chainId: number; verifyingContract: string },
  authorization: Authorization
): Promise<Hex> {
  return signer.signTypedData({
    domain: { ...domain, verifyingContract: domain.verifyingContract as Address },
    types: AUTHORIZATION_TYPES,
    primaryType: 'TransferWithAuthorization',
    message: {
      from: authorization.from as Address,
      to: authorization.to as Address,
      value: BigInt(authorization.value),
      validAfter: BigInt(authorization.validAfter),
      validBefore: BigInt(authorization.validBefore),
      nonce: authorization.nonce as Hex,
    },
  })
}
