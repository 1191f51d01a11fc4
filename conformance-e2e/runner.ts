/**
 * Runs the official MCP conformance suite's server scenarios
 * (@modelcontextprotocol/conformance, its `conformance server` command, every
 * scenario: `--suite all`) against a URL, and reads back each scenario's checks
 * from the results folder it writes (`server-<scenario>-<timestamp>/checks.json`).
 * Its console output (which ends in a "Total: N passed, N failed" line of its
 * own) is kept, not printed.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const CLI = join(
  import.meta.dirname,
  '..',
  'node_modules',
  '@modelcontextprotocol',
  'conformance',
  'dist',
  'index.js'
)

export type Status = 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED'

export interface Check {
  id: string
  name: string
  status: Status
  errorMessage?: string
  details?: unknown
}

export interface SuiteRun {
  /** Each scenario's checks, as the suite wrote them. */
  scenarios: Map<string, Check[]>
  /** What the CLI printed, for failure messages. */
  output: string
}

export async function runConformance(url: string): Promise<SuiteRun> {
  const dir = mkdtempSync(join(tmpdir(), 'pay-gate-conformance-'))
  try {
    const child = spawn(
      process.execPath,
      [CLI, 'server', '--url', url, '--suite', 'all', '--output-dir', dir],
      { stdio: ['ignore', 'pipe', 'pipe'] }
    )
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    // It exits non-zero when a check failed; the checks say which.
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject)
      child.once('exit', () => resolve())
    })
    const scenarios = new Map<string, Check[]>()
    for (const entry of readdirSync(dir)) {
      const scenario = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(entry)?.[1]
      if (!scenario) continue
      scenarios.set(
        scenario,
        JSON.parse(readFileSync(join(dir, entry, 'checks.json'), 'utf8')) as Check[]
      )
    }
    if (scenarios.size === 0)
      throw new Error(`the conformance suite wrote no results for ${url}:\n${output}`)
    return { scenarios, output }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A scenario's verdicts: every check that is not merely informational, as `id: STATUS`. */
export function verdicts(checks: Check[] | undefined): string[] {
  return (checks ?? [])
    .filter((check) => check.status !== 'INFO')
    .map((check) => `${check.id}: ${check.status}`)
}
