/**
 * @module gate/mcp-x402-resume
 * An x402-paid MCP call whose answer comes on a resumed stream (MCP 2025-11-25
 * §Resumability): its event ids carried the payment, waiting (gate/stream-ticket);
 * the resumed stream claims it in its lock and settles it there.
 */
import { responseOutcome, type JsonRpcId } from '../mcp'
import {
  buildRequirements,
  claimAuthorization,
  settledByFlight,
  unclaimAuthorization,
} from '../x402'
import type { RouteContext } from './http-route'
import { settled } from './mcp-x402'
import type { TicketPayment } from './stream-ticket'
import { finishClaimedX402 } from './x402-finish'
import type { X402Attempt } from './x402-payment'

/** How long a resumed stream's claim on a payment lasts: its settle's timeout and a margin (as a sidecar follow-up's). */
const CLAIM_MARGIN_MS = 10_000

/**
 * Settle, on a resumed stream, the payment of a call whose answer came there
 * (MCP 2025-11-25 resumability): claim it in its lock (one claim at a time, so
 * two resumes never both settle it), settle a success or release a failure, and
 * return the answer to hand on, as on the POST stream: with the settlement in
 * its `_meta`, or replaced by the payment error. An answer whose payment is
 * already settled (a repeat) is handed on; one whose payment is gone, or is
 * being settled elsewhere, is not.
 */
export async function settleResumedX402(
  context: RouteContext,
  waiting: TicketPayment,
  answer: Record<string, unknown>,
  until: number
): Promise<Record<string, unknown> | null> {
  const { env, route } = context
  const terms = route.rails.x402
  const request = { id: answer.id as JsonRpcId, tool: waiting.tool }
  if (!terms || Date.now() > until) return null
  const lease = terms.facilitator.settleTimeoutMs + CLAIM_MARGIN_MS
  const claim = await claimAuthorization(
    env.X402_LOCKS,
    waiting.lock,
    waiting.nonce,
    waiting.flight,
    lease
  )
  if (claim === 'unavailable' || claim.kind === 'settling') return null
  if (claim.kind === 'finished') {
    // A repeat of an answer this very call paid for is handed on; a payment settled for another call is not its.
    return (await settledByFlight(
      env.X402_LOCKS,
      waiting.lock,
      waiting.nonce,
      waiting.flight
    ).catch(() => false))
      ? answer
      : null
  }
  const usage = waiting.usage ? context.usage.forEarlier(waiting.usage) : undefined
  const attempt: X402Attempt = {
    timings: {},
    terms,
    requirements: buildRequirements(terms, waiting.micros),
    payload: waiting.payload,
    payer: waiting.payer,
    nonce: waiting.nonce,
    lock: waiting.lock,
    validBefore: waiting.validBefore,
    mode: 'verified',
    flight: waiting.flight,
    micros: waiting.micros,
  }
  const served = responseOutcome(answer)?.outcome === 'success'
  const { finish, record } = await finishClaimedX402(env, attempt, served, waiting.resource, {
    id: claim.claim,
    retaken: claim.retaken,
  })
  if (record === 'unrecorded' && finish.kind === 'served-unpaid') {
    // The facilitator could not be asked: put the claim back; a later resume may settle it.
    await unclaimAuthorization(env.X402_LOCKS, waiting.lock, waiting.nonce, claim.claim)
    return null
  }
  usage?.x402Finished(finish, waiting.payer, waiting.micros)
  if (finish.kind === 'paid') return settled(answer, request, finish, route.rails.credits)
  if (finish.kind === 'served-unpaid') return null
  return served ? settled(answer, request, finish, route.rails.credits) : answer
}
