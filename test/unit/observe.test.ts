/**
 * When a streamed body counts as delivered (issue 11, item 5): only once the
 * consumer (the runtime, writing to the caller) has taken its last byte. Nothing
 * is read ahead of the consumer, so a consumer gone after 4 of 5 chunks, with the
 * 5th and the end already waiting at the origin, is `cancelled`, not `complete`.
 */
import { describe, expect, it } from 'vitest'
import { observeBody, type StreamEnd } from '../../src/proxy'

function source(chunks: string[]): { body: ReadableStream<Uint8Array>; reads: () => number } {
  let reads = 0
  const encoder = new TextEncoder()
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const next = chunks[reads++]
        if (next === undefined) controller.close()
        else controller.enqueue(encoder.encode(next))
      },
    },
    { highWaterMark: 0 }
  )
  return { body, reads: () => reads }
}

describe('observeBody', () => {
  it('is cancelled, not complete, when the consumer leaves after 4 of 5 chunks', async () => {
    const origin = source(['1', '2', '3', '4', '5'])
    const ends: StreamEnd[] = []
    const reader = observeBody(origin.body, {
      chunk: (bytes) => bytes,
      end: (how) => ends.push(how),
    }).getReader()
    for (let i = 0; i < 4; i++) await reader.read()
    // Nothing read ahead of the consumer: the 5th chunk is still at the origin.
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(origin.reads()).toBe(4)
    await reader.cancel()
    expect(ends).toEqual(['cancelled'])
  })

  it('is complete once the consumer took the last chunk and asked for more', async () => {
    const origin = source(['1', '2'])
    const ends: StreamEnd[] = []
    const reader = observeBody(origin.body, {
      chunk: (bytes) => bytes,
      end: (how) => ends.push(how),
    }).getReader()
    await reader.read()
    await reader.read()
    expect(ends).toEqual([])
    expect((await reader.read()).done).toBe(true)
    expect(ends).toEqual(['complete'])
  })

  it('keeps reading through chunks that produce nothing, so the stream never stalls', async () => {
    const origin = source(['a', 'b', 'c', 'd'])
    let seen = ''
    const reader = observeBody(origin.body, {
      // Hand on only every second chunk, as an SSE reader does for an event split in two.
      chunk: (bytes) => {
        seen += new TextDecoder().decode(bytes)
        return seen.length % 2 === 0 ? new TextEncoder().encode(seen.slice(-2)) : undefined
      },
      end: () => undefined,
    }).getReader()
    const out: string[] = []
    for (;;) {
      const next = await reader.read()
      if (next.done) break
      out.push(new TextDecoder().decode(next.value))
    }
    expect(out).toEqual(['ab', 'cd'])
  })
})
