/**
 * What a generated project takes from the pay-gate package it depends on: the
 * library's version, the versions of the tools it is built and tested with
 * (wrangler, vitest, …), and its compatibility date. Read from the repository at
 * build time and shipped as dist/pay-gate.json, so pay-gate's package.json and
 * wrangler.toml stay the one source of truth.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export interface PayGateInfo {
  /** pay-gate's own version; projects depend on `^version`. */
  version: string
  /**
   * Every dependency and devDependency of pay-gate, by package name: the exact version its
   * lockfile resolved (what pay-gate is tested with), or its range when there is no lockfile.
   * Exact, because a range lets a new project pick a release pay-gate never ran with, whose own
   * requirements may not even resolve (wrangler 4.168 asks for a workers-types not yet published
   * where 4.156 was tested).
   */
  versions: Record<string, string>
  /** The compatibility_date pay-gate's tests run with. */
  compatibilityDate: string
}

/** Read the info from a pay-gate checkout (its package.json and wrangler.toml). */
export function readPayGateInfo(root: string): PayGateInfo {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    version: string
    dependencies?: Record<string, string>
    devDependencies?: Record<string, string>
  }
  const toml = readFileSync(join(root, 'wrangler.toml'), 'utf8')
  const date = /^compatibility_date\s*=\s*"(\d{4}-\d{2}-\d{2})"/m.exec(toml)?.[1]
  if (!date) throw new Error(`no compatibility_date in ${join(root, 'wrangler.toml')}`)
  const ranges = { ...pkg.dependencies, ...pkg.devDependencies }
  return { version: pkg.version, versions: lockedVersions(root, ranges), compatibilityDate: date }
}

/** The lockfile's version of each package (package-lock v2/v3 `packages`), else its range. */
function lockedVersions(root: string, ranges: Record<string, string>): Record<string, string> {
  const lockPath = join(root, 'package-lock.json')
  if (!existsSync(lockPath)) return ranges
  const lock = JSON.parse(readFileSync(lockPath, 'utf8')) as {
    packages?: Record<string, { version?: string }>
  }
  return Object.fromEntries(
    Object.entries(ranges).map(([name, range]) => [
      name,
      lock.packages?.[`node_modules/${name}`]?.version ?? range,
    ])
  )
}
