/**
 * @module credits/settlement-queue
 * Settlements wait here, per key, for a short while: the key's next hold from
 * this isolate carries them to its account object in the same round trip and
 * transaction, so a busy key costs one object call per paid call instead of two.
 *
 * One sweeper per isolate flushes what no hold picked up: every `delayMs` it
 * sends the settlements of keys that went quiet, and of any key whose oldest
 * settlement has waited `MAX_WAIT_MS`. A sweeper lives a few seconds at most
 * (it runs in some request's waitUntil, which the runtime bounds), flushes all
 * that is left when it retires, and the next settlement starts a new one.
 * A flush that never happens (the isolate died) leaves the holds to expire on the
 * object's alarm: the caller is then not charged, never charged twice.
 */
import { settleManyCredits, type AccountNamespace } from './ledger'
import type { Settlement } from './types'

/** No settlement waits longer than this, however busy its key. */
const MAX_WAIT_MS = 2_000
/** A sweeper retires after this long, well inside the runtime's waitUntil allowance. */
const SWEEPER_LIFETIME_MS = 10_000

interface Pending {
  namespace: AccountNamespace
  settlements: Settlement[]
  /** When the oldest waiting settlement was queued. */
  oldest: number
  /** Whether a hold for this key went out since the last sweep. */
  busy: boolean
}

export class SettlementQueue {
  private readonly pending = new Map<string, Pending>()
  private sweeping = false

  /** @param delayMs how long a settlement may wait for a ride (0: send at once) */
  constructor(private readonly delayMs: number) {}

  /** Queue a settlement (or send it at once when batching is off). */
  add(
    namespace: AccountNamespace,
    keyHash: string,
    settlement: Settlement,
    waitUntil: (promise: Promise<unknown>) => void
  ): void {
    if (this.delayMs === 0) {
      waitUntil(settleManyCredits(namespace, keyHash, [settlement]))
      return
    }
    let entry = this.pending.get(keyHash)
    if (!entry) {
      entry = { namespace, settlements: [], oldest: Date.now(), busy: false }
      this.pending.set(keyHash, entry)
    }
    if (entry.settlements.length === 0) entry.oldest = Date.now()
    entry.settlements.push(settlement)
    if (!this.sweeping) {
      this.sweeping = true
      waitUntil(this.sweep())
    }
  }

  /** Take a key's waiting settlements, to send along with a hold. */
  take(keyHash: string): Settlement[] {
    const entry = this.pending.get(keyHash)
    if (!entry) return []
    entry.busy = true
    const settlements = entry.settlements
    entry.settlements = []
    return settlements
  }

  /** Put back settlements whose ride failed; they go with the next hold or sweep. */
  putBack(
    namespace: AccountNamespace,
    keyHash: string,
    settlements: Settlement[],
    waitUntil: (promise: Promise<unknown>) => void
  ): void {
    for (const settlement of settlements) this.add(namespace, keyHash, settlement, waitUntil)
  }

  private async sweep(): Promise<void> {
    const retireAt = Date.now() + SWEEPER_LIFETIME_MS
    try {
      while (this.pending.size > 0 && Date.now() < retireAt) {
        await new Promise((resolve) => setTimeout(resolve, this.delayMs))
        const now = Date.now()
        const due: Array<[string, Pending]> = []
        for (const [keyHash, entry] of this.pending) {
          const quiet = !entry.busy
          entry.busy = false
          if (entry.settlements.length === 0) {
            if (quiet) this.pending.delete(keyHash)
          } else if (quiet || now - entry.oldest >= MAX_WAIT_MS) {
            due.push([keyHash, entry])
          }
        }
        await Promise.all(due.map(([keyHash]) => this.flush(keyHash)))
      }
    } finally {
      this.sweeping = false
    }
    // Retiring with settlements still waiting: send them rather than leave them unswept.
    await Promise.all([...this.pending.keys()].map((keyHash) => this.flush(keyHash)))
  }

  private async flush(keyHash: string): Promise<void> {
    const entry = this.pending.get(keyHash)
    if (!entry || entry.settlements.length === 0) return
    const settlements = entry.settlements
    entry.settlements = []
    await settleManyCredits(entry.namespace, keyHash, settlements)
  }
}
