/**
 * The worker's code, built exactly as `wrangler deploy` builds it: wrangler's
 * own `deploy --dry-run --outdir`, so what runs here is byte for byte what would
 * be uploaded to Cloudflare (same esbuild settings, same `define`s, same
 * aliases), not a second build of ours.
 */
import { readdirSync } from 'node:fs'
import { extname, join } from 'node:path'
import type { Wrangler } from '../routes'
import { CliError } from '../ui'

/** One module of the built worker, in Miniflare's (v4 options) terms. */
export interface WorkerModule {
  type: 'ESModule' | 'CommonJS' | 'CompiledWasm' | 'Text' | 'Data'
  path: string
}

const MODULE_TYPES: Record<string, WorkerModule['type'] | undefined> = {
  '.js': 'ESModule',
  '.mjs': 'ESModule',
  '.cjs': 'CommonJS',
  '.wasm': 'CompiledWasm',
  '.txt': 'Text',
  '.html': 'Text',
  '.bin': 'Data',
}

/**
 * Builds the worker of `configPath` into `outdir`.
 * @returns its modules, the entry point (index.js) first
 * @throws CliError with wrangler's last lines when the build fails
 */
export function bundleWorker(
  wrangler: Wrangler,
  configPath: string,
  outdir: string
): WorkerModule[] {
  const run = wrangler(['deploy', '--dry-run', '--outdir', outdir, '--config', configPath])
  if (run.status !== 0) {
    const tail = `${run.stderr}\n${run.stdout}`
      .trim()
      .split('\n')
      .filter((line) => line.trim() !== '')
      .slice(-6)
      .join('\n  ')
    throw new CliError(
      `the worker did not build (wrangler deploy --dry-run exited ${run.status ?? 'on a signal'})`,
      tail || undefined
    )
  }
  const files = readdirSync(outdir).filter(
    (name) => name !== 'index.js' && MODULE_TYPES[extname(name)] !== undefined
  )
  const modules: WorkerModule[] = [{ type: 'ESModule', path: join(outdir, 'index.js') }]
  for (const name of files.sort())
    modules.push({
      type: MODULE_TYPES[extname(name)] as WorkerModule['type'],
      path: join(outdir, name),
    })
  return modules
}
