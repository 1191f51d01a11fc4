/**
 * How an x402 call ended, as its payer sees it, and what that says about the
 * money and the origin; and the waits that make the x402 checks independent of
 * the machine's speed. Under load a facilitator or an origin may answer after
 * its timeout (the suite's x402 routes give the facilitator 1 s and the fault
 * routes 300 ms), and each such timeout has exactly one documented ending:
 *
 * - the route's timeout: 504 `upstream_timeout`, nothing settled, the
 *   authorization released; the call may or may not have reached the origin;
 * - /verify, or a /settle that could not be sent: 503 `facilitator_unavailable`,
 *   nothing taken, the authorization released;
 * - /settle without an answer: 503 `settlement_indeterminate`, the content
 *   withheld, the authorization spent; the payment may still land on chain
 *   (the one exception in docs/guarantees.md, and the payer is told).
 *
 * A scenario accepts these in place of its fault's own outcome and nothing
 * else; the chain checks (test/reliability/x402.rel.ts checkX402) stay exact:
 * every settled payment is a served call or one answered indeterminate.
 */
import { clearFacilitatorCalls, facilitatorCalls } from '../chain/client'
import { chain, decode } from '../x402-helpers'
import { sleep, type Tally } from './harness'

export type X402Ending =
  /** The origin answered and the payment settled. */
  | 'served'
  /** A 402, before the origin or from a settle that failed: nothing taken. */
  | 'refused'
  /** The origin failed (its status passed on, or 502): nothing settled, the authorization released. */
  | 'not-served'
  /** 504 by the route's timeout: nothing settled, the authorization released. */
  | 'timed-out'
  /** 503 facilitator_unavailable: nothing taken, the authorization released. */
  | 'unavailable'
  /** 503 settlement_indeterminate: withheld, the authorization spent, maybe paid on chain. */
  | 'indeterminate'
  /** Anything else: a violation. */
  | 'other'

export interface X402Answer {
  ending: X402Ending
  /** The gate's error code, or the in-band MCP reason. */
  reason?: string
  /** Whether the gate got as far as settling (a PAYMENT-RESPONSE came back): then the origin was called. */
  settleTried: boolean
}

/** Endings a timeout makes: accepted in place of a fault's own outcome. */
export const TIMEOUT_ENDINGS: ReadonlySet<X402Ending> = new Set([
  'timed-out',
  'unavailable',
  'indeterminate',
])

/** After these the authorization is free again: the same payment may pay for another call. */
export const RELEASES: ReadonlySet<X402Ending> = new Set(['not-served', 'timed-out', 'unavailable'])

function errorCode(text: string): string | undefined {
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code
    return typeof code === 'string' ? code : undefined
  } catch {
    return undefined
  }
}

/** An HTTP answer to a paid call. */
export function httpAnswer(status: number, headers: Headers, text: string): X402Answer {
  const header = headers.get('payment-response')
  const settleTried = header !== null
  const settled = settleTried && decode<{ success?: boolean }>(header).success === true
  const reason = errorCode(text)
  if (settled && status < 400) return { ending: 'served', settleTried }
  if (status === 504 && reason === 'upstream_timeout')
    return { ending: 'timed-out', reason, settleTried }
  if (status === 503 && reason === 'settlement_indeterminate')
    return { ending: 'indeterminate', reason, settleTried }
  if (status === 503 && reason === 'facilitator_unavailable')
    return { ending: 'unavailable', reason, settleTried }
  if (status === 402) return { ending: 'refused', reason, settleTried }
  if (!settleTried && (status === 502 || (status >= 500 && reason === undefined)))
    return { ending: 'not-served', reason, settleTried }
  return { ending: 'other', reason: reason ?? `status ${status}`, settleTried }
}

type McpMessage = {
  result?: { isError?: boolean; _meta?: Record<string, unknown> }
  error?: { data?: { reason?: string } }
}

/** An MCP answer to a paid tools/call (one JSON-RPC message). */
export function mcpAnswer(status: number, message: McpMessage | undefined): X402Answer {
  const meta = message?.result?._meta ?? {}
  const response = meta['x402/payment-response'] as { success?: boolean } | undefined
  const settleTried = response !== undefined
  if (
    status === 200 &&
    message?.result &&
    message.result.isError !== true &&
    response?.success === true
  )
    return { ending: 'served', settleTried }
  const reason = (meta['pay-gate/reason'] as string | undefined) ?? message?.error?.data?.reason
  if (status === 504 && reason === 'upstream_timeout')
    return { ending: 'timed-out', reason, settleTried }
  if (reason === 'settlement_indeterminate') return { ending: 'indeterminate', reason, settleTried }
  if (reason === 'facilitator_unavailable') return { ending: 'unavailable', reason, settleTried }
  if (message?.result?.isError === true && reason !== undefined)
    return { ending: 'refused', reason, settleTried }
  return { ending: 'other', reason: reason ?? `status ${status}`, settleTried }
}

/** How often a call with this ending reached the origin: once, never, or (timed out) at most once. */
export function expectedVisits(answer: X402Answer): 'once' | 'never' | 'at most once' {
  switch (answer.ending) {
    case 'served':
    case 'indeterminate':
    case 'not-served':
      return 'once'
    case 'timed-out':
      return 'at most once'
    default:
      return answer.settleTried ? 'once' : 'never'
  }
}

/** Counts an ending that a timeout decided (the report prints the total). */
export function countTimeout(tally: Tally, answer: X402Answer): void {
  if (TIMEOUT_ENDINGS.has(answer.ending)) tally.counts.timedOut = (tally.counts.timedOut ?? 0) + 1
}

type Call = {
  path: string
  status?: number
  body?: { paymentPayload?: { payload?: { authorization?: { nonce?: string } } } }
}

const nonceOf = (call: Call) =>
  call.body?.paymentPayload?.payload?.authorization?.nonce?.toLowerCase()

/**
 * Waits until the faulty facilitator has answered every request it received, and a /settle for each of
 * `nonces` (settles the gate gave up on, still running there), so that what it logged and what the
 * chain holds agree. Counted in polls, not by the clock; gives up after `polls` (the checks then say what differs).
 */
export async function facilitatorSettled(
  nonces: readonly string[] = [],
  polls = 400
): Promise<void> {
  const control = chain().faultyControlUrl
  for (let left = polls; left > 0; left--) {
    const calls = (await facilitatorCalls(control)) as Call[]
    const answered = calls.every((call) => call.status !== undefined)
    const settled = nonces.every((nonce) =>
      calls.some(
        (call) => call.path === '/settle' && call.status !== undefined && nonceOf(call) === nonce
      )
    )
    if (answered && settled) return
    await sleep(50)
  }
}

/** Starts a scenario's facilitator log afresh, once the previous scenario's requests have all been answered. */
export async function freshFacilitatorLog(): Promise<void> {
  await facilitatorSettled()
  await clearFacilitatorCalls(chain().faultyControlUrl)
}
