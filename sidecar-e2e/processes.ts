/**
 * Child processes for the sidecar tests: free loopback ports, waiting until a
 * server answers, and stopping what a test started (by its own pid only).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'

/** A port the kernel says is free on 127.0.0.1 now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port'))
      )
    })
  })
}

export interface Started {
  child: ChildProcess
  /** Everything the process printed, for failure messages. */
  output: () => string
  stop: () => Promise<void>
}

/** Start a process; its output is kept, not printed. */
export function start(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}
): Started {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }
  return { child, output: () => output, stop }
}

/** Wait until `url` answers at all (any status); otherwise stop the process and fail with its output. */
export async function waitForHttp(url: string, process: Started, timeoutMs: number): Promise<void> {
  try {
    await untilAnswered(url, process, timeoutMs)
  } catch (error) {
    await process.stop()
    throw error
  }
}

async function untilAnswered(url: string, process: Started, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (process.child.exitCode !== null)
      throw new Error(
        `exited with ${process.child.exitCode} before answering:\n${process.output()}`
      )
    try {
      await fetch(url, { signal: AbortSignal.timeout(2_000) })
      return
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms:\n${process.output()}`)
}
