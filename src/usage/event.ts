/**
 * @module usage/event
 * One usage event per paid call the gate charged, refunded or denied: who (key id
 * or x402 payer), what (route, method, tool), how (rail), what it cost (integer
 * micro-dollars), and how it ended. Free calls are not events. An MCP batch is one
 * event (one hold, one charge), with method "batch". A subscription plan's fee,
 * taken from a key's credits by the period's first call, is an event of its own
 * (outcome `fee`, the call's route and tool): revenue, not a call.
 * Imports nothing from the rest of the gate.
 */

export type UsageRail = 'credits' | 'x402'
export type UsageOutcome = 'charged' | 'refunded' | 'denied' | 'fee'

export const USAGE_RAILS: readonly UsageRail[] = ['credits', 'x402']
export const USAGE_OUTCOMES: readonly UsageOutcome[] = ['charged', 'refunded', 'denied', 'fee']

export interface UsageEvent {
  /** Unique per event (a UUID): the primary key, so a retried write never doubles it. */
  id: string
  /** When the call arrived, in ms since the epoch. */
  at: number
  /** The admin key id (`key_…`), when the call named an existing key. */
  keyId: string | null
  /** The x402 payer address, when paid (or attempted) with x402 and known. */
  payer: string | null
  rail: UsageRail
  /** The route's path pattern as written in routes.json. */
  route: string
  /** The path the caller actually called (no query string); null for events recorded before paths were. */
  path: string | null
  /** The JSON-RPC method on MCP routes ("batch" for a batch), the HTTP method otherwise. */
  method: string
  /** The MCP tool called, if any. */
  tool: string | null
  /** Micro-dollars actually charged: 0 when refunded or denied (and for x402 free passes and dev mode); a fee's amount. */
  amount: number
  /** What the call was priced at, in micro-dollars. */
  listPrice: number
  outcome: UsageOutcome
  /** The denial code, or why nothing was charged, or a note on a charge (`idempotent_replay`, `free_pass`, `dev_mode`). */
  reason: string | null
  /** The HTTP status the caller was given. */
  status: number
  /** Milliseconds until the origin's answer began; null when the call was not forwarded. */
  latencyMs: number | null
  /** The credits hold, when one was taken. */
  reservationId: string | null
  /** The x402 settlement transaction, when settled on chain. */
  payment: string | null
}
