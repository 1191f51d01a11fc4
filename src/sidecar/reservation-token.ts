/**
 * @module sidecar/reservation-token
 * The token a payment check hands the proxy for its follow-up: which key's hold
 * to settle, for how much, until when; or which x402 payment to settle, with
 * everything the settlement needs. It is sealed with AES-256-GCM under a key
 * derived from `SIDECAR_TOKEN`, so it can be neither forged nor altered nor read
 * (the key hash inside addresses the caller's account, and the payment is the
 * payer's signed authorization: neither is anybody else's business).
 */
import { type X402Attempt } from '../gate'
import type { UsageCallSnapshot } from '../usage'
import type { ResourceInfo } from '../x402'

const PREFIX = 'pgr1.'
/** Binds the ciphertext to its purpose: a token sealed for anything else never opens here. */
const ADDITIONAL_DATA = new TextEncoder().encode('pay-gate/sidecar/reservation/v1')

/** What a credits reservation token carries. */
export interface Reservation {
  /** SHA-256 of the caller's API key: the account object's name. */
  keyHash: string
  /** The hold in that account. */
  reservationId: string
  /** Micro-dollars held (the key's plan price), charged in full when the call was served. */
  amount: number
  /** How many priced calls the hold pays for (a plan's free call holds 0 but still counts). */
  calls: number
  /** When the hold expires (ms since epoch): later, the token is refused and nothing is charged. */
  expiresAt: number
  /** The key's admin id and what the call was, for its usage event when it settles. */
  keyId: string
  usage?: UsageCallSnapshot
}

/** An x402 payment accepted (verified, its authorization locked) at check time, to settle at the follow-up. */
export type DeferredX402 = Omit<X402Attempt, 'usage' | 'timings'> & { flight: string }

/** What an x402 reservation token carries. */
export interface X402Reservation {
  payment: DeferredX402
  /** What was paid for, for the settlement's refusal. */
  resource: ResourceInfo
  /** The authorization's validBefore (ms since epoch): later, it cannot be settled and the token is refused. */
  expiresAt: number
  usage?: UsageCallSnapshot
}

export type SealedPayment =
  ({ kind: 'credits' } & Reservation) | ({ kind: 'x402' } & X402Reservation)

/** The longest token opened: an x402 one carries the signed payload and the route's terms. */
export const MAX_TOKEN_CHARS = 16_384

const keys = new Map<string, Promise<CryptoKey>>()

/** The sealing key for a sidecar secret (derived once per isolate and secret). */
function sealingKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret)
  if (!key) {
    key = crypto.subtle
      .digest('SHA-256', new TextEncoder().encode(`pay-gate sidecar reservation key\0${secret}`))
      .then((raw) => crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']))
    keys.clear() // one secret at a time; a rotated secret replaces the old key
    keys.set(secret, key)
  }
  return key
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function fromBase64Url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return null
  try {
    const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
    return Uint8Array.from(binary, (char) => char.charCodeAt(0))
  } catch {
    return null
  }
}

async function seal(secret: string, value: unknown): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const plain = new TextEncoder().encode(JSON.stringify(value))
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: ADDITIONAL_DATA },
      await sealingKey(secret),
      plain
    )
  )
  const whole = new Uint8Array(iv.byteLength + sealed.byteLength)
  whole.set(iv)
  whole.set(sealed, iv.byteLength)
  return PREFIX + toBase64Url(whole)
}

/** Seal a credits reservation into a token. */
export function sealReservation(secret: string, reservation: Reservation): Promise<string> {
  return seal(secret, {
    h: reservation.keyHash,
    r: reservation.reservationId,
    a: reservation.amount,
    c: reservation.calls,
    e: reservation.expiresAt,
    k: reservation.keyId,
    u: reservation.usage,
  })
}

/** Seal an x402 payment to settle at the follow-up into a token. */
export function sealX402Reservation(secret: string, reservation: X402Reservation): Promise<string> {
  return seal(secret, {
    x: reservation.payment,
    res: reservation.resource,
    e: reservation.expiresAt,
    u: reservation.usage,
  })
}

/** Open a token; null when it is malformed, forged, altered or sealed under another secret. */
export async function openReservation(
  secret: string,
  token: string
): Promise<SealedPayment | null> {
  if (!token.startsWith(PREFIX) || token.length > MAX_TOKEN_CHARS) return null
  const whole = fromBase64Url(token.slice(PREFIX.length))
  if (!whole || whole.byteLength < 12 + 16 + 1) return null
  let plain: ArrayBuffer
  try {
    plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: whole.slice(0, 12), additionalData: ADDITIONAL_DATA },
      await sealingKey(secret),
      whole.slice(12)
    )
  } catch {
    return null
  }
  let value: {
    h?: unknown
    r?: unknown
    a?: unknown
    c?: unknown
    e?: unknown
    k?: unknown
    u?: UsageCallSnapshot
    x?: DeferredX402
    res?: ResourceInfo
  }
  try {
    value = JSON.parse(new TextDecoder().decode(plain)) as typeof value
  } catch {
    return null
  }
  const { h, r, a, c, e, k, u, x, res } = value
  // The sealed contents are ours (authenticated encryption): what is inside is as we wrote it.
  if (x !== undefined) {
    if (
      typeof x !== 'object' ||
      x === null ||
      typeof x.flight !== 'string' ||
      !res ||
      !Number.isSafeInteger(e)
    )
      return null
    return { kind: 'x402', payment: x, resource: res, expiresAt: e as number, usage: u }
  }
  if (
    typeof h !== 'string' ||
    typeof r !== 'string' ||
    !Number.isSafeInteger(a) ||
    !Number.isSafeInteger(c) ||
    !Number.isSafeInteger(e) ||
    typeof k !== 'string'
  )
    return null
  return {
    kind: 'credits',
    keyHash: h,
    reservationId: r,
    amount: a as number,
    calls: c as number,
    expiresAt: e as number,
    keyId: k,
    usage: u,
  }
}
