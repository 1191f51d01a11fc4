/**
 * `npm run size`: how big the deployed Worker is, and what each dependency costs.
 *
 * 1. The figure Cloudflare counts: `wrangler deploy --dry-run` (the same bundle a
 *    deploy uploads, with wrangler.toml's settings), its "Total Upload … gzip" line.
 * 2. Per package: the bytes each one puts in that bundle (esbuild's metafile), and
 *    its gzip cost at the margin: the gzip size of the Worker bundled again with
 *    the package left out (external), subtracted from the whole. That is what
 *    dropping the package (and what only it pulls in) would save; shared code is
 *    counted under neither, so the margins need not add up to the whole.
 *
 *   npm run size [-- --no-margins]
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build, type Metafile } from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`

/** `…/node_modules/@x402/extensions/node_modules/zod/v3/types.js` → `@x402/extensions › zod`; our own code → `src/<folder>`. */
export function packageOf(path: string): string {
  const parts = path.split('node_modules/').slice(1)
  if (parts.length === 0) return `src/${(path.split('src/')[1] ?? path).split('/')[0]}`
  return parts
    .map((part) => {
      const [first, second] = part.split('/')
      return first?.startsWith('@') ? `${first}/${second}` : (first as string)
    })
    .join(' › ')
}

/** Whether wrangler.toml asks for a minified bundle (the margins are then taken minified too). */
function minified(): boolean {
  return /^\s*minify\s*=\s*true/m.test(readFileSync(join(root, 'wrangler.toml'), 'utf8'))
}

/** The deployed bundle, as `wrangler deploy --dry-run` writes it, and its size line. */
function dryRun(dir: string): { summary: string; metafile: Metafile } {
  const output = execFileSync(
    join(root, 'node_modules', '.bin', 'wrangler'),
    ['deploy', '--dry-run', '--outdir', join(dir, 'out'), '--metafile', join(dir, 'meta.json')],
    {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }
  )
  const summary =
    output.split('\n').find((line) => line.includes('Total Upload')) ??
    '(no "Total Upload" line from wrangler)'
  return {
    summary: summary.trim(),
    metafile: JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Metafile,
  }
}

/** gzip bytes of src/index.ts bundled as wrangler bundles it (workerd conditions, Node built-ins external), less `without`. */
async function gzipBytes(without: string[], minify: boolean): Promise<number> {
  const result = await build({
    entryPoints: [join(root, 'src', 'index.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['browser', 'module', 'main'],
    external: ['cloudflare:*', 'node:*', 'url', ...without.flatMap((name) => [name, `${name}/*`])],
    minify,
    keepNames: true, // as wrangler bundles
    logLevel: 'silent',
  })
  return gzipSync((result.outputFiles[0] as { contents: Uint8Array }).contents).length
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pay-gate-size-'))
  try {
    const { summary, metafile } = dryRun(dir)
    const minify = minified()
    console.log(
      `deployed Worker (wrangler deploy --dry-run, ${minify ? 'minified' : 'not minified'}): ${summary.replace(/^Total Upload:\s*/, '')}`
    )
    const output = Object.entries(metafile.outputs).find(([name]) => name.endsWith('.js'))?.[1]
    if (!output) throw new Error('size: no .js output in the metafile')
    const bytes = new Map<string, number>()
    for (const [path, input] of Object.entries(output.inputs))
      bytes.set(packageOf(path), (bytes.get(packageOf(path)) ?? 0) + input.bytesInOutput)

    const dependencies = Object.keys(
      (
        JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
          dependencies: Record<string, string>
        }
      ).dependencies
    )
    // The direct dependencies, and any other package above 8 KiB in the bundle (such as viem's @noble/curves).
    const measured = [
      ...new Set([
        ...dependencies,
        ...[...bytes]
          .filter(([name, n]) => !name.startsWith('src/') && !name.includes(' › ') && n > 8192)
          .map(([name]) => name),
      ]),
    ]
    const margins = new Map<string, number>()
    if (!process.argv.includes('--no-margins')) {
      const whole = await gzipBytes([], minify)
      console.log(`the same bundled by esbuild here: gzip ${kib(whole)} (node:zlib level 6)`)
      for (const name of measured) margins.set(name, whole - (await gzipBytes([name], minify)))
    }
    console.log(`\n${'package'.padEnd(36)}${'in bundle'.padStart(12)}${'gzip margin'.padStart(14)}`)
    const rows = [...bytes].sort((a, b) => b[1] - a[1])
    for (const [name, n] of rows) {
      if (n < 2048 && !margins.has(name)) continue
      const margin = margins.get(name)
      console.log(
        `${name.padEnd(36)}${kib(n).padStart(12)}${(margin === undefined ? '' : kib(margin)).padStart(14)}`
      )
    }
    console.log(
      "(in bundle: bytes in the bundle, by esbuild's metafile; gzip margin: what the gzip bundle loses without the package and what only it brings)"
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((error: Error) => {
  console.error('size: failed:', error.message)
  process.exit(1)
})
