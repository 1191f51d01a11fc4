/**
 * The gate in front of your API, run inside workerd with this project's
 * wrangler.toml and routes.json. Nothing needs to be listening at the origin:
 * every call below is answered by the gate itself, and a refused call never
 * reaches the origin.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import routes from '../routes.json'
import { gate, seedRoutes } from './gate'

const route = routes.routes[0]
// A concrete path the first route matches: "/*" becomes "/example".
const pricedPath = route.path.replace(/\*$/, 'example').replace(/:[^/]+/g, '1')
const takesX402 = 'x402' in routes

beforeAll(seedRoutes)

describe('an unpaid call', () => {
  it('is refused before it reaches the API', async () => {
    const response = await gate(pricedPath)
    if (takesX402) {
      // x402: 402 with the payment terms in the PAYMENT-REQUIRED header.
      expect(response.status).toBe(402)
      expect(response.headers.get('payment-required')).toBeTruthy()
    } else {
      expect(response.status).toBe(401)
      expect(await response.json()).toMatchObject({
        error: { code: 'missing_api_key', price: route.price },
      })
    }
  })
})

describe('GET /pricing', () => {
  it('lists the routes of routes.json with their prices', async () => {
    const response = await gate('/pricing')
    expect(response.status).toBe(200)
    const body = await response.json<{ routes: Array<{ path: string; price: string }> }>()
    expect(body.routes).toMatchObject(routes.routes.map(({ path, price }) => ({ path, price })))
  })
})
