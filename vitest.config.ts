import { cloudflareTest } from '@cloudflare/vitest-plugin'
import { defineConfig } from 'vitest/config'
import { TEST_QUEUE_CONSUMERS, TEST_SERVICE_BINDINGS, testBindings } from './test/bindings'

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        bindings: testBindings(inject as <T>(key: string) => T),
        queueConsumers: TEST_QUEUE_CONSUMERS,
        serviceBindings: TEST_SERVICE_BINDINGS,
      },
    })),
  ],
  test: {
    globalSetup: ['./test/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
  },
})
