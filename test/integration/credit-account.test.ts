/**
 * The account object on its own, through its RPC methods: the ledger rules that
 * every path above it relies on.
 */
import { env } from 'cloudflare:workers'
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import type { CreditAccount } from '../../src/credits'
import { ACCOUNT_SCHEMA } from '../../src/credits/account-sql'

let counter = 0
async function account(credits = 1_000_000) {
  const stub = env.CREDITS.getByName(`test-account-${counter++}-${crypto.randomUUID()}`)
  const init = await stub.init({ id: 'key_test', name: 'test', credits })
  expect(init.ok).toBe(true)
  return stub
}

const reserve = (amount: number, holdMs = 60_000) => ({ amount, holdMs, label: 'test', limits: [] })

describe('CreditAccount', () => {
  it('holds, then charges part of a hold and frees the rest', async () => {
    const stub = await account(100)
    const held = await stub.reserve(reserve(60))
    expect(held).toMatchObject({ ok: true, kind: 'reserved', available: 40 })
    if (!held.ok || held.kind !== 'reserved') return
    expect(await stub.reserve(reserve(41))).toMatchObject({
      ok: false,
      reason: 'insufficient_credits',
      available: 40,
    })
    expect(await stub.settle(held.reservationId, 25)).toEqual({
      ok: true,
      charged: 25,
      available: 75,
    })
    const view = await stub.view(10)
    expect(view?.account).toMatchObject({ balance: 75, held: 0, available: 75 })
    expect(view?.ledger[0]).toMatchObject({
      kind: 'charge',
      amount: -25,
      balanceAfter: 75,
      reservationId: held.reservationId,
    })
  })

  it('charges a hold at once with chargeNow: one ledger row, nothing held, nothing left to settle, no alarm', async () => {
    const stub = await account(100)
    const charged = await stub.reserve({
      ...reserve(30),
      chargeNow: true,
      idempotency: { key: 'k1', fingerprint: 'f1' },
    })
    expect(charged).toMatchObject({
      ok: true,
      kind: 'reserved',
      charged: true,
      amount: 30,
      available: 70,
    })
    if (!charged.ok || charged.kind !== 'reserved') throw new Error('not reserved')
    const view = await stub.view(10)
    expect(view?.account).toMatchObject({ balance: 70, held: 0, available: 70, inFlight: 0 })
    expect(view?.ledger.filter((row) => row.kind === 'charge')).toMatchObject([
      { amount: -30, balanceAfter: 70, reservationId: charged.reservationId },
    ])
    expect(await stub.settle(charged.reservationId, 30)).toEqual({
      ok: false,
      reason: 'already_settled',
      charged: 30,
    })
    // Charged in full: a retry under the same Idempotency-Key is a replay, not a second charge.
    expect(
      await stub.reserve({
        ...reserve(30),
        chargeNow: true,
        idempotency: { key: 'k1', fingerprint: 'f1' },
      })
    ).toMatchObject({
      ok: true,
      kind: 'replayed',
      earlier: { reservationId: charged.reservationId, charged: 30, calls: 1 },
    })
    // A refusal charges nothing, chargeNow or not.
    expect(await stub.reserve({ ...reserve(71), chargeNow: true })).toMatchObject({
      ok: false,
      reason: 'insufficient_credits',
    })
    expect((await stub.view())?.account.balance).toBe(70)
    await runInDurableObject(stub, async (_instance: CreditAccount, state) =>
      expect(await state.storage.getAlarm()).toBeNull()
    )
  })

  it('replays an Idempotency-Key only when every call of the earlier attempt was served, whatever it was charged', async () => {
    const stub = await account(1_000)
    const batch = (key: string) => ({
      amount: 30,
      items: [{ price: 10 }, { price: 20 }],
      holdMs: 60_000,
      label: 'batch',
      limits: [],
      idempotency: { key, fingerprint: 'f' },
    })
    const whole = await stub.reserve(batch('whole'))
    const part = await stub.reserve(batch('part'))
    if (!whole.ok || whole.kind !== 'reserved' || !part.ok || part.kind !== 'reserved')
      throw new Error('not reserved')
    // The whole hold charged, yet only one of the two calls served (a plan may price it so).
    expect(
      await stub.settleMany([
        { reservationId: whole.reservationId, amount: 30, calls: 2 },
        { reservationId: part.reservationId, amount: 30, calls: 1 },
      ])
    ).toMatchObject([{ ok: true }, { ok: true }])
    expect(await stub.reserve(batch('whole'))).toMatchObject({
      ok: true,
      kind: 'replayed',
      earlier: { reservationId: whole.reservationId, charged: 30, calls: 2 },
    })
    expect(await stub.reserve(batch('part'))).toMatchObject({
      ok: false,
      reason: 'idempotency_mismatch',
    })
  })

  it('credits a top-up reference once; another amount under it is refused; references kept before amounts were are repeats', async () => {
    const stub = await account(100)
    expect(await stub.topUp(50, 'paid', 'ref-1')).toMatchObject({
      ok: true,
      view: { balance: 150 },
    })
    expect(await stub.topUp(50, 'paid', 'ref-1')).toMatchObject({
      ok: true,
      duplicate: true,
      view: { balance: 150 },
    })
    expect(await stub.topUp(70, 'paid', 'ref-1')).toEqual({
      ok: false,
      reason: 'reference_conflict',
    })
    const old = await account(100)
    await runInDurableObject(old, (_instance: CreditAccount, state) => {
      state.storage.sql.exec(
        'CREATE TABLE topup_references (reference TEXT PRIMARY KEY, at INTEGER NOT NULL)'
      )
      state.storage.sql.exec(`INSERT INTO topup_references VALUES ('ref-old', 1)`)
    })
    expect(await old.topUp(70, 'paid', 'ref-old')).toMatchObject({
      ok: true,
      duplicate: true,
      view: { balance: 100 },
    })
    expect(await old.topUp(20, 'paid', 'ref-new')).toMatchObject({
      ok: true,
      view: { balance: 120 },
    })
    expect(await old.topUp(30, 'paid', 'ref-new')).toEqual({
      ok: false,
      reason: 'reference_conflict',
    })
  })

  it('settles a reservation once, and never for more than was held', async () => {
    const stub = await account(100)
    const held = await stub.reserve(reserve(10))
    if (!held.ok || held.kind !== 'reserved') throw new Error('not reserved')
    expect(await stub.settle(held.reservationId, 11)).toEqual({
      ok: false,
      reason: 'over_reserved',
    })
    expect(await stub.settle(held.reservationId, 10)).toMatchObject({ ok: true, charged: 10 })
    expect(await stub.settle(held.reservationId, 10)).toEqual({
      ok: false,
      reason: 'already_settled',
      charged: 10,
    })
    expect(await stub.settle('no-such-reservation', 1)).toEqual({
      ok: false,
      reason: 'unknown_reservation',
    })
    expect((await stub.view())?.account.balance).toBe(90)
    // A released hold says it was charged nothing: a repeat of its answer was never paid.
    const released = await stub.reserve(reserve(5))
    if (!released.ok || released.kind !== 'reserved') throw new Error('not reserved')
    await stub.settle(released.reservationId, 0)
    expect(await stub.settle(released.reservationId, 5)).toEqual({
      ok: false,
      reason: 'already_settled',
      charged: 0,
    })
  })

  it('releases holds that were never settled, by themselves, when their alarm fires', async () => {
    const stub = await account(100)
    expect(await stub.reserve(reserve(30, 200))).toMatchObject({ ok: true })
    expect(await stub.reserve(reserve(20, 60_000))).toMatchObject({ ok: true })
    expect((await stub.view())?.account.held).toBe(50)
    // Nobody runs the alarm here: the object scheduled it when it took the hold.
    const deadline = Date.now() + 3_000
    while ((await stub.view())?.account.held !== 20 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect((await stub.view())?.account).toMatchObject({ held: 20, available: 80, balance: 100 })
    // The later hold keeps its own alarm; running it early releases nothing before its time.
    await runDurableObjectAlarm(stub)
    expect((await stub.view())?.account.held).toBe(20)
  })

  it('charges a late success on an expired hold only if the key can still pay', async () => {
    const stub = await account(100)
    const first = await stub.reserve(reserve(60, 1))
    if (!first.ok || first.kind !== 'reserved') throw new Error('not reserved')
    await new Promise((resolve) => setTimeout(resolve, 5))
    await runDurableObjectAlarm(stub)
    const second = await stub.reserve(reserve(50))
    if (!second.ok || second.kind !== 'reserved') throw new Error('not reserved')
    expect(await stub.settle(first.reservationId, 60)).toEqual({ ok: false, reason: 'unfunded' })
    expect(await stub.settle(second.reservationId, 50)).toMatchObject({ ok: true, available: 50 })
  })

  it('never lets the balance or the hold go negative, even if asked directly', async () => {
    const stub = await account(10)
    await expect(
      runInDurableObject(stub, (_instance: CreditAccount, state) => {
        state.storage.sql.exec('UPDATE account SET balance = -1')
      })
    ).rejects.toThrow(/CHECK constraint/)
    expect((await stub.view())?.account.balance).toBe(10)
  })

  it('creates nothing for a key that does not exist', async () => {
    const stub = env.CREDITS.getByName(`never-created-${crypto.randomUUID()}`)
    expect(await stub.reserve(reserve(1))).toEqual({ ok: false, reason: 'invalid_api_key' })
    expect(await stub.view()).toBeNull()
    const tables = await runInDurableObject(stub, (_instance: CreditAccount, state) =>
      state.storage.sql.exec(`SELECT name FROM sqlite_master WHERE type = 'table'`).toArray()
    )
    expect(tables).toEqual([])
  })

  it('refuses to initialise an account twice', async () => {
    const stub = await account(5)
    expect(await stub.init({ id: 'key_test', name: 'again', credits: 1_000 })).toEqual({
      ok: false,
      reason: 'invalid_transition',
    })
    expect((await stub.view())?.account.balance).toBe(5)
  })
})

/** The account tables as the first release made them: holds had to be > 0, no `spent`, no policy tables. */
const FIRST_RELEASE_SCHEMA = [
  `CREATE TABLE account (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), id TEXT NOT NULL, name TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'revoked')), balance INTEGER NOT NULL CHECK (balance >= 0),
     held INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0 AND held <= balance), expires_at INTEGER, rate_limit INTEGER, rate_window INTEGER,
     created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)`,
  `CREATE TABLE ledger (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL, amount INTEGER NOT NULL,
     balance_after INTEGER NOT NULL CHECK (balance_after >= 0), reservation_id INTEGER, label TEXT)`,
  `CREATE TABLE reservations (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL CHECK (amount > 0), charged INTEGER,
     state TEXT NOT NULL CHECK (state IN ('open', 'committed', 'released', 'expired')), label TEXT, created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL, settled_at INTEGER)`,
  `CREATE TABLE idempotency (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, reservation_id INTEGER NOT NULL, created_at INTEGER NOT NULL)`,
  `CREATE TABLE rate_windows (bucket TEXT PRIMARY KEY, window_start INTEGER NOT NULL, count INTEGER NOT NULL)`,
]

describe('an account whose holds did not record how many calls were served', () => {
  it('gains the column, and judges those holds by what they were charged', async () => {
    const stub = env.CREDITS.getByName(`pre-served-${crypto.randomUUID()}`)
    const now = Date.now()
    await runInDurableObject(stub, (_instance: CreditAccount, state) => {
      const sql = state.storage.sql
      const before = ACCOUNT_SCHEMA.replace(/^\s*served\s+INTEGER,\n/m, '')
      expect(before).not.toContain('served')
      sql.exec(before)
      sql.exec(
        `INSERT INTO account (singleton, id, name, status, balance, held, created_at, updated_at, spent) VALUES (1, 'key_old', 'old', 'active', 970, 0, ?, ?, 30)`,
        now,
        now
      )
      sql.exec(
        `INSERT INTO ledger (at, kind, amount, balance_after, reservation_id, label) VALUES (?, 'grant', 1000, 1000, NULL, 'initial'), (?, 'charge', -30, 970, 1, 'b'), (?, 'charge', -10, 960, 2, 'b')`,
        now,
        now,
        now
      )
      sql.exec(`UPDATE account SET balance = 960, spent = 40`)
      sql.exec(
        `INSERT INTO reservations (id, amount, charged, calls, tracked, state, label, created_at, expires_at, settled_at) VALUES (1, 30, 30, 2, 1, 'committed', 'b', ?, ?, ?), (2, 30, 10, 2, 1, 'committed', 'b', ?, ?, ?)`,
        now,
        now + 60_000,
        now,
        now,
        now + 60_000,
        now
      )
      sql.exec(
        `INSERT INTO idempotency (key, fingerprint, reservation_id, created_at) VALUES ('full', 'f', 1, ?), ('short', 'f', 2, ?)`,
        now,
        now
      )
    })
    const again = (key: string) =>
      stub.reserve({
        amount: 30,
        holdMs: 60_000,
        label: 'b',
        limits: [],
        idempotency: { key, fingerprint: 'f' },
      })
    expect(await again('full')).toMatchObject({
      ok: true,
      kind: 'replayed',
      earlier: { reservationId: '1', charged: 30, calls: 2 },
    })
    expect(await again('short')).toMatchObject({ ok: false, reason: 'idempotency_mismatch' })
    const columns = await runInDurableObject(stub, (_instance: CreditAccount, state) =>
      state.storage.sql
        .exec<{ name: string }>(`SELECT name FROM pragma_table_info('reservations')`)
        .toArray()
        .map((c) => c.name)
    )
    expect(columns).toContain('served')
    const fresh = await again('new')
    expect(fresh).toMatchObject({ ok: true, kind: 'reserved' })
    expect((await stub.view())?.account).toMatchObject({ balance: 960, held: 30 })
  })
})

describe('an account made by the first release', () => {
  it('is upgraded in place: balance, open hold and ledger kept, and plans work on it', async () => {
    const stub = env.CREDITS.getByName(`first-release-${crypto.randomUUID()}`)
    const now = Date.now()
    await runInDurableObject(stub, (_instance: CreditAccount, state) => {
      const sql = state.storage.sql
      for (const statement of FIRST_RELEASE_SCHEMA) sql.exec(statement)
      sql.exec(
        `INSERT INTO account VALUES (1, 'key_old', 'old', 'active', 100, 30, NULL, NULL, NULL, ?, ?)`,
        now,
        now
      )
      sql.exec(
        `INSERT INTO ledger (at, kind, amount, balance_after, label) VALUES (?, 'grant', 100, 100, 'initial credits')`,
        now
      )
      sql.exec(
        `INSERT INTO reservations VALUES (1, 30, NULL, 'open', 'old call', ?, ?, NULL)`,
        now,
        now + 60_000
      )
    })
    expect(await stub.settle('1', 30)).toMatchObject({ ok: true, charged: 30, available: 70 })
    expect(
      await stub.setPlan({
        name: 'free',
        definition: { kind: 'payg', period: 'month', freeCalls: 1 },
      })
    ).toMatchObject({ ok: true })
    const free = await stub.reserve(reserve(10))
    expect(free).toMatchObject({ ok: true, kind: 'reserved', amount: 0, reservationId: '2' })
    if (!free.ok || free.kind !== 'reserved') return
    expect(
      await stub.settleMany([{ reservationId: free.reservationId, amount: 0, calls: 1 }])
    ).toMatchObject([{ ok: true, charged: 0 }])
    const view = await stub.view(10)
    expect(view?.account).toMatchObject({
      balance: 70,
      held: 0,
      spent: 30,
      inFlight: 0,
      usage: { day: { calls: 1, spend: 0 } },
    })
    expect(view?.ledger.map((row) => [row.kind, row.amount])).toEqual([
      ['charge', 0],
      ['plan', 0],
      ['charge', -30],
      ['grant', 100],
    ])
  })

  it('finishes an upgrade cut short, and releases holds whose text ids no settlement can name', async () => {
    const stub = env.CREDITS.getByName(`half-upgraded-${crypto.randomUUID()}`)
    const now = Date.now()
    await runInDurableObject(stub, (_instance: CreditAccount, state) => {
      const sql = state.storage.sql
      for (const statement of FIRST_RELEASE_SCHEMA)
        sql.exec(
          statement.replace(
            'reservations (id INTEGER PRIMARY KEY',
            'reservations (id TEXT PRIMARY KEY'
          )
        )
      sql.exec(
        `INSERT INTO account VALUES (1, 'key_old', 'old', 'active', 100, 40, NULL, NULL, NULL, ?, ?)`,
        now,
        now
      )
      sql.exec(
        `INSERT INTO ledger (at, kind, amount, balance_after, label) VALUES (?, 'grant', 100, 100, 'initial credits')`,
        now
      )
      sql.exec(
        `INSERT INTO reservations VALUES ('7', 10, NULL, 'open', 'numeric id', ?, ?, NULL)`,
        now,
        now + 60_000
      )
      sql.exec(
        `INSERT INTO reservations VALUES ('4f7c2b1e-uuid', 30, NULL, 'open', 'text id', ?, ?, NULL)`,
        now,
        now + 60_000
      )
      // What an upgrade run outside a transaction left behind: the old table renamed, the new one empty.
      sql.exec('ALTER TABLE reservations RENAME TO reservations_v1')
    })
    expect((await stub.view())?.account).toMatchObject({ balance: 100, held: 10, inFlight: 1 })
    expect(await stub.settle('7', 10)).toMatchObject({ ok: true, charged: 10, available: 90 })
    const tables = await runInDurableObject(stub, (_instance: CreditAccount, state) =>
      state.storage.sql
        .exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE name = 'reservations_v1'`)
        .toArray()
    )
    expect(tables).toEqual([])
  })
})
