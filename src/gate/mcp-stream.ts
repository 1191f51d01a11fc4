/**
 * @module gate/mcp-stream
 * MCP answers wherever they arrive (MCP 2025-11-25 §Resumability, §Listening for
 * Messages): a server may end a POST's stream before its answer and send the
 * answer when the client resumes with GET and `Last-Event-ID`. Every event id
 * the gate hands out is a ticket (gate/stream-ticket) naming the stream's calls
 * and holds. A GET's stream is read like a POST's: an answer to a held call is
 * charged (settled at once, in the key's account: the account settles a hold
 * once, whichever stream gets there first) before it is handed on; an answer to
 * a priced call the ticket does not hold, or no longer holds, is replaced by an
 * in-band refusal; requests and notifications pass. A standalone GET stream
 * carries no answers ("MUST NOT send a JSON-RPC response on the stream unless
 * resuming"), so its ticket holds none.
 */
import { hashApiKey, type Caller } from '../credits'
import {
  bodyFormat,
  idKey,
  INVALID_REQUEST,
  jsonRpcError,
  responseOutcome,
  SseReader,
  serializeEvent,
  withEventId,
  type JsonRpcId,
  type McpMessage,
  type SseEvent,
} from '../mcp'
import type { McpPriceBook } from '../pricing'
import { downstreamResponseHeaders, observeBody } from '../proxy'
import { chargeForServed, type CreditHold } from './credits-payment'
import type { RouteContext } from './http-route'
import { passThrough } from './http-route'
import { mcpErrorResponse, PAYMENT_REQUIRED_CODE } from './mcp-answers'
import {
  openTicket,
  ticketSealer,
  type Sealer,
  type StreamTicket,
  type TicketHold,
} from './stream-ticket'
import { callOrigin } from './upstream'
import { settleResumedX402 } from './mcp-x402-resume'

/** The hash of the key a caller presents (an OAuth token: its key's), '' when none. */
export async function holderOf(presented: Caller): Promise<string> {
  if (presented.kind === 'token') return presented.keyHash
  return presented.kind === 'key' ? hashApiKey(presented.key) : ''
}

/**
 * The sealer for a POST's stream: its free requests, and its held call when
 * `hold` is given (a single call: only a single call's hold can wait for a
 * resumed stream). A priced request without a hold is left out, so its answer is
 * never delivered on a resumed stream.
 */
export function streamTickets(
  context: RouteContext,
  book: McpPriceBook,
  messages: McpMessage[],
  prices: ReadonlyMap<string, number>,
  response: Response,
  hold: CreditHold | null,
  holder: string
): Sealer {
  const calls: Record<string, TicketHold | null> = {}
  for (const message of messages) {
    if (message.kind !== 'request') continue
    const key = idKey(message.id)
    if (!prices.has(key)) calls[key] = null
    else if (hold && hold.reservationId === null)
      calls[key] = null // an idempotent replay: paid before
    else if (hold?.reservationId) calls[key] = heldCall(context, hold)
  }
  const ticket: StreamTicket = {
    session:
      response.headers.get('mcp-session-id') ?? context.request.headers.get('mcp-session-id'),
    holder,
    account: hold?.keyHash ?? '',
    keyId: hold?.keyId ?? '',
    calls,
    until: Date.now() + context.route.timeoutMs + book.resumeMs,
  }
  return ticketSealer(context.env, ticket)
}

/** What a ticket keeps of a single call's hold: the reservation, its charge, its usage record. */
export function heldCall(context: RouteContext, hold: CreditHold): TicketHold {
  const usage = context.usage.snapshot()
  return {
    reservation: hold.reservationId as string,
    ...chargeForServed(hold, [0]),
    ...(usage ? { usage } : {}),
  }
}

/** A GET: a standalone stream, or one resumed from an event id the gate handed out. */
export async function serveMcpStream(context: RouteContext, book: McpPriceBook): Promise<Response> {
  const { env, request } = context
  const session = request.headers.get('mcp-session-id')
  const holder = await holderOf(context.caller)
  const last = request.headers.get('last-event-id')
  let ticket: StreamTicket = {
    session,
    holder,
    account: '',
    keyId: '',
    calls: {},
    until: Date.now() + book.resumeMs,
  }
  const forwarded: Record<string, string> = {}
  if (last !== null) {
    const opened = await openTicket(env, last)
    const refuse = (message: string) =>
      mcpErrorResponse(400, null, INVALID_REQUEST, message, 'invalid_resume')
    if (!opened.ok)
      return refuse(
        'Last-Event-ID is not an event id this gate handed out: resume only from one it did.'
      )
    if (opened.ticket.session !== null && opened.ticket.session !== session)
      return refuse('Last-Event-ID belongs to another session.')
    // An x402 payment is the caller's own proof: only credits holds are bound to a key.
    const holds = Object.values(opened.ticket.calls).some(
      (call) => call !== null && !('x402' in call)
    )
    if (holds && opened.ticket.holder !== holder)
      return refuse(
        'Last-Event-ID belongs to a stream paid with another API key: resume it with the same key.'
      )
    ticket = opened.ticket
    forwarded['last-event-id'] = opened.originId
  }
  const response = await callOrigin(context, { headers: forwarded })
  if (!response.ok || !response.body || bodyFormat(response.headers.get('content-type')) !== 'sse')
    return passThrough(response)
  const sealer = ticketSealer(env, ticket)
  const headers = downstreamResponseHeaders(response.headers)
  headers.delete('content-length')
  return new Response(meteredEvents(context, ticket, sealer, response.body), {
    status: response.status,
    statusText: response.statusText,
    headers,
  })
}

/** The refusal that replaces an answer the gate will not hand on. */
export function notHeld(id: JsonRpcId, why: string): Record<string, unknown> {
  return jsonRpcError(id, PAYMENT_REQUIRED_CODE, why, { reason: 'answer_not_held' })
}

/**
 * Settle a held call on the answer about to be handed on, at once, in the key's
 * account (which settles a hold once, whichever stream or request gets there
 * first): a success is charged, a failure releases the hold. A success may be
 * handed on only when this charged it, or it was charged before (a repeat).
 */
export async function settleHeldAnswer(
  context: RouteContext,
  holder: { account: string; keyId: string; until: number },
  hold: TicketHold,
  success: boolean
): Promise<'deliver' | 'expired' | 'not_held'> {
  if (success && Date.now() > holder.until) return 'expired'
  const settled = await context.ledger.settleNow(holder.account, [
    {
      reservationId: hold.reservation,
      amount: success ? hold.amount : 0,
      calls: success ? hold.calls : 0,
    },
  ])
  const result = Array.isArray(settled) ? settled[0] : undefined
  if (result?.ok) {
    // Recorded as the call it settles, priced in the request that held it.
    const call = hold.usage ? context.usage.forEarlier(hold.usage) : context.usage
    call.settled(
      { keyId: holder.keyId, reservationId: hold.reservation, amount: hold.amount },
      result.charged,
      success ? hold.calls : 0
    )
    return 'deliver'
  }
  // An error carries nothing to withhold.
  if (!success || (result?.reason === 'already_settled' && result.charged > 0)) return 'deliver'
  return 'not_held'
}

function meteredEvents(
  context: RouteContext,
  ticket: StreamTicket,
  sealer: Sealer,
  body: ReadableStream<Uint8Array>
): ReadableStream<Uint8Array> {
  /** What to hand on for a message from the origin. */
  const decide = async (message: unknown): Promise<unknown> => {
    const answer = responseOutcome(message)
    if (!answer) return message
    const key = idKey(answer.id)
    if (!(key in ticket.calls))
      return notHeld(
        answer.id,
        'This answer was not paid for through the gate on this stream, so it is not delivered.'
      )
    const hold = ticket.calls[key]
    if (hold === null || hold === undefined) return message
    if ('x402' in hold) {
      const settled = await settleResumedX402(
        context,
        hold.x402,
        message as Record<string, unknown>,
        ticket.until
      )
      return (
        settled ??
        notHeld(
          answer.id,
          'This call\u2019s payment is no longer waiting (released, settled elsewhere or expired), so its answer is not delivered.'
        )
      )
    }
    const verdict = await settleHeldAnswer(context, ticket, hold, answer.outcome === 'success')
    if (verdict === 'deliver') return message
    return notHeld(
      answer.id,
      verdict === 'expired'
        ? 'The hold on this call expired before its answer came; it was not charged and is not delivered.'
        : 'This call is no longer held (released, cancelled or expired), so its answer is not delivered.'
    )
  }
  const sse = new SseReader()
  const decoder = new TextDecoder()
  const encoder = new TextEncoder()
  const pass = async (events: SseEvent[]): Promise<Uint8Array | undefined> => {
    let out = ''
    for (const original of events) {
      const { event } = withEventId(original, (id) => sealer.seal(id))
      let value: unknown
      try {
        value = event.data ? JSON.parse(event.data) : undefined
      } catch {
        value = undefined
      }
      if (value === undefined) {
        out += serializeEvent(event)
        continue
      }
      const messages = Array.isArray(value) ? value : [value]
      const decided = []
      for (const message of messages) decided.push(await decide(message))
      const changed = decided.some((message, index) => message !== messages[index])
      out += serializeEvent(
        event,
        changed ? JSON.stringify(Array.isArray(value) ? decided : decided[0]) : undefined
      )
    }
    return out ? encoder.encode(out) : undefined
  }
  return observeBody(body, {
    chunk: (bytes) => pass(sse.push(decoder.decode(bytes, { stream: true }))),
    flush: () => pass([sse.finish()].filter((event) => event !== undefined)),
    end: () => undefined,
  })
}
