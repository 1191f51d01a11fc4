import { defineConfig } from 'vitest/config'

// The official MCP conformance suite's server scenarios, against our conformance
// server (test/origins/conformance-server.ts) directly and through a real gate
// (`pay-gate serve`). Plain Node, not workerd: `npm run test:conformance`.
export default defineConfig({
  test: {
    include: ['conformance-e2e/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
})
