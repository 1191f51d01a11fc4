/**
 * @module stripe/claim-seal
 * How a key bought without a key reaches only the buyer's browser. Starting the
 * checkout makes an ECDH P-256 key pair: the private key is the claim secret (the
 * buyer's browser keeps it, in an HttpOnly cookie; the gate does not store it),
 * the public key goes into the Checkout Session's metadata. When Stripe's webhook
 * confirms the payment, the gate issues the key and seals it to that public key
 * (ECIES: an ephemeral ECDH key, HKDF-SHA256, AES-256-GCM, the session id as the
 * associated data); only the claim secret opens it. So nothing the gate stores,
 * nor anything in Stripe, nor the session id, is enough to read the key.
 */

const CURVE = { name: 'ECDH', namedCurve: 'P-256' } as const
const SEAL_VERSION = 'v1'
const encoder = new TextEncoder()

function base64url(bytes: ArrayBuffer | Uint8Array): string {
  let binary = ''
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte)
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')
}

function fromBase64url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null
  try {
    const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'))
    return Uint8Array.from(binary, (char) => char.charCodeAt(0))
  } catch {
    return null
  }
}

/** What a public key looks like in the session's metadata: an uncompressed P-256 point, base64url. */
export const CLAIM_PUBLIC_KEY_PATTERN = /^[A-Za-z0-9_-]{87}$/
/** What a claim secret looks like: a PKCS #8 P-256 private key, base64url. */
export const CLAIM_SECRET_PATTERN = /^[A-Za-z0-9_-]{100,400}$/

/** A new claim: the secret for the buyer's browser, the public key for the session's metadata. */
export async function newClaim(): Promise<{ secret: string; publicKey: string }> {
  const pair = (await crypto.subtle.generateKey(CURVE, true, ['deriveBits'])) as CryptoKeyPair
  const secret = base64url((await crypto.subtle.exportKey('pkcs8', pair.privateKey)) as ArrayBuffer)
  const publicKey = base64url((await crypto.subtle.exportKey('raw', pair.publicKey)) as ArrayBuffer)
  return { secret, publicKey }
}

async function aesKey(
  privateKey: CryptoKey,
  publicKey: CryptoKey,
  context: string,
  usage: 'encrypt' | 'decrypt'
): Promise<CryptoKey> {
  // The Web Crypto spec's member is `public` (workers-types spells it `$public`).
  const ecdh = { name: 'ECDH', public: publicKey } as unknown as SubtleCryptoDeriveKeyAlgorithm
  const shared = await crypto.subtle.deriveBits(ecdh, privateKey, 256)
  const hkdf = await crypto.subtle.importKey('raw', shared, 'HKDF', false, ['deriveKey'])
  return crypto.subtle.deriveKey(
    {
      name: 'HKDF',
      hash: 'SHA-256',
      salt: new Uint8Array(0),
      info: encoder.encode(`pay-gate claim ${SEAL_VERSION} ${context}`),
    },
    hkdf,
    { name: 'AES-GCM', length: 256 },
    false,
    [usage]
  )
}

/** Seal `plaintext` to a claim's public key, bound to `context` (the session id). */
export async function sealTo(
  publicKey: string,
  plaintext: string,
  context: string
): Promise<string> {
  const raw = fromBase64url(publicKey)
  if (!raw) throw new Error('not a claim public key')
  const recipient = await crypto.subtle.importKey('raw', raw, CURVE, false, [])
  const ephemeral = (await crypto.subtle.generateKey(CURVE, true, ['deriveBits'])) as CryptoKeyPair
  const key = await aesKey(ephemeral.privateKey, recipient, context, 'encrypt')
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: encoder.encode(context) },
    key,
    encoder.encode(plaintext)
  )
  const ephemeralPublic = (await crypto.subtle.exportKey('raw', ephemeral.publicKey)) as ArrayBuffer
  return [SEAL_VERSION, base64url(ephemeralPublic), base64url(iv), base64url(sealed)].join('.')
}

/** Open a sealed value with the claim secret; null when this secret does not open it. */
export async function openWith(
  secret: string,
  sealed: string,
  context: string
): Promise<string | null> {
  const [version, ephemeral, iv, body, ...rest] = sealed.split('.')
  const parts = [ephemeral, iv, body].map((part) =>
    part === undefined ? null : fromBase64url(part)
  )
  const [ephemeralRaw, ivRaw, bodyRaw] = parts
  if (version !== SEAL_VERSION || rest.length > 0 || !ephemeralRaw || !ivRaw || !bodyRaw)
    return null
  const pkcs8 = CLAIM_SECRET_PATTERN.test(secret) ? fromBase64url(secret) : null
  if (!pkcs8) return null
  try {
    const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, CURVE, false, ['deriveBits'])
    const sender = await crypto.subtle.importKey('raw', ephemeralRaw, CURVE, false, [])
    const key = await aesKey(privateKey, sender, context, 'decrypt')
    const opened = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: ivRaw, additionalData: encoder.encode(context) },
      key,
      bodyRaw
    )
    return new TextDecoder().decode(opened)
  } catch {
    // Another browser's secret, a malformed one, or a tampered seal: all the same to the caller.
    return null
  }
}
