/**
 * @module gate/upstream
 * Calling a route's origin on the gate's behalf: the target is built only from
 * the route table, the operator's credential is read from its Worker secret (and
 * scrubbed from the response headers, for every route that calls an origin), and
 * a failure to reach the origin becomes a typed error.
 */
import { carriesGateKey } from '../credits'
import type { Env } from '../env'
import { GateError } from '../errors'
import type { CompiledRoute } from '../pricing'
import { forward, scrubText, withoutSecrets, type OriginCredential } from '../proxy'
import type { UsageCall } from '../usage'

function credentialOf(env: Env, route: CompiledRoute): OriginCredential | undefined {
  const auth = route.upstreamAuth
  if (!auth) return undefined
  const value = env[auth.secret]
  if (typeof value !== 'string' || value === '') {
    // A route configured to authenticate upstream must not silently go without.
    throw new GateError(
      'internal_error',
      `The gate is misconfigured: secret ${auth.secret} is not set.`
    )
  }
  return { value, header: auth.header, prefix: auth.prefix, query: auth.query }
}

/**
 * Forward the caller's request to the route's origin.
 * The caller's gate key is removed whatever the route, so an origin never sees it;
 * the operator's credential is removed from the response headers, so a caller
 * never sees it (an origin that echoes its URL or redirects with its query).
 * @param body the body to send when the gate has already read it
 * @param headers what the gate tells the origin about the payment (X-Pay-*)
 * @throws GateError `upstream_unreachable` or `upstream_timeout`
 */
export async function callOrigin(
  context: {
    env: Env
    request: Request
    url: URL
    route: CompiledRoute
    forwardPath: string
    usage?: UsageCall
  },
  options: { body?: Uint8Array | string; headers?: Record<string, string> } = {}
): Promise<Response> {
  const { env, request, route, forwardPath } = context
  const credential = credentialOf(env, route)
  const started = Date.now()
  const result = await forward(
    request,
    {
      origin: route.origin,
      path: forwardPath,
      search: context.url.search,
      timeoutMs: route.timeoutMs,
      asked: context.url,
      credential,
    },
    {
      body: options.body,
      // The caller's payment credentials are the gate's business, not the origin's.
      // On an OAuth route every bearer token is the gate's own (src/oauth): never the origin's.
      dropHeader: route.oauth
        ? (name, value) => name === 'authorization' || isPaymentCredential(name, value)
        : isPaymentCredential,
      addHeaders: options.headers,
    }
  )
  context.usage?.upstream(
    result.ok ? { status: result.response.status } : { failure: result.reason },
    Date.now() - started
  )
  const secrets = credential ? [credential.value] : []
  if (!result.ok) throw new GateError(result.reason, scrubText(result.message, secrets))
  return credential ? withoutSecrets(result.response, secrets) : result.response
}

/**
 * A header carrying the caller's payment credentials: a gate key (in X-API-Key or
 * as a bearer token) or an x402 payment. Those are the gate's business, never the
 * origin's; an Authorization header that is not one of our keys goes through.
 */
function isPaymentCredential(name: string, value: string): boolean {
  return name === 'payment-signature' || name === 'x-payment' || carriesGateKey(name, value)
}
