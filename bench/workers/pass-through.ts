/**
 * Baseline (a), the bare pass-through: forward the request to ORIGIN + path and
 * return the origin's response as it is. The least any Worker in front of an
 * origin can do, so `gate ÷ this` is everything the gate costs.
 */
interface Env {
  ORIGIN: string
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url)
    return fetch(`${env.ORIGIN}${url.pathname}${url.search}`, request)
  },
} satisfies ExportedHandler<Env>
