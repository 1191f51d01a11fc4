/**
 * @module sidecar/settle
 * `POST /__pay/settle`: the proxy's follow-up once the origin has answered. It
 * brings the reservation token from the check and the outcome, and the hold is
 * charged (the origin answered below 400, as the gate charges HTTP routes) or
 * released; an x402 payment is settled on chain or released the same way
 * (sidecar/settle-x402). Idempotent: a repeated follow-up changes nothing and
 * says so. A token that does not open, or whose hold has expired, is refused and
 * nothing is charged: a hold nobody settled in time has been (or will be)
 * released by its account's alarm, and an authorization past its validBefore
 * can no longer be settled by anyone.
 *
 * The outcome: `X-Pay-Upstream-Status: 503`, `X-Pay-Outcome: served|failed`, or
 * both (served only if both say so) as headers, for proxies that can only set
 * headers, or the same as JSON: `{"reservation": "pgr1…", "status": 503}` /
 * `{"reservation": "…", "outcome": "served"}`.
 */
import type { Context } from 'hono'
import { CreditLedger, type LedgerClient } from '../credits'
import type { AppEnv } from '../env'
import { GateError } from '../errors'
import { formatDollars } from '../money'
import { sidecarSecret } from './auth'
import { RESERVATION_HEADER } from './payments'
import { MAX_TOKEN_CHARS, openReservation, type Reservation } from './reservation-token'
import { settledCall, settleDeferredX402, type SettleOutcome } from './settle-x402'
import { usageSink } from '../gate'
import type { UsageSink, UsageWriter } from '../usage'

/** A settle body is a token and an outcome: room for the longest token opened, and a little more. */
const MAX_SETTLE_BODY_CHARS = MAX_TOKEN_CHARS + 1024

interface SettleInput {
  token: string | null
  status: unknown
  outcome: unknown
}

async function settleInput(c: Context<AppEnv>): Promise<SettleInput> {
  const fromHeaders: SettleInput = {
    token: c.req.header(RESERVATION_HEADER) ?? null,
    status: c.req.header('x-pay-upstream-status'),
    outcome: c.req.header('x-pay-outcome'),
  }
  const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/json') return fromHeaders
  const text = await c.req.text()
  if (text.length > MAX_SETTLE_BODY_CHARS)
    throw new GateError('invalid_request', 'The settle body is too large.')
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new GateError('invalid_request', 'The settle body is not JSON.')
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new GateError('invalid_request', 'The settle body must be a JSON object.')
  const fields = body as Record<string, unknown>
  return {
    token: typeof fields.reservation === 'string' ? fields.reservation : fromHeaders.token,
    status: fields.status ?? fromHeaders.status,
    outcome: fields.outcome ?? fromHeaders.outcome,
  }
}

/**
 * Whether the origin served the call, and its status when the proxy sent one.
 * Either may come alone; given both, the call was served only if both say so:
 * nginx sends the status and, from its body filter, whether the answer reached
 * its end, so a 200 whose stream the origin broke off is `failed` (as the gate
 * does not charge an HTTP answer cut short).
 */
function servedOf(input: SettleInput): SettleOutcome {
  if (input.status === undefined && input.outcome === undefined) {
    throw new GateError(
      'invalid_request',
      'Send the upstream status (X-Pay-Upstream-Status) or the outcome ("served" or "failed").'
    )
  }
  if (input.outcome !== undefined && input.outcome !== 'served' && input.outcome !== 'failed') {
    throw new GateError('invalid_request', 'The outcome must be "served" or "failed".')
  }
  const status = input.status === undefined ? null : upstreamStatus(input.status)
  const served = (status === null || status < 400) && input.outcome !== 'failed'
  return { served, status }
}

function upstreamStatus(given: unknown): number {
  // nginx's $upstream_status can list several ("502, 200" after a retry): the last one answered the client.
  const last = typeof given === 'string' ? given.split(/[,:]/).pop()?.trim() : given
  const status = typeof last === 'string' && /^\d{3}$/.test(last) ? Number(last) : last
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
    throw new GateError(
      'invalid_request',
      'The upstream status must be an HTTP status code (100 to 599).'
    )
  }
  return status
}

/** The follow-up's handler; `usage` writes the settled call's usage event. */
export function settleHandler(usage: (delayMs: number) => UsageWriter) {
  const ledger = new CreditLedger()
  return async function settle(c: Context<AppEnv>): Promise<Response> {
    const input = await settleInput(c)
    const outcome = servedOf(input)
    if (input.token === null || input.token === '')
      throw new GateError('invalid_request', 'Send the reservation token (X-Pay-Reservation).')
    const reservation = await openReservation(sidecarSecret(c.env) as string, input.token)
    if (reservation === null)
      throw new GateError('invalid_reservation', 'The reservation token is not valid.')
    if (Date.now() > reservation.expiresAt) {
      const why =
        reservation.kind === 'x402'
          ? 'the payment’s authorization has expired; nothing was paid'
          : 'it was released and nothing was charged'
      throw new GateError('invalid_reservation', `The reservation has expired: ${why}.`)
    }
    const sink = usageSink(c, usage)
    const body =
      reservation.kind === 'x402'
        ? await settleDeferredX402(c.env, reservation, outcome, sink)
        : await settleCredits(
            ledger.client(c.env.CREDITS, 0, (promise) => c.executionCtx.waitUntil(promise)),
            reservation,
            outcome,
            sink
          )
    return c.json(body, 200, { 'cache-control': 'no-store' })
  }
}

/** Charge the hold (served) or release it; records the usage event of a hold settled here, like the gate's own. */
async function settleCredits(
  ledger: LedgerClient,
  reservation: Reservation,
  outcome: SettleOutcome,
  sink: UsageSink | null
): Promise<Record<string, unknown>> {
  const { served } = outcome
  const settlement = {
    reservationId: reservation.reservationId,
    amount: served ? reservation.amount : 0,
    calls: served ? reservation.calls : 0,
  }
  const results = await ledger.settleNow(reservation.keyHash, [settlement])
  if (!Array.isArray(results)) {
    // Settling is idempotent: the proxy may send the same follow-up again.
    throw new GateError(
      'ledger_unavailable',
      'The settlement could not be recorded now; send it again.',
      { headers: { 'retry-after': '1' } }
    )
  }
  const result = results[0]
  if (result?.ok === false && result.reason === 'already_settled')
    return { settled: 'already_settled' }
  if (!result?.ok)
    throw new GateError(
      'invalid_reservation',
      'The reservation is not known (or no longer held); nothing was charged.'
    )
  const call = settledCall(sink, reservation, outcome)
  if (call) {
    const hold = {
      keyId: reservation.keyId,
      reservationId: reservation.reservationId,
      amount: reservation.amount,
    }
    call.settled(hold, served ? reservation.amount : 0, served ? reservation.calls : 0)
  }
  return {
    settled: served ? 'charged' : 'released',
    charged: formatDollars(result.charged),
    creditsRemaining: formatDollars(result.available),
  }
}
