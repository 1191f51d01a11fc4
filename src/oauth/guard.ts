/**
 * @module oauth/guard
 * OAuth at an MCP route with `mcp.oauth`, before the gate prices anything. One
 * route serves three kinds of caller (docs/oauth.md):
 * - a bearer token that is not one of our keys is an OAuth access token: the
 *   provider validates it for this route's resource only (RFC 8707 audience), and
 *   the call is paid from the account it is bound to, exactly as with its key;
 *   an invalid one is answered 401 `invalid_token` with the challenge;
 * - an API key or an x402 payment goes on as before;
 * - a caller with no credential at all is challenged (401, RFC 9728 §5.1
 *   `WWW-Authenticate: Bearer resource_metadata=…`) on its `initialize` when the
 *   route's `challenge` is "initialize", and on a priced call the route cannot
 *   take by x402 either way; free calls and x402's in-band 402 go on.
 */
import type { OAuthResourceAuth } from '@cloudflare/workers-oauth-provider'
import type { MiddlewareHandler } from 'hono'
import { bearerToken } from '../bearer'
import { API_KEY_PREFIX, presentedKey } from '../credits'
import type { AppEnv } from '../env'
import type { RouteTables } from '../gate'
import { matchRoute } from '../pricing'
import { PAYMENT_SIGNATURE_HEADER } from '../x402'
import { grantOfToken } from './grants'
import { MCP_SCOPE, oauthServers, type GrantProps } from './server'

/** The largest body read to see whether a credential-less POST is an `initialize`. */
const INITIALIZE_PEEK_BYTES = 64 * 1024

/** Whether a POST's body is (or, in a batch, holds) an `initialize` request. Reads a copy. */
async function isInitialize(request: Request): Promise<boolean> {
  if (request.method !== 'POST' || request.headers.has('mcp-session-id') || !request.body)
    return false
  const reader = request.clone().body?.getReader()
  if (!reader) return false
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > INITIALIZE_PEEK_BYTES) {
      await reader.cancel()
      return false
    }
    chunks.push(value)
  }
  try {
    const whole = new Uint8Array(size)
    let at = 0
    for (const chunk of chunks) whole.set(chunk, (at += chunk.byteLength) - chunk.byteLength)
    const parsed: unknown = JSON.parse(new TextDecoder().decode(whole))
    const messages = Array.isArray(parsed) ? parsed : [parsed]
    return messages.some(
      (message) => (message as { method?: unknown } | null)?.method === 'initialize'
    )
  } catch {
    return false
  }
}

type ResourceContext = ExecutionContext & { props?: GrantProps; auth?: OAuthResourceAuth }

/** The guard for the gate's route table (runs before `gateHandler`). */
export function oauthGuard(tables: RouteTables): MiddlewareHandler<AppEnv> {
  return async function oauthGuard(c, next) {
    if (!c.env.OAUTH_KV) return next()
    const request = c.req.raw
    const url = new URL(request.url)
    const table = await tables(c.env)
    const match = matchRoute(table, request.method, url.pathname)
    if (match.kind !== 'matched' || !match.route.oauth) return next()
    const protectedResource = oauthServers(table, url.origin)?.resources.get(match.route.path)
    if (!protectedResource) return next()
    const { server, metadataUrl } = protectedResource
    const context: ResourceContext = {
      waitUntil: (promise) => c.executionCtx.waitUntil(promise),
      passThroughOnException: () => undefined,
      props: undefined,
    } as ResourceContext
    const bearer = bearerToken(request.headers)
    if (bearer !== undefined && !bearer.startsWith(API_KEY_PREFIX)) {
      // The provider's answer (401 invalid_token, 503) unless the token is valid for this resource.
      const answer = await server.fetch(request, c.env, context)
      const grant = grantOfToken(bearer)
      if (!context.auth || !context.props || grant === null) return answer
      const challenge = `Bearer realm="OAuth", error="invalid_token", resource_metadata="${metadataUrl}", scope="${MCP_SCOPE}"`
      c.set('oauthCaller', { kind: 'token', keyHash: context.props.keyHash, grant, challenge })
      return next()
    }
    const credentialless =
      bearer === undefined &&
      presentedKey(request.headers).kind === 'none' &&
      !request.headers.has(PAYMENT_SIGNATURE_HEADER)
    if (credentialless) {
      if (match.route.oauth.challenge === 'initialize' && (await isInitialize(request))) {
        return server.fetch(request, c.env, context) // no token: the provider's 401 challenge
      }
      c.set(
        'oauthChallenge',
        `Bearer realm="OAuth", resource_metadata="${metadataUrl}", scope="${MCP_SCOPE}"`
      )
    }
    return next()
  }
}
