/**
 * @module pricing
 * "What does this request cost?": routes.json schema, the compiled table, path
 * matching, MCP method and tool prices, and the KV-backed per-isolate cache.
 * Imports only `money` and `errors`; never another leaf.
 */
export {
  RoutesFileSchema,
  RESERVED_PATHS,
  type RoutesFile,
  type RouteConfig,
  type RateLimit,
} from './schema'
export {
  validateRoutesFile,
  validateRoutesText,
  type RoutesIssue,
  type RoutesValidation,
} from './validate'
export {
  compileTable,
  matchRoute,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_MAX_BODY_BYTES,
  type PriceTable,
  type CompiledRoute,
  type RouteMatch,
  type RoutePricing,
  type McpPriceBook,
  type ToolPrice,
  type UpstreamCredential,
  type PaymentRails,
} from './table'
export { KNOWN_USDC, type X402Terms } from './x402-config'
export type { OAuthSettings, OAuthTrial } from './oauth-config'
export {
  DiscoverySchema,
  type DiscoveryConfig,
  type DiscoveryMethod,
  type RouteDiscovery,
} from './discovery'
export { payoutAddressProblem } from './payout-address'
export {
  StripeBlockSchema,
  type StripeBlock,
  type StripePackage,
  type StripeSettings,
} from './stripe-config'
export { priceMcpRequest, priceOfTool, FREE_MCP_METHODS, type McpRequestPrice } from './mcp-price'
export { RouteTableCache, ROUTES_KV_KEY, type TableLoad, type RoutesKv } from './store'
export { normalizePath } from './path'
export { PlanSchema, PlansSchema, compilePlan, type CompiledPlan, type PlanConfig } from './plans'
