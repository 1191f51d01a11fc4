/**
 * `npm run test:reliability`: the fault, load, fuzz and attack suite (issue 6).
 * The same gate, bindings and global setup as vitest.config.ts, plus a second
 * global setup with an origin that misbehaves on purpose (test/reliability/fault-origin.ts).
 * Only test/reliability/*.rel.ts run here, and `npm test` never picks them up
 * (it includes *.test.ts only). The reporter in test/reliability/report.ts prints
 * the closing summary and fails the run on any violated invariant.
 */
import { cloudflareTest } from '@cloudflare/vitest-plugin'
import { defineConfig } from 'vitest/config'
import { TEST_ADMIN_TOKEN } from './test/constants'

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        bindings: {
          // As in vitest.config.ts.
          ADMIN_TOKEN: TEST_ADMIN_TOKEN,
          ROUTES_CACHE_TTL_SECONDS: '0',
          MCP_ORIGIN: `http://127.0.0.1:${inject<number>('mcpPort')}`,
          API_ORIGIN: `http://127.0.0.1:${inject<number>('apiPort')}`,
          UPSTREAM_TOKEN: 'operator-secret-upstream-token',
          CHAIN: JSON.stringify(inject<unknown>('chain')),
          X402_DEV_MODE: 'allow',
          // The misbehaving origin.
          FAULT_ORIGIN: `http://127.0.0.1:${inject<number>('faultPort')}`,
        },
      },
    })),
  ],
  test: {
    globalSetup: ['./test/global-setup.ts', './test/reliability/fault-origin.ts'],
    include: ['test/reliability/**/*.rel.ts'],
    reporters: ['default', './test/reliability/report.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
})
