import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { main, type Deps } from '../src/cli'
import type { Io } from '../src/ui'

export interface Run {
  code: number
  stdout: string
  stderr: string
}

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk))
      done()
    },
  })
  return { stream, text: () => chunks.join('') }
}

export function tempDir(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'pay-gate-cli-'))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

export async function run(
  argv: string[],
  options: { cwd?: string; env?: Record<string, string>; deps?: Deps } = {}
): Promise<Run> {
  const stdout = sink()
  const stderr = sink()
  const io: Io = {
    stdout: stdout.stream,
    stderr: stderr.stream,
    color: false,
    env: options.env ?? {},
    cwd: options.cwd ?? tempDir(),
  }
  const code = await main(argv, io, options.deps)
  return { code, stdout: stdout.text(), stderr: stderr.text() }
}

export const GOOD = JSON.stringify({
  version: 1,
  routes: [
    {
      path: '/mcp',
      origin: 'http://127.0.0.1:3001',
      mcp: { price: '0.001', tools: { search: '0.01' } },
    },
    { path: '/api/health', origin: 'http://127.0.0.1:8080', free: true },
    { path: '/api/*', method: 'GET', origin: 'http://127.0.0.1:8080', price: '0.02' },
  ],
})
