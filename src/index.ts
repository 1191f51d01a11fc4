/**
 * pay-gate: an edge payment gate for MCP servers and HTTP APIs on Cloudflare Workers.
 * This file is both the deployable Worker and the library entry that scaffolded
 * gates import: `createGate()`, the Durable Object classes, and the types.
 */
import { createGate } from './app'

export { createGate } from './app'
export { CreditAccount, KeyIndex } from './credits'
export type { Env } from './env'
export { validateRoutesFile, validateRoutesText, ROUTES_KV_KEY, type RoutesFile, type RoutesIssue } from './pricing'
export { parseDollars, formatDollars } from './money'

export default createGate()
