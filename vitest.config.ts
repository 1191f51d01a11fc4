import { cloudflareTest } from '@cloudflare/vitest-plugin'
import { defineConfig } from 'vitest/config'
import { TEST_ADMIN_TOKEN } from './test/constants'

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        bindings: {
          ADMIN_TOKEN: TEST_ADMIN_TOKEN,
          // Every request reads the route table, so each test can set its own.
          ROUTES_CACHE_TTL_SECONDS: '0',
          MCP_ORIGIN: `http://127.0.0.1:${inject<number>('mcpPort')}`,
          API_ORIGIN: `http://127.0.0.1:${inject<number>('apiPort')}`,
          UPSTREAM_TOKEN: 'operator-secret-upstream-token',
          // The chain, token, payer keys and facilitators, as JSON for the x402 tests.
          CHAIN: JSON.stringify(inject<unknown>('chain')),
          X402_DEV_MODE: 'allow',
        },
      },
    })),
  ],
  test: {
    globalSetup: ['./test/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
  },
})
