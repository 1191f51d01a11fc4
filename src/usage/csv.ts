/**
 * @module usage/csv
 * Usage events as CSV (RFC 4180): a header row, CRLF line ends, a field quoted
 * when it holds a comma, a quote, CR or LF, quotes doubled inside. Text a
 * spreadsheet would run as a formula (starting with =, +, -, @, tab or CR: OWASP
 * "CSV Injection") gets a leading apostrophe, so it is shown, never evaluated.
 * Numbers are written as numbers. Tool names and routes come from callers and
 * operators, so every text field is treated as hostile.
 */
import { formatDollars } from '../money'
import type { UsageEvent } from './event'

const COLUMNS = [
  'id',
  'time',
  'at',
  'keyId',
  'payer',
  'rail',
  'route',
  'method',
  'tool',
  'amount',
  'amountDollars',
  'listPrice',
  'listPriceDollars',
  'outcome',
  'reason',
  'status',
  'latencyMs',
  'reservationId',
  'payment',
  // Added after the first release: last, so a reader of the earlier columns by position still reads them.
  'path',
] as const

/** One CSV field. */
export function csvField(value: string | number | null): string {
  if (value === null) return ''
  if (typeof value === 'number') return String(value)
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

/** The events as a CSV document, header first. */
export function eventsCsv(events: readonly UsageEvent[]): string {
  const lines = [COLUMNS.join(',')]
  for (const event of events) {
    const row: Record<(typeof COLUMNS)[number], string | number | null> = {
      ...event,
      time: new Date(event.at).toISOString(),
      amountDollars: formatDollars(event.amount),
      listPriceDollars: formatDollars(event.listPrice),
    }
    lines.push(COLUMNS.map((column) => csvField(row[column])).join(','))
  }
  return `${lines.join('\r\n')}\r\n`
}
