/**
 * @module account/grants
 * ─── OAuth grants: the place for the OAuth work (issue 13, item 1) ───
 * The portal lists the OAuth clients a holder has authorized for their account
 * and lets them revoke one. The grants themselves live with the OAuth provider,
 * which another part of the gate provides: it passes an `OAuthGrants` to
 * `accountRoutes({ grants })` and the portal does the rest (the section below,
 * `POST /account/grants/revoke` with the session's CSRF check). Without one, the
 * section says no app can be connected yet.
 */
import type { Env } from '../env'
import { escapeHtml } from '../page'

/** One client's grant on an account, as the holder is shown it. Never a token. */
export interface OAuthGrant {
  /** Opaque, stable: what revoking names. */
  id: string
  clientName: string
  /** The host the client's redirect URI points at. */
  redirectHost: string
  scopes: string[]
  createdAt: number
}

/**
 * What the OAuth provider gives the portal (oauth/account-grants). `account` is the key's admin id
 * (`key_…`); `origin` the portal's own, which is the authorization server's issuer.
 */
export interface OAuthGrants {
  /** The account's grants; null when no route of this gate offers OAuth. */
  list(env: Env, origin: string, account: string): Promise<OAuthGrant[] | null>
  /** Revoke one grant of this account (its tokens stop at once). False: no such grant on this account. */
  revoke(env: Env, origin: string, account: string, grantId: string): Promise<boolean>
}

/** The grants section of the portal page. */
export function grantsSection(grants: OAuthGrant[] | null, csrf: string): string {
  const intro = '<h2 id="grants-title">Connected apps (OAuth)</h2>'
  if (grants === null) {
    return `<section id="oauth-grants" aria-labelledby="grants-title">${intro}<p class="empty">Apps that connect by OAuth will be listed here, to revoke. None can connect to this gate yet.</p></section>`
  }
  if (grants.length === 0)
    return `<section id="oauth-grants" aria-labelledby="grants-title">${intro}<p class="empty">No app is connected to this account.</p></section>`
  const rows = grants
    .map(
      (
        grant
      ) => `<tr><td>${escapeHtml(grant.clientName)}</td><td class="mono">${escapeHtml(grant.redirectHost)}</td><td>${escapeHtml(grant.scopes.join(', ') || 'all tools')}</td>
<td>${escapeHtml(new Date(grant.createdAt).toISOString().replace('.000Z', 'Z'))}</td>
<td><form method="post" action="/account/grants/revoke" class="inline"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}"><input type="hidden" name="grant" value="${escapeHtml(grant.id)}">
<button type="submit" class="danger" aria-label="Revoke ${escapeHtml(grant.clientName)}">Revoke</button></form></td></tr>`
    )
    .join('\n')
  return `<section id="oauth-grants" aria-labelledby="grants-title">${intro}<div class="table"><table><thead><tr><th scope="col">App</th><th scope="col">Redirects to</th><th scope="col">May use</th><th scope="col">Since</th><th scope="col"><span class="hint">Action</span></th></tr></thead>
<tbody>${rows}</tbody></table></div></section>`
}
