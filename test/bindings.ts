/**
 * The bindings the tests' gate runs with, from the values the global setup
 * provides (origin ports, the chain). Shared by vitest.config.ts and
 * vitest.reliability.config.ts. Runs in Node, at config time.
 */
import { TEST_ADMIN_TOKEN, TEST_SIDECAR_TOKEN, TEST_WEBHOOK_SECRET } from './constants'

export function testBindings(inject: <T>(key: string) => T): Record<string, string> {
  return {
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    SIDECAR_TOKEN: TEST_SIDECAR_TOKEN,
    // Every request reads the route table, so each test can set its own.
    ROUTES_CACHE_TTL_SECONDS: '0',
    MCP_ORIGIN: `http://127.0.0.1:${inject<number>('mcpPort')}`,
    POLLING_ORIGIN: `http://127.0.0.1:${inject<number>('pollingPort')}`,
    SCRIPTED_ORIGIN: `http://127.0.0.1:${inject<number>('scriptedPort')}`,
    // @modelcontextprotocol/server-everything (test/origins/everything.ts); its MCP endpoint is /mcp.
    EVERYTHING_ORIGIN: inject<string>('everythingOrigin'),
    API_ORIGIN: `http://127.0.0.1:${inject<number>('apiPort')}`,
    UPSTREAM_TOKEN: 'operator-secret-upstream-token',
    // The chain, token, payer keys and facilitators, as JSON for the x402 tests.
    CHAIN: JSON.stringify(inject<unknown>('chain')),
    X402_DEV_MODE: 'allow',
    // Stripe top-ups: a test-mode-shaped secret key (Stripe's servers are stood in for) and the webhook signing secret.
    STRIPE_SECRET_KEY: 'sk_test_paygate_not_a_real_key',
    STRIPE_WEBHOOK_SECRET: 'whsec_paygate_test_signing_secret',
    // A scrape-only token for GET /metrics (usage tests).
    METRICS_TOKEN: 'test-metrics-token-0123456789',
    // Operator webhooks to the loopback receiver (allowed by the private flag), retried quickly.
    OPERATOR_WEBHOOK_URL: `http://127.0.0.1:${inject<number>('webhookPort')}/hook`,
    WEBHOOK_PORT: String(inject<number>('webhookPort')),
    LOOPBACK_HOSTNAME: inject<string>('loopbackHostname'),
    LOOPBACK_HOSTNAME_PORT: String(inject<number>('loopbackHostnamePort')),
    OPERATOR_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    OPERATOR_WEBHOOK_ALLOW_PRIVATE: '1',
    // Key holders' own alerts (set in /account) may go to the same loopback receiver.
    HOLDER_WEBHOOK_ALLOW_PRIVATE: '1',
    OPERATOR_WEBHOOK_RETRY_BASE_MS: '50',
    LOW_BALANCE_THRESHOLD: '1.00',
  }
}

/**
 * The usage queue's consumer as in wrangler.toml, but delivering after 50 ms
 * rather than 2 s, so tests that wait for usage events do not wait on batching.
 */
export const TEST_QUEUE_CONSUMERS = {
  'pay-gate-usage': {
    maxBatchSize: 100,
    maxBatchTimeout: 0.05,
    maxRetries: 10,
    deadLetterQueue: 'pay-gate-usage-failed',
  },
}

/** As `pay-gate serve` binds it: operator webhooks connect to public addresses only (src/notify/settings). */
export const TEST_SERVICE_BINDINGS = { WEBHOOK_NETWORK: { network: { allow: ['public'] } } }
