/**
 * A real operator-webhook receiver for the tests, in Node: it checks each
 * delivery's signature the way an operator would (docs/admin-api.md "Operator webhooks":
 * node:crypto, independent of the gate's own signing code), records it, and
 * answers as the event's key name asks, so tests can make it fail:
 * a key named `… webhook:500x2 …` gets 500 for its first 2 deliveries of each
 * event, then 200; `webhook:400` gets 400 every time. Anything else gets 200.
 *
 *   POST /hook            a delivery
 *   GET  /deliveries?key= every delivery whose event names that key id
 *   GET  /client-errors   how many connections sent something that is not HTTP
 *                         (a TLS handshake, say): proof that a connection was made
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { TEST_WEBHOOK_SECRET } from './constants'

export interface ReceivedDelivery {
  eventId: string
  eventType: string
  signatureValid: boolean
  /** The status this receiver answered. */
  answered: number
  /** The signed timestamp (Unix seconds). */
  timestamp: number
  event: {
    id: string
    type: string
    createdAt: string
    data: { key?: { id?: string; name?: string } } & Record<string, unknown>
  }
  /** The path and query it was POSTed to, the signature header and the exact body (to check a key holder's own secret). */
  path: string
  signature: string
  body: string
}

/** Verify `X-Pay-Gate-Signature: t=…,v1=…` over `${t}.${body}`, refusing timestamps over 5 minutes old. */
export function verifySignature(
  secret: string,
  header: string,
  body: string,
  nowSeconds = Math.floor(Date.now() / 1000)
): boolean {
  const parts = Object.fromEntries(
    header.split(',').map((part) => part.split('=', 2) as [string, string])
  )
  const timestamp = Number(parts.t)
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > 300 || !parts.v1)
    return false
  const expected = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest()
  const given = Buffer.from(parts.v1, 'hex')
  return given.length === expected.length && timingSafeEqual(given, expected)
}

export interface WebhookReceiver {
  port: number
  close(): Promise<void>
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const deliveries: ReceivedDelivery[] = []
  let clientErrors = 0
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://receiver')
    if (req.method === 'GET' && url.pathname === '/client-errors') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ count: clientErrors }))
      return
    }
    if (req.method === 'GET' && url.pathname === '/deliveries') {
      const key = url.searchParams.get('key')
      const found = deliveries.filter((delivery) => delivery.event.data.key?.id === key)
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(found))
      return
    }
    if (req.method !== 'POST' || url.pathname !== '/hook') {
      res.writeHead(404).end()
      return
    }
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks).toString('utf8')
    const signature = String(req.headers['x-pay-gate-signature'] ?? '')
    const event = JSON.parse(body) as ReceivedDelivery['event']
    const eventId = String(req.headers['x-pay-gate-event-id'] ?? '')
    const earlier = deliveries.filter((delivery) => delivery.eventId === eventId).length
    const script = /webhook:(\d{3})(?:x(\d+))?/.exec(event.data.key?.name ?? '')
    const failTimes = script ? (script[2] === undefined ? Infinity : Number(script[2])) : 0
    const answered = script && earlier < failTimes ? Number(script[1]) : 200
    deliveries.push({
      eventId,
      eventType: String(req.headers['x-pay-gate-event-type'] ?? ''),
      signatureValid: verifySignature(TEST_WEBHOOK_SECRET, signature, body),
      answered,
      timestamp: Number(/t=(\d+)/.exec(signature)?.[1]),
      event,
      path: req.url ?? '',
      signature,
      body,
    })
    res.writeHead(answered, { 'content-type': 'text/plain' }).end(answered === 200 ? 'ok' : 'no')
  })
  server.on('clientError', (_error, socket) => {
    clientErrors++
    socket.destroy()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
