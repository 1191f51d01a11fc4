/**
 * @module oauth/account-grants
 * The grants a key holder sees and revokes in the portal (/account): the
 * provider's grants for the account's key id, with each client's name and
 * redirect host. Revoking one revokes it in the account object first (its tokens
 * stop paying at once) and then in the provider (oauth/grants).
 */
import type { OAuthHelpers } from '@cloudflare/workers-oauth-provider'
import type { OAuthGrant, OAuthGrants } from '../account'
import { indexStub } from '../credits'
import type { Env } from '../env'
import type { RouteTables } from '../gate'
import { revokeAccountGrant, userGrants } from './grants'
import { oauthServers } from './server'

function hostOf(uri: string | undefined): string {
  try {
    return uri ? new URL(uri).host : ''
  } catch {
    return ''
  }
}

/** The grants of the portal, for the gate's route table (OAuth is on where a route has `mcp.oauth`). */
export function accountGrants(tables: RouteTables): OAuthGrants {
  const api = async (env: Env, origin: string): Promise<OAuthHelpers | null> =>
    oauthServers(await tables(env), origin)?.authorization.getOAuthApi(env) ?? null
  return {
    async list(env, origin, keyId) {
      const oauth = await api(env, origin)
      if (!oauth) return null
      const grants: OAuthGrant[] = []
      for (const grant of await userGrants(oauth, keyId)) {
        const client = await oauth.lookupClient(grant.clientId)
        grants.push({
          id: grant.id,
          clientName: client?.clientName ?? grant.clientId,
          redirectHost: hostOf(client?.redirectUris[0]),
          scopes: grant.scope,
          createdAt: grant.createdAt * 1000,
        })
      }
      return grants
    },
    async revoke(env, origin, keyId, grantId) {
      const oauth = await api(env, origin)
      if (!oauth || !(await userGrants(oauth, keyId)).some((grant) => grant.id === grantId))
        return false
      const account = (await indexStub(env.KEY_INDEX).get(keyId))?.hash
      if (account === undefined) return false
      return revokeAccountGrant(env, oauth, account, grantId, keyId)
    },
  }
}
