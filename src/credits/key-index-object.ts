/**
 * @module credits/key-index-object
 * The list of keys, for the admin API: id → key hash and name. One instance for
 * the whole gate. It never holds a balance or a status; those live only in each
 * key's own account object. It never holds a key either, only its SHA-256.
 * It also counts the OAuth consent page's free trials (credits/trial-claims).
 */
import { DurableObject } from 'cloudflare:workers'
import { claimTrial, returnTrial, TRIAL_CLAIMS_SCHEMA, type TrialLimits } from './trial-claims'

export interface IndexedKey {
  id: string
  hash: string
  name: string
  createdAt: number
}

type IndexRow = { id: string; hash: string; name: string; created_at: number }

const toIndexed = (row: IndexRow): IndexedKey => ({
  id: row.id,
  hash: row.hash,
  name: row.name,
  createdAt: row.created_at,
})

export class KeyIndex extends DurableObject<unknown> {
  private readonly sql = this.ctx.storage.sql

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env)
    this.sql.exec(`CREATE TABLE IF NOT EXISTS keys (
      id TEXT PRIMARY KEY,
      hash TEXT NOT NULL UNIQUE,
      name TEXT NOT NULL,
      created_at INTEGER NOT NULL
    )`)
    this.sql.exec(TRIAL_CLAIMS_SCHEMA)
  }

  /** Count a free trial for a client address today (credits/trial-claims); false past a limit. */
  async claimTrial(address: string, day: string, limits: TrialLimits): Promise<boolean> {
    return this.ctx.storage.transactionSync(() => claimTrial(this.sql, address, day, limits))
  }

  async returnTrial(address: string, day: string): Promise<void> {
    returnTrial(this.sql, address, day)
  }

  async add(key: IndexedKey): Promise<void> {
    this.sql.exec(
      'INSERT INTO keys (id, hash, name, created_at) VALUES (?, ?, ?, ?)',
      key.id,
      key.hash,
      key.name,
      key.createdAt
    )
  }

  async remove(id: string): Promise<void> {
    this.sql.exec('DELETE FROM keys WHERE id = ?', id)
  }

  async get(id: string): Promise<IndexedKey | null> {
    const row = this.sql.exec<IndexRow>('SELECT * FROM keys WHERE id = ?', id).toArray()[0]
    return row ? toIndexed(row) : null
  }

  /**
   * Keys in creation order, `limit` at a time, after the cursor `after` (an id);
   * with `search`, only those whose name or id holds it (ASCII letters in any case).
   */
  async list(limit: number, after?: string, search?: string): Promise<IndexedKey[]> {
    const size = Math.max(1, Math.min(500, Math.trunc(limit)))
    const where: string[] = []
    const values: Array<string | number> = []
    if (after) {
      where.push('(created_at, id) > (SELECT created_at, id FROM keys WHERE id = ?)')
      values.push(after)
    }
    if (search) {
      where.push('(instr(lower(name), lower(?)) > 0 OR instr(id, lower(?)) > 0)')
      values.push(search, search)
    }
    const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''
    return this.sql
      .exec<IndexRow>(
        `SELECT * FROM keys ${filter} ORDER BY created_at, id LIMIT ?`,
        ...values,
        size
      )
      .toArray()
      .map(toIndexed)
  }
}
