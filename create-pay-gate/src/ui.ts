/**
 * Where the CLI reads and writes, and how it looks: colour only on a terminal
 * (and never with NO_COLOR), errors as "what happened" plus "how to fix it".
 */
import type { Readable, Writable } from 'node:stream'

export interface Io {
  stdin: Readable
  stdout: Writable
  stderr: Writable
  /** stdin is a terminal: questions can be asked. */
  interactive: boolean
  /** stdout is a terminal and NO_COLOR is unset. */
  color: boolean
}

export function processIo(): Io {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    interactive: process.stdin.isTTY === true,
    color: process.stdout.isTTY === true && !process.env.NO_COLOR,
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
