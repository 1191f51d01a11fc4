/**
 * Calling the sidecar endpoints as a reverse proxy does, for the sidecar tests.
 */
import { TEST_SIDECAR_TOKEN } from './constants'
import { gate } from './helpers'

/** Ask the check as nginx's template does: original method and URI in headers. */
export function check(
  method: string,
  uri: string,
  headers: Record<string, string> = {},
  body?: string
) {
  return gate('/__pay/check', {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      'x-pay-sidecar-token': TEST_SIDECAR_TOKEN,
      'x-original-method': method,
      'x-original-uri': uri,
      ...headers,
    },
    body,
  })
}

/** The proxy's follow-up, with headers or a JSON body. */
export function settle(headers: Record<string, string>, body?: unknown) {
  return gate('/__pay/settle', {
    method: 'POST',
    headers: {
      'x-pay-sidecar-token': TEST_SIDECAR_TOKEN,
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
  })
}
