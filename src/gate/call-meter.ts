/**
 * @module gate/call-meter
 * Tallies, from the JSON-RPC responses an origin sends back, which priced calls
 * succeeded. A call is charged only once its successful response has been seen
 * and handed on; each id counts once, whatever the origin repeats.
 */
import { idKey, responseOutcome } from '../mcp'

export class CallMeter {
  private readonly positions: ReadonlyMap<string, number>
  private readonly answered = new Set<string>()
  private readonly successes: number[] = []

  /** @param positions the index of each priced request in its batch, by `idKey` */
  constructor(positions: ReadonlyMap<string, number>) {
    this.positions = positions
  }

  /** Note a message from the origin; anything but an answer to a priced call is ignored. */
  record(message: unknown): void {
    const answer = responseOutcome(message)
    if (!answer) return
    const key = idKey(answer.id)
    const position = this.positions.get(key)
    if (position === undefined || this.answered.has(key)) return
    this.answered.add(key)
    if (answer.outcome === 'success') this.successes.push(position)
  }

  /** Every priced call has its answer. */
  get allAnswered(): boolean {
    return this.answered.size === this.positions.size
  }

  /** The batch indices of the priced calls answered successfully. */
  get succeeded(): readonly number[] {
    return this.successes
  }
}
