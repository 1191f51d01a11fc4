/**
 * `npm run build`: bundle src/cli.ts into dist/cli.js, copy the repository's
 * templates/ into the package, and record what the templates take from pay-gate
 * (dist/pay-gate.json). Runs before `npm pack` (prepack), so the published
 * package is always built from the one copy of the templates.
 *
 * The bundle holds the parts of pay-gate and viem the checks use (routes.json
 * schema, parseDollars, isAddress, zod), so the package has no dependencies.
 */
import { build } from 'esbuild'
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readPayGateInfo } from '../src/pay-gate-info'

const pkg = fileURLToPath(new URL('..', import.meta.url))
const repo = join(pkg, '..')

function listNames(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listNames(join(dir, entry.name)) : [entry.name]
  )
}

// npm leaves .gitignore out of packages (and renames .npmignore), so a template
// must name it __dot__gitignore; the scaffolder renames it back.
const dropped = listNames(join(repo, 'templates')).filter(
  (name) => name === '.gitignore' || name === '.npmignore'
)
if (dropped.length > 0) {
  console.error(
    `templates/ has ${dropped.join(', ')}: npm would drop it from the package; name it __dot__${dropped[0]?.slice(1)}`
  )
  process.exit(1)
}

rmSync(join(pkg, 'dist'), { recursive: true, force: true })
rmSync(join(pkg, 'templates'), { recursive: true, force: true })
mkdirSync(join(pkg, 'dist'))

await build({
  entryPoints: [join(pkg, 'src', 'cli.ts')],
  outfile: join(pkg, 'dist', 'cli.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Mostly zod, whose namespace export keeps all its locales: minified, ~110 kB gzipped.
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
})
cpSync(join(repo, 'templates'), join(pkg, 'templates'), { recursive: true })
writeFileSync(
  join(pkg, 'dist', 'pay-gate.json'),
  `${JSON.stringify(readPayGateInfo(repo), null, 2)}\n`
)
console.log('create-pay-gate: built dist/cli.js, dist/pay-gate.json and templates/')
