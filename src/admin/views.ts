/**
 * @module admin/views
 * How keys and ledger rows look in JSON: amounts as exact decimal-dollar strings,
 * times as ISO 8601. Never the key itself, never its hash.
 */
import type { AccountView, LedgerEntry } from '../credits'
import { formatDollars } from '../money'
import { capText } from '../text-cap'
import { planJson, policyJson } from './policy-input'

/** A ledger label as shown: labels kept before holds bounded theirs may be as long as a request body. */
const MAX_LABEL_CHARS = 200

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString())

export function keyJson(view: AccountView): Record<string, unknown> {
  return {
    id: view.id,
    name: view.name,
    status: view.status,
    credits: formatDollars(view.available),
    held: formatDollars(view.held),
    balance: formatDollars(view.balance),
    inFlight: view.inFlight,
    expiresAt: iso(view.expiresAt),
    rateLimit: view.rateLimit,
    createdAt: iso(view.createdAt),
    updatedAt: iso(view.updatedAt),
    spent: formatDollars(view.spent),
    expiringCredits: view.expiringCredits.map((lot) => ({
      credits: formatDollars(lot.amount),
      expiresAt: iso(lot.expiresAt),
    })),
    policy: policyJson(view.policy),
    plan: planJson(view.plan),
    usage: usageJson(view),
    rotatedAt: iso(view.rotatedAt),
  }
}

/** Calls and spend (charged and in flight) this UTC day and month. */
function usageJson(view: AccountView): Record<string, unknown> {
  return {
    today: { calls: view.usage.day.calls, spend: formatDollars(view.usage.day.spend) },
    thisMonth: { calls: view.usage.month.calls, spend: formatDollars(view.usage.month.spend) },
  }
}

export function ledgerJson(entry: LedgerEntry): Record<string, unknown> {
  return {
    seq: entry.seq,
    at: iso(entry.at),
    kind: entry.kind,
    amount: formatDollars(entry.amount),
    balanceAfter: formatDollars(entry.balanceAfter),
    reservationId: entry.reservationId,
    label: entry.label === null ? null : capText(entry.label, MAX_LABEL_CHARS),
  }
}

/** What a key holder sees at GET /balance. */
export function balanceJson(view: AccountView): Record<string, unknown> {
  return {
    credits: formatDollars(view.available),
    held: formatDollars(view.held),
    status: view.status,
    expiresAt: iso(view.expiresAt),
    rateLimit: view.rateLimit,
    expiringCredits: view.expiringCredits.map((lot) => ({
      credits: formatDollars(lot.amount),
      expiresAt: iso(lot.expiresAt),
    })),
    plan: view.plan?.name ?? null,
    usage: usageJson(view),
  }
}
