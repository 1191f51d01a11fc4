/**
 * A tiny HTTP origin for the browser test's gate, on a random loopback port:
 * any path under /api/fail answers 500 (the gate must refund), anything else 200
 * with a small JSON body naming the path it was asked for.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface OriginServer {
  /** e.g. "http://127.0.0.1:40123" */
  origin: string
  /** How many requests reached the origin. */
  requests(): number
  close(): Promise<void>
}

export async function startOriginServer(): Promise<OriginServer> {
  let count = 0
  const server = createServer((request, response) => {
    count += 1
    const path = new URL(request.url ?? '/', 'http://origin').pathname
    const failing = path.startsWith('/api/fail')
    response.writeHead(failing ? 500 : 200, { 'content-type': 'application/json' })
    response.end(
      JSON.stringify(failing ? { error: 'origin failure on purpose' } : { ok: true, path })
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    requests: () => count,
    close: () =>
      new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve()))
      ),
  }
}
