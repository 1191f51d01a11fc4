/**
 * @module gate/call-meter
 * Tallies, from the JSON-RPC responses an origin sends back, which priced calls
 * succeeded. A call is charged only once its successful response has been seen
 * and handed on; each id counts once, whatever the origin repeats.
 */
import { idKey, responseOutcome } from '../mcp'

export class CallMeter {
  private readonly prices: ReadonlyMap<string, number>
  private readonly answered = new Set<string>()
  private successTotal = 0
  private successCount = 0

  /** @param prices the price of each priced request, by `idKey` */
  constructor(prices: ReadonlyMap<string, number>) {
    this.prices = prices
  }

  /** Note a message from the origin; anything but an answer to a priced call is ignored. */
  record(message: unknown): void {
    const answer = responseOutcome(message)
    if (!answer) return
    const key = idKey(answer.id)
    const price = this.prices.get(key)
    if (price === undefined || this.answered.has(key)) return
    this.answered.add(key)
    if (answer.outcome === 'success') {
      this.successTotal += price
      this.successCount += 1
    }
  }

  /** Every priced call has its answer. */
  get allAnswered(): boolean {
    return this.answered.size === this.prices.size
  }

  /** How many priced calls were answered successfully. */
  get succeededCalls(): number {
    return this.successCount
  }

  /** What the answered, successful calls cost. */
  get succeeded(): number {
    return this.successTotal
  }
}
