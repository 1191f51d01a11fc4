/**
 * @module account
 * The key holder's portal at /account: sign in with an API key, see balance,
 * usage and ledger, top up by card, rotate the key, set a low-balance webhook,
 * and (when the OAuth provider supplies them) revoke OAuth grants.
 */
export { accountRoutes, type AccountOptions } from './routes'
export type { OAuthGrant, OAuthGrants } from './grants'
