/**
 * @module bearer
 * Reading `Authorization: Bearer <token>`, shared by the credits rail (API keys)
 * and the admin API (its token), so both accept exactly the same spellings.
 */

/**
 * The credential of an `Authorization: Bearer …` header, or undefined.
 * RFC 9110 §11.4: `credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]`,
 * so one or more spaces (not tabs) separate scheme and token, and the scheme is
 * case-insensitive. Leading and trailing whitespace is already gone: the Fetch
 * Headers class strips it from every value. Anything after the token (a second
 * word, a repeated header joined with ", ") makes it no bearer credential.
 */
export function bearerToken(headers: Headers): string | undefined {
  return /^Bearer +([^\s]+)$/i.exec(headers.get('authorization') ?? '')?.[1]
}
