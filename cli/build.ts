/**
 * `npm run build:cli`: bundle cli/src/cli.ts into dist/cli.mjs, the code behind
 * `bin/pay-gate.mjs`. The bundle holds what it uses of pay-gate (routes.json
 * schema) and zod, so the bin needs nothing at run time but Node.
 */
import { build } from 'esbuild'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = fileURLToPath(new URL('..', import.meta.url))
const { version } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  version: string
}

mkdirSync(join(repo, 'dist'), { recursive: true })
await build({
  entryPoints: [join(repo, 'cli', 'src', 'cli.ts')],
  outfile: join(repo, 'dist', 'cli.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  define: { __PAY_GATE_VERSION__: JSON.stringify(version) },
})
console.log(`pay-gate: built dist/cli.mjs (${version})`)
