/**
 * The gate's own EIP-712 digest and signer recovery for EIP-3009 authorizations
 * (src/x402/authorization-signer) agree with viem's generic typed-data code,
 * which the x402 SDK and wallets sign with, over random keys, domains and messages.
 */
import fc from 'fast-check'
import { hashTypedData, type Address, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { describe, expect, it } from 'vitest'
import { authorizationDigest, recoverSigner } from '../../src/x402/authorization-signer'
import { AUTHORIZATION_TYPES } from '../../src/x402'
import { signAuthorization } from '../eip3009'

const hex = (bytes: number) =>
  fc
    .uint8Array({ minLength: bytes, maxLength: bytes })
    .map((b) => `0x${Buffer.from(b).toString('hex')}`)
const uint = fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }).map(String)
const privateKey = hex(32).filter(
  (k) =>
    BigInt(k) > 0n &&
    BigInt(k) < 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
)
// Non-empty name and version, as routes.json requires: viem leaves an empty one out of the
// domain's type, where the token's DOMAIN_SEPARATOR (and the gate) always has both.
const domain = fc.record({
  name: fc.string({ minLength: 1, maxLength: 40 }),
  version: fc.string({ minLength: 1, maxLength: 8 }),
  chainId: fc.integer({ min: 1, max: 2 ** 40 }),
  verifyingContract: hex(20),
})
const message = fc.record({
  to: hex(20),
  value: uint,
  validAfter: uint,
  validBefore: uint,
  nonce: hex(32),
})

describe('x402 authorization signer', () => {
  it('computes the digest viem signs, and recovers the signer viem signed with', async () => {
    await fc.assert(
      fc.asyncProperty(privateKey, domain, message, async (key, d, m) => {
        const account = privateKeyToAccount(key as Hex)
        const authorization = { ...m, from: account.address }
        const digest = authorizationDigest(d, authorization)
        const viemDigest = hashTypedData({
          domain: { ...d, verifyingContract: d.verifyingContract as Address },
          types: AUTHORIZATION_TYPES,
          primaryType: 'TransferWithAuthorization',
          message: {
            ...authorization,
            to: m.to as Address,
            value: BigInt(m.value),
            validAfter: BigInt(m.validAfter),
            validBefore: BigInt(m.validBefore),
            nonce: m.nonce as Hex,
          },
        })
        expect(`0x${Buffer.from(digest).toString('hex')}`).toBe(viemDigest)
        const signature = await signAuthorization(account, d, authorization)
        expect(recoverSigner(digest, signature)).toBe(account.address.toLowerCase())
        // The same r and s with v as 0/1 (yParity), as viem also takes it.
        const parity = `${signature.slice(0, 130)}${signature.endsWith('1b') ? '00' : '01'}`
        expect(recoverSigner(digest, parity)).toBe(account.address.toLowerCase())
      }),
      { numRuns: 60 }
    )
  })

  it('refuses what it cannot encode or recover, rather than guessing', () => {
    const d = {
      name: 'USD Coin',
      version: '2',
      chainId: 8453,
      verifyingContract: `0x${'11'.repeat(20)}`,
    }
    const m = {
      from: `0x${'22'.repeat(20)}`,
      to: `0x${'33'.repeat(20)}`,
      value: '1',
      validAfter: '0',
      validBefore: '1',
      nonce: `0x${'44'.repeat(32)}`,
    }
    expect(() => authorizationDigest(d, { ...m, value: String(1n << 256n) })).toThrow(
      /out of range/
    )
    expect(() => authorizationDigest({ ...d, verifyingContract: 'USDC' }, m)).toThrow(/20 bytes/)
    // Mixed case with a wrong checksum, which viem's typed-data validation refuses too.
    const wrongChecksum = '0xAb5801a7D398351b8bE11C439e05C5B3259aeC9C'
    expect(() => authorizationDigest(d, { ...m, from: wrongChecksum })).toThrow(/checksum/)
    expect(() =>
      hashTypedData({
        domain: { ...d, verifyingContract: d.verifyingContract as Address },
        types: AUTHORIZATION_TYPES,
        primaryType: 'TransferWithAuthorization',
        message: {
          from: wrongChecksum as Address,
          to: m.to as Address,
          value: 1n,
          validAfter: 0n,
          validBefore: 1n,
          nonce: m.nonce as Hex,
        },
      })
    ).toThrow()
    expect(() =>
      authorizationDigest(d, { ...m, from: m.from.toUpperCase().replace('0X', '0x') })
    ).not.toThrow()
    const digest = authorizationDigest(d, m)
    expect(() => recoverSigner(digest, `0x${'00'.repeat(64)}1b`)).toThrow() // r = s = 0
    expect(() => recoverSigner(digest, `0x${'01'.repeat(64)}1d`)).toThrow(/v is 29/)
    expect(() => recoverSigner(digest, `0x${'01'.repeat(64)}`)).toThrow(/65 bytes/)
  })
})
