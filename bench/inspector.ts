/**
 * A V8 CPU profile of one Worker's isolate, taken through workerd's inspector
 * (workerd started with --inspector-addr; one inspector target per service, so a
 * Worker and its Durable Objects, which share its isolate, are profiled together).
 */

export interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
}

export interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** A minimal DevTools-protocol client: send a command, await its answer. */
async function connect(url: string) {
  const socket = new WebSocket(url)
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true })
    socket.addEventListener('error', reject, { once: true })
  })
  let next = 0
  const waiting = new Map<number, (result: unknown) => void>()
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown }
    if (message.id !== undefined) waiting.get(message.id)?.(message.result)
  })
  return {
    send: (method: string, params: Record<string, unknown> = {}) =>
      new Promise<unknown>((resolve) => {
        const id = ++next
        waiting.set(id, resolve)
        socket.send(JSON.stringify({ id, method, params }))
      }),
    close: () => socket.close(),
  }
}

/** Profile `service`'s isolate while `during` runs (sampling every 100 µs). */
export async function profileWhile<T>(
  inspectorPort: number,
  service: string,
  during: () => Promise<T>
): Promise<{ profile: CpuProfile; value: T }> {
  const inspector = await connect(`ws://127.0.0.1:${inspectorPort}/${service}`)
  try {
    await inspector.send('Profiler.enable')
    await inspector.send('Profiler.setSamplingInterval', { interval: 100 })
    await inspector.send('Profiler.start')
    const value = await during()
    const { profile } = (await inspector.send('Profiler.stop')) as { profile: CpuProfile }
    return { profile, value }
  } finally {
    inspector.close()
  }
}
