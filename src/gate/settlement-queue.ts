/**
 * @module gate/settlement-queue
 * Settlements wait here, per key, for a short while: the key's next hold from
 * this isolate carries them to its account object in the same round trip and
 * transaction, so a busy key costs one object call per paid call instead of two.
 * Whatever no hold picks up is flushed once the key has been quiet for
 * `delayMs`; on a key that stays busy the flush keeps waiting, since its
 * settlements ride anyway, but never past `MAX_WAIT_MS`. A flush that never
 * happens (the isolate died) leaves the holds to expire on the object's alarm:
 * the caller is then not charged, never charged twice.
 */
import { settleManyCredits, type AccountNamespace, type Settlement } from '../credits'

/** No settlement waits longer than this, however busy its key. */
const MAX_WAIT_MS = 2_000

interface Pending {
  settlements: Settlement[]
  /** When the oldest waiting settlement was queued (0: none waiting). */
  oldest: number
  /** Whether a hold took settlements since the flush timer was last set. */
  busy: boolean
  flushScheduled: boolean
}

export class SettlementQueue {
  private readonly pending = new Map<string, Pending>()

  /** @param delayMs how long a settlement may wait for a ride (0: send at once) */
  constructor(private readonly delayMs: number) {}

  /** Queue a settlement; a key has at most one flush scheduled at a time. */
  add(namespace: AccountNamespace, keyHash: string, settlement: Settlement, waitUntil: (promise: Promise<unknown>) => void): void {
    let entry = this.pending.get(keyHash)
    if (!entry) {
      entry = { settlements: [], oldest: 0, busy: false, flushScheduled: false }
      this.pending.set(keyHash, entry)
    }
    if (entry.settlements.length === 0) entry.oldest = Date.now()
    entry.settlements.push(settlement)
    if (entry.flushScheduled) return
    entry.flushScheduled = true
    waitUntil(this.flushWhenQuiet(namespace, keyHash, entry))
  }

  /** Take a key's waiting settlements, to send along with a hold. */
  take(keyHash: string): Settlement[] {
    const entry = this.pending.get(keyHash)
    if (!entry) return []
    entry.busy = true
    if (entry.settlements.length === 0) return []
    const settlements = entry.settlements
    entry.settlements = []
    entry.oldest = 0
    return settlements
  }

  /** Put back settlements whose ride failed; they go with the next hold or flush. */
  putBack(namespace: AccountNamespace, keyHash: string, settlements: Settlement[], waitUntil: (promise: Promise<unknown>) => void): void {
    for (const settlement of settlements) this.add(namespace, keyHash, settlement, waitUntil)
  }

  private async flushWhenQuiet(namespace: AccountNamespace, keyHash: string, entry: Pending): Promise<void> {
    for (;;) {
      entry.busy = false
      if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs))
      const waited = entry.settlements.length > 0 ? Date.now() - entry.oldest : 0
      if (!entry.busy || waited + this.delayMs > MAX_WAIT_MS || this.delayMs === 0) break
    }
    this.pending.delete(keyHash)
    if (entry.settlements.length > 0) await settleManyCredits(namespace, keyHash, entry.settlements)
  }
}
