/**
 * @module usage/schema
 * The usage table in D1, created on first use (CREATE … IF NOT EXISTS), so a
 * one-command `wrangler deploy` and the tests need no migration step. Every
 * database call goes through `withUsageTable`, which creates the table once per
 * isolate and again if it ever finds it missing (a fresh or reset database).
 * A table made by an older gate is brought up to date at the same moment: each
 * column added since (COLUMNS_ADDED) is added with ALTER TABLE if it is missing,
 * its old rows reading NULL. Two isolates may migrate at once; the one that finds
 * the column already added (SQLite: "duplicate column name") carries on.
 */

/** The table and its indexes. `id` is the primary key: a retried insert is a no-op. */
export const USAGE_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS usage_events (
    id TEXT PRIMARY KEY,
    at INTEGER NOT NULL,
    key_id TEXT,
    payer TEXT,
    rail TEXT NOT NULL,
    route TEXT NOT NULL,
    path TEXT,
    method TEXT NOT NULL,
    tool TEXT,
    amount INTEGER NOT NULL,
    list_price INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    status INTEGER NOT NULL,
    latency_ms INTEGER,
    reservation_id TEXT,
    payment TEXT
  )`,
  'CREATE INDEX IF NOT EXISTS usage_events_at ON usage_events (at)',
  'CREATE INDEX IF NOT EXISTS usage_events_key_at ON usage_events (key_id, at)',
]

/** Columns added to usage_events after it was first released, with their type: a table without one gets it. */
export const COLUMNS_ADDED: ReadonlyArray<readonly [name: string, type: string]> = [
  ['path', 'TEXT'],
]

const ready = new WeakMap<D1Database, Promise<void>>()

async function addMissingColumns(db: D1Database): Promise<void> {
  const { results } = await db.prepare('PRAGMA table_info(usage_events)').all<{ name: string }>()
  const present = new Set(results.map((column) => column.name))
  for (const [name, type] of COLUMNS_ADDED) {
    if (present.has(name)) continue
    try {
      await db.prepare(`ALTER TABLE usage_events ADD COLUMN ${name} ${type}`).run()
    } catch (error) {
      if (!/duplicate column/i.test((error as Error).message)) throw error
    }
  }
}

async function createTable(db: D1Database): Promise<void> {
  await db.batch(USAGE_SCHEMA.map((sql) => db.prepare(sql)))
  await addMissingColumns(db)
}

function ensureTable(db: D1Database, again = false): Promise<void> {
  let promise = again ? undefined : ready.get(db)
  if (!promise) {
    promise = createTable(db)
    ready.set(db, promise)
    // A failed creation is tried again by the next caller, not remembered.
    promise.catch(() => ready.delete(db))
  }
  return promise
}

/**
 * Run `work` once the usage table exists; if it has gone missing since, or lacks a
 * column (a table an older gate made after this isolate checked), ensure it again and rerun.
 */
export async function withUsageTable<T>(db: D1Database, work: () => Promise<T>): Promise<T> {
  await ensureTable(db)
  try {
    return await work()
  } catch (error) {
    if (!/no such table|no such column|has no column named/i.test((error as Error).message))
      throw error
    await ensureTable(db, true)
    return work()
  }
}
