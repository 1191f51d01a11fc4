/**
 * A loopback proxy that adds `Authorization: Bearer <key>` to every request on
 * its way to the gate, and changes nothing else (the Host and Origin the caller
 * sent included): the conformance suite's client cannot send a header of its
 * own, and a paid route needs a key.
 */
import { createServer, request as forward } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface KeyProxy {
  url: string
  close: () => Promise<void>
}

export async function startKeyProxy(target: string, key: string): Promise<KeyProxy> {
  const upstream = new URL(target)
  const server = createServer((incoming, outgoing) => {
    const headers = { ...incoming.headers, authorization: `Bearer ${key}` }
    const proxied = forward(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: incoming.method,
        path: incoming.url,
        headers,
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(outgoing)
      }
    )
    proxied.on('error', () => outgoing.destroy())
    // The caller hung up: so does the proxy, towards the gate.
    outgoing.on('close', () => proxied.destroy())
    incoming.pipe(proxied)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
