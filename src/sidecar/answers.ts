/**
 * @module sidecar/answers
 * What the payment check answers a proxy. 200 means "let it through", with the
 * headers to pass on (to the origin: who paid; to the client: what is left).
 * Anything else is the answer the client should get, body and all, so proxies
 * that can forward it (nginx with njs, Caddy, Traefik, Envoy) show the client the
 * same refusal the gate would. The gate answers payment problems on MCP routes
 * with HTTP 200 (a JSON-RPC `-32402` error, as MCP clients expect): a check can
 * never say "no" with 200, so those come as 402, and `X-Pay-Client-Status` says
 * which status the client should see (nginx's template uses it).
 */

/** The status the gate itself would have answered the client with. */
export const CLIENT_STATUS_HEADER = 'x-pay-client-status'

/** Let the call through; `headers` are for the proxy to pass on. */
export function allow(headers: Record<string, string>): Response {
  return new Response(JSON.stringify({ allow: true }), {
    status: 200,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
  })
}

/** Refuse the call with the gate's own answer for it (status kept, never 2xx). */
export function deny(answer: Response): Response {
  const headers = new Headers(answer.headers)
  headers.set(CLIENT_STATUS_HEADER, String(answer.status))
  headers.set('cache-control', 'no-store')
  const status = answer.status < 300 ? 402 : answer.status
  return new Response(answer.body, { status, headers })
}
