/**
 * @module proxy
 * Forwarding to the configured origin: header hygiene, the operator's upstream
 * credential (sent, and scrubbed from what comes back), timeouts, and bodies that stream through while being observed.
 * Imports no other leaf.
 */
export {
  forward,
  upstreamUrl,
  type ForwardResult,
  type ForwardTarget,
  type OriginCredential,
} from './forward'
export { observeBody, type BodyObserver, type StreamEnd } from './observe'
export { upstreamRequestHeaders, downstreamResponseHeaders } from './headers'
export { REDACTED, scrubHeaders, scrubText, secretForms, withoutSecrets } from './scrub'
