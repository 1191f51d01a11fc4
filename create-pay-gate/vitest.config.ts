import { defineConfig } from 'vitest/config'

// Plain Node tests: the CLI never runs in workerd. The generated projects' own
// workerd tests run inside the e2e test, through their `npm test`.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
})
