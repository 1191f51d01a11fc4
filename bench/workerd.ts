/**
 * The three Workers under test in one workerd process started directly, from a
 * config written here: each Worker on its own loopback socket, fetch going straight
 * to the network. Not `wrangler dev` (its proxy in front measured 6–9× slower) and
 * not Miniflare either: Miniflare routes every outbound fetch through a JavaScript
 * interceptor Worker, a per-call cost that is not ours and would dilute every ratio.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import type { DurableObjectBinding } from './wrangler-config'

export interface WorkerdOptions {
  dir: string
  compatibilityDate: string
  /** The gate's Durable Object bindings, from wrangler.toml; their classes must be SQLite-backed. */
  gateDurableObjects: DurableObjectBinding[]
  sources: { pass: string; debit: string; gate: string }
  originUrl: string
  adminToken: string
  /** The sidecar endpoint's token (the sidecar scenario checks calls as a proxy would). */
  sidecarToken: string
  /** The one KV entry the gate reads: its route table. */
  routes: { key: string; json: string }
  inspectorPort?: number
}

export interface Workerd {
  child: ChildProcess
  ports: { pass: number; debit: number; gate: number }
}

/**
 * Serves the gate's ROUTES binding: workerd turns `env.ROUTES.get(key)` into an
 * HTTP GET of the key on this service. Only the route table is there. The gate
 * reads it once per ROUTES_CACHE_TTL_SECONDS, so a stub costs it nothing a real
 * KV namespace would not.
 */
const kvStub = (key: string) => `import routes from 'routes.json'
export default {
  async fetch(request) {
    const key = decodeURIComponent(new URL(request.url).pathname.slice(1))
    if (request.method === 'GET' && key === ${JSON.stringify(key)}) return new Response(routes)
    return new Response(null, { status: 404 })
  },
}
`

const quote = (text: string) => JSON.stringify(text) // capnp text literals take JSON's escapes for ASCII

function config(options: WorkerdOptions): string {
  const date = `compatibilityDate = ${quote(options.compatibilityDate)}`
  const origin = `(name = "ORIGIN", text = ${quote(options.originUrl)})`
  const sqlite = (className: string) => `(className = "${className}", uniqueKey = "bench-${className}", enableSql = true)`
  const gateObjects = options.gateDurableObjects
  const worker = (name: string, body: string) =>
    `(name = "${name}", worker = (modules = [(name = "${name}.mjs", esModule = embed "${name}.mjs")], ${date}, ${body}))`
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "internet", network = (allow = ["public", "private", "local"])),
    (name = "do-disk", disk = (path = ${quote(join(options.dir, 'do'))}, writable = true)),
    ${worker('pass', `bindings = [${origin}]`)},
    ${worker('debit', `bindings = [${origin}, (name = "DEBIT", durableObjectNamespace = "Debit")],
      durableObjectNamespaces = [${sqlite('Debit')}], durableObjectStorage = (localDisk = "do-disk")`)},
    ${worker('gate', `bindings = [
        (name = "ADMIN_TOKEN", text = ${quote(options.adminToken)}),
        (name = "SIDECAR_TOKEN", text = ${quote(options.sidecarToken)}),
        (name = "ROUTES_CACHE_TTL_SECONDS", text = "30"),
        (name = "ROUTES", kvNamespace = "routes-kv"),
        ${gateObjects.map((o) => `(name = "${o.binding}", durableObjectNamespace = "${o.className}")`).join(', ')}],
      durableObjectNamespaces = [${[...new Set(gateObjects.map((o) => o.className))].map(sqlite).join(', ')}],
      durableObjectStorage = (localDisk = "do-disk")`)},
    (name = "routes-kv", worker = (modules = [(name = "kv.mjs", esModule = embed "kv.mjs"),
      (name = "routes.json", text = embed "routes.json")], ${date})),
  ],
  sockets = [
    (name = "pass", address = "127.0.0.1:0", http = (), service = "pass"),
    (name = "debit", address = "127.0.0.1:0", http = (), service = "debit"),
    (name = "gate", address = "127.0.0.1:0", http = (), service = "gate"),
  ],
);
`
}

function workerdBinary(): string {
  // The workerd package wrangler installs; its bin/workerd is the native binary.
  const pkg = createRequire(import.meta.url).resolve('workerd/package.json')
  return join(dirname(pkg), 'bin', 'workerd')
}

/** Write the config and modules into `dir`, start workerd, and wait until all three sockets listen. */
export async function startWorkerd(options: WorkerdOptions): Promise<Workerd> {
  mkdirSync(join(options.dir, 'do'), { recursive: true })
  for (const [name, source] of Object.entries(options.sources)) writeFileSync(join(options.dir, `${name}.mjs`), source)
  writeFileSync(join(options.dir, 'kv.mjs'), kvStub(options.routes.key))
  writeFileSync(join(options.dir, 'routes.json'), options.routes.json)
  writeFileSync(join(options.dir, 'config.capnp'), config(options))

  const args = ['serve', join(options.dir, 'config.capnp'), '--control-fd=3']
  if (options.inspectorPort !== undefined) args.push(`--inspector-addr=127.0.0.1:${options.inspectorPort}`)
  // fd 3: workerd reports there, one JSON line per socket, the port it listens on.
  const child = track(spawn(workerdBinary(), args, { stdio: ['ignore', 'inherit', 'inherit', 'pipe'] }))
  const ports: Partial<Workerd['ports']> = {}
  const lines = createInterface({ input: child.stdio[3] as Readable })
  const listening = new Promise<void>((resolve) => {
    lines.on('line', (line) => {
      const message = JSON.parse(line) as { event?: string; socket?: keyof Workerd['ports']; port?: number }
      if (message.event === 'listen' && message.socket && message.port) ports[message.socket] = message.port
      if (ports.pass && ports.debit && ports.gate) resolve()
    })
  })
  const exited = once(child, 'exit').then(([code]) => Promise.reject(new Error(`workerd exited with ${code} before listening`)))
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('workerd did not listen within 30 s')), 30_000)
  })
  try {
    await Promise.race([listening, exited, timeout])
  } catch (error) {
    await stopProcess(child)
    throw error
  } finally {
    clearTimeout(timer)
  }
  exited.catch(() => undefined) // a later exit is stopProcess's business
  return { child, ports: ports as Workerd['ports'] }
}

/** Children still running; killed when this process exits however it exits short of SIGKILL. */
const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

/** Make sure `child` does not outlive the bench (workerd would otherwise keep its ports). */
export function track(child: ChildProcess): ChildProcess {
  live.add(child)
  child.once('exit', () => live.delete(child))
  return child
}

/** SIGTERM, then SIGKILL after 5 s; resolves once the process is gone. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
  await exited
  clearTimeout(timer)
}
