/**
 * @module proxy/observe
 * A response body that streams through untouched (or transformed chunk by chunk)
 * and reports how it ended: completely, cancelled by the caller, or broken by the
 * origin. The gate settles payments from these reports, so it never has to buffer
 * a stream to know whether it was delivered.
 *
 * "Complete" means the runtime took the last byte: the stream has no queue of its
 * own (high-water mark 0), so the origin is read only when the runtime asks for
 * more, and the origin's end is seen only after everything before it was taken.
 * A caller who hangs up before then, however close to the end, is `cancelled`.
 */

export type StreamEnd = 'complete' | 'cancelled' | 'errored'

export interface BodyObserver {
  /**
   * Bytes to send for a chunk from the origin (undefined: nothing yet). May be
   * async: the chunk's output then waits for it, and later chunks wait behind it.
   */
  chunk(bytes: Uint8Array): Uint8Array | undefined | Promise<Uint8Array | undefined>
  /** Called after a chunk's output was handed to the caller's stream. */
  delivered?(): void
  /** Bytes still to send when the origin's body ends. */
  flush?(): Uint8Array | undefined | Promise<Uint8Array | undefined>
  /** Called exactly once, when the stream is over for whatever reason. */
  end(how: StreamEnd): void
}

/**
 * Wrap an origin body. Pulls one chunk at a time, so backpressure from a slow
 * caller reaches the origin and nothing is read ahead.
 */
export function observeBody(
  body: ReadableStream<Uint8Array>,
  observer: BodyObserver
): ReadableStream<Uint8Array> {
  const reader = body.getReader()
  let ended = false
  const finish = (how: StreamEnd): void => {
    if (ended) return
    ended = true
    observer.end(how)
  }
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        // A pull that enqueues nothing is never repeated (WHATWG Streams: pull is
        // called again only after an enqueue or a new read), so keep reading until
        // there is something to hand on or the origin's body is over. A chunk that
        // completes no event (an SSE event split across chunks, one byte at a time)
        // must not end the pull empty-handed, or the stream stalls.
        for (;;) {
          let next: ReadableStreamReadResult<Uint8Array>
          let out: Uint8Array | undefined
          try {
            next = await reader.read()
            // The observer may fail too (a settlement it awaits): the stream then breaks, reported once.
            out = next.done ? await observer.flush?.() : await observer.chunk(next.value)
          } catch (error) {
            finish('errored')
            controller.error(error)
            await reader.cancel(error).catch(() => undefined)
            return
          }
          if (next.done) {
            if (out && out.byteLength > 0) controller.enqueue(out)
            observer.delivered?.()
            controller.close()
            finish('complete')
            return
          }
          if (out && out.byteLength > 0) {
            controller.enqueue(out)
            observer.delivered?.()
            return
          }
        }
      },
      async cancel(reason) {
        finish('cancelled')
        await reader.cancel(reason).catch(() => undefined)
      },
    },
    { highWaterMark: 0 }
  )
}
