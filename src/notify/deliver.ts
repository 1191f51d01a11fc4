/**
 * @module notify/deliver
 * One delivery attempt of a signed operator webhook, and its outcome: delivered
 * (2xx), worth retrying (network error, timeout, 5xx, 429), or rejected for good
 * (any other status, a redirect, a refused address). Redirects are not followed:
 * a receiver could otherwise bounce the request to an address the guard refuses.
 * Also the bounded in-request retry loop used when there is no outbox object.
 */
import { checkWebhookUrl } from './address-guard'
import { retryDelayMs, type WebhookSettings } from './settings'
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signatureHeader } from './sign'

/** An event ready to send: its id and type, and the exact JSON body every attempt sends. */
export interface PreparedEvent {
  id: string
  type: string
  body: string
}

export type DeliveryOutcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
  | { kind: 'rejected'; reason: string }

/** How long one attempt may take before it counts as a network failure. */
const ATTEMPT_TIMEOUT_MS = 10_000

function retryAfterMs(value: string | null): number | undefined {
  if (value === null) return undefined
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now())
}

/**
 * Send `event` once to the configured URL, signed with a fresh timestamp.
 * The URL is checked again here, so no code path can skip the address guard.
 */
export async function deliverOnce(
  settings: WebhookSettings,
  event: PreparedEvent,
  fetcher: typeof fetch = settings.fetcher
): Promise<DeliveryOutcome> {
  const checked = checkWebhookUrl(settings.url.href, settings.allowPrivate)
  if (!checked.ok) return { kind: 'rejected', reason: `address refused: ${checked.reason}` }
  const timestamp = Math.floor(Date.now() / 1000)
  let response: Response
  try {
    response = await fetcher(checked.url.href, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'pay-gate-webhooks/1',
        [SIGNATURE_HEADER]: await signatureHeader(settings.secret, timestamp, event.body),
        [EVENT_ID_HEADER]: event.id,
        [EVENT_TYPE_HEADER]: event.type,
      },
      body: event.body,
    })
  } catch (error) {
    return { kind: 'retry', reason: `network error: ${(error as Error).name}` }
  }
  await response.body?.cancel().catch(() => {})
  const { status } = response
  if (status >= 200 && status < 300) return { kind: 'delivered', status }
  if (status >= 500 || status === 429) {
    return {
      kind: 'retry',
      reason: `HTTP ${status}`,
      retryAfterMs: retryAfterMs(response.headers.get('retry-after')),
    }
  }
  return { kind: 'rejected', reason: `HTTP ${status}` }
}

/** Attempts and total wait of the in-request fallback, inside the runtime's waitUntil allowance (30 s). */
export const FALLBACK_ATTEMPTS = 4
const FALLBACK_MAX_DELAY_MS = 4_000

/**
 * Deliver within the current request's lifetime: up to FALLBACK_ATTEMPTS tries,
 * waits doubling from the configured base but capped short. What this loses,
 * compared with the outbox object: an event whose receiver is down for more than
 * a few seconds, or whose isolate is evicted meanwhile, is dropped (and logged).
 */
export async function deliverWithBackoff(
  settings: WebhookSettings,
  event: PreparedEvent,
  fetcher: typeof fetch = settings.fetcher
): Promise<DeliveryOutcome> {
  let outcome: DeliveryOutcome = { kind: 'retry', reason: 'not tried' }
  for (let attempt = 1; attempt <= FALLBACK_ATTEMPTS; attempt++) {
    outcome = await deliverOnce(settings, event, fetcher)
    if (outcome.kind !== 'retry' || attempt === FALLBACK_ATTEMPTS) break
    const wait = Math.min(FALLBACK_MAX_DELAY_MS, retryDelayMs(settings, attempt))
    await new Promise((resolve) => setTimeout(resolve, wait))
  }
  if (outcome.kind !== 'delivered') {
    console.warn(`pay-gate: webhook ${event.id} (${event.type}) not delivered: ${outcome.reason}`)
  }
  return outcome
}
