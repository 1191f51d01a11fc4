/**
 * @module pricing/oauth-config
 * An MCP route's `"oauth"` block: OAuth 2.1 for hosted MCP clients (src/oauth).
 * `true` turns it on with the defaults; the object says when a caller without
 * credentials is challenged, and what free trial the consent page offers.
 */
import * as z from 'zod'
import { parseDollars } from '../money'
import { positiveDollars } from './dollars'

const TOOL_NAME = z.string().min(1).max(128)

const TrialSchema = z.strictObject({
  /** Credits a new trial account starts with. */
  credits: positiveDollars('expected the trial credits as dollars above 0, e.g. "0.50"'),
  /** Days until the trial credits expire. */
  days: z.int().min(1).max(365).optional(),
  /** Trials one client address may take a day. */
  perAddressPerDay: z.int().min(1).max(1000).optional(),
  /** Trials all addresses together may take a day. */
  perDay: z.int().min(1).max(1_000_000).optional(),
  /** The only tools a trial account may call (default: every tool of the route). */
  allowTools: z.array(TOOL_NAME).max(1000).optional(),
})

export const OAuthSchema = z.preprocess(
  (value) => (value === true ? {} : value),
  z.strictObject(
    {
      /**
       * Who gets the 401 that starts OAuth: "initialize" (default) a credential-less
       * `initialize`, as hosted connectors need; "paid" only a credential-less priced
       * call on a route without x402, so clients without OAuth can still list tools.
       */
      challenge: z.enum(['initialize', 'paid']).optional(),
      trial: TrialSchema.optional(),
    },
    {
      error:
        'expected true or { "challenge": "initialize" | "paid", "trial": { "credits": "0.50", … } }',
    }
  )
)

export type OAuthConfig = z.infer<typeof OAuthSchema>

export interface OAuthTrial {
  micros: number
  days: number
  perAddress: number
  perDay: number
  /** null: every tool. */
  allowTools: string[] | null
}

export interface OAuthSettings {
  challenge: 'initialize' | 'paid'
  trial?: OAuthTrial
}

export function compileOAuth(config: OAuthConfig): OAuthSettings {
  const trial = config.trial
  const micros = trial ? parseDollars(trial.credits) : undefined
  return {
    challenge: config.challenge ?? 'initialize',
    ...(trial && micros?.ok
      ? {
          trial: {
            micros: micros.micros,
            days: trial.days ?? 7,
            perAddress: trial.perAddressPerDay ?? 1,
            perDay: trial.perDay ?? 100,
            allowTools: trial.allowTools ?? null,
          },
        }
      : {}),
  }
}
