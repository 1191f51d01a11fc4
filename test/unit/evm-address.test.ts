/** src/evm-address agrees with viem (the reference the x402 SDK and wallets use) on EIP-55 checksums and strict isAddress. */
import fc from 'fast-check'
import { checksumAddress as viemChecksum, isAddress as viemIsAddress, type Address } from 'viem'
import { describe, expect, it } from 'vitest'
import { checksumAddress, isAddress } from '../../src/evm-address'

const address = fc
  .uint8Array({ minLength: 20, maxLength: 20 })
  .map((b) => `0x${Buffer.from(b).toString('hex')}`)
// Which letters to write in uppercase: most such mixes fail their checksum.
const cases = fc.array(fc.boolean(), { minLength: 40, maxLength: 40 })

describe('EVM addresses', () => {
  it('checksums as viem does, and takes exactly what viem strict isAddress takes', () => {
    fc.assert(
      fc.property(address, cases, (a, upper) => {
        const mixed = `0x${[...a.slice(2)].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join('')}`
        expect(checksumAddress(a)).toBe(viemChecksum(a as Address))
        expect(checksumAddress(mixed)).toBe(viemChecksum(a as Address))
        for (const text of [
          a,
          mixed,
          viemChecksum(a as Address),
          a.toUpperCase(),
          `0x${a.slice(2).toUpperCase()}`,
        ])
          expect(isAddress(text)).toBe(viemIsAddress(text, { strict: true }))
      }),
      { numRuns: 300 }
    )
    for (const text of [
      '',
      '0x',
      '0x123',
      `0x${'g'.repeat(40)}`,
      `${'1'.repeat(42)}`,
      `0x${'1'.repeat(41)}`,
    ])
      expect(isAddress(text)).toBe(false)
  })
})
