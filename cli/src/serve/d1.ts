/**
 * D1 databases of wrangler.toml, when a gate has any: their migrations are
 * applied to the local copy under the data folder before the worker starts,
 * with wrangler's own `d1 migrations apply --local --persist-to` (the same
 * runner and bookkeeping table as on Cloudflare, so each migration runs once).
 */
import { existsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { Wrangler } from '../routes'
import { CliError } from '../ui'

export interface D1Database {
  binding: string
  database_name?: string
  migrations_dir?: string
}

/**
 * @returns the bindings whose migrations were checked (none when no folder exists)
 * @throws CliError with wrangler's last lines when a migration fails: the gate does not start on a half-built schema
 */
export function applyD1Migrations(
  wrangler: Wrangler,
  databases: D1Database[],
  configPath: string,
  dataDir: string
): string[] {
  const applied: string[] = []
  for (const db of databases) {
    const folder = resolve(dirname(configPath), db.migrations_dir ?? 'migrations')
    if (!existsSync(folder)) continue
    const run = wrangler([
      'd1',
      'migrations',
      'apply',
      db.database_name ?? db.binding,
      '--local',
      '--persist-to',
      dataDir,
      '--config',
      configPath,
    ])
    if (run.status !== 0) {
      const tail = `${run.stderr}\n${run.stdout}`
        .trim()
        .split('\n')
        .filter((line) => line.trim() !== '')
        .slice(-6)
        .join('\n  ')
      throw new CliError(
        `the migrations of D1 ${db.binding} failed (wrangler exited ${run.status ?? 'on a signal'})`,
        tail || undefined
      )
    }
    applied.push(db.binding)
  }
  return applied
}
