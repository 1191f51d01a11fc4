/**
 * How both of our command-line tools look (this CLI and create-pay-gate, which
 * bundles this file): colour only on a terminal (and never with NO_COLOR), errors
 * as "what happened" plus "how to fix it".
 */
import type { Writable } from 'node:stream'

export type Paint = (text: string) => string

export function palette(io: {
  color: boolean
}): Record<'bold' | 'dim' | 'red' | 'green' | 'cyan' | 'yellow', Paint> {
  const sgr =
    (code: number): Paint =>
    (text) =>
      io.color ? `\x1b[${code}m${text}\x1b[0m` : text
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

export function printError(io: { stderr: Writable; color: boolean }, error: CliError): void {
  const { red, dim } = palette(io)
  io.stderr.write(`${red('✖')} ${error.message}\n`)
  if (error.hint) io.stderr.write(`  ${dim(error.hint)}\n`)
}
