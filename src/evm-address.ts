/**
 * @module evm-address
 * EVM addresses as text: the EIP-55 mixed-case checksum, and whether a string is
 * an address. What viem's `checksumAddress` and strict `isAddress` do, on
 * @noble/hashes' keccak, so the Worker does not bundle viem for two functions.
 */
import { keccak_256 } from '@noble/hashes/sha3.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'

const ADDRESS = /^0x[0-9a-fA-F]{40}$/

/**
 * An address written with its EIP-55 checksum: each letter uppercase where the
 * matching nibble of keccak256(the lowercase hex digits) is 8 or more.
 * @param address 0x and 40 hex digits, in any case
 */
export function checksumAddress(address: string): string {
  const digits = address.slice(2).toLowerCase()
  const hash = bytesToHex(keccak_256(utf8ToBytes(digits)))
  let out = '0x'
  for (let i = 0; i < digits.length; i++)
    out +=
      Number.parseInt(hash[i] as string, 16) >= 8
        ? (digits[i] as string).toUpperCase()
        : (digits[i] as string)
  return out
}

/** 0x and 40 hex digits, either all lowercase or with a valid EIP-55 checksum (viem's strict `isAddress`). */
export function isAddress(text: string): boolean {
  if (!ADDRESS.test(text)) return false
  return text.toLowerCase() === text || checksumAddress(text) === text
}
