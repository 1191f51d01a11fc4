/**
 * @module mcp/tasks
 * Reading and rewriting the task fields of MCP messages (2025-11-25 tasks): a
 * task-augmented request carries `params.task`; its immediate answer is a
 * CreateTaskResult (`result.task.taskId`), not the call's result; `tasks/get`,
 * `tasks/result` and `tasks/cancel` name the task in `params.taskId`; a task's
 * result and its status carry the id back (`_meta[RELATED_TASK]`, `result.taskId`).
 * Pure.
 */
import type { McpMessage } from './jsonrpc'

/** The `_meta` key tying a message to its task (MCP 2025-11-25 tasks). */
export const RELATED_TASK_META = 'io.modelcontextprotocol/related-task'

/** Methods that name a task in `params.taskId`. */
export const TASK_METHODS: ReadonlySet<string> = new Set([
  'tasks/get',
  'tasks/result',
  'tasks/cancel',
])

type Request = Extract<McpMessage, { kind: 'request' }>

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The ttl a task-augmented request asks for (ms): a number, null when it names none, undefined when not a task. */
export function requestedTask(message: Request): { ttlMs: number | null } | undefined {
  const task = message.params?.task
  if (!isObject(task)) return undefined
  return {
    ttlMs:
      typeof task.ttl === 'number' && Number.isFinite(task.ttl) && task.ttl > 0 ? task.ttl : null,
  }
}

/** The task id of a CreateTaskResult, or null when `message` is not one. */
export function createdTaskId(message: unknown): string | null {
  if (!isObject(message) || !isObject(message.result)) return null
  const task = message.result.task
  return isObject(task) && typeof task.taskId === 'string' ? task.taskId : null
}

/** The task a `tasks/*` request names, or undefined. */
export function taskIdParam(message: Request): string | undefined {
  const id = message.params?.taskId
  return TASK_METHODS.has(message.method) && typeof id === 'string' ? id : undefined
}

/** A copy of `message` with its task id (wherever it carries one) replaced by `taskId`. */
export function withTaskId(message: unknown, taskId: string): unknown {
  if (!isObject(message)) return message
  const out: Record<string, unknown> = { ...message }
  if (isObject(message.params) && typeof message.params.taskId === 'string')
    out.params = { ...message.params, taskId }
  if (isObject(message.result)) {
    const result: Record<string, unknown> = { ...message.result }
    if (isObject(result.task) && typeof result.task.taskId === 'string')
      result.task = { ...result.task, taskId }
    if (typeof result.taskId === 'string') result.taskId = taskId
    const meta = result._meta
    if (isObject(meta) && isObject(meta[RELATED_TASK_META]))
      result._meta = { ...meta, [RELATED_TASK_META]: { ...meta[RELATED_TASK_META], taskId } }
    out.result = result
  }
  return out
}
