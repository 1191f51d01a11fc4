/**
 * @module pricing/stripe-config
 * The `stripe` block of routes.json: the credit packages a key holder can buy by
 * card through Stripe Checkout, the package a subscription renews with, and where
 * Checkout sends the buyer back. Pure; the secrets (STRIPE_SECRET_KEY,
 * STRIPE_WEBHOOK_SECRET) are Worker secrets, never in this file.
 */
import * as z from 'zod'
import { parseDollars } from '../money'
import { positiveDollars } from './dollars'

const CREDITS_MESSAGE = 'expected a positive decimal-dollar string of credits, e.g. "10"'

/** A package name: also sent to Stripe as metadata, and typed by buyers. */
const PackageName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, {
  error: 'a package name is 1–64 lowercase letters, digits, "-" or "_"',
})

const PositiveCredits = positiveDollars(CREDITS_MESSAGE)

const ReturnUrl = z.string().superRefine((text, ctx) => {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected an absolute https:// URL' })
    return
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    ctx.addIssue({
      code: 'custom',
      message: 'expected an http(s) URL (Stripe requires https:// in live mode)',
    })
  }
})

/** One credit package: what the buyer pays Stripe, and the credits the key gets for it. */
export const StripePackageSchema = z.strictObject({
  /** Credits added to the key, in dollars of credit: `"10"`. Never taken from the buyer's request. */
  credits: PositiveCredits,
  /** A Stripe Price id (`price_…`). Without it, Checkout is given `price_data` built from the fields below. */
  price: z
    .string()
    .regex(/^price_[A-Za-z0-9]+$/, { error: 'expected a Stripe Price id such as "price_1Q…"' })
    .optional(),
  /** What the buyer pays, in the currency's smallest unit (cents for usd), as Stripe counts it. Checked on every payment. */
  amount: z.int().min(1).max(99_999_999),
  /** ISO currency code, lowercase as Stripe writes it: `"usd"`. */
  currency: z
    .string()
    .regex(/^[a-z]{3}$/, { error: 'expected a lowercase ISO currency code such as "usd"' }),
  /** The product name Checkout shows when no `price` is given. */
  name: z.string().min(1).max(200).optional(),
})

export const StripeBlockSchema = z
  .strictObject({
    packages: z
      .record(PackageName, StripePackageSchema)
      .refine((packages) => Object.keys(packages).length > 0, {
        error: 'at least one package is needed',
      }),
    /** The package a subscription is sold as, and credited again on each paid renewal invoice. */
    subscriptionPackage: PackageName.optional(),
    /** Where Checkout sends the buyer after paying; may contain `{CHECKOUT_SESSION_ID}`. */
    successUrl: ReturnUrl,
    /** Where Checkout sends a buyer who goes back. */
    cancelUrl: ReturnUrl.optional(),
  })
  .superRefine((block, ctx) => {
    const name = block.subscriptionPackage
    if (name === undefined) return
    const subscription = block.packages[name]
    if (!subscription) {
      ctx.addIssue({
        code: 'custom',
        path: ['subscriptionPackage'],
        message: `no package named "${name}" in "packages"`,
      })
    } else if (subscription.price === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['packages', name, 'price'],
        message: 'the subscription package needs a recurring Stripe Price id ("price")',
      })
    }
  })

export type StripeBlock = z.infer<typeof StripeBlockSchema>

/** A package as the gate uses it: credits in integer micro-dollars. */
export interface StripePackage {
  name: string
  micros: number
  price?: string
  amount: number
  currency: string
  productName: string
}

/** The compiled `stripe` block. */
export interface StripeSettings {
  packages: ReadonlyMap<string, StripePackage>
  subscriptionPackage?: string
  successUrl: string
  cancelUrl?: string
}

/** Compile a validated `stripe` block. */
export function compileStripe(block: StripeBlock): StripeSettings {
  const packages = new Map<string, StripePackage>()
  for (const [name, entry] of Object.entries(block.packages)) {
    const parsed = parseDollars(entry.credits)
    // The schema has checked every amount; this guards against skipping it.
    if (!parsed.ok) throw new TypeError(`unvalidated credits in package ${name}`)
    packages.set(name, {
      name,
      micros: parsed.micros,
      price: entry.price,
      amount: entry.amount,
      currency: entry.currency,
      productName: entry.name ?? `${name} credits`,
    })
  }
  return {
    packages,
    subscriptionPackage: block.subscriptionPackage,
    successUrl: block.successUrl,
    cancelUrl: block.cancelUrl,
  }
}
