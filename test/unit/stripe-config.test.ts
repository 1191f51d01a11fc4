import { describe, expect, it } from 'vitest'
import { compileTable, validateRoutesFile } from '../../src/pricing'

const ROUTES = [{ path: '/api/*', origin: 'http://127.0.0.1:8080', price: '0.01' }]
const STRIPE = {
  packages: {
    starter: { credits: '10', price: 'price_1QStarter', amount: 1000, currency: 'usd' },
    pro: { credits: '25.5', price: 'price_1QPro', amount: 2000, currency: 'usd' },
    small: { credits: '0.000001', amount: 50, currency: 'eur' },
  },
  subscriptionPackage: 'pro',
  successUrl: 'https://example.com/thanks?session={CHECKOUT_SESSION_ID}',
}

function issues(stripe: unknown): Array<{ path: string; message: string }> {
  const result = validateRoutesFile({ version: 1, routes: ROUTES, stripe })
  return result.ok ? [] : result.issues
}

describe('routes.json "stripe" block', () => {
  it('compiles packages into integer micro-dollars', () => {
    const result = validateRoutesFile({ version: 1, routes: ROUTES, stripe: STRIPE })
    if (!result.ok) throw new Error(JSON.stringify(result.issues))
    const stripe = compileTable(result.file).stripe
    expect(stripe?.packages.get('starter')).toEqual({
      name: 'starter',
      micros: 10_000_000,
      price: 'price_1QStarter',
      amount: 1000,
      currency: 'usd',
      productName: 'starter credits',
    })
    expect(stripe?.packages.get('pro')?.micros).toBe(25_500_000)
    expect(stripe?.packages.get('small')?.micros).toBe(1)
    expect(stripe?.subscriptionPackage).toBe('pro')
  })

  it('is optional', () => {
    const result = validateRoutesFile({ version: 1, routes: ROUTES })
    expect(result.ok && compileTable(result.file).stripe).toBeUndefined()
  })

  it('names each problem', () => {
    const found = issues({
      packages: {
        starter: { credits: '0', amount: 0, currency: 'USD', price: 'prod_123' },
        Bad: { credits: '1', amount: 100, currency: 'usd' },
        x: { credits: 10, amount: 1.5, currency: 'usd', extra: true },
      },
      subscriptionPackage: 'missing',
      successUrl: 'not a url',
    }).map((issue) => issue.path)
    expect(found).toEqual(
      expect.arrayContaining([
        'stripe.packages.starter.credits',
        'stripe.packages.starter.amount',
        'stripe.packages.starter.currency',
        'stripe.packages.starter.price',
        'stripe.packages.x.credits',
        'stripe.packages.x.amount',
        'stripe.packages.x.extra',
        'stripe.successUrl',
      ])
    )
    expect(issues({ ...STRIPE, subscriptionPackage: 'missing' })).toEqual([
      { path: 'stripe.subscriptionPackage', message: 'no package named "missing" in "packages"' },
    ])
  })

  it('needs a recurring Price id for the subscription package, and at least one package', () => {
    expect(issues({ ...STRIPE, subscriptionPackage: 'small' })).toEqual([
      {
        path: 'stripe.packages.small.price',
        message: 'the subscription package needs a recurring Stripe Price id ("price")',
      },
    ])
    expect(
      issues({ ...STRIPE, packages: {}, subscriptionPackage: undefined }).map((issue) => issue.path)
    ).toEqual(['stripe.packages'])
  })

  it('reserves /stripe for the gate', () => {
    const result = validateRoutesFile({
      version: 1,
      routes: [{ path: '/stripe/webhook', origin: 'http://a', price: '1' }],
    })
    expect(result.ok).toBe(false)
  })
})
