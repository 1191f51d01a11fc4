/**
 * The three Workers under test (per origin: the fixed one, and with the -sdk
 * scenarios the SDK demo one too) in one workerd process started directly, from a
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

/** One origin, and the three Workers in front of it. */
export interface OriginSet {
  /** Appended to the names of its services and sockets: '' for the default origin, '-sdk' for the SDK's. */
  suffix: string
  url: string
  /** The gate's route table for this origin (the gate reads it from its ROUTES binding). */
  routesJson: string
}

export interface WorkerdOptions {
  dir: string
  compatibilityDate: string
  /** The gate's Durable Object bindings, from wrangler.toml; their classes must be SQLite-backed. */
  gateDurableObjects: DurableObjectBinding[]
  sources: { pass: string; debit: string; gate: string }
  /** One pass-through, +debit and gate per origin, each with Durable Objects (and so keys) of its own. */
  origins: OriginSet[]
  adminToken: string
  /** The sidecar endpoint's token (the sidecar scenario checks calls as a proxy would). */
  sidecarToken: string
  /** The KV key under which the gate reads its route table. */
  routesKey: string
  inspectorPort?: number
  /** V8 flags, e.g. for perf to name JIT-compiled code (profiles.ts). */
  v8Flags?: string[]
}

export interface Workerd {
  child: ChildProcess
  /** Port of each socket: pass, debit, gate, and the same with each origin's suffix. */
  ports: Record<string, number>
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

/** The services and sockets of one origin's three Workers. */
function originServices(
  options: WorkerdOptions,
  set: OriginSet
): { services: string[]; sockets: string[] } {
  const date = `compatibilityDate = ${quote(options.compatibilityDate)}`
  const origin = `(name = "ORIGIN", text = ${quote(set.url)})`
  // A uniqueKey per set: each set's objects are its own, as two deployments' would be.
  const sqlite = (className: string) =>
    `(className = "${className}", uniqueKey = "bench-${className}${set.suffix}", enableSql = true)`
  const gateObjects = options.gateDurableObjects
  const s = set.suffix
  const worker = (name: string, body: string) =>
    `(name = "${name}${s}", worker = (modules = [(name = "${name}.mjs", esModule = embed "${name}.mjs")], ${date}, ${body}))`
  const services = [
    worker('pass', `bindings = [${origin}]`),
    worker(
      'debit',
      `bindings = [${origin}, (name = "DEBIT", durableObjectNamespace = "Debit")],
      durableObjectNamespaces = [${sqlite('Debit')}], durableObjectStorage = (localDisk = "do-disk")`
    ),
    worker(
      'gate',
      `bindings = [
        (name = "ADMIN_TOKEN", text = ${quote(options.adminToken)}),
        (name = "SIDECAR_TOKEN", text = ${quote(options.sidecarToken)}),
        (name = "ROUTES_CACHE_TTL_SECONDS", text = "30"),
        (name = "ROUTES", kvNamespace = "routes-kv${s}"),
        ${gateObjects.map((o) => `(name = "${o.binding}", durableObjectNamespace = "${o.className}")`).join(', ')}],
      durableObjectNamespaces = [${[...new Set(gateObjects.map((o) => o.className))].map(sqlite).join(', ')}],
      durableObjectStorage = (localDisk = "do-disk")`
    ),
    `(name = "routes-kv${s}", worker = (modules = [(name = "kv.mjs", esModule = embed "kv.mjs"),
      (name = "routes.json", text = embed "routes${s}.json")], ${date}))`,
  ]
  const sockets = ['pass', 'debit', 'gate'].map(
    (name) => `(name = "${name}${s}", address = "127.0.0.1:0", http = (), service = "${name}${s}")`
  )
  return { services, sockets }
}

function config(options: WorkerdOptions): string {
  const sets = options.origins.map((set) => originServices(options, set))
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "internet", network = (allow = ["public", "private", "local"])),
    (name = "do-disk", disk = (path = ${quote(join(options.dir, 'do'))}, writable = true)),
    ${sets.flatMap((set) => set.services).join(',\n    ')},
  ],
  sockets = [
    ${sets.flatMap((set) => set.sockets).join(',\n    ')},
  ],
  v8Flags = [${(options.v8Flags ?? []).map(quote).join(', ')}],
);
`
}

function workerdBinary(): string {
  // The workerd package wrangler installs; its bin/workerd is the native binary.
  const pkg = createRequire(import.meta.url).resolve('workerd/package.json')
  return join(dirname(pkg), 'bin', 'workerd')
}

/** Write the config and modules into `dir`, start workerd, and wait until all its sockets listen. */
export async function startWorkerd(options: WorkerdOptions): Promise<Workerd> {
  mkdirSync(join(options.dir, 'do'), { recursive: true })
  for (const [name, source] of Object.entries(options.sources))
    writeFileSync(join(options.dir, `${name}.mjs`), source)
  writeFileSync(join(options.dir, 'kv.mjs'), kvStub(options.routesKey))
  for (const set of options.origins)
    writeFileSync(join(options.dir, `routes${set.suffix}.json`), set.routesJson)
  writeFileSync(join(options.dir, 'config.capnp'), config(options))

  const args = ['serve', join(options.dir, 'config.capnp'), '--control-fd=3']
  if (options.inspectorPort !== undefined)
    args.push(`--inspector-addr=127.0.0.1:${options.inspectorPort}`)
  // fd 3: workerd reports there, one JSON line per socket, the port it listens on.
  const child = track(
    spawn(workerdBinary(), args, { stdio: ['ignore', 'inherit', 'inherit', 'pipe'] })
  )
  const ports: Workerd['ports'] = {}
  const expected = options.origins.flatMap((set) =>
    ['pass', 'debit', 'gate'].map((name) => `${name}${set.suffix}`)
  )
  const lines = createInterface({ input: child.stdio[3] as Readable })
  const listening = new Promise<void>((resolve) => {
    lines.on('line', (line) => {
      const message = JSON.parse(line) as { event?: string; socket?: string; port?: number }
      if (message.event === 'listen' && message.socket && message.port)
        ports[message.socket] = message.port
      if (expected.every((name) => ports[name])) resolve()
    })
  })
  const exited = once(child, 'exit').then(([code]) =>
    Promise.reject(new Error(`workerd exited with ${code} before listening`))
  )
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
  return { child, ports }
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
