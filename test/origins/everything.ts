/**
 * The MCP project's own reference server, `@modelcontextprotocol/server-everything`
 * (its Streamable HTTP transport: path /mcp, sessions, an in-memory event store
 * for resumability, tasks), as a child process on a free loopback port: an origin
 * nobody here wrote, for test/integration/mcp-everything.test.ts. It reads its
 * port from PORT. Its logs are noisy; they are dropped unless
 * PAY_GATE_ORIGIN_LOGS=1.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { join } from 'node:path'

const SCRIPT = join(
  import.meta.dirname,
  '..',
  '..',
  'node_modules',
  '@modelcontextprotocol',
  'server-everything',
  'dist',
  'transports',
  'streamableHttp.js'
)

export interface EverythingServer {
  /** Its base URL, without the /mcp path. */
  url: string
  close: () => Promise<void>
}

/** A port the kernel says is free on 127.0.0.1 now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no free port'))
      )
    })
  })
}

export async function startEverything(): Promise<EverythingServer> {
  const port = await freePort()
  const logs = process.env.PAY_GATE_ORIGIN_LOGS === '1'
  const child = spawn(process.execPath, [SCRIPT], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', logs ? 'inherit' : 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
    if (logs) process.stderr.write(chunk)
  })
  const url = `http://127.0.0.1:${port}`
  const close = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    await exited
  }
  // Listening once /mcp answers at all (400 to a GET without a session).
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`server-everything exited with ${child.exitCode}:\n${stderr}`)
    try {
      await fetch(`${url}/mcp`, { signal: AbortSignal.timeout(2_000) })
      return { url, close }
    } catch {
      if (Date.now() > deadline) {
        await close()
        throw new Error(`server-everything did not listen on ${url} within 30 s:\n${stderr}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}
