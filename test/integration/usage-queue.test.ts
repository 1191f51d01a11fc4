/**
 * Usage events through the queue (USAGE_QUEUE, bound in wrangler.toml): a paid
 * call's event travels request → queue → the worker's own consumer → D1; the
 * consumer writes a redelivered event once, drops what is not an event without
 * holding the queue up, and has a batch delivered again when D1 fails or is not
 * bound; and a request whose queue will not take its events writes them to D1
 * itself.
 */
import {
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  waitOnExecutionContext,
} from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { beforeEach, describe, expect, it } from 'vitest'
import worker from '../../src/index'
import { consumeUsageBatch, UsageWriter, type UsageEvent } from '../../src/usage'
import { createKey, gate, putRouteTable, settledState } from '../helpers'
import { awaitEvents, sampleEvent, storedEvents } from '../usage-helpers'

const QUEUE = 'pay-gate-usage'

const message = (body: unknown, attempts = 1) => ({
  id: crypto.randomUUID(),
  timestamp: new Date(),
  attempts,
  body,
})

/** The worker's own queue handler (its default export's `queue`), as the runtime calls it. */
async function deliver(batch: MessageBatch<unknown>) {
  const ctx = createExecutionContext()
  await worker.queue(batch, { ...env })
  return getQueueResult(batch, ctx)
}

beforeEach(async () => {
  await putRouteTable({
    routes: [{ path: '/api/*', origin: env.API_ORIGIN, price: '0.02', accept: ['credits'] }],
  })
})

describe('usage events through the queue', () => {
  it('a charged call’s event goes through the queue and its consumer into D1, once', async () => {
    const { id, key } = await createKey('1')
    const response = await gate('/api/queued', { headers: { 'x-api-key': key } })
    expect(response.status).toBe(200)
    // Charged once the body was handed on: read it, as a caller's runtime would.
    await response.arrayBuffer()
    await settledState(id)
    const events = await awaitEvents(1, 'key_id = ?', id)
    expect(events).toMatchObject([
      { outcome: 'charged', amount: 20_000, rail: 'credits', route: '/api/*', status: 200 },
    ])
  })

  it('an event sent on the bound queue reaches D1 through the worker’s consumer', async () => {
    const event = sampleEvent()
    await env.USAGE_QUEUE.send(event, { contentType: 'json' })
    expect(await awaitEvents(1, 'id = ?', event.id)).toEqual([event])
  })

  it('writes a redelivered event once, and acknowledges the batch', async () => {
    const event = sampleEvent()
    const first = await deliver(createMessageBatch(QUEUE, [message(event)]))
    const again = await deliver(
      createMessageBatch(QUEUE, [message(event, 2), message({ ...event, amount: 1 }, 2)])
    )
    expect(first).toMatchObject({ retryBatch: { retry: false }, retryMessages: [] })
    expect(first.explicitAcks).toHaveLength(1)
    expect(again.explicitAcks).toHaveLength(2)
    expect(await storedEvents('id = ?', event.id)).toEqual([event])
  })

  it('writes an event queued by a gate from before paths were recorded, with path null; a path that is not text is refused', async () => {
    const { path: _path, ...older } = sampleEvent()
    const badPath = { ...sampleEvent(), path: 42 }
    const result = await deliver(createMessageBatch(QUEUE, [message(older), message(badPath)]))
    expect(result.explicitAcks).toHaveLength(2)
    expect(await storedEvents('id = ?', older.id)).toEqual([{ ...older, path: null }])
    expect(await storedEvents('id = ?', badPath.id)).toEqual([])
  })

  it('drops a message that is not a usage event, without holding back the good ones', async () => {
    const good = sampleEvent()
    const batch = createMessageBatch(QUEUE, [
      message('not an event'),
      message({ ...sampleEvent(), amount: -5 }),
      message({ ...sampleEvent(), rail: 'cash' }),
      message(good),
    ])
    const result = await deliver(batch)
    expect(result.explicitAcks).toHaveLength(4)
    expect(result.retryMessages).toEqual([])
    expect(await storedEvents('id = ?', good.id)).toEqual([good])
  })

  it('has the batch delivered again, with a growing delay, when D1 fails or is not bound', async () => {
    const events = [sampleEvent(), sampleEvent()]
    const failingDb = {
      prepare: () => ({ bind: () => ({}) }),
      batch: async () => {
        throw new Error('D1_ERROR: storage is down')
      },
    } as unknown as D1Database
    for (const [db, attempts, delaySeconds] of [
      [failingDb, 1, 2],
      [undefined, 3, 8],
      [failingDb, 12, 300],
    ] as const) {
      const batch = createMessageBatch(
        QUEUE,
        events.map((event) => message(event, attempts))
      )
      const ctx = createExecutionContext()
      await consumeUsageBatch(batch, db)
      const result = await getQueueResult(batch, ctx)
      expect(result.explicitAcks).toEqual([])
      expect(result.retryMessages).toHaveLength(2)
      // The test batch does not keep retry delays: a batch shaped like the runtime's records them.
      const asked: unknown[] = []
      const recording = {
        queue: QUEUE,
        messages: events.map((body) => ({
          ...message(body, attempts),
          ack: () => asked.push('ack'),
          retry: (options: unknown) => asked.push(options),
        })),
        ackAll: () => asked.push('ackAll'),
        retryAll: (options: unknown) => asked.push({ all: options }),
      } as unknown as MessageBatch<unknown>
      await consumeUsageBatch(recording, db)
      expect(asked).toEqual([{ delaySeconds }, { delaySeconds }])
    }
    for (const event of events) expect(await storedEvents('id = ?', event.id)).toEqual([])
  })

  it('with a queue bound, a request hands its events to the queue and does not write D1 itself', async () => {
    const sent: unknown[] = []
    const recording = {
      sendBatch: async (messages: unknown[]) => void sent.push(...messages),
    } as unknown as Queue<UsageEvent>
    const writer = new UsageWriter(0)
    const ctx = createExecutionContext()
    const events = [sampleEvent(), sampleEvent()]
    for (const event of events)
      writer.add({ db: env.USAGE_DB, queue: recording }, event, (promise) => ctx.waitUntil(promise))
    await waitOnExecutionContext(ctx)
    expect(sent).toEqual(events.map((body) => ({ body, contentType: 'json' })))
    for (const event of events) expect(await storedEvents('id = ?', event.id)).toEqual([])
  })

  it('a request whose queue refuses its events writes them to D1 itself', async () => {
    const refusing = {
      send: async () => {
        throw new Error('Queue send failed: queue is over its backlog')
      },
      sendBatch: async () => {
        throw new Error('Queue send failed: queue is over its backlog')
      },
    } as unknown as Queue<UsageEvent>
    const writer = new UsageWriter(0)
    const ctx = createExecutionContext()
    const event = sampleEvent()
    writer.add({ db: env.USAGE_DB, queue: refusing }, event, (promise) => ctx.waitUntil(promise))
    await waitOnExecutionContext(ctx)
    expect(await storedEvents('id = ?', event.id)).toEqual([event])
  })
})
