/**
 * The worker's secrets when it runs on our own host: from the environment (a
 * systemd EnvironmentFile, an exported variable) and from `--env-file`. On
 * Cloudflare these are Worker secrets; here they become the same bindings.
 * Values are never printed: only names, and only of what is missing.
 */
import { readFileSync } from 'node:fs'
import { parseEnv } from 'node:util'
import { GATE_SETTING_NAMES } from '../../../src/setting-names'
import type { RoutesFile } from '../../../src/pricing/schema'
import { CliError } from '../ui'

/**
 * Settings and secrets the gate itself reads (src/env.ts: admin, sidecar,
 * Stripe, metrics and webhook secrets, batching settings), taken from the
 * environment when set there.
 */
export const GATE_ENV_NAMES = GATE_SETTING_NAMES

/**
 * The secrets routes.json points at by name: the origins' credentials
 * (`upstreamAuth.secret`) and the x402 facilitator's (`facilitator.authHeader.secret`,
 * table-wide or per route).
 */
export function routeSecretNames(routes: RoutesFile): string[] {
  const names = new Set<string>()
  const facilitatorSecret = (
    x402: { facilitator?: { authHeader?: { secret: string } } } | undefined
  ) => x402?.facilitator?.authHeader?.secret
  const tableWide = facilitatorSecret(routes.x402)
  if (tableWide) names.add(tableWide)
  for (const route of routes.routes) {
    if (route.upstreamAuth) names.add(route.upstreamAuth.secret)
    const own = facilitatorSecret(route.x402)
    if (own) names.add(own)
  }
  return [...names]
}

/** KEY=value lines (dotenv syntax, as `node --env-file` reads them). */
export function readEnvFile(path: string): Record<string, string> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new CliError(
      `cannot read the env file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      'Pass a file of KEY=value lines: --env-file /etc/pay-gate/env'
    )
  }
  return parseEnv(text) as Record<string, string>
}

export interface Secrets {
  /** Binding name → value. */
  bindings: Record<string, string>
  /** Names the routes or the gate need that were given nowhere. */
  missing: string[]
}

/**
 * Every name the gate or the routes read, from the environment, then every
 * entry of the env file (which wins: it is the more specific of the two).
 * The rest of the environment (PATH, HOME, …) stays out of the worker.
 */
export function collectSecrets(
  env: Record<string, string | undefined>,
  envFile: Record<string, string> | undefined,
  routes: RoutesFile,
  required: string[] = []
): Secrets {
  const upstream = routeSecretNames(routes)
  const bindings: Record<string, string> = {}
  for (const name of [...GATE_ENV_NAMES, ...upstream, ...required]) {
    const value = env[name]
    if (value !== undefined && value !== '') bindings[name] = value
  }
  Object.assign(bindings, envFile ?? {})
  const missing = ['ADMIN_TOKEN', ...upstream, ...required].filter(
    (name, i, all) => all.indexOf(name) === i && !bindings[name]
  )
  return { bindings, missing }
}
