/**
 * The gate on workerd, through Miniflare: the bindings wrangler derives from
 * wrangler.toml (Durable Objects with their SQLite storage, KV, D1, vars),
 * persisted under the data folder, with the route table seeded into KV.
 */
import { dirname, join } from 'node:path'
import { ROUTES_KV_KEY } from '../../../src/pricing/store'
import type { WorkerModule } from './bundle'
import type { Toolchain } from './toolchain'

export interface GateOptions {
  toolchain: Toolchain
  configPath: string
  /** The worker's name in wrangler.toml: Durable Object storage is kept per name and class. */
  name: string
  modules: WorkerModule[]
  /** Absolute; storage lives in `<data>/v3`, the layout of `wrangler dev --persist-to <data>`. */
  dataDir: string
  /** Wrangler's build folder and Miniflare's scratch space. */
  tmpDir: string
  host: string
  port: number
  /** Secrets and settings; they override wrangler.toml's [vars]. */
  bindings: Record<string, string>
  /** routes.json as written; stored compact, as `pay-gate routes push` stores it. */
  routesText: string
  /** The KV binding that holds the route table. */
  routesBinding: string
}

export interface RunningGate {
  url: URL
  stop(): Promise<void>
}

/** Starts the worker and seeds its route table; resolves once it listens. */
export async function startGate(options: GateOptions): Promise<RunningGate> {
  const { wrangler, miniflare } = options.toolchain
  // A missing env file: wrangler must not read the project's .dev.vars or .env
  // (development secrets); our secrets come in as `bindings` below.
  const noEnvFile = join(options.tmpDir, 'no-such.env')
  // `envFiles` is read by wrangler (options?.envFiles) but missing from its published type.
  const readOptions = { envFiles: [noEnvFile] } as Parameters<
    typeof wrangler.unstable_getMiniflareWorkerOptions
  >[2]
  const { workerOptions } = wrangler.unstable_getMiniflareWorkerOptions(
    options.configPath,
    undefined,
    readOptions
  )
  // Miniflare 5 takes no module rules: the bundle's modules are listed one by one.
  // The usage queue is left out: Miniflare keeps a queue's messages in memory, so
  // on one host it would only add a place to lose events; without it the gate
  // writes them to D1 (SQLite under the data folder) from the request.
  const {
    modulesRules: _rules,
    queueProducers: _producers,
    queueConsumers: _consumers,
    ...sourceless
  } = workerOptions
  const stopSignals = ['SIGINT', 'SIGTERM'] as const
  const ownListeners = new Map(
    stopSignals.map((signal) => [signal, new Set(process.listeners(signal))])
  )
  const optionsOn = (host: string, port: number) =>
    miniflare.convertV4MiniflareOptions({
      host,
      port,
      // Request.cf would otherwise be fetched from workers.cloudflare.com at start.
      cf: false,
      logRequests: false,
      // No unsafeDevRegistryPath: not advertised to local wrangler dev sessions.
      log: new miniflare.Log(miniflare.LogLevel.WARN),
      resourcePersistencePath: join(options.dataDir, 'v3'),
      resourceTmpPath: join(options.tmpDir, 'miniflare'),
      workers: [
        {
          ...sourceless,
          name: options.name,
          bindings: { ...(sourceless.bindings ?? {}), ...options.bindings },
          // On our own host, fetch can reach the private network: operator webhooks go out
          // through workerd's network service limited to public addresses, checked after DNS
          // resolution (src/notify/settings). The gate's origins are unaffected.
          serviceBindings: {
            ...(sourceless.serviceBindings ?? {}),
            WEBHOOK_NETWORK: { network: { allow: ['public'] } },
          },
          modules: options.modules,
          modulesRoot: dirname(options.modules[0]?.path ?? options.tmpDir),
        },
      ],
    })
  // First on a private loopback port, to put routes.json into KV before any
  // client can reach the gate: an isolate that read the previous run's table
  // would keep it for ROUTES_CACHE_TTL_SECONDS. Then on the real address, with
  // fresh isolates (setOptions restarts workerd; storage stays).
  const mf = new miniflare.Miniflare(optionsOn('127.0.0.1', 0))
  try {
    await mf.ready
    const kv = await mf.getKVNamespace(options.routesBinding)
    await kv.put(ROUTES_KV_KEY, JSON.stringify(JSON.parse(options.routesText)))
    await mf.setOptions(optionsOn(options.host, options.port))
    const url = await mf.ready
    // Miniflare's exit hook kills workerd and exits on SIGINT/SIGTERM at once;
    // `serve` takes those signals over to let queued settlements drain first.
    // Its 'exit' hook stays, so workerd never outlives this process.
    for (const signal of stopSignals) {
      for (const listener of process.listeners(signal))
        if (!ownListeners.get(signal)?.has(listener)) process.removeListener(signal, listener)
    }
    return { url, stop: () => mf.dispose() }
  } catch (error) {
    await mf.dispose().catch(() => undefined)
    throw error
  }
}
