/**
 * `npm run test:ui`: the dashboard in real headless Chromium (Debian's system
 * `chromium`, driven by playwright-core). Runs in Node, not workerd: the test
 * starts the gate itself as a local server (wrangler's Miniflare) and a browser.
 * Only test/ui/*.ui.ts; `npm test` never picks them up.
 */
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/ui/**/*.ui.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
})
