/**
 * @module pricing/x402-config
 * The `x402` block of routes.json (table-wide, and per route to override it), and
 * its resolution into complete terms: network, asset with its EIP-712 domain,
 * recipient, timeouts, facilitator, fail mode. Pure; the x402 module only ever
 * sees resolved terms.
 */
import * as z from 'zod'
import { isAddress } from '../evm-address'
import { microsToAtomic } from '../money'
import type { RouteDiscovery } from './discovery'
import { positiveDollars } from './dollars'
import { payoutAddressProblem } from './payout-address'

/** USDC on the networks whose token we know (x402 SDK `defaultAssets`; decimals 6). */
export const KNOWN_USDC: Readonly<
  Record<string, { address: string; name: string; version: string; decimals: number }>
> = {
  'eip155:8453': {
    address: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913',
    name: 'USD Coin',
    version: '2',
    decimals: 6,
  },
  'eip155:84532': {
    address: '0x036CbD53842c5426634e7929541eC2318f3dCF7e',
    name: 'USDC',
    version: '2',
    decimals: 6,
  },
  'eip155:1': {
    address: '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48',
    name: 'USD Coin',
    version: '2',
    decimals: 6,
  },
  'eip155:43114': {
    address: '0xB97EF9Ef8734C71904D8002F8b6Bc66Dd9c48a6E',
    name: 'USD Coin',
    version: '2',
    decimals: 6,
  },
}

const Address = z.string().refine((text) => isAddress(text), {
  error: 'expected a 0x address (a mixed-case one must have a valid EIP-55 checksum)',
})

/** Where the money goes: checksummed, all-lowercase refused too (see payout-address.ts). */
const PayoutAddress = z.string().superRefine((text, ctx) => {
  const problem = payoutAddressProblem(text)
  if (problem) ctx.addIssue({ code: 'custom', message: problem })
})

const Network = z.string().regex(/^eip155:[1-9][0-9]{0,18}$/, {
  error: 'expected a CAIP-2 EVM network such as "eip155:8453"',
})

const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i

const FacilitatorUrl = z.string().superRefine((text, ctx) => {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected the facilitator’s base URL' })
    return
  }
  if (url.protocol === 'https:') return
  if (url.protocol === 'http:' && LOOPBACK.test(url.hostname)) return
  ctx.addIssue({
    code: 'custom',
    message: 'the facilitator must be https:// (http:// only on a loopback address)',
  })
})

const Facilitator = z.strictObject({
  url: FacilitatorUrl,
  /** A header sent with every facilitator call, its value read from a Worker secret. */
  authHeader: z
    .strictObject({
      name: z.string().regex(/^[A-Za-z0-9-]+$/),
      secret: z.string().regex(ENV_NAME, { error: 'expected the name of a Worker secret' }),
      prefix: z.string().max(64).optional(),
    })
    .optional(),
  verifyTimeoutMs: z.int().min(100).max(120_000).optional(),
  settleTimeoutMs: z.int().min(100).max(300_000).optional(),
})

const Asset = z.strictObject({
  address: Address,
  name: z.string().min(1).max(100),
  version: z.string().min(1).max(20),
  decimals: z.int().min(0).max(36),
})

/** Fields shared by the table-wide block and a route's override. */
const X402Fields = {
  network: Network,
  payTo: PayoutAddress,
  facilitator: Facilitator,
  maxTimeoutSeconds: z.int().min(5).max(3600),
  failMode: z.enum(['closed', 'open']),
  asset: Asset,
  /** `dev`: payments checked locally and never settled; needs X402_DEV_MODE=allow on the Worker. */
  mode: z.enum(['facilitator', 'dev']),
  /** Payers served free, once they prove who they are with a valid signed authorization. */
  freePass: z.array(Address).max(100),
}

const DollarAmount = positiveDollars('expected a positive decimal-dollar string such as "5"')

export const X402BlockSchema = z.strictObject({
  network: X402Fields.network,
  /** Let agents buy credits for an API key with one x402 payment at POST /credits/buy. */
  buyCredits: z.strictObject({ min: DollarAmount, max: DollarAmount }).optional(),
  payTo: X402Fields.payTo,
  facilitator: X402Fields.facilitator.optional(),
  maxTimeoutSeconds: X402Fields.maxTimeoutSeconds.optional(),
  failMode: X402Fields.failMode.optional(),
  asset: X402Fields.asset.optional(),
  mode: X402Fields.mode.optional(),
  freePass: X402Fields.freePass.optional(),
})

/** A route's own x402 fields, each overriding the table's block. */
export const X402OverrideSchema = X402BlockSchema.omit({ buyCredits: true }).partial()

export type X402Block = z.infer<typeof X402BlockSchema>
export type X402Override = z.infer<typeof X402OverrideSchema>

/** The facilitator every x402 example uses for Base Sepolia, when none is given. */
export const DEFAULT_FACILITATOR_URL = 'https://x402.org/facilitator'

/** Everything needed to ask for, check and settle an x402 payment on one route. */
export interface X402Terms {
  network: string
  chainId: number
  asset: { address: string; name: string; version: string; decimals: number }
  payTo: string
  maxTimeoutSeconds: number
  facilitator: {
    url: string
    authHeader?: { name: string; secret: string; prefix?: string }
    verifyTimeoutMs: number
    settleTimeoutMs: number
  }
  failMode: 'closed' | 'open'
  mode: 'facilitator' | 'dev'
  freePass: string[]
  /** What the route tells catalogues in the 402's bazaar extension; none for the table's own terms (buying credits). */
  discovery?: RouteDiscovery
}

export type TermsResolution =
  { ok: true; terms: X402Terms } | { ok: false; path: string[]; message: string }

/** Merge a route's override over the table's block and fill in defaults. */
export function resolveTerms(
  block: X402Block | undefined,
  override: X402Override | undefined
): TermsResolution {
  const merged = { ...block, ...override }
  if (!merged.network || !merged.payTo) {
    return {
      ok: false,
      path: ['x402'],
      message: 'x402 needs "network" and "payTo" (here or in the top-level "x402" block)',
    }
  }
  const asset = merged.asset ?? KNOWN_USDC[merged.network]
  if (!asset) {
    return {
      ok: false,
      path: ['x402', 'asset'],
      message: `no known USDC on ${merged.network}: give "asset" {address, name, version, decimals}`,
    }
  }
  const facilitator = merged.facilitator
  return {
    ok: true,
    terms: {
      network: merged.network,
      chainId: Number(merged.network.slice('eip155:'.length)),
      asset,
      payTo: merged.payTo,
      maxTimeoutSeconds: merged.maxTimeoutSeconds ?? 60,
      facilitator: {
        url: (facilitator?.url ?? DEFAULT_FACILITATOR_URL).replace(/\/+$/, ''),
        authHeader: facilitator?.authHeader,
        verifyTimeoutMs: facilitator?.verifyTimeoutMs ?? 10_000,
        settleTimeoutMs: facilitator?.settleTimeoutMs ?? 30_000,
      },
      failMode: merged.failMode ?? 'closed',
      mode: merged.mode ?? 'facilitator',
      freePass: (merged.freePass ?? []).map((address) => address.toLowerCase()),
    },
  }
}

/** Whether a price in micros can be paid exactly in the terms' asset. */
export function fitsAsset(micros: number, terms: X402Terms): boolean {
  return microsToAtomic(micros, terms.asset.decimals).ok
}
