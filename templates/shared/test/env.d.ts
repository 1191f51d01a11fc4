// Types for `env` and `exports` from cloudflare:workers in the tests: the
// bindings pay-gate expects (wrangler.toml), and this project's main module.
import type { Env as GateEnv } from 'pay-gate'

declare global {
  namespace Cloudflare {
    interface Env extends GateEnv {}
    interface GlobalProps {
      mainModule: typeof import('../src/index')
      durableNamespaces:
        'CreditAccount' | 'KeyIndex' | 'PaymentLock' | 'WebhookOutbox' | 'CheckoutClaim'
    }
  }
}
