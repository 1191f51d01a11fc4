import { describe, expect, it } from 'vitest'
import { creditsRefusal } from '../../src/gate/credits-refusals'
import {
  errorResponse,
  GateError,
  inBand,
  nextStep,
  statusOf,
  type ErrorCode,
} from '../../src/errors'
import { mcpGateErrorResponse } from '../../src/gate/mcp-answers'
import { X402Refusal } from '../../src/gate/x402-payment'
import { parseMcpBody, type ParsedBody } from '../../src/mcp'
import { reasonNext, reasonStatus } from '../../src/x402'
import type { PaymentRequired } from '../../src/x402'

const parsed = parseMcpBody(
  '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search"}}'
) as Extract<ParsedBody, { ok: true }>
const prices = new Map([['n:7', 10_000]])

// Every refusal of a hold the account can give, as the ledger hands it over.
const denials = [
  { reason: 'insufficient_credits', available: 5_000, status: 402, next: /Top up/ },
  {
    reason: 'rate_limited',
    available: 5_000,
    retryAfterSeconds: 3,
    status: 429,
    next: /Retry-After/,
  },
  { reason: 'invalid_api_key', status: 401, next: /pg_/ },
  { reason: 'key_suspended', available: 0, status: 403, next: /operator/ },
  { reason: 'key_revoked', status: 403, next: /never works again/ },
  { reason: 'key_expired', available: 0, status: 403, next: /operator/ },
  { reason: 'tool_not_allowed', tool: 'search', status: 403, next: /tools\/list/ },
  {
    reason: 'quota_exceeded',
    retryAfterSeconds: 60,
    quota: { period: 'day', metric: 'calls', limit: 10 },
    status: 429,
    next: /Retry-After/,
  },
  { reason: 'spending_limit_reached', available: 1, status: 402, next: /operator/ },
  { reason: 'plan_allowance_exhausted', available: 1, status: 402, next: /next period/ },
  { reason: 'idempotency_in_progress', status: 409, next: /finish/ },
  { reason: 'idempotency_mismatch', status: 422, next: /new Idempotency-Key/ },
  { reason: 'ledger_unavailable', status: 503, next: /nothing was charged/ },
] as const

describe('refusals: one table, rendered once per transport', () => {
  it.each(denials)(
    'a hold refused for $reason has one code, status and next step over HTTP and JSON-RPC',
    async (denial) => {
      const { status, next, ...result } = denial
      const error = creditsRefusal(
        { ok: false, keyId: 'key_x', ...result } as Parameters<typeof creditsRefusal>[0],
        '0.01',
        { price: '0.01' }
      )
      expect(error.code).toBe(denial.reason)
      expect(error.status).toBe(status)
      const http = errorResponse(error)
      expect(http.status).toBe(status)
      const body = (await http.json()) as { error: { code: string; next: string } }
      expect(body.error.code).toBe(denial.reason)
      expect(body.error.next).toMatch(next)
      // MCP: a payment problem in-band (200, -32402); the ledger being down keeps its status.
      const rpc = mcpGateErrorResponse(error, parsed, prices)
      const answer = (await rpc.json()) as {
        id: number
        error: { code: number; data: { reason: string; next: string; price: string } }
      }
      expect(rpc.status).toBe(inBand(error.code) ? 200 : status)
      expect(answer).toMatchObject({
        id: 7,
        error: {
          code: inBand(error.code) ? -32402 : -32603,
          data: { reason: denial.reason, price: '0.01' },
        },
      })
      expect(answer.error.data.next).toMatch(next)
    }
  )

  it('says what to do next for every refusal a payer can act on, and keys the status on the code alone', () => {
    const codes: ErrorCode[] = [
      'missing_api_key',
      'insufficient_credits',
      'rate_limited',
      'answer_not_held',
      'ledger_unavailable',
      'upstream_timeout',
    ]
    for (const code of codes) {
      expect(nextStep(code)).toBeTruthy()
      expect(new GateError(code, 'x').status).toBe(statusOf(code))
    }
    expect(inBand('invalid_request')).toBe(false)
    expect(nextStep('invalid_request')).toBeUndefined()
  })

  it('a facilitator refusing a payment the gate read is a refused payment (402), never a malformed request (400)', () => {
    const required = {
      x402Version: 2,
      accepts: [],
      resource: { url: 'https://x/' },
    } as unknown as PaymentRequired
    expect(new X402Refusal('invalid_payload', 'm', required).status).toBe(400)
    expect(new X402Refusal('invalid_payload', 'm', required, undefined, true).status).toBe(402)
    expect(new X402Refusal('facilitator_unavailable', 'm', required, undefined, true).status).toBe(
      503
    )
  })

  it.each([
    ['payment_required', 402],
    ['invalid_payload', 400],
    ['insufficient_funds', 402],
    ['payment_in_flight', 402],
    ['lock_unavailable', 503],
    ['facilitator_unavailable', 503],
    ['settlement_indeterminate', 503],
    ['dev_mode_not_allowed', 503],
    // a facilitator's own reason, not in the table: a refused payment
    ['some_new_facilitator_reason', 402],
  ] as const)(
    'an x402 refusal for %s is answered with %i, and says what to do next',
    (reason, status) => {
      const refusal = new X402Refusal(reason, 'm', {
        x402Version: 2,
        accepts: [],
        resource: { url: 'https://x/' },
      } as unknown as PaymentRequired)
      expect(refusal.status).toBe(status)
      expect(reasonStatus(reason)).toBe(status)
      expect(refusal.next).toBe(reasonNext(reason))
      expect(refusal.next.length).toBeGreaterThan(10)
    }
  )
})
