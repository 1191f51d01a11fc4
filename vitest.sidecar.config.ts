import { defineConfig } from 'vitest/config'

// Sidecar mode for real: nginx and Caddy (Debian packages) on loopback in front of
// a Node origin, with the gate (wrangler dev) as their sidecar. Plain Node, not
// workerd: run with `npm run test:sidecar`.
export default defineConfig({
  test: {
    include: ['sidecar-e2e/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // One gate, one nginx, one Caddy: the files share nothing, but the machine is small.
    fileParallelism: false,
  },
})
