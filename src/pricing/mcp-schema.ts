/**
 * @module pricing/mcp-schema
 * An MCP route's prices in `routes.json`: the default, per method, per tool (with
 * its own rate limit), and the route's MCP settings (resumption, tasks, browser
 * origins, OAuth).
 */
import * as z from 'zod'
import { parseDollars } from '../money'
import { PRICE_MESSAGE } from './dollars'
import { OAuthSchema } from './oauth-config'

const PRICE_OR_FREE_MESSAGE = `${PRICE_MESSAGE}, or "free"`

/** A price, or the word `"free"`. */
const PriceOrFree = z
  .string({ error: PRICE_OR_FREE_MESSAGE })
  .refine((text) => text === 'free' || parseDollars(text).ok, { error: PRICE_OR_FREE_MESSAGE })

/** A fixed-window rate limit, counted per API key inside the key's Durable Object. */
export const RateLimitSchema = z.strictObject({
  limit: z.int().min(1).max(1_000_000),
  windowSeconds: z.int().min(1).max(86_400),
})

/** A tool's entry: `"0.01"`, `"free"`, or `{ "price": "0.01", "rateLimit": {…} }`. */
const ToolEntry = z.preprocess(
  (value) => (typeof value === 'string' ? { price: value } : value),
  z.strictObject(
    {
      price: PriceOrFree,
      rateLimit: RateLimitSchema.optional(),
      description: z.string().max(500).optional(),
    },
    { error: 'expected a price such as "0.01", "free", or { "price": "0.01", "rateLimit": … }' }
  )
)

export const McpPricing = z.strictObject({
  /** Default for every priced method and for tools not listed. */
  price: PriceOrFree,
  /** Per-method prices; overrides the built-in free list too. */
  methods: z.record(z.string().min(1), PriceOrFree).optional(),
  tools: z.record(z.string().min(1), ToolEntry).optional(),
  /**
   * Seconds a held call may still be answered on a resumed stream after its POST
   * stream ended (MCP 2025-11-25 §Resumability); then its hold is released.
   */
  resumeSeconds: z.number().int().min(1).max(86_400).optional(),
  /** The longest a task-augmented call stays held (its task's ttl, capped by this). */
  taskSeconds: z
    .number()
    .int()
    .min(1)
    .max(7 * 86_400)
    .optional(),
  /**
   * Browser origins (`https://app.example.com`) allowed to call this route. Streamable HTTP:
   * "Servers MUST validate the Origin header"; by default no browser origin but the gate's own.
   */
  allowedOrigins: z
    .array(
      z.string().regex(/^https?:\/\/[^/\s]+$/, {
        error: 'expected an origin such as "https://app.example.com"',
      })
    )
    .max(100)
    .optional(),
  /** OAuth 2.1 for hosted MCP clients (pricing/oauth-config, src/oauth). */
  oauth: OAuthSchema.optional(),
})
