/**
 * @module notify/settings
 * The operator-webhook settings, read from the Worker's environment. All are
 * optional: with no OPERATOR_WEBHOOK_URL nothing is sent, and a URL without a
 * secret (or one the address guard refuses) turns webhooks off with one warning
 * per isolate rather than sending unsigned or unsafe requests.
 */
import { parseDollars } from '../money'
import { checkWebhookUrl } from './address-guard'

export interface WebhookSettings {
  url: URL
  secret: string
  /** OPERATOR_WEBHOOK_ALLOW_PRIVATE=1: http and private/loopback hosts allowed. */
  allowPrivate: boolean
  /** First retry delay; each later one doubles (OPERATOR_WEBHOOK_RETRY_BASE_MS, default 10 s). */
  retryBaseMs: number
  /** Deliveries tried per event before it is given up (OPERATOR_WEBHOOK_MAX_ATTEMPTS, default 12). */
  maxAttempts: number
  /**
   * How deliveries connect: through WEBHOOK_NETWORK when it is bound and private hosts are not
   * allowed, so a host name that resolves to a private or loopback address is refused at connect
   * time (the address guard can only read the name); else the runtime's fetch.
   */
  fetcher: typeof fetch
}

export const DEFAULT_RETRY_BASE_MS = 10_000
export const DEFAULT_MAX_ATTEMPTS = 12
/** No single wait between two attempts is longer than this. */
export const MAX_RETRY_DELAY_MS = 60 * 60 * 1000

const warned = new Set<string>()
function warnOnce(message: string): void {
  if (warned.has(message)) return
  warned.add(message)
  console.warn(`pay-gate: operator webhooks are off: ${message}`)
}

function wholeNumber(value: unknown, fallback: number, min: number, max: number): number {
  if (typeof value !== 'string' || !/^\d+$/.test(value.trim())) return fallback
  return Math.min(max, Math.max(min, Number(value.trim())))
}

/** The webhook settings, or null when webhooks are off. */
export function webhookSettings(env: Record<string, unknown>): WebhookSettings | null {
  const rawUrl = env.OPERATOR_WEBHOOK_URL
  if (typeof rawUrl !== 'string' || rawUrl.trim() === '') return null
  const secret = env.OPERATOR_WEBHOOK_SECRET
  if (typeof secret !== 'string' || secret.length < 16) {
    warnOnce('OPERATOR_WEBHOOK_SECRET must be set (16 characters or more)')
    return null
  }
  const allowPrivate = env.OPERATOR_WEBHOOK_ALLOW_PRIVATE === '1'
  const checked = checkWebhookUrl(rawUrl.trim(), allowPrivate)
  if (!checked.ok) {
    // The reason, never the URL: it may carry a token in its path or query.
    warnOnce(`OPERATOR_WEBHOOK_URL is refused: ${checked.reason}`)
    return null
  }
  return {
    url: checked.url,
    secret,
    allowPrivate,
    retryBaseMs: wholeNumber(
      env.OPERATOR_WEBHOOK_RETRY_BASE_MS,
      DEFAULT_RETRY_BASE_MS,
      1,
      MAX_RETRY_DELAY_MS
    ),
    maxAttempts: wholeNumber(env.OPERATOR_WEBHOOK_MAX_ATTEMPTS, DEFAULT_MAX_ATTEMPTS, 1, 50),
    fetcher: webhookFetcher(env, allowPrivate),
  }
}

/** How a webhook connects: through WEBHOOK_NETWORK when bound and private hosts are not allowed, else the runtime's fetch. */
export function webhookFetcher(env: Record<string, unknown>, allowPrivate: boolean): typeof fetch {
  return publicOnly(env.WEBHOOK_NETWORK) && !allowPrivate
    ? (input, init) => (env.WEBHOOK_NETWORK as Fetcher).fetch(input, init)
    : fetch
}

function publicOnly(binding: unknown): binding is Fetcher {
  return (
    typeof binding === 'object' &&
    binding !== null &&
    typeof (binding as Fetcher).fetch === 'function'
  )
}

/** LOW_BALANCE_THRESHOLD in micro-dollars ("1.00" → 1_000_000), or null when unset or malformed. */
export function lowBalanceThreshold(env: Record<string, unknown>): number | null {
  const raw = env.LOW_BALANCE_THRESHOLD
  if (typeof raw !== 'string' || raw.trim() === '') return null
  const parsed = parseDollars(raw.trim())
  if (!parsed.ok || parsed.micros === 0) {
    warnOnce('LOW_BALANCE_THRESHOLD must be a decimal-dollar amount above 0, e.g. "1.00"')
    return null
  }
  return parsed.micros
}

/**
 * The wait before attempt `attempt + 1` (attempt counts from 1): base × 2^(attempt−1),
 * capped, with the upper half jittered so that many events failing together do not
 * come back together; a receiver's Retry-After is honoured when it asks for longer.
 */
export function retryDelayMs(
  settings: Pick<WebhookSettings, 'retryBaseMs'>,
  attempt: number,
  retryAfterMs?: number
): number {
  const exponential = Math.min(
    MAX_RETRY_DELAY_MS,
    settings.retryBaseMs * 2 ** Math.min(attempt - 1, 30)
  )
  const jittered = exponential / 2 + Math.random() * (exponential / 2)
  return Math.round(Math.min(MAX_RETRY_DELAY_MS, Math.max(jittered, retryAfterMs ?? 0)))
}
