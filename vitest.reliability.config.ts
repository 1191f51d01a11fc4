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
import { TEST_QUEUE_CONSUMERS, TEST_SERVICE_BINDINGS, testBindings } from './test/bindings'
import { propertySettings } from './test/reliability/seed'

const properties = propertySettings()

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        queueConsumers: TEST_QUEUE_CONSUMERS,
        serviceBindings: TEST_SERVICE_BINDINGS,
        bindings: {
          ...testBindings(inject as <T>(key: string) => T),
          // The misbehaving origin.
          FAULT_ORIGIN: `http://127.0.0.1:${inject<number>('faultPort')}`,
          // The property-based inputs' seed and run multiplier (test/reliability/seed.ts).
          FC_SEED: String(properties.seed),
          FC_SCALE: String(properties.scale),
        },
      },
    })),
  ],
  test: {
    globalSetup: ['./test/global-setup.ts', './test/reliability/fault-origin.ts'],
    include: ['test/reliability/**/*.rel.ts'],
    reporters: ['default', './test/reliability/report.ts'],
    // Guards against a scenario that hangs, not expectations of speed: each scenario bounds its own
    // waits (route and facilitator timeouts, polls, fast-check time limits) and its expectations
    // accept what a timeout makes (test/reliability/timeouts.ts). On a busy machine the 3,000-call
    // scenario takes 3 times as long as on an idle one (60 s beside 2 CPU-bound processes on 2 cores).
    testTimeout: 300_000,
    hookTimeout: 60_000,
  },
})
