/**
 * @module stripe/signature
 * Checking `Stripe-Signature` (https://docs.stripe.com/webhooks#verify-manually),
 * as stripe-node's `constructEventAsync` does: the header is `t=<unix seconds>`
 * and one or more `v1=<hex>`; the expected signature is HMAC-SHA256 of
 * `${t}.${raw body}` under the endpoint's secret; the event is genuine when any
 * `v1` equals it (compared in constant time) and `t` is at most `tolerance`
 * seconds old. Web Crypto only: no SDK.
 */

const encoder = new TextEncoder()

export type SignatureCheck =
  | { ok: true }
  | { ok: false; reason: 'unparsable_header' | 'no_signatures' | 'no_match' | 'too_old' }

/** The header's timestamp and v1 signatures; undefined when it has no usable timestamp. */
function parseHeader(header: string): { timestamp: number; signatures: string[] } | undefined {
  let timestamp = -1
  const signatures: string[] = []
  for (const item of header.split(',')) {
    const at = item.indexOf('=')
    if (at < 0) continue
    const key = item.slice(0, at).trim()
    const value = item.slice(at + 1).trim()
    if (key === 't') timestamp = /^\d+$/.test(value) ? Number(value) : -1
    if (key === 'v1') signatures.push(value)
  }
  return timestamp < 0 ? undefined : { timestamp, signatures }
}

const toHex = (bytes: ArrayBuffer) =>
  Array.from(new Uint8Array(bytes), (byte) => byte.toString(16).padStart(2, '0')).join('')

/**
 * Whether `header` signs `body` under `secret`.
 * @param now seconds since the epoch
 */
export async function checkStripeSignature(
  body: Uint8Array,
  header: string,
  secret: string,
  toleranceSeconds: number,
  now: number
): Promise<SignatureCheck> {
  const parsed = parseHeader(header)
  if (!parsed) return { ok: false, reason: 'unparsable_header' }
  if (parsed.signatures.length === 0) return { ok: false, reason: 'no_signatures' }
  const prefix = encoder.encode(`${parsed.timestamp}.`)
  const signed = new Uint8Array(prefix.length + body.length)
  signed.set(prefix)
  signed.set(body, prefix.length)
  const key = await crypto.subtle.importKey(
    'raw',
    encoder.encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign']
  )
  const expected = encoder.encode(toHex(await crypto.subtle.sign('HMAC', key, signed)))
  const matches = parsed.signatures.some((signature) => {
    const given = encoder.encode(signature)
    return given.length === expected.length && crypto.subtle.timingSafeEqual(given, expected)
  })
  if (!matches) return { ok: false, reason: 'no_match' }
  // Stripe's rule: too old is refused; a timestamp ahead of our clock is not (clocks drift).
  if (toleranceSeconds > 0 && now - parsed.timestamp > toleranceSeconds)
    return { ok: false, reason: 'too_old' }
  return { ok: true }
}
