/**
 * @module credits
 * Prepaid credits on API keys: one account Durable Object per key (the single
 * writer of its balance), the key index for listing, key generation and hashing,
 * and the fail-closed client the gate and the admin API use.
 * Imports only `money` and `errors`; never another leaf.
 */
export { CreditAccount } from './account-object'
export { NO_POLICY } from './types'
export { toolVisible } from './policy-check'
export { chargeOfServed } from './plan-pricing'
export { rotateKey, type RotatedKey } from './rotate-key'
export type { HolderAlert, HolderAlertView } from './holder-alert'
export { KeyIndex, type IndexedKey } from './key-index-object'
export { issueKey, type IssuedKey } from './issue-key'
export type { TrialLimits } from './trial-claims'
export {
  API_KEY_PREFIX,
  generateApiKey,
  generateKeyId,
  KEY_ID_PATTERN,
  hashApiKey,
  carriesGateKey,
  looksLikeApiKey,
  presentedKey,
  type Caller,
  type OAuthCaller,
  type PresentedKey,
} from './api-key'
export {
  accountNameOf,
  accountStub,
  holderView,
  setHolderAlert,
  keyToolLists,
  indexStub,
  awaitAnswer,
  releaseWaiting,
  bindGrant,
  revokeGrant,
  type AccountNamespace,
  type IndexNamespace,
  type LedgerReserveResult,
} from './ledger'
export { CreditLedger, LedgerClient, type HoldAsk, type SettleNowResult } from './ledger-client'
export type {
  AccountInit,
  AccountView,
  AdminResult,
  AssignedPlan,
  HolderView,
  KeyPolicy,
  PlanDefinition,
  PlanPosition,
  PlanTier,
  Quota,
  ReserveItem,
  UsageCount,
  EffectiveStatus,
  KeyStatus,
  LedgerEntry,
  LimitCheck,
  RateLimitSpec,
  RateLimitState,
  ReserveDenial,
  ReserveRequest,
  ReserveResult,
  Settlement,
  SettleResult,
} from './types'
