/** The seal a keyless purchase's key travels in (src/stripe/claim-seal), in workerd's Web Crypto. */
import { describe, expect, it } from 'vitest'
import {
  CLAIM_PUBLIC_KEY_PATTERN,
  CLAIM_SECRET_PATTERN,
  newClaim,
  openWith,
  sealTo,
} from '../../src/stripe/claim-seal'

const KEY = `pg_${'k'.repeat(43)}`

describe('claim seal', () => {
  it('opens with the claim secret and the same session id only', async () => {
    const claim = await newClaim()
    expect(claim.publicKey).toMatch(CLAIM_PUBLIC_KEY_PATTERN)
    expect(claim.secret).toMatch(CLAIM_SECRET_PATTERN)
    const sealed = await sealTo(claim.publicKey, KEY, 'cs_test_one')
    expect(sealed).not.toContain(KEY)
    expect(await openWith(claim.secret, sealed, 'cs_test_one')).toBe(KEY)
    expect(await openWith(claim.secret, sealed, 'cs_test_two')).toBeNull()
    expect(await openWith((await newClaim()).secret, sealed, 'cs_test_one')).toBeNull()
  })

  it('a tampered or malformed seal or secret opens nothing, and never throws', async () => {
    const claim = await newClaim()
    const sealed = await sealTo(claim.publicKey, KEY, 'cs_test_one')
    const [version, ephemeral, iv, body] = sealed.split('.') as [string, string, string, string]
    const flipped = `${body.slice(0, -2)}${body.at(-2) === 'A' ? 'B' : 'A'}${body.at(-1)}`
    for (const bad of [
      [version, ephemeral, iv, flipped].join('.'),
      `v2.${ephemeral}.${iv}.${body}`,
      'v1..',
      '',
      `${sealed}.x`,
    ]) {
      expect(await openWith(claim.secret, bad, 'cs_test_one')).toBeNull()
    }
    for (const secret of ['', 'not base64!', 'A'.repeat(200)])
      expect(await openWith(secret, sealed, 'cs_test_one')).toBeNull()
  })
})
