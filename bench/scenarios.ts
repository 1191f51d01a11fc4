/**
 * What the bench runs, and which figures it compares. Every scenario is one kind
 * of MCP POST, self-contained (stateless origin endpoint, no session), sent to one
 * of the targets: the fixed-answer origin alone or one of the three Workers in
 * front of it; the -sdk scenarios (extra) do the same in front of the SDK demo origin.
 */

import { SIDECAR_TOKEN, type Target } from './stack'

export type { Target }

export interface Scenario {
  id: string
  label: string
  target: Target
  body: string
  /** Whose key the calls carry: none, one key taking all the load, or many keys in turn. */
  keys: 'none' | 'one' | 'many'
  /** Extra request headers. */
  headers?: Record<string, string>
  /** The path on the target (default /mcp-json). */
  path?: string
  /** For diagnosis: run only with --extra or when --only names it. */
  extra?: boolean
}

const rpc = (method: string, params?: unknown) =>
  JSON.stringify({ jsonrpc: '2.0', id: 1, method, ...(params ? { params } : {}) })
const SEARCH = rpc('tools/call', { name: 'search', arguments: { query: 'bench' } })
const LIST = rpc('tools/list')
const ECHO = rpc('tools/call', { name: 'echo', arguments: { text: 'bench' } })

/** Makes the debit Worker hold before and settle after, as the gate does (see workers/debit.ts). */
const TWO = { 'x-bench-writes': '2' }

/**
 * A proxy's check of a tools/call that it forwards itself (as Caddy, Traefik and
 * Envoy do): the gate prices the body and charges at once, no follow-up.
 */
const SIDECAR_CHECK = {
  'x-pay-sidecar-token': SIDECAR_TOKEN,
  'x-forwarded-method': 'POST',
  'x-forwarded-uri': '/mcp-json',
  'x-pay-settle': 'now',
}

export function scenarios(manyKeys: number): Scenario[] {
  const many = `${manyKeys} keys`
  return [
    {
      id: 'origin',
      label: 'origin alone: tools/call search',
      target: 'origin',
      body: SEARCH,
      keys: 'none',
    },
    {
      id: 'pass',
      label: 'pass-through: tools/call search',
      target: 'pass',
      body: SEARCH,
      keys: 'none',
    },
    {
      id: 'debit-1',
      label: 'pass-through + 1 debit, 1 key',
      target: 'debit',
      body: SEARCH,
      keys: 'one',
    },
    {
      id: 'debit-n',
      label: `pass-through + 1 debit, ${many}`,
      target: 'debit',
      body: SEARCH,
      keys: 'many',
    },
    { id: 'gate-1', label: 'gate credits path, 1 key', target: 'gate', body: SEARCH, keys: 'one' },
    {
      id: 'gate-n',
      label: `gate credits path, ${many}`,
      target: 'gate',
      body: SEARCH,
      keys: 'many',
    },
    {
      id: 'sidecar-1',
      label: 'sidecar check, charged now, 1 key',
      target: 'gate',
      path: '/__pay/check',
      body: SEARCH,
      keys: 'one',
      headers: SIDECAR_CHECK,
    },
    {
      id: 'pass-list',
      label: 'pass-through: tools/list',
      target: 'pass',
      body: LIST,
      keys: 'none',
    },
    { id: 'gate-list', label: 'gate free: tools/list', target: 'gate', body: LIST, keys: 'none' },
    {
      id: 'pass-echo',
      label: 'pass-through: tools/call echo',
      target: 'pass',
      body: ECHO,
      keys: 'none',
    },
    {
      id: 'gate-echo',
      label: 'gate free: tools/call echo',
      target: 'gate',
      body: ECHO,
      keys: 'none',
    },
    {
      id: 'hold-1',
      label: 'pass-through + hold + settle, 1 key',
      target: 'debit',
      body: SEARCH,
      keys: 'one',
      headers: TWO,
      extra: true,
    },
    {
      id: 'hold-n',
      label: `pass-through + hold + settle, ${many}`,
      target: 'debit',
      body: SEARCH,
      keys: 'many',
      headers: TWO,
      extra: true,
    },
    // The same paths in front of the SDK demo origin (about 1 ms of CPU a call): what
    // an operator sees in front of a real MCP server, not a measure of the gate.
    {
      id: 'origin-sdk',
      label: 'SDK origin alone: tools/call search',
      target: 'origin-sdk',
      body: SEARCH,
      keys: 'none',
      extra: true,
    },
    {
      id: 'pass-sdk',
      label: 'SDK: pass-through, search',
      target: 'pass-sdk',
      body: SEARCH,
      keys: 'none',
      extra: true,
    },
    {
      id: 'debit-1-sdk',
      label: 'SDK: pass-through + 1 debit, 1 key',
      target: 'debit-sdk',
      body: SEARCH,
      keys: 'one',
      extra: true,
    },
    {
      id: 'gate-1-sdk',
      label: 'SDK: gate credits path, 1 key',
      target: 'gate-sdk',
      body: SEARCH,
      keys: 'one',
      extra: true,
    },
    {
      id: 'pass-echo-sdk',
      label: 'SDK: pass-through, echo',
      target: 'pass-sdk',
      body: ECHO,
      keys: 'none',
      extra: true,
    },
    {
      id: 'gate-echo-sdk',
      label: 'SDK: gate free, echo',
      target: 'gate-sdk',
      body: ECHO,
      keys: 'none',
      extra: true,
    },
  ]
}

/** Whether a scenario needs the SDK demo origin (and the Workers in front of it). */
export const needsSdk = (scenario: Scenario) => scenario.target.endsWith('-sdk')

export interface Ratio {
  label: string
  numerator: string
  denominator: string
  /** The least the ratio of requests/s should be; none for a figure shown for information. */
  target?: number
  /**
   * A condition on the bench itself, not a target for the gate: the origin must be far
   * cheaper than what is measured, or every figure is the origin's. Not counted in
   * "targets met"; a miss is printed as a warning.
   */
  bench?: true
}

export const RATIOS: Ratio[] = [
  { label: 'gate (1 key) ÷ pass-through', numerator: 'gate-1', denominator: 'pass' },
  {
    label: 'gate (1 key) ÷ pass-through + 1 debit (1 key)',
    numerator: 'gate-1',
    denominator: 'debit-1',
    target: 0.9,
  },
  { label: 'gate (many keys) ÷ pass-through', numerator: 'gate-n', denominator: 'pass' },
  {
    label: 'gate (many keys) ÷ pass-through + 1 debit (many keys)',
    numerator: 'gate-n',
    denominator: 'debit-n',
    target: 0.9,
  },
  {
    label: 'gate free tools/list ÷ pass-through tools/list',
    numerator: 'gate-list',
    denominator: 'pass-list',
    target: 0.95,
  },
  {
    label: 'gate free echo ÷ pass-through echo',
    numerator: 'gate-echo',
    denominator: 'pass-echo',
    target: 0.95,
  },
  {
    label: 'pass-through + 1 debit (1 key) ÷ pass-through',
    numerator: 'debit-1',
    denominator: 'pass',
  },
  {
    label: 'origin alone ÷ pass-through (bench: origin cheap enough)',
    numerator: 'origin',
    denominator: 'pass',
    target: 5,
    bench: true,
  },
  {
    label: 'gate (1 key) ÷ pass-through + hold + settle (1 key)',
    numerator: 'gate-1',
    denominator: 'hold-1',
  },
  {
    label: 'gate (many keys) ÷ pass-through + hold + settle (many)',
    numerator: 'gate-n',
    denominator: 'hold-n',
  },
  {
    label: 'pass-through + hold + settle ÷ + 1 debit (1 key)',
    numerator: 'hold-1',
    denominator: 'debit-1',
  },
  {
    label: 'SDK: gate (1 key) ÷ pass-through + 1 debit (1 key)',
    numerator: 'gate-1-sdk',
    denominator: 'debit-1-sdk',
  },
  {
    label: 'SDK: gate free echo ÷ pass-through echo',
    numerator: 'gate-echo-sdk',
    denominator: 'pass-echo-sdk',
  },
  { label: 'SDK: origin alone ÷ pass-through', numerator: 'origin-sdk', denominator: 'pass-sdk' },
]
