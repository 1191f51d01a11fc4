/**
 * @module gate/mcp-tasks
 * Tasks (MCP 2025-11-25): a task-augmented `tools/call` is priced as its tool and
 * held when it is asked; its immediate answer (CreateTaskResult) is not the
 * call's result, so nothing is charged then. The task id the caller sees is a
 * ticket (like an event id, gate/stream-ticket) naming the session, the key and
 * the hold. `tasks/result` with that id is charged once, when it hands on a
 * successful result; a failed or cancelled task releases the hold, and one never
 * fetched expires with it. `tasks/get`, `tasks/list`, `tasks/cancel` and
 * `tasks/result` themselves are free. A `tasks/result` for a task id the gate did
 * not hand out, or another session's or key's, is refused and never forwarded.
 */
import { GateError } from '../errors'
import {
  bodyFormat,
  createdTaskId,
  idKey,
  INVALID_PARAMS,
  jsonRpcError,
  requestedTask,
  responseOutcome,
  withTaskId,
  type McpMessage,
  type MessageRewrite,
} from '../mcp'
import type { CreditHold } from './credits-payment'
import { downstreamResponseHeaders } from '../proxy'
import { decideAnswerIn, holdAnswerInStream } from './answer-stream'
import type { RouteContext } from './http-route'
import { mcpJson } from './mcp-answers'
import { heldCall, notHeld, settleHeldAnswer } from './mcp-stream'
import { Sealer, unseal, type TicketHold } from './stream-ticket'
import { callOrigin } from './upstream'

type Request = Extract<McpMessage, { kind: 'request' }>

const TASK_PREFIX = 'pgt1.'

export interface TaskTicket {
  session: string | null
  /** SHA-256 of the key that holds the task's price ('' when none). */
  holder: string
  account: string
  keyId: string
  /** The task's hold, or null for a task of a free tool. */
  hold: TicketHold | null
  /** After this (ms since the epoch) its result is not delivered: the hold is let go. */
  until: number
}

/** The sealer of the task id a task-augmented call's CreateTaskResult carries. */
export function taskSealer(context: RouteContext, ticket: TaskTicket): Sealer {
  return new Sealer(context.env, TASK_PREFIX, ticket)
}

/** An in-band refusal of a task request, never forwarded. */
function refuse(message: Request, text: string, reason: string): Response {
  return mcpJson(200, jsonRpcError(message.id, INVALID_PARAMS, text, { reason }))
}

/**
 * A `tasks/get`, `tasks/result` or `tasks/cancel`. A task id the gate handed out
 * is checked (session and key) and forwarded as the origin's own; another id is
 * forwarded as it is for `tasks/get` and `tasks/cancel` (they deliver nothing
 * paid), and refused for `tasks/result`.
 * @returns null when the request needs nothing of the gate (forward it as usual)
 */
export async function serveTaskRequest(
  context: RouteContext,
  message: Request,
  taskId: string | undefined,
  holder: string
): Promise<Response | null> {
  const opened =
    taskId === undefined ? ({ ok: false } as const) : await unseal(context.env, TASK_PREFIX, taskId)
  if (!opened.ok || taskId === undefined) {
    if (message.method !== 'tasks/result') return null
    return refuse(
      message,
      'taskId is not a task this gate handed out: use the task id from the CreateTaskResult.',
      'unknown_task'
    )
  }
  const ticket = opened.payload as TaskTicket
  const session = context.request.headers.get('mcp-session-id')
  if (ticket.session !== null && ticket.session !== session)
    return refuse(message, 'This task belongs to another session.', 'unknown_task')
  if (ticket.hold && ticket.holder !== holder)
    return refuse(
      message,
      'This task was paid with another API key: ask with the same key.',
      'unknown_task'
    )

  const forwarded = JSON.stringify(
    withTaskId(
      { jsonrpc: '2.0', id: message.id, method: message.method, params: message.params },
      opened.originValue
    )
  )
  let response: Response
  try {
    response = await callOrigin(context, { body: forwarded })
  } catch (error) {
    if (!(error instanceof GateError)) throw error
    return mcpJson(
      error.status,
      jsonRpcError(message.id, -32603, error.message, { reason: error.code })
    )
  }
  const format = bodyFormat(response.headers.get('content-type'))
  const hold = ticket.hold
  const settles =
    hold !== null && (message.method === 'tasks/result' || message.method === 'tasks/cancel')
  if (!response.ok || !response.body || format === null) {
    // Only a JSON-RPC answer can carry a task's result: anything else from a paid task's result is withheld.
    if (hold && message.method === 'tasks/result' && response.ok)
      return mcpJson(
        502,
        jsonRpcError(
          message.id,
          -32603,
          'The origin answered tasks/result with something other than JSON-RPC.',
          { reason: 'upstream_unreachable' }
        )
      )
    return new Response(response.body, {
      status: response.status,
      headers: downstreamResponseHeaders(response.headers),
    })
  }
  const target = idKey(message.id)
  const isAnswer = (value: unknown): value is Record<string, unknown> => {
    const outcome = responseOutcome(value)
    return outcome !== null && idKey(outcome.id) === target
  }
  const decide = async (answer: Record<string, unknown>): Promise<{ message: unknown }> => {
    const outcome = responseOutcome(answer)?.outcome
    const handedOn = withTaskId(answer, taskId)
    if (!settles || !hold) return { message: handedOn }
    if (message.method === 'tasks/cancel') {
      // A task cancelled (its answer a success) is never charged: its hold goes.
      if (outcome === 'success')
        context.waitUntil(
          context.ledger.settleNow(ticket.account, [
            { reservationId: hold.reservation, amount: 0, calls: 0 },
          ])
        )
      return { message: handedOn }
    }
    const verdict = await settleHeldAnswer(context, ticket, hold, outcome === 'success')
    if (verdict === 'deliver') return { message: handedOn }
    return {
      message: notHeld(
        message.id,
        verdict === 'expired'
          ? 'The hold on this task expired before its result was fetched; it was not charged and is not delivered.'
          : 'This task is no longer held (released, cancelled or expired), so its result is not delivered.'
      ),
    }
  }
  const headers = downstreamResponseHeaders(response.headers)
  headers.delete('content-length')
  if (format === 'json') {
    let text: string
    try {
      text = await response.text()
    } catch (error) {
      return mcpJson(
        502,
        jsonRpcError(
          message.id,
          -32603,
          `The origin broke off its answer: ${(error as Error).message}`,
          { reason: 'upstream_unreachable' }
        )
      )
    }
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      value = null
    }
    const found = await decideAnswerIn(value, isAnswer, decide)
    if (found) return new Response(JSON.stringify(found.body), { status: response.status, headers })
    // A paid task's result is handed on only as its answer: anything else from tasks/result is withheld.
    if (hold && message.method === 'tasks/result')
      return mcpJson(
        502,
        jsonRpcError(message.id, -32603, 'The origin answered tasks/result with no answer to it.', {
          reason: 'upstream_unreachable',
        })
      )
    return new Response(text, { status: response.status, headers })
  }
  return new Response(
    holdAnswerInStream(response.body, {
      isAnswer,
      decide,
      abandon: async () => undefined,
      waitUntil: context.waitUntil,
    }),
    { status: response.status, headers }
  )
}

/** What a task-augmented call's answer needs: its task id sealed, and to know it was only the task's creation. */
export interface TaskCreation {
  /** Seals the task id of the call's CreateTaskResult. */
  rewrite: MessageRewrite
  /** The message is the call's CreateTaskResult: not its result, nothing to charge yet. */
  isCreation(message: unknown): boolean
  /** A CreateTaskResult was handed on: the hold waits for `tasks/result`. */
  readonly created: boolean
}

/**
 * For a task-augmented single call (held, or free when `hold` is null), the
 * rewrite that turns the origin's task id into the caller's ticket; undefined
 * for any other body.
 */
export function taskCreation(
  context: RouteContext,
  message: McpMessage | undefined,
  hold: CreditHold | null,
  holder: string,
  waitMs: number
): TaskCreation | undefined {
  if (message?.kind !== 'request' || !requestedTask(message)) return undefined
  const target = idKey(message.id)
  const ticket: TaskTicket = {
    session: context.request.headers.get('mcp-session-id'),
    holder,
    account: hold?.keyHash ?? '',
    keyId: hold?.keyId ?? '',
    hold: hold?.reservationId ? heldCall(context, hold) : null,
    until: Date.now() + context.route.timeoutMs + waitMs,
  }
  const sealer = taskSealer(context, ticket)
  let created = false
  const isCreation = (value: unknown): boolean => {
    const outcome = responseOutcome(value)
    return outcome !== null && idKey(outcome.id) === target && createdTaskId(value) !== null
  }
  return {
    rewrite: (value) => {
      if (!isCreation(value)) return undefined
      created = true
      return withTaskId(value, sealer.seal(createdTaskId(value) as string))
    },
    isCreation,
    get created() {
      return created
    },
  }
}
