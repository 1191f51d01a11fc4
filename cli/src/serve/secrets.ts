/**
 * The worker's secrets when it runs on our own host: from the environment (a
 * systemd EnvironmentFile, an exported variable) and from `--env-file`. On
 * Cloudflare these are Worker secrets; here they become the same bindings.
 * Values are never printed: only names, and only of what is missing.
 */
import { readFileSync } from 'node:fs'
import { parseEnv } from 'node:util'
import type { RoutesFile } from '../../../src/pricing/schema'
import { CliError } from '../ui'

/**
 * Settings and secrets the gate itself reads (src/env.ts), taken from the
 * environment when set there. SIDECAR_TOKEN guards the sidecar endpoint.
 */
export const GATE_ENV_NAMES = ['ADMIN_TOKEN', 'SIDECAR_TOKEN', 'SETTLE_BATCH_MS', 'X402_DEV_MODE'] as const

/** The names routes' `upstreamAuth.secret` point at: the origins' credentials. */
export function upstreamSecretNames(routes: RoutesFile): string[] {
  const names = new Set<string>()
  for (const route of routes.routes) if (route.upstreamAuth) names.add(route.upstreamAuth.secret)
  return [...names]
}

/** KEY=value lines (dotenv syntax, as `node --env-file` reads them). */
export function readEnvFile(path: string): Record<string, string> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new CliError(`cannot read the env file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 'Pass a file of KEY=value lines: --env-file /etc/pay-gate/env')
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
export function collectSecrets(env: Record<string, string | undefined>, envFile: Record<string, string> | undefined, routes: RoutesFile, required: string[] = []): Secrets {
  const upstream = upstreamSecretNames(routes)
  const bindings: Record<string, string> = {}
  for (const name of [...GATE_ENV_NAMES, ...upstream, ...required]) {
    const value = env[name]
    if (value !== undefined && value !== '') bindings[name] = value
  }
  Object.assign(bindings, envFile ?? {})
  const missing = ['ADMIN_TOKEN', ...upstream, ...required].filter((name, i, all) => all.indexOf(name) === i && !bindings[name])
  return { bindings, missing }
}
