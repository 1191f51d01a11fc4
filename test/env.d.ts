// The bindings the tests' gate runs with (wrangler.toml plus vitest.config.ts),
// and the main module's exports, so `env` and `exports` from cloudflare:workers are typed.
declare namespace Cloudflare {
  interface Env {
    ROUTES: KVNamespace
    CREDITS: import('../src/credits').AccountNamespace
    KEY_INDEX: import('../src/credits').IndexNamespace
    X402_LOCKS: import('../src/x402').LockNamespace
    WEBHOOK_OUTBOX: import('../src/notify').OutboxNamespace
    STRIPE_CLAIMS: import('../src/stripe').CheckoutClaimNamespace
    OPERATOR_WEBHOOK_URL: string
    HOLDER_WEBHOOK_ALLOW_PRIVATE: string
    WEBHOOK_NETWORK: Fetcher
    LOOPBACK_HOSTNAME: string
    LOOPBACK_HOSTNAME_PORT: string
    WEBHOOK_PORT: string
    ADMIN_TOKEN: string
    MCP_ORIGIN: string
    SCRIPTED_ORIGIN: string
    POLLING_ORIGIN: string
    EVERYTHING_ORIGIN: string
    API_ORIGIN: string
    UPSTREAM_TOKEN: string
    CHAIN: string
    X402_DEV_MODE: string
    STRIPE_SECRET_KEY: string
    STRIPE_WEBHOOK_SECRET: string
    USAGE_DB: D1Database
    USAGE_QUEUE: Queue<import('../src/usage').UsageEvent>
    METRICS_TOKEN: string
  }
  interface GlobalProps {
    mainModule: typeof import('../src/index')
    durableNamespaces:
      'CreditAccount' | 'KeyIndex' | 'PaymentLock' | 'WebhookOutbox' | 'CheckoutClaim'
  }
}
