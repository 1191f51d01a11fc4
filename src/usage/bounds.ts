/**
 * @module usage/bounds
 * How much text a usage event may hold. Callers name the JSON-RPC method and the
 * tool, so unbounded, one refused call could store a megabyte, fill the admin
 * answers that list events, and make a queue message too large for Cloudflare
 * Queues (128 KB a message, 256 KB a batch), failing the batch it rides in.
 *
 * Every text field keeps at most MAX_TEXT_CHARS characters; a route, which the
 * operator writes, keeps what routes.json allows, and so does the path called
 * (cut beyond it). A method or tool name longer
 * than that is no name the gate can know (MCP: tool names SHOULD be 1 to 128
 * characters), so it is recorded as UNKNOWN_NAME; other text is cut, ending in "…".
 * The same rule is applied when events are built, when they are written, and in
 * SQL when stored rows are read (rows written before the bound existed).
 */
import { capText, ELLIPSIS, longerThan } from '../text-cap'
import type { UsageEvent } from './event'

/** The most characters a recorded text keeps. */
export const MAX_TEXT_CHARS = 128
/** A route pattern is at most 1024 characters in routes.json (pricing/schema). */
export const MAX_ROUTE_CHARS = 1024
/** What a method or tool name longer than MAX_TEXT_CHARS is recorded as. */
export const UNKNOWN_NAME = '(unknown)'

type TextField =
  'keyId' | 'payer' | 'route' | 'path' | 'method' | 'tool' | 'reason' | 'reservationId' | 'payment'

interface Bound {
  column: string
  max: number
  /** Too long: "unknown" becomes UNKNOWN_NAME, "cut" is cut to `max`. */
  over: 'unknown' | 'cut'
}

const BOUNDS: Record<TextField, Bound> = {
  keyId: { column: 'key_id', max: MAX_TEXT_CHARS, over: 'cut' },
  payer: { column: 'payer', max: MAX_TEXT_CHARS, over: 'cut' },
  route: { column: 'route', max: MAX_ROUTE_CHARS, over: 'cut' },
  path: { column: 'path', max: MAX_ROUTE_CHARS, over: 'cut' },
  method: { column: 'method', max: MAX_TEXT_CHARS, over: 'unknown' },
  tool: { column: 'tool', max: MAX_TEXT_CHARS, over: 'unknown' },
  reason: { column: 'reason', max: MAX_TEXT_CHARS, over: 'cut' },
  reservationId: { column: 'reservation_id', max: MAX_TEXT_CHARS, over: 'cut' },
  payment: { column: 'payment', max: MAX_TEXT_CHARS, over: 'cut' },
}

function bounded(text: string, bound: Bound): string {
  if (bound.over === 'cut') return capText(text, bound.max)
  return longerThan(text, bound.max) ? UNKNOWN_NAME : text
}

function boundedOrNull(text: string | null, bound: Bound): string | null {
  return text === null ? null : bounded(text, bound)
}

/** The event with every text field within its bound (the event itself when all are). */
export function boundEvent(event: UsageEvent): UsageEvent {
  return {
    ...event,
    keyId: boundedOrNull(event.keyId, BOUNDS.keyId),
    payer: boundedOrNull(event.payer, BOUNDS.payer),
    route: bounded(event.route, BOUNDS.route),
    path: boundedOrNull(event.path ?? null, BOUNDS.path),
    method: bounded(event.method, BOUNDS.method),
    tool: boundedOrNull(event.tool, BOUNDS.tool),
    reason: boundedOrNull(event.reason, BOUNDS.reason),
    reservationId: boundedOrNull(event.reservationId, BOUNDS.reservationId),
    payment: boundedOrNull(event.payment, BOUNDS.payment),
  }
}

/** A text column of usage_events read within its bound, in SQL (the same rule as `boundEvent`). */
export function boundedColumn(field: TextField): string {
  const { column, max, over } = BOUNDS[field]
  const replacement =
    over === 'unknown' ? `'${UNKNOWN_NAME}'` : `substr(${column}, 1, ${max - 1}) || '${ELLIPSIS}'`
  return `CASE WHEN length(${column}) > ${max} THEN ${replacement} ELSE ${column} END`
}

/** Every column of usage_events, text within its bound: a stored row of any size reads back small. */
export const BOUNDED_EVENT_COLUMNS = [
  'id',
  'at',
  ...(Object.keys(BOUNDS) as TextField[]).map(
    (field) => `${boundedColumn(field)} AS ${BOUNDS[field].column}`
  ),
  'rail',
  'amount',
  'list_price',
  'outcome',
  'status',
  'latency_ms',
].join(', ')
