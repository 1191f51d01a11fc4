/**
 * @module setting-names
 * Every setting and secret of the worker's Env (src/env.ts) that is a string:
 * what `pay-gate serve` takes from its environment (a systemd EnvironmentFile)
 * into the worker. Imports nothing, so the CLI can read it in Node. env.ts
 * checks each name is one of Env's; cli/test/serve-secrets.test.ts checks none
 * of Env's string settings is missing.
 */
export const GATE_SETTING_NAMES = [
  'X402_DEV_MODE',
  'ADMIN_TOKEN',
  'ROUTES_CACHE_TTL_SECONDS',
  'SETTLE_BATCH_MS',
  'STRIPE_SECRET_KEY',
  'STRIPE_WEBHOOK_SECRET',
  'SIDECAR_TOKEN',
  'USAGE_BATCH_MS',
  'METRICS_TOKEN',
  'CLIENT_IP_HEADER',
  'OPERATOR_WEBHOOK_URL',
  'OPERATOR_WEBHOOK_SECRET',
  'OPERATOR_WEBHOOK_ALLOW_PRIVATE',
  'OPERATOR_WEBHOOK_RETRY_BASE_MS',
  'OPERATOR_WEBHOOK_MAX_ATTEMPTS',
  'LOW_BALANCE_THRESHOLD',
  'STREAM_TICKET_SECRET',
  'HOLDER_WEBHOOK_ALLOW_PRIVATE',
  'ACCOUNT_SESSION_SECRET',
] as const
