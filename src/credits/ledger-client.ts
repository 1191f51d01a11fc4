/**
 * @module credits/ledger-client
 * The one way the gate takes and settles holds. A hold (`reserve`) carries the
 * key's waiting settlements to its account in the same round trip and
 * transaction; a settlement (`settle`) waits for such a ride or is swept shortly
 * after (credits/settlement-queue); `settleNow` settles at once, for a caller that
 * must know the result before it goes on (an answer on a resumed stream, a
 * sidecar's follow-up). Rotated keys are followed inside (credits/ledger), and
 * every failure to reach an account is `ledger_unavailable`: nothing outside
 * this folder sees a settlement queue.
 */
import {
  accountNameOf,
  reserveCredits,
  settleManyCredits,
  type AccountNamespace,
  type LedgerReserveResult,
} from './ledger'
import { SettlementQueue } from './settlement-queue'
import type { ReserveRequest, Settlement, SettleResult } from './types'

/** What a hold asks of the account; its riding settlements and credential are the client's to add. */
export type HoldAsk = Omit<ReserveRequest, 'settle' | 'credential'>

/** The answer of a settlement made at once. */
export type SettleNowResult = SettleResult[] | { ok: false; reason: 'ledger_unavailable' }

/** A request's client of the ledger: its account namespace, and where its background work goes. */
export class LedgerClient {
  constructor(
    private readonly namespace: AccountNamespace,
    private readonly queue: SettlementQueue,
    private readonly waitUntil: (promise: Promise<unknown>) => void
  ) {}

  /** Hold on the account the key opens; the key's waiting settlements ride along (and wait again if it fails). */
  async reserve(keyHash: string, ask: HoldAsk): Promise<LedgerReserveResult> {
    const account = accountNameOf(keyHash)
    const settle = this.queue.take(account)
    const result = await reserveCredits(
      this.namespace,
      keyHash,
      settle.length > 0 ? { ...ask, settle } : ask
    )
    if (!result.ok && result.reason === 'ledger_unavailable')
      this.queue.putBack(this.namespace, account, settle, this.waitUntil)
    return result
  }

  /** Settle a hold of `account` soon: with the key's next hold from this isolate, or on the sweep. */
  settle(account: string, settlement: Settlement): void {
    this.queue.add(this.namespace, account, settlement, this.waitUntil)
  }

  /** Settle now, retrying a lost reply (settling is idempotent per hold). */
  settleNow(account: string, settlements: Settlement[]): Promise<SettleNowResult> {
    return settleManyCredits(this.namespace, account, settlements)
  }
}

/**
 * The ledger of one gate in one isolate: its settlement queue, made on first use
 * (its batching delay is a setting, read then).
 */
export class CreditLedger {
  private queue: SettlementQueue | undefined

  /**
   * @param batchMs how long a settlement may wait for a ride (0: sent at once); read the first time
   */
  client(
    namespace: AccountNamespace,
    batchMs: number,
    waitUntil: (promise: Promise<unknown>) => void
  ): LedgerClient {
    this.queue ??= new SettlementQueue(batchMs)
    return new LedgerClient(namespace, this.queue, waitUntil)
  }
}
