/**
 * The payment rails in routes.json. A template's routes.json says what is priced;
 * the rails the user chose decide the rest:
 * - credits: no x402 block, so every route takes API keys only;
 * - both: an x402 block, and routes that say nothing take both (pay-gate's default);
 * - x402: an x402 block, and every priced route says `"accept": ["x402"]`.
 * The result is checked with pay-gate's own schema, so the CLI never writes a
 * table the gate would refuse.
 */
import { validateRoutesFile } from '../../src/pricing'
import { CliError } from './ui'

export const RAILS = ['credits', 'x402', 'both'] as const
export type Rails = (typeof RAILS)[number]

export const DEFAULT_FACILITATOR = 'https://x402.org/facilitator'

export interface X402Answers {
  network: string
  payTo: string
  facilitator: string
}

interface RoutesDoc {
  version: number
  x402?: unknown
  routes: Array<Record<string, unknown>>
}

/** Apply the rails to a template's routes.json (already parsed). */
export function applyRails(doc: RoutesDoc, rails: Rails, x402?: X402Answers): RoutesDoc {
  if (rails === 'credits') return doc
  if (!x402) throw new Error(`rails "${rails}" need the x402 answers`)
  const routes =
    rails === 'x402'
      ? doc.routes.map((route) => (route.free === true ? route : { ...route, accept: ['x402'] }))
      : doc.routes
  // Written in this key order so the file reads top-down: version, payment, routes.
  return {
    version: doc.version,
    x402: { network: x402.network, payTo: x402.payTo, facilitator: { url: x402.facilitator } },
    routes,
  }
}

/** Refuse a table pay-gate would refuse, naming each problem's place in the file. */
export function checkRoutes(doc: RoutesDoc): void {
  const result = validateRoutesFile(doc)
  if (result.ok) return
  const problems = result.issues.map((issue) => `${issue.path}: ${issue.message}`).join('\n  ')
  throw new CliError(
    `routes.json would not be valid:\n  ${problems}`,
    'Check the answers (or flags) named above.'
  )
}
