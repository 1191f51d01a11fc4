/**
 * @module oauth
 * OAuth 2.1 for MCP routes (`mcp.oauth` in routes.json), with
 * @cloudflare/workers-oauth-provider: the authorization server's endpoints and
 * consent page, and the guard that lets an access token pay from the credit
 * account it is bound to. docs/oauth.md.
 */
export { oauthEndpoints } from './endpoints'
export { oauthGuard } from './guard'
export { revokeAccountGrant } from './grants'
export { accountGrants } from './account-grants'
