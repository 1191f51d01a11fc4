/** The admin token the tests' gate runs with (set as a binding in vitest.config.ts). */
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdef'

/** The sidecar token the tests' gate runs with (sidecar mode on; see test/integration/sidecar.test.ts). */
export const TEST_SIDECAR_TOKEN = 'test-sidecar-token-0123456789abcdef'
/** The operator-webhook signing secret of the tests' gate and of test/webhook-receiver.ts. */
export const TEST_WEBHOOK_SECRET = 'test-webhook-secret-0123456789abcdef'
