/**
 * @module credits/reserve-many
 * A batch of reserves inside a key's account object (reserve-batching sends
 * them): each decided as a lone reserve is, in order, all in one transaction,
 * so the account row and the period counters are written once for the batch,
 * and the storage commits the batch with one durable write.
 */
import { reserveOnAccount } from './account-reserve'
import type { AccountState } from './account-state'
import { reserveItems } from './reserve-call'
import { writeBalance } from './reservations'
import type { ReserveAnswer, ReserveItem, ReserveRequest } from './types'

/**
 * Reserve each request in order, in one transaction. If any throws, that
 * transaction is rolled back and each runs again in its own, so one that fails
 * (a bug) fails alone, as it would have by itself; bad input fails before.
 */
export function reserveInOrder(
  state: AccountState,
  requests: ReserveRequest[],
  now: number
): ReserveAnswer[] {
  const failed = (error: unknown): ReserveAnswer => ({
    ok: false,
    reason: 'reserve_failed',
    message: (error as Error).message,
  })
  const items = requests.map((request): ReserveItem[] | ReserveAnswer => {
    try {
      return reserveItems(request)
    } catch (error) {
      return failed(error)
    }
  })
  const reserveOne = (request: ReserveRequest, index: number, writeRow: boolean): ReserveAnswer => {
    const checked = items[index] as ReserveItem[] | ReserveAnswer
    return Array.isArray(checked)
      ? reserveOnAccount(state, request, checked, now, writeRow)
      : checked
  }
  try {
    return state.transact(() => {
      const before = state.account()
      const answers = requests.map((request, index) => reserveOne(request, index, false))
      const after = state.row
      if (before && after && after !== before) writeBalance(state.sql, after)
      return answers
    })
  } catch {
    return requests.map((request, index) => {
      try {
        return state.transact(() => reserveOne(request, index, true))
      } catch (error) {
        return failed(error)
      }
    })
  }
}

/** When the earliest hold a batch took expires (Infinity: it took none still open). */
export function earliestExpiry(
  requests: ReserveRequest[],
  answers: ReserveAnswer[],
  now: number
): number {
  let expiry = Infinity
  for (const [index, answer] of answers.entries()) {
    if (answer.ok && answer.kind === 'reserved' && !answer.charged)
      expiry = Math.min(expiry, now + (requests[index] as ReserveRequest).holdMs)
  }
  return expiry
}
