/**
 * @module oauth/server
 * The gate as an OAuth 2.1 authorization server (@cloudflare/workers-oauth-provider)
 * for its MCP routes with `mcp.oauth`, each route one protected resource. The
 * provider fixes its issuer and resources at construction, and both follow the
 * host the gate is reached at and the route table, so one is built per (origin,
 * table) and kept per isolate. The provider owns the protocol: metadata (RFC 8414,
 * RFC 9728), PKCE S256 only, registration (RFC 7591) and Client ID Metadata
 * Documents, resource indicators and audiences (RFC 8707), refresh-token rotation,
 * revocation (RFC 7009); the gate owns the consent page and what a token pays with.
 */
import { OAuthAuthorizationServer, OAuthResourceServer } from '@cloudflare/workers-oauth-provider'
import type { Env } from '../env'
import type { CompiledRoute, PriceTable } from '../pricing'

/** The one scope: using the route's tools as the signed-in key may (its tool lists, enforced by its account). */
export const MCP_SCOPE = 'mcp'
export const AUTHORIZE_PATH = '/oauth/authorize'
export const TOKEN_PATH = '/oauth/token'
export const REGISTER_PATH = '/oauth/register'
/** One hour: a revoked key or grant is refused at once by its account anyway (credits/oauth-grants). */
const ACCESS_TOKEN_TTL_SECONDS = 3600

/** What an access token carries (encrypted in KV by the provider): the key whose account pays. */
export interface GrantProps {
  /** SHA-256 of the key signed in with, or made for a trial or a purchase. */
  keyHash: string
  /** The account object's name (the hash of the key the account was created with). */
  account: string
}

export interface OAuthServers {
  issuer: string
  authorization: OAuthAuthorizationServer<Env>
  /** The protected resource of each OAuth route, by the route's path. */
  resources: Map<
    string,
    {
      route: CompiledRoute
      server: OAuthResourceServer<Env, GrantProps>
      resource: string
      metadataUrl: string
    }
  >
}

/** The routes that offer OAuth. */
export function oauthRoutes(table: PriceTable): CompiledRoute[] {
  return table.routes.filter((route) => route.oauth !== undefined && route.pricing.kind === 'mcp')
}

function strictlyPublicFetch(): boolean {
  const flags = (globalThis as { Cloudflare?: { compatibilityFlags?: Record<string, boolean> } })
    .Cloudflare?.compatibilityFlags
  return flags?.global_fetch_strictly_public === true
}

const built = new WeakMap<PriceTable, Map<string, OAuthServers | null>>()

/**
 * The authorization server and protected resources for requests to `origin`;
 * null when no route offers OAuth, or the origin cannot be an issuer (OAuth 2.1
 * wants https; http only on a loopback host, for local runs).
 */
export function oauthServers(table: PriceTable, origin: string): OAuthServers | null {
  let byOrigin = built.get(table)
  if (!byOrigin) built.set(table, (byOrigin = new Map()))
  if (byOrigin.has(origin)) return byOrigin.get(origin) ?? null
  if (byOrigin.size > 16) byOrigin.clear()
  let servers: OAuthServers | null = null
  try {
    servers = build(table, origin)
  } catch (error) {
    console.error(`pay-gate: OAuth is off for ${origin}: ${(error as Error).message}`)
  }
  byOrigin.set(origin, servers)
  return servers
}

function build(table: PriceTable, origin: string): OAuthServers | null {
  const routes = oauthRoutes(table)
  if (routes.length === 0) return null
  const issuer = origin
  const authorization = new OAuthAuthorizationServer<Env>({
    issuer,
    resources: routes.map((route) => `${origin}${route.path}`),
    authorizeEndpoint: `${origin}${AUTHORIZE_PATH}`,
    tokenEndpoint: `${origin}${TOKEN_PATH}`,
    clientRegistrationEndpoint: REGISTER_PATH,
    scopesSupported: [MCP_SCOPE],
    accessTokenTTL: ACCESS_TOKEN_TTL_SECONDS,
    clientIdMetadataDocumentEnabled: strictlyPublicFetch(),
    // The provider's own log line names the failed check; it never carries a token.
    onError: ({ code, internal }) => {
      console.warn(
        `pay-gate: OAuth ${code} (${internal.category ?? 'oauth'}: ${internal.reason ?? 'refused'})`
      )
    },
  })
  const resources: OAuthServers['resources'] = new Map()
  for (const route of routes) {
    const resource = `${origin}${route.path}`
    const server = new OAuthResourceServer<Env, GrantProps>({
      resourceMetadata: {
        resource,
        authorization_servers: [issuer],
        resource_name: route.description ?? `MCP ${route.path}`,
      },
      requiredScopes: [MCP_SCOPE],
      validateToken: (env) => (audience, token) =>
        authorization.validateToken<GrantProps>(audience, token, env),
      // Reached only with a valid token for this resource; the guard (oauth/guard) reads
      // what the provider put on the context and runs the gate itself.
      handler: { fetch: () => new Response(null, { status: 204 }) },
    })
    resources.set(route.path, {
      route,
      server,
      resource,
      metadataUrl: `${origin}/.well-known/oauth-protected-resource${route.path}`,
    })
  }
  return { issuer, authorization, resources }
}
