/**
 * The gate as the tests call it: this project's worker, inside workerd, with
 * routes.json in its (local, per-test) KV as `npm run routes:push` would put it.
 */
import { env, exports } from 'cloudflare:workers'
import { ROUTES_KV_KEY } from 'pay-gate'
import routes from '../routes.json'

/** A request to the gate, as a caller on the internet would send it. */
export function gate(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(`https://gate.test${path}`, init))
}

/** Put routes.json into the tests' KV (call it in `beforeAll`). */
export async function seedRoutes(): Promise<void> {
  await env.ROUTES.put(ROUTES_KV_KEY, JSON.stringify(routes))
}
