/**
 * @module credits/counter-buffer
 * The period counters' additions within one transaction, added up and written
 * once when it ends: a batch of holds taken at one instant costs one counter
 * write, not one each. Anything that reads the counters, or takes from them
 * (which stops at 0, so order matters), writes what is buffered first. The
 * account state drops the buffer when its transaction throws (the writes it
 * stands for would have been rolled back).
 */
import { addToCounters, readCounter } from './account-settings'
import type { Period, UsageCount } from './types'

export class CounterBuffer {
  private at: number | null = null
  private calls = 0
  private spend = 0

  constructor(private readonly sql: SqlStorage) {}

  /** Add to (or, with negative numbers, take back from) the day and month counters of the instant `at`. */
  add(at: number, calls: number, spend: number): void {
    if (calls === 0 && spend === 0) return
    if (calls < 0 || spend < 0 || (this.at !== null && this.at !== at)) {
      this.flush()
      if (calls < 0 || spend < 0) return addToCounters(this.sql, at, calls, spend)
    }
    this.at = at
    this.calls += calls
    this.spend += spend
  }

  read(period: Period, now: number): UsageCount {
    this.flush()
    return readCounter(this.sql, period, now)
  }

  /** Write what is buffered (inside the transaction that buffered it). */
  flush(): void {
    if (this.at === null) return
    const { at, calls, spend } = this
    this.drop()
    addToCounters(this.sql, at, calls, spend)
  }

  /** Forget what is buffered: its transaction was rolled back. */
  drop(): void {
    this.at = null
    this.calls = 0
    this.spend = 0
  }
}
