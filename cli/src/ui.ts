/**
 * Where the CLI reads and writes, and how it looks: colour only on a terminal
 * (and never with NO_COLOR), errors as "what happened" plus "how to fix it".
 */
export { CliError, palette, printError, type Paint } from './terminal'
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

export function out(io: Io, text = ''): void {
  io.stdout.write(`${text}\n`)
}
