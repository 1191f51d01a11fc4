/**
 * @module pricing/payout-address
 * The rule for an address the gate is paid at (`payTo`), the same in routes.json
 * and in create-pay-gate: written with its EIP-55 checksum, so a mistyped
 * character is caught before any money is sent there. EIP-55 says an address in
 * one case carries no checksum (viem's strict `isAddress` accepts it), but then
 * nothing catches a typo in it, and what is paid to a wrong address is lost: such
 * an address is refused too.
 */
import { checksumAddress } from '../evm-address'

/** What is wrong with a payout address, or undefined when it may be paid. */
export function payoutAddressProblem(text: string): string | undefined {
  if (!/^0x[0-9a-fA-F]{40}$/.test(text)) return 'expected an EVM address: 0x and 40 hex digits'
  const checksummed = checksumAddress(text)
  if (text !== checksummed) {
    const digits = text.slice(2)
    const why =
      digits === digits.toLowerCase() || digits === digits.toUpperCase()
        ? 'it is in one case, which carries no checksum, so a typo in it cannot be caught'
        : 'its mix of upper- and lowercase letters does not match, so a character may be mistyped'
    return `the address fails its EIP-55 checksum: ${why}. Copy it again from your wallet; if every character is right, it is written ${checksummed}`
  }
  if (/^0x0{40}$/.test(text))
    return 'nobody can spend what the zero address receives: give an address you control'
  return undefined
}
