/**
 * @module env
 * The Worker's bindings and settings, and the Hono environment the gate runs in.
 * Types only, apart from reading numeric settings.
 */
import type { AccountNamespace, IndexNamespace, OAuthCaller } from './credits'
import type { LockNamespace } from './x402'
import type { OutboxNamespace } from './notify'
import type { CheckoutClaimNamespace } from './stripe'
import { GATE_SETTING_NAMES } from './setting-names'
import type { UsageEvent } from './usage'

export interface Env {
  /** The route table, under one key (see pricing/store). */
  ROUTES: KVNamespace
  /** One account object per API key, named by the key's SHA-256. */
  CREDITS: AccountNamespace
  /** The list of keys, for the admin API. */
  KEY_INDEX: IndexNamespace
  /** One lock per x402 payer: each authorization is used once. */
  X402_LOCKS: LockNamespace
  /** "allow" lets a route table use x402 `mode: "dev"` (checked, never settled). Never set it in production. */
  X402_DEV_MODE?: string
  /** Bearer token of the admin API; a Worker secret. Unset: the admin API refuses everything. */
  ADMIN_TOKEN?: string
  /** Seconds a route table is used before KV is read again (default 30; 0 reads every request). */
  ROUTES_CACHE_TTL_SECONDS?: string
  /** Milliseconds a settlement may wait to ride with its key's next hold (default 500; 0: at once). */
  SETTLE_BATCH_MS?: string
  /** Stripe secret API key (`sk_…`), for POST /stripe/checkout; a Worker secret. Unset: /stripe/checkout answers 404. */
  STRIPE_SECRET_KEY?: string
  /** Signing secret of the Stripe webhook endpoint (`whsec_…`); a Worker secret. Unset: /stripe/webhook answers 404. */
  STRIPE_WEBHOOK_SECRET?: string
  /**
   * One object per Checkout Session started without a key (optional): issues that session's key once and
   * shows it once. Unset: buying by card without a key (/stripe/buy) answers 404; top-ups still work.
   */
  STRIPE_CLAIMS?: CheckoutClaimNamespace
  /** Shared secret of sidecar mode (`/__pay/*`, sent as X-Pay-Sidecar-Token); a Worker secret. Unset: sidecar endpoints answer 404. */
  SIDECAR_TOKEN?: string
  /** Usage events (D1). Unset: usage is not recorded and the usage endpoints answer 404. */
  USAGE_DB?: D1Database
  /** Usage events' queue (optional): events are durable once sent, and its consumer writes them to USAGE_DB. */
  USAGE_QUEUE?: Queue<UsageEvent>
  /** Milliseconds the first usage event of a batch waits for others before it is written (default 50). */
  USAGE_BATCH_MS?: string
  /** A bearer token that may read GET /metrics (besides ADMIN_TOKEN); 16 characters or more. */
  METRICS_TOKEN?: string
  /**
   * The request header that carries the caller's address, set by a party the gate trusts, for the
   * admin API's wrong-token throttle. Unset: CF-Connecting-IP (Cloudflare's edge sets it). "none":
   * no header is trusted, every caller shares one allowance (`pay-gate serve` sets this unless told
   * otherwise). Else, a header your reverse proxy sets (its last entry counts, as in X-Forwarded-For).
   */
  CLIENT_IP_HEADER?: string
  /**
   * Where operator webhooks go out when private addresses are not allowed (optional): an
   * outbound service that connects to public addresses only, checked after DNS resolution
   * (a workerd network service with `allow: ["public"]`; `pay-gate serve` binds it). Not
   * needed on Cloudflare, whose Workers cannot reach private addresses at all.
   */
  WEBHOOK_NETWORK?: Fetcher
  /** Operator webhooks' outbox (optional): retries outlive the request. Absent: delivered within the request. */
  WEBHOOK_OUTBOX?: OutboxNamespace
  /** Operator webhooks (all optional; docs/admin-api.md "Operator webhooks"): where to POST, the signing secret (16+ chars),
   *  "1" to allow http and private hosts, the first retry delay, attempts per event. */
  OPERATOR_WEBHOOK_URL?: string
  OPERATOR_WEBHOOK_SECRET?: string
  OPERATOR_WEBHOOK_ALLOW_PRIVATE?: string
  OPERATOR_WEBHOOK_RETRY_BASE_MS?: string
  OPERATOR_WEBHOOK_MAX_ATTEMPTS?: string
  /** Dollars ("1.00"): a hold taking a key's available credits below this raises `key.low_balance`. */
  LOW_BALANCE_THRESHOLD?: string
  /** "1" lets a key holder's own low-balance webhook (set in /account) go to http and private hosts. Local development only. */
  HOLDER_WEBHOOK_ALLOW_PRIVATE?: string
  /**
   * Signs the key holders' portal sessions (/account; 16+ characters; a Worker secret).
   * Unset: derived from ADMIN_TOKEN; with neither, the portal is off.
   */
  ACCOUNT_SESSION_SECRET?: string
  /**
   * Seals the event ids the gate hands out on MCP streams (16+ characters; a Worker secret).
   * Unset: derived from ADMIN_TOKEN; with neither, each isolate has its own.
   */
  STREAM_TICKET_SECRET?: string
  /** OAuth for MCP routes (src/oauth): the provider's clients, grants and tokens (hashed). Unset: no route offers OAuth. */
  OAUTH_KV?: KVNamespace
  /** Upstream credentials named by routes' `upstreamAuth.secret`, and anything else. */
  [binding: string]: unknown
}

/**
 * Set by src/oauth's guard: `oauthCaller` on a request whose access token it
 * validated; `oauthChallenge`, the 401 challenge for a credential-less call on an OAuth route.
 */
export type AppEnv = {
  Bindings: Env
  Variables: { oauthCaller?: OAuthCaller; oauthChallenge?: string }
}

/** Env's string settings by name, without the index signature (whose keys are any string). */
type StringSettings = {
  [
    K in keyof Env as string extends K ? never : Env[K] extends string | undefined ? K : never
  ]: Env[K]
}

// Every name `pay-gate serve` passes from its environment (src/setting-names) is a string setting the gate reads.
GATE_SETTING_NAMES satisfies ReadonlyArray<keyof StringSettings>

/** Read a whole-number setting, falling back when it is absent or malformed. */
export function numberSetting(value: unknown, fallback: number): number {
  if (typeof value !== 'string' || !/^\d+$/.test(value.trim())) return fallback
  return Number(value.trim())
}
