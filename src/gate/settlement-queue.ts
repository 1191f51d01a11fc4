/**
 * @module gate/settlement-queue
 * Settlements wait here, per key, for a short while: the key's next hold from
 * this isolate carries them to its account object in the same round trip and
 * transaction, so a busy key costs one object call per paid call instead of two.
 * Whatever no hold picks up is flushed after `delayMs`. A flush that never
 * happens (the isolate died) leaves the holds to expire on the object's alarm:
 * the caller is then not charged, never charged twice.
 */
import { settleManyCredits, type AccountNamespace, type Settlement } from '../credits'

export class SettlementQueue {
  /** Per key: settlements waiting, and whether a flush is already scheduled. */
  private readonly pending = new Map<string, { settlements: Settlement[]; flushScheduled: boolean }>()

  /** @param delayMs how long a settlement may wait for a ride (0: send at once) */
  constructor(private readonly delayMs: number) {}

  /** Queue a settlement; a key has at most one flush scheduled at a time. */
  add(namespace: AccountNamespace, keyHash: string, settlement: Settlement, waitUntil: (promise: Promise<unknown>) => void): void {
    let entry = this.pending.get(keyHash)
    if (!entry) {
      entry = { settlements: [], flushScheduled: false }
      this.pending.set(keyHash, entry)
    }
    entry.settlements.push(settlement)
    if (entry.flushScheduled) return
    entry.flushScheduled = true
    const wait = this.delayMs > 0 ? new Promise((resolve) => setTimeout(resolve, this.delayMs)) : Promise.resolve()
    waitUntil(wait.then(() => this.flush(namespace, keyHash)))
  }

  /** Take a key's waiting settlements, to send along with a hold. */
  take(keyHash: string): Settlement[] {
    const entry = this.pending.get(keyHash)
    if (!entry || entry.settlements.length === 0) return []
    const settlements = entry.settlements
    entry.settlements = []
    return settlements
  }

  /** Put back settlements whose ride failed; they go with the next hold or flush. */
  putBack(namespace: AccountNamespace, keyHash: string, settlements: Settlement[], waitUntil: (promise: Promise<unknown>) => void): void {
    for (const settlement of settlements) this.add(namespace, keyHash, settlement, waitUntil)
  }

  private async flush(namespace: AccountNamespace, keyHash: string): Promise<void> {
    const entry = this.pending.get(keyHash)
    if (!entry) return
    this.pending.delete(keyHash)
    if (entry.settlements.length > 0) await settleManyCredits(namespace, keyHash, entry.settlements)
  }
}
