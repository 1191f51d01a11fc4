import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// Plain Node tests for the `pay-gate` CLI: it never runs in workerd, so this is
// deliberately not the root (workerd) config. Run with `npm run cli:test`.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
})
