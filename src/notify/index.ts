/**
 * @module notify
 * Signed operator webhooks: key lifecycle events and low-balance alerts, POSTed
 * to OPERATOR_WEBHOOK_URL with an HMAC-SHA256 signature, retried from a Durable
 * Object outbox. Imports only `money`; never another leaf.
 */
export {
  WebhookOutbox,
  outboxStub,
  type OutboxEntry,
  type OutboxNamespace,
  type OutboxState,
} from './outbox-object'
export {
  emitOperatorEvent,
  operatorEvent,
  type OperatorEvent,
  type OperatorEventType,
} from './events'
export { notifyIfLowBalance, crossesDown } from './low-balance'
export {
  checkHolderWebhookUrl,
  newHolderWebhookSecret,
  notifyHolderLowBalance,
  type HolderAlertTarget,
} from './holder-alert'
export {
  deliverOnce,
  deliverWithBackoff,
  type DeliveryOutcome,
  type PreparedEvent,
} from './deliver'
export {
  webhookSettings,
  lowBalanceThreshold,
  retryDelayMs,
  type WebhookSettings,
} from './settings'
export {
  signPayload,
  signatureHeader,
  SIGNATURE_HEADER,
  EVENT_ID_HEADER,
  EVENT_TYPE_HEADER,
} from './sign'
export {
  checkWebhookUrl,
  blockedHostReason,
  parseIPv4,
  parseIPv6,
  isBlockedIPv4,
  isBlockedIPv6,
} from './address-guard'
