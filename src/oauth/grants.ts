/**
 * @module oauth/grants
 * A grant is the provider's record of one authorization; the gate binds each to
 * the credit account that pays for its tokens (credits/oauth-grants), inside the
 * account object, so revoking it there stops its tokens at once whatever KV's
 * replicas still hold. The provider's tokens and codes read `userId:grantId:secret`
 * (its storage schema); the grant id is taken from them, never trusted alone: a
 * token is validated by the provider first.
 */
import type { AuthRequest, GrantSummary, OAuthHelpers } from '@cloudflare/workers-oauth-provider'
import { bindGrant, indexStub, revokeGrant } from '../credits'
import type { Env } from '../env'
import { withRetries } from '../retry'
import { MCP_SCOPE, type GrantProps } from './server'

/** The grant id inside a provider token or code; null when it is not shaped like one. */
export function grantOfToken(token: string): string | null {
  const parts = token.split(':')
  return parts.length === 3 && parts[1] ? parts[1] : null
}

/** Who signed in, as the consent page established it. */
export interface SignedIn {
  /** The admin key id of the account (not secret): the provider's `userId`. */
  keyId: string
  keyHash: string
  account: string
}

export type Completed =
  { ok: true; redirectTo: string } | { ok: false; reason: 'account_unavailable' }

/**
 * Complete an approved authorization: the provider stores the grant and makes the
 * code; the account is told the grant may pay. If the account refuses (revoked,
 * rotated meanwhile) or cannot be reached, the grant is revoked again: no code
 * that could become a token is handed out, and nothing is left behind.
 */
export async function completeGrant(
  env: Env,
  oauth: OAuthHelpers,
  request: AuthRequest,
  who: SignedIn
): Promise<Completed> {
  const props: GrantProps = { keyHash: who.keyHash, account: who.account }
  // The provider revokes this client's earlier grants for the resource: the account must hear of it too.
  const earlier = (await userGrants(oauth, who.keyId))
    .filter((grant) => grant.clientId === request.clientId)
    .map((grant) => grant.id)
  const { redirectTo } = await oauth.completeAuthorization({
    request,
    userId: who.keyId,
    metadata: { account: who.account },
    scope: [MCP_SCOPE],
    props,
  })
  const grant = grantOfToken(new URL(redirectTo).searchParams.get('code') ?? '')
  let bound = false
  try {
    bound =
      grant !== null &&
      (await bindGrant(env.CREDITS, who.keyHash, grant, request.clientId)) !== null
  } catch (error) {
    console.error('pay-gate: could not bind an OAuth grant', (error as Error).message)
  }
  if (bound) {
    const remaining = new Set((await userGrants(oauth, who.keyId)).map((entry) => entry.id))
    for (const gone of earlier.filter((id) => !remaining.has(id))) {
      await revokeGrant(env.CREDITS, who.account, gone).catch((error: Error) =>
        console.error('pay-gate: could not revoke a replaced OAuth grant', error.message)
      )
    }
    return { ok: true, redirectTo }
  }
  if (grant !== null) await oauth.revokeGrant(grant, who.keyId)
  return { ok: false, reason: 'account_unavailable' }
}

/** The grants the provider holds for a user (an account's key id), every page of them. */
export async function userGrants(oauth: OAuthHelpers, userId: string): Promise<GrantSummary[]> {
  const grants: GrantSummary[] = []
  let cursor: string | undefined
  do {
    const page = await oauth.listUserGrants(userId, cursor ? { cursor } : {})
    grants.push(...page.items)
    cursor = page.cursor
  } while (cursor)
  return grants
}

/** Whether the provider still holds a grant. */
async function grantExists(oauth: OAuthHelpers, userId: string, grant: string): Promise<boolean> {
  return (await userGrants(oauth, userId)).some((item) => item.id === grant)
}

/**
 * Revoke a grant everywhere: in its account first (at once), then in the provider.
 * @returns false when the account could not be reached (nothing in the provider changed then)
 */
export async function revokeAccountGrant(
  env: Env,
  oauth: OAuthHelpers,
  account: string,
  grant: string,
  userId: string
): Promise<boolean> {
  const told = await withRetries(() => revokeGrant(env.CREDITS, account, grant), {
    attempts: 3,
    baseMs: 50,
  })
  if (!told.ok) return false
  await oauth.revokeGrant(grant, userId)
  return true
}

/**
 * RFC 7009 revocation at the token endpoint. The provider authenticates the
 * client and revokes what it owns: the grant for a refresh token, the one token
 * for an access token. The gate then revokes the whole grant (RFC 7009 §2.1: the
 * server MAY for an access token) in its account, so its other tokens, in any
 * replica of KV, stop paying at once.
 * @param revoke the provider's own handling of the request
 */
export async function revokeWithGrant(
  env: Env,
  oauth: OAuthHelpers,
  token: string,
  revoke: () => Promise<Response>
): Promise<Response> {
  const grant = grantOfToken(token)
  const userId = token.split(':')[0] ?? ''
  if (grant === null || userId === '') return revoke()
  const access = await oauth.unwrapToken<GrantProps>(token)
  const existed = await grantExists(oauth, userId, grant)
  const answer = await revoke()
  if (!answer.ok) return answer
  const revokedAccess = access !== null && (await oauth.unwrapToken(token)) === null
  const revokedGrant = existed && !(await grantExists(oauth, userId, grant))
  if (!revokedAccess && !revokedGrant) return answer // not this client's, or not a live token: RFC 7009 §2.2 still 200
  const account = access?.grant.props.account ?? (await indexStub(env.KEY_INDEX).get(userId))?.hash
  if (account === undefined || !(await revokeAccountGrant(env, oauth, account, grant, userId))) {
    console.error('pay-gate: an OAuth grant was revoked in KV but its account could not be told')
    return Response.json(
      { error: 'temporarily_unavailable', error_description: 'Try the revocation again.' },
      { status: 503, headers: { 'cache-control': 'no-store' } }
    )
  }
  return answer
}
