/**
 * @module notify/sign
 * The webhook signature: HMAC-SHA256 with OPERATOR_WEBHOOK_SECRET over
 * `${timestamp}.${body}` (timestamp in Unix seconds, body the exact bytes sent),
 * sent as `X-Pay-Gate-Signature: t=<timestamp>,v1=<hex>`. Signing the timestamp
 * lets a receiver refuse old deliveries (replays); the same scheme as Stripe's.
 */

export const SIGNATURE_HEADER = 'x-pay-gate-signature'
export const EVENT_ID_HEADER = 'x-pay-gate-event-id'
export const EVENT_TYPE_HEADER = 'x-pay-gate-event-type'

const hex = (bytes: ArrayBuffer): string =>
  [...new Uint8Array(bytes)].map((byte) => byte.toString(16).padStart(2, '0')).join('')

/** The hex HMAC-SHA256 of `${timestamp}.${body}` under `secret`. */
export async function signPayload(
  secret: string,
  timestamp: number,
  body: string
): Promise<string> {
  const encoder = new TextEncoder()
  const key = await crypto.subtle.importKey(
    'raw',
    encoder.encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign']
  )
  return hex(await crypto.subtle.sign('HMAC', key, encoder.encode(`${timestamp}.${body}`)))
}

/** The X-Pay-Gate-Signature value for a body sent at `timestamp`. */
export async function signatureHeader(
  secret: string,
  timestamp: number,
  body: string
): Promise<string> {
  return `t=${timestamp},v1=${await signPayload(secret, timestamp, body)}`
}
