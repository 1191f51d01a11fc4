/**
 * nginx and Caddy from the machine's packages (Debian: nginx-light,
 * libnginx-mod-http-js, caddy), each started on 127.0.0.1 with the template from
 * templates/sidecar/ and its own temporary prefix: nothing under /etc or /var.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, start, waitForHttp, type Started } from './processes'

const TEMPLATES = join(import.meta.dirname, '..', 'templates', 'sidecar')
export const NGINX = process.env.NGINX_BIN ?? '/usr/sbin/nginx'
export const CADDY = process.env.CADDY_BIN ?? '/usr/bin/caddy'

export interface Proxy {
  url: string
  process: Started
  stop: () => Promise<void>
}

interface Upstreams {
  gate: string
  origin: string
  sidecarToken: string
}

/** nginx with templates/sidecar/nginx (njs), its placeholders filled in. */
export async function startNginx(upstreams: Upstreams, prefix: string): Promise<Proxy> {
  mkdirSync(prefix, { recursive: true })
  const port = await freePort()
  const values: Record<string, string> = {
    PREFIX: prefix,
    LISTEN: `127.0.0.1:${port}`,
    GATE: upstreams.gate,
    ORIGIN: upstreams.origin,
    SIDECAR_TOKEN: upstreams.sidecarToken,
  }
  const config = readFileSync(join(TEMPLATES, 'nginx', 'nginx.conf'), 'utf8').replace(
    /\$\{([A-Z_]+)\}/g,
    (whole, name: string) => values[name] ?? whole
  )
  writeFileSync(join(prefix, 'nginx.conf'), config)
  copyFileSync(join(TEMPLATES, 'nginx', 'paygate.js'), join(prefix, 'paygate.js'))
  const nginx = start(NGINX, [
    '-p',
    prefix,
    '-c',
    join(prefix, 'nginx.conf'),
    '-e',
    join(prefix, 'error.log'),
    '-g',
    'daemon off;',
  ])
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(url, nginx, 20_000)
  return { url, process: nginx, stop: () => nginx.stop() }
}

/** Caddy with templates/sidecar/caddy/Caddyfile, configured through its environment. */
export async function startCaddy(upstreams: Upstreams, home: string): Promise<Proxy> {
  mkdirSync(home, { recursive: true })
  const port = await freePort()
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CONFIG_HOME: join(home, 'config'),
    XDG_DATA_HOME: join(home, 'data'),
    BIND: '127.0.0.1',
    LISTEN: `http://127.0.0.1:${port}`,
    GATE: new URL(upstreams.gate).host,
    ORIGIN: new URL(upstreams.origin).host,
    SIDECAR_TOKEN: upstreams.sidecarToken,
  }
  const caddy = start(
    CADDY,
    ['run', '--config', join(TEMPLATES, 'caddy', 'Caddyfile'), '--adapter', 'caddyfile'],
    { env }
  )
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(url, caddy, 20_000)
  return { url, process: caddy, stop: () => caddy.stop() }
}
