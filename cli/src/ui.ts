/**
 * Where the CLI reads and writes, and how it looks: colour only on a terminal
 * (and never with NO_COLOR), errors as "what happened" plus "how to fix it".
 * The same approach as create-pay-gate/src/ui.ts.
 */
import type { Writable } from 'node:stream'

export interface Io {
  stdout: Writable
  stderr: Writable
  /** stdout is a terminal and NO_COLOR is unset. */
  color: boolean
  env: Record<string, string | undefined>
  cwd: string
}

export function processIo(): Io {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    color: process.stdout.isTTY === true && !process.env.NO_COLOR,
    env: process.env,
    cwd: process.cwd(),
  }
}

export type Paint = (text: string) => string

export function palette(io: Io): Record<'bold' | 'dim' | 'red' | 'green' | 'cyan' | 'yellow', Paint> {
  const sgr = (code: number): Paint => (text) => (io.color ? `\x1b[${code}m${text}\x1b[0m` : text)
  return { bold: sgr(1), dim: sgr(2), red: sgr(31), green: sgr(32), yellow: sgr(33), cyan: sgr(36) }
}

/** A failure the user can act on: what happened, and how to fix it. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    readonly exitCode = 1
  ) {
    super(message)
    this.name = 'CliError'
  }
}

export function printError(io: Io, error: CliError): void {
  const { red, dim } = palette(io)
  io.stderr.write(`${red('✖')} ${error.message}\n`)
  if (error.hint) io.stderr.write(`  ${dim(error.hint)}\n`)
}

export function out(io: Io, text = ''): void {
  io.stdout.write(`${text}\n`)
}
