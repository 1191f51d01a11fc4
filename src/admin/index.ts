/**
 * @module admin
 * The operator's side: the admin API, the usage and metrics endpoints, and the
 * views of an account both share with the key holder's own `GET /balance`.
 */
export { adminRoutes } from './routes'
export { mountMetrics } from './usage-routes'
export { balanceJson } from './views'
export { clientOf } from './auth'
