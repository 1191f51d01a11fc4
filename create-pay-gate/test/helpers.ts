/**
 * Shared by the unit and e2e tests: the repository's paths, real temporary
 * folders, and an Io whose stdin answers each prompt as it appears.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { afterEach } from 'vitest'
import type { Environment } from '../src/cli'
import { readPayGateInfo } from '../src/pay-gate-info'
import type { Io } from '../src/ui'

export const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url))
export const REPO = join(PACKAGE_DIR, '..')
export const TEMPLATES = join(REPO, 'templates')

/** A fresh folder for this test, removed after it. */
export function useTempDir(prefix = 'create-pay-gate-'): () => string {
  const made: string[] = []
  afterEach(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true })
  })
  return () => {
    const dir = mkdtempSync(join(tmpdir(), prefix))
    made.push(dir)
    return dir
  }
}

export interface FakeIo extends Io {
  output(): string
  errors(): string
}

/**
 * An Io for main(). With `answers`, it behaves as a terminal: each time a prompt
 * is written (output ending in a space), the next answer is typed; with `hangUp`,
 * the input ends at the first prompt after the last answer (Ctrl-D).
 */
export function fakeIo(answers?: string[], { hangUp = false } = {}): FakeIo {
  let out = ''
  let err = ''
  const queue = [...(answers ?? [])]
  const stdin = new PassThrough()
  const stdout = new Writable({
    write(chunk, _encoding, done) {
      const text = String(chunk)
      out += text
      // readline drops lines that arrive while no question is pending, so type
      // only once the prompt is out.
      if (text.endsWith(' ') && queue.length > 0)
        setImmediate(() => stdin.write(`${queue.shift()}\n`))
      else if (text.endsWith(' ') && hangUp) setImmediate(() => stdin.end())
      done()
    },
  })
  const stderr = new Writable({
    write(chunk, _encoding, done) {
      err += String(chunk)
      done()
    },
  })
  return {
    stdin,
    stdout,
    stderr,
    interactive: answers !== undefined,
    color: false,
    output: () => out,
    errors: () => err,
  }
}

/** main()'s surroundings, with the repository's templates as the package's own. */
export function testEnvironment(cwd: string, io: Io): Environment {
  return {
    io,
    cwd,
    templatesDir: TEMPLATES,
    payGate: readPayGateInfo(REPO),
    version: '0.0.0-test',
    nodeVersion: '22.0.0',
  }
}
