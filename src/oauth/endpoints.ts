/**
 * @module oauth/endpoints
 * The authorization server's endpoints: metadata (RFC 8414 at
 * /.well-known/oauth-authorization-server; RFC 9728 at
 * /.well-known/oauth-protected-resource/<route path>), /oauth/token (codes,
 * refresh with rotation, RFC 7009 revocation), /oauth/register (RFC 7591), all the
 * provider's; and /oauth/authorize, the consent page (oauth/consent). With no
 * OAuth route, or no OAUTH_KV, /oauth answers 404 and the well-known paths go to
 * the route table, so an origin's own OAuth metadata still passes through.
 */
import { Hono, type Context, type Next } from 'hono'
import type { AppEnv } from '../env'
import type { RouteTables } from '../gate'
import { answerConsent, showConsent } from './consent'
import { revokeWithGrant } from './grants'
import {
  AUTHORIZE_PATH,
  oauthServers,
  REGISTER_PATH,
  TOKEN_PATH,
  type OAuthServers,
} from './server'

const AS_METADATA = '/.well-known/oauth-authorization-server'
const PR_METADATA = '/.well-known/oauth-protected-resource'

function executionContext(c: Context<AppEnv>): ExecutionContext {
  return {
    waitUntil: (promise) => c.executionCtx.waitUntil(promise),
    passThroughOnException: () => undefined,
    props: undefined,
  } as ExecutionContext
}

const notFound = () => Response.json({ error: 'not_found' }, { status: 404 })

/** The token endpoint: revocation goes through the grant's account as well (oauth/grants). */
async function tokenEndpoint(c: Context<AppEnv>, servers: OAuthServers): Promise<Response> {
  const request = c.req.raw
  const provider = () => servers.authorization.fetch(request, c.env, executionContext(c))
  if (
    request.method !== 'POST' ||
    !(request.headers.get('content-type') ?? '').includes('application/x-www-form-urlencoded')
  )
    return provider()
  let body: URLSearchParams
  try {
    body = new URLSearchParams(await request.clone().text())
  } catch {
    return provider()
  }
  const token = body.get('token')
  if (token === null || body.has('grant_type')) return provider()
  return revokeWithGrant(c.env, servers.authorization.getOAuthApi(c.env), token, provider)
}

/** Every OAuth endpoint, mounted at the gate's root before the route table. */
export function oauthEndpoints(tables: RouteTables): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  const serversFor = async (c: Context<AppEnv>) =>
    c.env.OAUTH_KV ? oauthServers(await tables(c.env), new URL(c.req.url).origin) : null

  const metadata = async (c: Context<AppEnv>, next: Next) => {
    const servers = await serversFor(c)
    if (!servers) return next()
    const path = new URL(c.req.url).pathname
    if (path === AS_METADATA || path.startsWith(`${AS_METADATA}/`))
      return servers.authorization.fetch(c.req.raw, c.env, executionContext(c))
    const resource = servers.resources.get(path.slice(PR_METADATA.length))
    return resource ? resource.server.fetch(c.req.raw, c.env, executionContext(c)) : next()
  }
  app.all(AS_METADATA, metadata)
  app.all(`${AS_METADATA}/*`, metadata)
  app.all(`${PR_METADATA}/*`, metadata)

  app.all('/oauth/*', async (c) => {
    const servers = await serversFor(c)
    if (!servers) return notFound()
    const path = c.req.path
    if (path === AUTHORIZE_PATH) {
      if (c.req.method === 'GET') return showConsent(c, servers, await tables(c.env))
      if (c.req.method === 'POST') return answerConsent(c, servers, await tables(c.env))
      return new Response(null, { status: 405, headers: { allow: 'GET, POST' } })
    }
    if (path === TOKEN_PATH) return tokenEndpoint(c, servers)
    if (path === REGISTER_PATH)
      return servers.authorization.fetch(c.req.raw, c.env, executionContext(c))
    return notFound()
  })
  return app
}
