/**
 * What a generated project takes from the pay-gate package it depends on: the
 * library's version, the versions of the tools it is built and tested with
 * (wrangler, vitest, …), and its compatibility date. Read from the repository at
 * build time and shipped as dist/pay-gate.json, so pay-gate's package.json and
 * wrangler.toml stay the one source of truth.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export interface PayGateInfo {
  /** pay-gate's own version; projects depend on `^version`. */
  version: string
  /** Every dependency and devDependency range of pay-gate, by package name. */
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
  return {
    version: pkg.version,
    versions: { ...pkg.dependencies, ...pkg.devDependencies },
    compatibilityDate: date,
  }
}
