/**
 * @module gate/mcp-cancel
 * Giving up on held MCP calls. A call whose POST stream ended before its answer
 * waits for it (the answer may come on a resumed stream) until its hold runs
 * out; the caller can let it go sooner: `notifications/cancelled` names one call
 * (MCP 2025-11-25 §Cancellation), a session's DELETE ends them all. Released,
 * never charged; an answer that still comes afterwards is not handed on
 * (gate/mcp-stream). Only the caller's own key's calls are touched.
 */
import { awaitAnswer, releaseWaiting } from '../credits'
import { idKey, type JsonRpcId, type McpMessage } from '../mcp'
import type { RouteContext } from './http-route'
import type { CreditHold } from './credits-payment'
import { holderOf } from './mcp-stream'

/** The name a held call waits under: its session and its JSON-RPC id. */
function callName(session: string | null, id: JsonRpcId): string {
  return `${session ?? ''}\n${idKey(id)}`
}

/** Mark a held call, whose POST stream ended without its answer, as waiting for it. */
export async function markWaiting(
  context: RouteContext,
  hold: CreditHold,
  holder: string,
  session: string | null,
  id: JsonRpcId
): Promise<void> {
  if (!hold.reservationId || holder === '') return
  await awaitAnswer(
    context.env.CREDITS,
    holder,
    hold.keyHash,
    hold.reservationId,
    callName(session, id),
    session ?? ''
  )
}

/** The request ids a body's `notifications/cancelled` name. */
function cancelledIds(messages: McpMessage[]): JsonRpcId[] {
  const ids: JsonRpcId[] = []
  for (const message of messages) {
    if (message.kind !== 'notification' || message.method !== 'notifications/cancelled') continue
    const id = message.params?.requestId
    if (typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id))) ids.push(id)
  }
  return ids
}

/** Release the waiting calls a body cancels, on the caller's own key (`holder`: its hash, '' for none). */
export async function releaseCancelled(
  context: RouteContext,
  messages: McpMessage[],
  holder: string
): Promise<void> {
  const ids = cancelledIds(messages)
  if (ids.length === 0 || holder === '') return
  const session = context.request.headers.get('mcp-session-id')
  for (const id of ids.slice(0, 100))
    await releaseWaiting(context.env.CREDITS, holder, { call: callName(session, id) })
}

/** A session's DELETE: release every call of the caller's key still waiting in it. */
export async function releaseSession(context: RouteContext): Promise<void> {
  const session = context.request.headers.get('mcp-session-id')
  const keyHash = session ? await holderOf(context.caller) : ''
  if (session && keyHash !== '') await releaseWaiting(context.env.CREDITS, keyHash, { session })
}
