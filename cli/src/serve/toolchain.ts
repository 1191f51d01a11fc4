/**
 * The project's own wrangler, and the Miniflare (workerd) that this wrangler
 * ships with. Both are loaded from the project folder, not from pay-gate, so
 * `pay-gate serve` bundles and runs the worker with exactly the versions that
 * `wrangler deploy` and `wrangler dev` use there; Miniflare's options follow
 * its wrangler's, so the two must never come from different releases.
 */
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { CliError } from '../ui'

export type WranglerApi = typeof import('wrangler')
export type MiniflareApi = typeof import('miniflare')

export interface Toolchain {
  wrangler: WranglerApi
  miniflare: MiniflareApi
  /** e.g. "4.156.2", for the start-up line. */
  wranglerVersion: string
}

function resolveFrom(base: string, name: string): string | undefined {
  try {
    return createRequire(base).resolve(name)
  } catch {
    return undefined
  }
}

/** @throws CliError when the project has no wrangler installed */
export async function loadToolchain(projectDir: string): Promise<Toolchain> {
  const wranglerMain = resolveFrom(join(projectDir, 'package.json'), 'wrangler')
  if (!wranglerMain) {
    throw new CliError(
      `wrangler is not installed in ${projectDir}`,
      "pay-gate serve bundles and runs the worker with the project's wrangler: npm install -D wrangler"
    )
  }
  const miniflareMain = resolveFrom(wranglerMain, 'miniflare')
  if (!miniflareMain)
    throw new CliError(
      `the miniflare package of wrangler (${wranglerMain}) cannot be found`,
      'Reinstall the project: npm install'
    )
  const wranglerPackage = resolveFrom(wranglerMain, 'wrangler/package.json')
  const wranglerVersion = wranglerPackage
    ? ((createRequire(wranglerMain)(wranglerPackage) as { version?: string }).version ?? '?')
    : '?'
  const [wrangler, miniflare] = await Promise.all([
    import(pathToFileURL(wranglerMain).href) as Promise<WranglerApi>,
    import(pathToFileURL(miniflareMain).href) as Promise<MiniflareApi>,
  ])
  return { wrangler, miniflare, wranglerVersion }
}
