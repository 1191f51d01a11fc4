/**
 * A usage table made by a gate from before the path was recorded is migrated in
 * place: the column is added, its old rows read back with path null, and new
 * events are written with their path. In workerd, against the real D1 binding.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { COLUMNS_ADDED, insertEvents, recentEvents, withUsageTable } from '../../src/usage'
import { sampleEvent } from '../usage-helpers'

/** usage_events as the first released gate created it: no path column. */
const OLD_TABLE = `CREATE TABLE usage_events (
  id TEXT PRIMARY KEY, at INTEGER NOT NULL, key_id TEXT, payer TEXT, rail TEXT NOT NULL, route TEXT NOT NULL,
  method TEXT NOT NULL, tool TEXT, amount INTEGER NOT NULL, list_price INTEGER NOT NULL, outcome TEXT NOT NULL,
  reason TEXT, status INTEGER NOT NULL, latency_ms INTEGER, reservation_id TEXT, payment TEXT)`

async function columns(): Promise<string[]> {
  return (
    await env.USAGE_DB.prepare('PRAGMA table_info(usage_events)').all<{ name: string }>()
  ).results.map((column) => column.name)
}

describe('usage_events migration', () => {
  it('adds the path column to an existing table, keeping its rows', async () => {
    const db = env.USAGE_DB
    await db.batch([db.prepare('DROP TABLE IF EXISTS usage_events'), db.prepare(OLD_TABLE)])
    await db
      .prepare(
        `INSERT INTO usage_events (id, at, key_id, rail, route, method, amount, list_price, outcome, status)
        VALUES ('old-row', 1000, 'key_aaaaaaaaaaaaaaaaaaaa', 'credits', '/api/*', 'GET', 10, 10, 'charged', 200)`
      )
      .run()
    expect(await columns()).not.toContain('path')

    // This isolate already made the table once; finding a column missing, it migrates and carries on.
    const fresh = sampleEvent({ at: 2000, path: '/api/items/9' })
    expect(await insertEvents(db, [fresh])).toBe(1)
    expect(await columns()).toEqual(expect.arrayContaining(COLUMNS_ADDED.map(([name]) => name)))

    const read = await recentEvents(db, { from: 0, to: 3000, limit: 10 })
    expect(read.map((event) => [event.id, event.path])).toEqual([
      [fresh.id, '/api/items/9'],
      ['old-row', null],
    ])
  })

  it('a migration run twice (two isolates at once) leaves one column and no error', async () => {
    const db = env.USAGE_DB
    await db.batch([db.prepare('DROP TABLE IF EXISTS usage_events'), db.prepare(OLD_TABLE)])
    await Promise.all([
      withUsageTable(db, () => db.prepare('SELECT path FROM usage_events').all()),
      withUsageTable(db, () => db.prepare('SELECT path FROM usage_events').all()),
    ])
    expect((await columns()).filter((name) => name === 'path')).toHaveLength(1)
  })
})
