/**
 * @module proxy/observe
 * A response body that streams through untouched (or transformed chunk by chunk)
 * and reports how it ended: completely, cancelled by the caller, or broken by the
 * origin. The gate settles payments from these reports, so it never has to buffer
 * a stream to know whether it was delivered.
 */

export type StreamEnd = 'complete' | 'cancelled' | 'errored'

export interface BodyObserver {
  /** Bytes to send for a chunk from the origin (undefined: nothing yet). */
  chunk(bytes: Uint8Array): Uint8Array | undefined
  /** Called after a chunk's output was handed to the caller's stream. */
  delivered?(): void
  /** Bytes still to send when the origin's body ends. */
  flush?(): Uint8Array | undefined
  /** Called exactly once, when the stream is over for whatever reason. */
  end(how: StreamEnd): void
}

/**
 * Wrap an origin body. Pulls one chunk at a time, so backpressure from a slow
 * caller reaches the origin and nothing is read ahead.
 */
export function observeBody(body: ReadableStream<Uint8Array>, observer: BodyObserver): ReadableStream<Uint8Array> {
  const reader = body.getReader()
  let ended = false
  const finish = (how: StreamEnd): void => {
    if (ended) return
    ended = true
    observer.end(how)
  }
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let next: ReadableStreamReadResult<Uint8Array>
      try {
        next = await reader.read()
      } catch (error) {
        finish('errored')
        controller.error(error)
        return
      }
      if (next.done) {
        const rest = observer.flush?.()
        if (rest && rest.byteLength > 0) controller.enqueue(rest)
        observer.delivered?.()
        controller.close()
        finish('complete')
        return
      }
      const out = observer.chunk(next.value)
      if (out && out.byteLength > 0) controller.enqueue(out)
      observer.delivered?.()
    },
    async cancel(reason) {
      finish('cancelled')
      await reader.cancel(reason).catch(() => undefined)
    },
  })
}
