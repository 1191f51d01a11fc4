/**
 * @module notify/holder-alert
 * The key holder's own `key.low_balance` webhook: the URL and secret the holder
 * set in the portal (/account), the same envelope and signature as operator
 * webhooks (notify/sign: `X-Pay-Gate-Signature: t=…,v1=…` under the holder's
 * secret), the same address guard (checked again at each attempt, redirects not
 * followed). Private and loopback hosts are refused unless the operator sets
 * HOLDER_WEBHOOK_ALLOW_PRIVATE=1 (local development only): a holder is not the
 * operator, and must not reach the gate's network.
 *
 * Delivered within the request that crossed the threshold (a few quick retries,
 * notify/deliver `deliverWithBackoff`), not through the operator's outbox: a
 * holder's receiver that is down for longer misses that alert.
 */
import { env as workerEnv } from 'cloudflare:workers'
import { formatDollars } from '../money'
import { checkWebhookUrl } from './address-guard'
import { deliverWithBackoff, type PreparedEvent } from './deliver'
import { operatorEvent } from './events'
import {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_RETRY_BASE_MS,
  webhookFetcher,
  type WebhookSettings,
} from './settings'

/** The holder's alert as the account keeps it (credits/holder-alert). */
export interface HolderAlertTarget {
  url: string
  secret: string
  threshold: number
}

/** Whether holder webhooks may go to http and private hosts (HOLDER_WEBHOOK_ALLOW_PRIVATE=1). */
export function holderWebhooksAllowPrivate(env: Record<string, unknown>): boolean {
  return env.HOLDER_WEBHOOK_ALLOW_PRIVATE === '1'
}

/** Check a URL a holder gives for their alert, as it will be checked at delivery. */
export function checkHolderWebhookUrl(env: Record<string, unknown>, text: string) {
  return checkWebhookUrl(text, holderWebhooksAllowPrivate(env))
}

/** A new signing secret for a holder's webhook: `pgwh_` and 43 base64url characters. */
export function newHolderWebhookSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32))
  return `pgwh_${btoa(String.fromCharCode(...bytes))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '')}`
}

/**
 * Tell the holder their key's available credits went below their threshold.
 * Never throws and never delays the caller: the delivery runs in `waitUntil`.
 */
export function notifyHolderLowBalance(
  target: HolderAlertTarget,
  balance: { keyId: string; before: number; after: number },
  waitUntil: (promise: Promise<unknown>) => void
): void {
  // The Worker's settings, as notify/low-balance reads them: the hot path only passes what the hold answered.
  const env = workerEnv as unknown as Record<string, unknown>
  const allowPrivate = holderWebhooksAllowPrivate(env)
  const checked = checkWebhookUrl(target.url, allowPrivate)
  if (!checked.ok) return
  const settings: WebhookSettings = {
    url: checked.url,
    secret: target.secret,
    allowPrivate,
    retryBaseMs: DEFAULT_RETRY_BASE_MS,
    maxAttempts: DEFAULT_MAX_ATTEMPTS,
    fetcher: webhookFetcher(env, allowPrivate),
  }
  const event = operatorEvent('key.low_balance', {
    key: { id: balance.keyId },
    credits: formatDollars(balance.after),
    previousCredits: formatDollars(balance.before),
    threshold: formatDollars(target.threshold),
  })
  const prepared: PreparedEvent = { id: event.id, type: event.type, body: JSON.stringify(event) }
  waitUntil(deliverWithBackoff(settings, prepared).catch(() => undefined))
}
