/**
 * Checks for each answer, returning a message that says what is wrong (or
 * undefined). Wherever pay-gate has a rule, the rule is pay-gate's own: prices go
 * through its parseDollars, origins and paths through its routes.json schema, the
 * payout address through its payoutAddressProblem (which that schema uses too). All of it
 * is bundled into the CLI at build time, so `npm create` installs nothing more.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { basename, resolve } from 'node:path'
import { parseDollars } from '../../src/money'
import { KNOWN_USDC, payoutAddressProblem, validateRoutesFile } from '../../src/pricing'

/** Files that may already be in the target folder: a fresh `git clone` has .git. */
const ALLOWED_IN_EMPTY_FOLDER = new Set(['.git', '.DS_Store', 'Thumbs.db'])

/** Display names for the networks whose USDC pay-gate knows, in menu order. */
export const NETWORK_NAMES: Readonly<Record<string, string>> = {
  'eip155:84532': 'Base Sepolia (testnet)',
  'eip155:8453': 'Base',
  'eip155:1': 'Ethereum',
  'eip155:43114': 'Avalanche C-Chain',
}

/**
 * The project's name, from its folder: lowercase letters, digits and dashes, which
 * suits both npm and Workers (whose names stop at 63 characters).
 */
export function projectName(directory: string, cwd: string): string {
  return basename(resolve(cwd, directory))
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '')
}

export function checkDirectory(directory: string, cwd: string, force: boolean): string | undefined {
  if (directory.trim() === '') return 'give a folder name, e.g. my-gate'
  if (projectName(directory, cwd) === '') {
    return 'the folder name needs a letter or a digit: it also names the project and the Worker'
  }
  const path = resolve(cwd, directory)
  if (!existsSync(path)) return undefined
  if (!statSync(path).isDirectory()) return `${path} is a file, not a folder`
  const entries = readdirSync(path).filter((name) => !ALLOWED_IN_EMPTY_FOLDER.has(name))
  if (entries.length > 0 && !force) {
    return `${path} is not empty; choose another folder, or pass --force to write into it (files with the same names are replaced)`
  }
  return undefined
}

/**
 * How the origin URL maps to routes.json: for an MCP server the URL is its
 * endpoint, whose path the gate serves under the same name; for an API it is the
 * base URL that every route forwards to.
 */
export type OriginMode = 'endpoint' | 'base'

export interface OriginParts {
  /** routes.json `origin`: a base URL without a trailing slash. */
  origin: string
  /** The MCP route's `path` (endpoint mode); "/*" for an API. */
  path: string
}

export function splitOrigin(text: string, mode: OriginMode): OriginParts {
  const url = new URL(text)
  if (mode === 'base') return { origin: url.href.replace(/\/+$/, ''), path: '/*' }
  return { origin: `${url.protocol}//${url.host}`, path: url.pathname.replace(/\/+$/, '') || '/' }
}

export function checkOrigin(text: string, mode: OriginMode): string | undefined {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return 'expected an absolute http(s) URL, e.g. "https://api.example.com"'
  }
  // "localhost:3001/mcp" parses, with "localhost:" as its scheme.
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `expected an http:// or https:// URL, e.g. "http://${text.replace(/^[a-z+.-]*:\/\//i, '')}"`
  }
  if (url.search || url.hash || url.username || url.password) {
    return 'give the URL without a query, fragment or credentials (a secret for the origin goes in routes.json "upstreamAuth")'
  }
  // pay-gate's own schema checks the scheme, the path's characters and the paths
  // the gate serves itself (/pricing, /admin, …).
  const { origin, path } = splitOrigin(text, mode)
  const result = validateRoutesFile({ version: 1, routes: [{ path, origin, free: true }] })
  return result.ok ? undefined : result.issues.map((issue) => issue.message).join('; ')
}

export function checkPrice(text: string): string | undefined {
  const parsed = parseDollars(text)
  if (!parsed.ok) return parsed.message
  if (parsed.micros === 0)
    return 'the price must be more than 0 (a single route can be made free in routes.json)'
  return undefined
}

/** The address x402 pays: pay-gate's own rule, the one routes.json's payTo is held to. */
export function checkAddress(text: string): string | undefined {
  return payoutAddressProblem(text)
}

export function checkNetwork(text: string): string | undefined {
  if (!/^eip155:[1-9][0-9]{0,18}$/.test(text))
    return 'expected a CAIP-2 EVM network such as "eip155:8453"'
  if (!(text in KNOWN_USDC)) {
    const known = Object.keys(KNOWN_USDC).join(', ')
    return `pay-gate knows USDC on ${known}; for another network, pick one of these and then set "asset" in the x402 block of routes.json`
  }
  return undefined
}
