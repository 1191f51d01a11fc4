/**
 * @module gate/stream-ticket
 * Event ids the gate hands out on MCP streams. MCP 2025-11-25 §Resumability: a
 * client resumes a stream with GET and the `Last-Event-ID` it last saw, and the
 * answers still owed on that stream come there, not on the POST that asked. So
 * every SSE event id the gate passes on is a ticket it can check when the id
 * comes back: it names the session, the key that paid, and the stream's calls
 * (each request id with its hold, or free), and is sealed with the origin's own
 * event id under an HMAC, so that a ticket cannot be moved to another stream,
 * session or key, nor its calls or prices altered. Synchronous (noble's HMAC),
 * because it runs inside the stream reader for each event that has an id.
 */
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { fromBase64Url, toBase64Url } from '../bytes'
import type { Env } from '../env'
import { secretsEqual } from '../secret-compare'
import type { UsageCallSnapshot } from '../usage'
import type { PaymentPayload, ResourceInfo } from '../x402'

/** A held call: its reservation, what its answer is charged when it succeeds, and what its usage event says. */
export interface TicketHold {
  reservation: string
  amount: number
  calls: number
  usage?: UsageCallSnapshot
}

/**
 * An x402 payment accepted for a call whose answer has not come yet: what settling
 * it on a resumed stream needs (the payment is the caller's own, so it may be seen).
 */
export interface TicketPayment {
  payload: PaymentPayload
  micros: number
  payer: string
  nonce: string
  lock: string
  validBefore: number
  /** The flight holding the authorization in its lock: only a claim of this flight settles it. */
  flight: string
  resource: ResourceInfo
  tool?: string
  usage?: UsageCallSnapshot
}

/** A call on a stream: held on credits, paid with x402 and waiting, or free (null). */
export type TicketCall = TicketHold | { x402: TicketPayment } | null

export interface StreamTicket {
  /** The stream's MCP session (`Mcp-Session-Id`), or null without one. */
  session: string | null
  /** SHA-256 of the key that paid the stream's held calls ('' when none). */
  holder: string
  /** The account object its holds are on ('' when none). */
  account: string
  /** The key's admin id, for usage records ('' when none). */
  keyId: string
  /** Its JSON-RPC requests, by `idKey`: a held call's hold or payment, or null for a free one. */
  calls: Record<string, TicketCall>
  /** After this (ms since the epoch) an answer to a held call is refused: its hold is let go. */
  until: number
}

const STREAM_PREFIX = 'pg1.'
/** A sealed value longer than this is not one of ours. */
const MAX_SEALED_CHARS = 4096
const MAC_BYTES = 16
/** A 16-byte MAC in base64url, with its two dots. */
const MAC_CHARS = 24
/** Room left for the origin's own value (an SSE event id, a task id). */
const ORIGIN_VALUE_ROOM = 512

const encoder = new TextEncoder()
const decoder = new TextDecoder()
let cachedKey: { source: string; key: Uint8Array } | undefined

/**
 * The sealing key: `STREAM_TICKET_SECRET` when set; else derived from the admin
 * token (a Worker secret every isolate shares); else one per isolate, which is
 * enough for `wrangler dev` and tests but makes a resume on another isolate fail
 * closed (refused, never served free).
 */
function sealingKey(env: Env): Uint8Array {
  const configured =
    typeof env.STREAM_TICKET_SECRET === 'string' && env.STREAM_TICKET_SECRET.length >= 16
      ? env.STREAM_TICKET_SECRET
      : undefined
  const source =
    configured ??
    (typeof env.ADMIN_TOKEN === 'string' && env.ADMIN_TOKEN !== ''
      ? `admin\0${env.ADMIN_TOKEN}`
      : 'isolate')
  if (cachedKey?.source === source) return cachedKey.key
  const material =
    source === 'isolate' ? crypto.getRandomValues(new Uint8Array(32)) : encoder.encode(source)
  const key = hmac(sha256, encoder.encode('pay-gate stream tickets'), material)
  cachedKey = { source, key }
  return key
}

/** The prefix is part of what is signed, so a value sealed as one kind never opens as another. */
function mac(key: Uint8Array, payload: string, originValue: string): string {
  return toBase64Url(
    hmac(sha256, key, encoder.encode(`${payload}\n${originValue}`)).slice(0, MAC_BYTES)
  )
}

/** Seals one payload, encoded once, to each of the origin's values (event ids, task ids) in turn. */
export class Sealer {
  private readonly key: Uint8Array
  private readonly payload: string

  constructor(
    env: Env,
    private readonly prefix: string,
    payload: unknown
  ) {
    this.key = sealingKey(env)
    this.payload = toBase64Url(encoder.encode(JSON.stringify(payload)))
  }

  /**
   * Whether a sealed value stays short enough to be opened again (a Last-Event-ID
   * header must not grow without bound). One that would not is not handed out at
   * all: the origin's own value goes instead, and cannot be resumed from.
   */
  get fits(): boolean {
    return (
      this.prefix.length + this.payload.length + MAC_CHARS + ORIGIN_VALUE_ROOM <= MAX_SEALED_CHARS
    )
  }

  /** What the caller sees instead of the origin's `originValue`. */
  seal(originValue: string): string {
    // An origin value too long to fit is handed on as it is: never opened, so never resumed from.
    if (originValue.length > ORIGIN_VALUE_ROOM) return originValue
    return `${this.prefix}${this.payload}.${mac(this.key, `${this.prefix}${this.payload}`, originValue)}.${originValue}`
  }
}

export type Unsealed = { ok: true; payload: unknown; originValue: string } | { ok: false }

/** Open a sealed value: its payload and the origin's own value, or not ours. */
export async function unseal(env: Env, prefix: string, sealed: string): Promise<Unsealed> {
  if (!sealed.startsWith(prefix) || sealed.length > MAX_SEALED_CHARS) return { ok: false }
  const rest = sealed.slice(prefix.length)
  const dot = rest.indexOf('.')
  const dot2 = dot === -1 ? -1 : rest.indexOf('.', dot + 1)
  if (dot2 === -1) return { ok: false }
  const payload = rest.slice(0, dot)
  const originValue = rest.slice(dot2 + 1)
  if (
    !(await secretsEqual(
      rest.slice(dot + 1, dot2),
      mac(sealingKey(env), `${prefix}${payload}`, originValue)
    ))
  )
    return { ok: false }
  const bytes = fromBase64Url(payload)
  if (!bytes) return { ok: false }
  try {
    // Ours, and unaltered (the HMAC): its contents are as we wrote them.
    return { ok: true, payload: JSON.parse(decoder.decode(bytes)), originValue }
  } catch {
    return { ok: false }
  }
}

type StreamTicketWire = {
  s: string | null
  h: string
  a?: string
  k: string
  c: Record<string, TicketCall>
  u: number
}

/** The sealer of a stream's event ids. */
export function ticketSealer(env: Env, ticket: StreamTicket): Sealer {
  const wire: StreamTicketWire = {
    s: ticket.session,
    h: ticket.holder,
    ...(ticket.account !== ticket.holder ? { a: ticket.account } : {}),
    k: ticket.keyId,
    c: ticket.calls,
    u: ticket.until,
  }
  return new Sealer(env, STREAM_PREFIX, wire)
}

export type OpenedTicket = { ok: true; ticket: StreamTicket; originId: string } | { ok: false }

/** Open a `Last-Event-ID`: the ticket and the origin's own event id, or not ours. */
export async function openTicket(env: Env, eventId: string): Promise<OpenedTicket> {
  const opened = await unseal(env, STREAM_PREFIX, eventId)
  if (!opened.ok) return opened
  const value = opened.payload as StreamTicketWire
  return {
    ok: true,
    originId: opened.originValue,
    ticket: {
      session: value.s,
      holder: value.h,
      account: value.a ?? value.h,
      keyId: value.k,
      calls: value.c,
      until: value.u,
    },
  }
}
