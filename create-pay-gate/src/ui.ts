/**
 * Where the CLI reads and writes, and how it looks: colour only on a terminal
 * (and never with NO_COLOR), errors as "what happened" plus "how to fix it".
 */
export { CliError, palette, printError, type Paint } from '../../cli/src/terminal'
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
