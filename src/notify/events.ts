/**
 * @module notify/events
 * Raising operator events: build the envelope, then hand it to the outbox object
 * (WEBHOOK_OUTBOX binding) or, without one, deliver it within the request. Never
 * throws and never delays the caller: everything runs in `waitUntil`.
 *
 * Envelope: `{ id: "evt_…", type, createdAt, data }`. The id is unique per event
 * and stays the same across retries (also sent as X-Pay-Gate-Event-Id), so a
 * receiver can drop duplicates.
 */
import { deliverWithBackoff, type PreparedEvent } from './deliver'
import { outboxStub, type OutboxNamespace } from './outbox-object'
import { webhookSettings } from './settings'

export type OperatorEventType =
  | 'key.created'
  | 'key.topped_up'
  | 'key.suspended'
  | 'key.resumed'
  | 'key.revoked'
  | 'key.rotated'
  | 'key.policy_changed'
  | 'key.plan_changed'
  | 'key.low_balance'

export interface OperatorEvent {
  id: string
  type: OperatorEventType
  createdAt: string
  data: Record<string, unknown>
}

type WaitUntil = (promise: Promise<unknown>) => void

/** A new event with a fresh id. */
export function operatorEvent(
  type: OperatorEventType,
  data: Record<string, unknown>
): OperatorEvent {
  return {
    id: `evt_${crypto.randomUUID().replaceAll('-', '')}`,
    type,
    createdAt: new Date().toISOString(),
    data,
  }
}

/**
 * Send an operator event to OPERATOR_WEBHOOK_URL, if webhooks are configured.
 * @param data the event's payload: never an API key or its hash
 */
export function emitOperatorEvent(
  env: Record<string, unknown>,
  type: OperatorEventType,
  data: Record<string, unknown>,
  waitUntil: WaitUntil
): void {
  const settings = webhookSettings(env)
  if (!settings) return
  const event = operatorEvent(type, data)
  const prepared: PreparedEvent = { id: event.id, type, body: JSON.stringify(event) }
  const outbox = env.WEBHOOK_OUTBOX as OutboxNamespace | undefined
  if (!outbox) {
    waitUntil(deliverWithBackoff(settings, prepared))
    return
  }
  waitUntil(
    outboxStub(outbox)
      .enqueue(prepared)
      .catch((error: unknown) => {
        // The outbox is unreachable: still try within this request rather than lose the event.
        console.warn(
          `pay-gate: webhook outbox unavailable (${(error as Error).name}); delivering ${event.id} directly`
        )
        return deliverWithBackoff(settings, prepared)
      })
  )
}
