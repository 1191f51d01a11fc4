/**
 * @module stripe/api
 * The one Stripe API call the gate makes: create a Checkout Session
 * (https://docs.stripe.com/api/checkout/sessions/create), over fetch, as the
 * stripe-node SDK sends it: form-encoded nested parameters, the secret key as a
 * Bearer token, the SDK's pinned API version, an Idempotency-Key, and one retry
 * with that key when Stripe could not answer or asks for one (its
 * `_shouldRetry`), so a retry cannot make two sessions. Ours rather than the
 * SDK (~35 KiB of the Worker's gzip for this one call, npm run size).
 */

/** The API version the gate speaks (stripe-node 23.1.0's pinned `ApiVersion`): the shapes events/checkout read. */
export const STRIPE_API_VERSION = '2026-10-28.endive'
const API = 'https://api.stripe.com'
const TIMEOUT_MS = 15_000

/** How the gate reaches Stripe's API; tests put a stand-in for Stripe's servers here. */
export type StripeFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

type Metadata = Record<string, string>

/** The parameters the gate sets (a subset of Stripe's). */
export interface SessionCreateParams {
  mode: 'payment' | 'subscription'
  line_items: Array<
    | { price: string; quantity: number }
    | {
        price_data: { currency: string; unit_amount: number; product_data: { name: string } }
        quantity: number
      }
  >
  client_reference_id?: string
  metadata: Metadata
  subscription_data?: { metadata: Metadata }
  payment_intent_data?: { metadata: Metadata }
  success_url: string
  cancel_url?: string
}

/** What the gate reads of the session Stripe answers. */
export interface CheckoutSession {
  id: string
  url: string | null
}

/** Stripe said no, or could not be reached: its error type and code (never a secret), for the log. */
export class StripeError extends Error {
  override readonly name = 'StripeError'
  constructor(
    message: string,
    readonly statusCode?: number,
    readonly type?: string,
    readonly code?: string
  ) {
    super(message)
  }
}

/** Stripe's form encoding: `a[b][0][c]=v`, arrays by index (stripe-node `stringifyRequestData`). */
export function formEncode(data: Record<string, unknown>): string {
  const pairs: string[] = []
  const add = (key: string, value: unknown) => {
    if (value === undefined) return
    if (value === null || typeof value !== 'object') {
      pairs.push(
        `${encodeURIComponent(key)}=${encodeURIComponent(value === null ? '' : String(value))}`
      )
      return
    }
    for (const [inner, child] of Object.entries(value)) add(`${key}[${inner}]`, child)
  }
  for (const [key, value] of Object.entries(data)) add(key, value)
  return pairs.join('&')
}

type Attempt = { response: Response; body: unknown } | { response?: undefined; error: Error }

async function attempt(
  fetchFn: StripeFetch,
  secret: string,
  body: string,
  idempotencyKey: string
): Promise<Attempt> {
  const abort = new AbortController()
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS)
  try {
    const response = await fetchFn(`${API}/v1/checkout/sessions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${secret}`,
        'content-type': 'application/x-www-form-urlencoded',
        'stripe-version': STRIPE_API_VERSION,
        'idempotency-key': idempotencyKey,
      },
      body,
      signal: abort.signal,
    })
    const text = await response.text()
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      parsed = undefined
    }
    return { response, body: parsed }
  } catch (error) {
    return {
      error: abort.signal.aborted
        ? new Error(`no answer within ${TIMEOUT_MS} ms`)
        : (error as Error),
    }
  } finally {
    clearTimeout(timer)
  }
}

/** Whether to send again (stripe-node `_shouldRetry`): no answer, or Stripe says so, a conflict, or a 5xx. */
function shouldRetry(result: Attempt): boolean {
  if (!result.response) return true
  const advice = result.response.headers.get('stripe-should-retry')
  if (advice === 'false') return false
  if (advice === 'true') return true
  return result.response.status === 409 || result.response.status >= 500
}

/**
 * Create a Checkout Session.
 * @throws StripeError
 */
export async function createCheckoutSession(
  secret: string,
  params: SessionCreateParams,
  fetchFn: StripeFetch = fetch
): Promise<CheckoutSession> {
  const body = formEncode(params as unknown as Record<string, unknown>)
  const idempotencyKey = crypto.randomUUID()
  let result = await attempt(fetchFn, secret, body, idempotencyKey)
  if (shouldRetry(result)) {
    // stripe-node's first backoff: half a second, with jitter.
    await new Promise((resolve) => setTimeout(resolve, 250 + Math.random() * 250))
    result = await attempt(fetchFn, secret, body, idempotencyKey)
  }
  if (!result.response)
    throw new StripeError(`Stripe could not be reached: ${result.error.message}`)
  const { response, body: answer } = result
  if (!response.ok) {
    const error = (
      answer as { error?: { type?: unknown; code?: unknown; message?: unknown } } | undefined
    )?.error
    const text = (value: unknown) => (typeof value === 'string' ? value : undefined)
    throw new StripeError(
      text(error?.message) ?? `Stripe answered ${response.status}`,
      response.status,
      text(error?.type),
      text(error?.code)
    )
  }
  const session = answer as { id?: unknown; url?: unknown } | undefined
  if (typeof session?.id !== 'string')
    throw new StripeError('Stripe answered without a session id', response.status)
  return { id: session.id, url: typeof session.url === 'string' ? session.url : null }
}
