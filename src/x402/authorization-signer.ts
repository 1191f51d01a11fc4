/**
 * @module x402/authorization-signer
 * Who signed an EIP-3009 `TransferWithAuthorization`: its EIP-712 digest
 * (EIP-712 §hashStruct, §Definition of domainSeparator; scheme_exact_evm.md
 * §EIP-3009) and the secp256k1 public key that a plain 65-byte signature
 * recovers, as the token's `ecrecover` does. Written out for the one struct the
 * gate checks, with @noble/curves and @noble/hashes (the libraries viem uses for
 * the same), rather than viem's generic typed-data code: that one re-encodes the
 * type strings and the domain on every call, and costs the gate a third more CPU
 * per paid call. The domain separator is computed once per token.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { isAddress } from '../evm-address'

/** The token's EIP-712 domain: what USDC and the x402 SDK sign with. */
export interface AuthorizationDomain {
  name: string
  version: string
  chainId: number
  verifyingContract: string
}

/** The signed message; hex strings as on the wire, amounts as decimal strings. */
export interface AuthorizationMessage {
  from: string
  to: string
  value: string
  validAfter: string
  validBefore: string
  nonce: string
}

const DOMAIN_TYPEHASH = keccak_256(
  utf8ToBytes('EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)')
)
const AUTHORIZATION_TYPEHASH = keccak_256(
  utf8ToBytes(
    'TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)'
  )
)
const MAX_UINT256 = (1n << 256n) - 1n

/** A value the encoding cannot hold: the signature then cannot be recovered. */
export class UnencodableAuthorization extends Error {
  override readonly name = 'UnencodableAuthorization'
}

/** A uint256 as its 32-byte big-endian word (EIP-712 §encodeData: atomic types). */
function uintWord(value: bigint): Uint8Array {
  if (value < 0n || value > MAX_UINT256)
    throw new UnencodableAuthorization('a uint256 is out of range')
  return hexToBytes(value.toString(16).padStart(64, '0'))
}

/**
 * An address as its left-padded word. Refused, as viem's typed-data validation refuses it, when it
 * is not 20 bytes or its letters are in mixed case with a wrong EIP-55 checksum: a mistyped address.
 */
function addressWord(address: string): Uint8Array {
  if (!isAddress(address))
    throw new UnencodableAuthorization('an address is not 20 bytes, or fails its EIP-55 checksum')
  return hexToBytes(address.slice(2).padStart(64, '0'))
}

function bytes32Word(hex: string): Uint8Array {
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex))
    throw new UnencodableAuthorization('a bytes32 is not 32 bytes')
  return hexToBytes(hex.slice(2))
}

function concat(words: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(words.reduce((n, word) => n + word.length, 0))
  let at = 0
  for (const word of words) {
    out.set(word, at)
    at += word.length
  }
  return out
}

/** Domain separators by domain: a gate pays in a handful of tokens, so this stays small; bounded all the same. */
const separators = new Map<string, Uint8Array>()
const MAX_SEPARATORS = 64

/** hashStruct(EIP712Domain) for the token (EIP-712 §Definition of domainSeparator). */
export function domainSeparator(domain: AuthorizationDomain): Uint8Array {
  const key = `${domain.name}\u0000${domain.version}\u0000${domain.chainId}\u0000${domain.verifyingContract.toLowerCase()}`
  const cached = separators.get(key)
  if (cached) return cached
  const separator = keccak_256(
    concat([
      DOMAIN_TYPEHASH,
      keccak_256(utf8ToBytes(domain.name)),
      keccak_256(utf8ToBytes(domain.version)),
      uintWord(BigInt(domain.chainId)),
      addressWord(domain.verifyingContract),
    ])
  )
  if (separators.size >= MAX_SEPARATORS) separators.clear()
  separators.set(key, separator)
  return separator
}

/**
 * The digest the payer signed: keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(message)).
 * @throws UnencodableAuthorization
 */
export function authorizationDigest(
  domain: AuthorizationDomain,
  message: AuthorizationMessage
): Uint8Array {
  const structHash = keccak_256(
    concat([
      AUTHORIZATION_TYPEHASH,
      addressWord(message.from),
      addressWord(message.to),
      uintWord(BigInt(message.value)),
      uintWord(BigInt(message.validAfter)),
      uintWord(BigInt(message.validBefore)),
      bytes32Word(message.nonce),
    ])
  )
  return keccak_256(concat([Uint8Array.of(0x19, 0x01), domainSeparator(domain), structHash]))
}

/**
 * The address whose key made a 65-byte `r ‖ s ‖ v` signature of `digest`, lowercase;
 * v is 27/28 (or 0/1), as viem and `ecrecover` take it.
 * @throws Error when the signature recovers no key (its r or s is out of range, or no point has that x)
 */
export function recoverSigner(digest: Uint8Array, signature: string): string {
  const bytes = hexToBytes(signature.slice(2))
  if (bytes.length !== 65) throw new Error('a plain signature is 65 bytes')
  const v = bytes[64] as number
  const recovery = v === 27 || v === 28 ? v - 27 : v === 0 || v === 1 ? v : -1
  if (recovery < 0) throw new Error(`v is ${v}, not 27 or 28`)
  // The digest is the message representative itself (EIP-712 signs it, no further hashing). Like
  // viem's recovery and the ecrecover precompile, a high s is not refused here: the token decides that.
  const publicKey = secp256k1.Signature.fromBytes(bytes.subarray(0, 64), 'compact')
    .addRecoveryBit(recovery)
    .recoverPublicKey(digest)
    .toBytes(false)
  // The address is the last 20 bytes of keccak256 of the uncompressed key without its 0x04 prefix.
  return `0x${bytesToHex(keccak_256(publicKey.subarray(1)).subarray(12))}`
}
