/**
 * `pay-gate keys …`: the gate's admin API over HTTP, with the admin token as a
 * bearer token. Amounts are decimal-dollar strings, checked here first.
 */
import { parseDollars } from '../../src/money'
import { CliError } from './ui'

export interface AdminClient {
  url: string
  token: string
  fetch?: typeof fetch
}

export type KeyAction =
  | 'create'
  | 'list'
  | 'show'
  | 'topup'
  | 'suspend'
  | 'resume'
  | 'revoke'
  | 'rotate'
  | 'plan'
  | 'grant'

export function checkCredits(value: string | undefined, flag = '--credits'): string {
  if (value === undefined)
    throw new CliError(`${flag} is required`, 'e.g. --credits 5 or --credits 0.50', 2)
  const parsed = parseDollars(value)
  if (!parsed.ok) throw new CliError(`${flag} ${value}: ${parsed.message}`, undefined, 2)
  return value
}

/** The request a key command sends. */
export function keyRequest(
  action: KeyAction,
  id: string | undefined,
  flags: Record<string, string | boolean | undefined>
): { method: string; path: string; body?: unknown } {
  const one = `/admin/keys/${encodeURIComponent(id ?? '')}`
  switch (action) {
    case 'create': {
      if (typeof flags.name !== 'string' || flags.name === '')
        throw new CliError(
          '--name is required',
          'e.g. pay-gate keys create --name my-agent --credits 5',
          2
        )
      return {
        method: 'POST',
        path: '/admin/keys',
        body: { name: flags.name, credits: checkCredits(flags.credits as string | undefined) },
      }
    }
    case 'list': {
      const query = new URLSearchParams()
      if (typeof flags.limit === 'string') query.set('limit', flags.limit)
      if (typeof flags.after === 'string') query.set('after', flags.after)
      const qs = query.toString()
      return { method: 'GET', path: `/admin/keys${qs ? `?${qs}` : ''}` }
    }
    case 'show':
      return {
        method: 'GET',
        path: `${one}${typeof flags.ledger === 'string' ? `?ledger=${encodeURIComponent(flags.ledger)}` : ''}`,
      }
    case 'topup':
      return {
        method: 'POST',
        path: `${one}/topup`,
        body: { credits: checkCredits(flags.credits as string | undefined) },
      }
    case 'plan': {
      if (typeof flags.plan !== 'string' || flags.plan === '')
        throw new CliError(
          '--plan is required',
          'e.g. --plan starter, or --plan none for list prices',
          2
        )
      return {
        method: 'PUT',
        path: `${one}/plan`,
        body: { plan: flags.plan === 'none' ? null : flags.plan },
      }
    }
    case 'grant': {
      const expires = typeof flags.expires === 'string' ? Date.parse(flags.expires) : Number.NaN
      if (Number.isNaN(expires))
        throw new CliError('--expires needs a time', 'e.g. --expires 2026-12-31T23:59:59Z', 2)
      return {
        method: 'POST',
        path: `${one}/grants`,
        body: {
          credits: checkCredits(flags.credits as string | undefined),
          expiresAt: new Date(expires).toISOString(),
        },
      }
    }
    default:
      return { method: 'POST', path: `${one}/${action}` }
  }
}

export async function callAdmin(
  client: AdminClient,
  request: { method: string; path: string; body?: unknown }
): Promise<Record<string, unknown>> {
  const url = new URL(request.path, client.url.endsWith('/') ? client.url : `${client.url}/`)
  let response: Response
  try {
    response = await (client.fetch ?? fetch)(url, {
      method: request.method,
      headers: {
        authorization: `Bearer ${client.token}`,
        accept: 'application/json',
        ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
    })
  } catch (error) {
    throw new CliError(
      `cannot reach the gate at ${client.url}: ${(error as Error).message}`,
      'Is it running? Start it with `npm run dev`, or pass --url.'
    )
  }
  const text = await response.text()
  let body: Record<string, unknown> = {}
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {}
  } catch {
    body = { raw: text }
  }
  if (!response.ok) {
    const error = body.error as { code?: string; message?: string } | string | undefined
    const message =
      typeof error === 'string' ? error : (error?.message ?? `HTTP ${response.status}`)
    const hint =
      response.status === 401 || response.status === 403
        ? "Check the admin token (env PAY_GATE_ADMIN_TOKEN, or --token-env NAME): it must match the gate's ADMIN_TOKEN secret."
        : undefined
    throw new CliError(`${request.method} ${request.path}: ${response.status} ${message}`, hint)
  }
  return body
}

function describe(key: Record<string, unknown>): string {
  const parts = [String(key.id)]
  if (key.name !== undefined) parts.push(`"${String(key.name)}"`)
  if (key.status !== undefined) parts.push(String(key.status))
  if (key.credits !== undefined) parts.push(`$${String(key.credits)} credits`)
  if (key.held !== undefined && key.held !== '0') parts.push(`$${String(key.held)} held`)
  return parts.join('  ')
}

/** Human output for a key command's answer. */
export function formatKeys(action: KeyAction, body: Record<string, unknown>): string {
  switch (action) {
    case 'create':
      return [
        `created ${describe(body)}`,
        `key: ${String(body.key)}`,
        'This is the only time the key is shown: store it now.',
      ].join('\n')
    case 'list': {
      const keys = Array.isArray(body.keys) ? (body.keys as Record<string, unknown>[]) : []
      const lines = keys.length === 0 ? ['no keys'] : keys.map(describe)
      if (body.next) lines.push(`more: --after ${String(body.next)}`)
      return lines.join('\n')
    }
    case 'show': {
      const ledger = Array.isArray(body.ledger) ? (body.ledger as unknown[]) : []
      return [describe(body), ...ledger.map((row) => `  ${JSON.stringify(row)}`)].join('\n')
    }
    case 'topup':
      return `topped up ${describe(body)}`
    case 'rotate':
      return [
        `rotated ${describe(body)}`,
        `new key: ${String(body.key)}`,
        'The old key no longer works. This is the only time the new key is shown: store it now.',
      ].join('\n')
    case 'plan': {
      const plan = body.plan as { name?: string } | null
      return `${describe(body)}  plan: ${plan?.name ?? 'none (list prices)'}`
    }
    case 'grant':
      return `granted ${describe(body)}`
    default:
      return `${action === 'resume' ? 'resumed' : action === 'revoke' ? 'revoked' : 'suspended'} ${describe(body)}`
  }
}
