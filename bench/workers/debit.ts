/**
 * Baseline (b), the floor for any strongly consistent gate: the pass-through plus
 * exactly one durable write per call, awaited before forwarding. The write is one
 * RPC to a minimal SQLite-backed Durable Object named by the caller's key, doing
 * one balance UPDATE and one ledger INSERT in one synchronous transaction; the RPC
 * resolves only once the output gate has let the write through (it is durable).
 *
 * With `x-bench-writes: 2` (an extra scenario, for diagnosis) it is instead the
 * least a hold-then-settle design can do: a minimal hold before forwarding and a
 * minimal settle after the response, in waitUntil, as the gate does, so the cost of
 * two writes per call can be told apart from the cost of the gate's own code.
 */
import { DurableObject } from 'cloudflare:workers'

interface Env {
  ORIGIN: string
  DEBIT: DurableObjectNamespace<Debit>
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS account (id INTEGER PRIMARY KEY CHECK (id = 1), balance INTEGER NOT NULL CHECK (balance >= 0));
CREATE TABLE IF NOT EXISTS ledger (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, amount INTEGER NOT NULL, balance_after INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS holds (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL, settled INTEGER NOT NULL DEFAULT 0);
INSERT OR IGNORE INTO account (id, balance) VALUES (1, 1000000000000);
`

export class Debit extends DurableObject<Env> {
  private readonly sql = this.ctx.storage.sql

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql.exec(SCHEMA)
  }

  /** Take `amount` off the balance; throws (the call fails) when it is not there. */
  async debit(amount: number): Promise<number> {
    return this.ctx.storage.transactionSync(() => {
      const { balance } = this.sql
        .exec<{ balance: number }>(
          'UPDATE account SET balance = balance - ? WHERE id = 1 AND balance >= ? RETURNING balance',
          amount,
          amount
        )
        .one()
      this.sql.exec(
        'INSERT INTO ledger (at, amount, balance_after) VALUES (?, ?, ?)',
        Date.now(),
        -amount,
        balance
      )
      return balance
    })
  }

  /** Two-write mode, first write: hold `amount` (a real design would also check balance − held). */
  async hold(amount: number): Promise<number> {
    return this.ctx.storage.transactionSync(
      () =>
        this.sql
          .exec<{ id: number }>('INSERT INTO holds (amount) VALUES (?) RETURNING id', amount)
          .one().id
    )
  }

  /** Two-write mode, second write: charge the hold. */
  async settle(id: number): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      const { amount } = this.sql
        .exec<{ amount: number }>('UPDATE holds SET settled = 1 WHERE id = ? RETURNING amount', id)
        .one()
      const { balance } = this.sql
        .exec<{ balance: number }>(
          'UPDATE account SET balance = balance - ? WHERE id = 1 AND balance >= ? RETURNING balance',
          amount,
          amount
        )
        .one()
      this.sql.exec(
        'INSERT INTO ledger (at, amount, balance_after) VALUES (?, ?, ?)',
        Date.now(),
        -amount,
        balance
      )
    })
  }
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    // The raw header value names the object: one key → one object, as in the gate.
    const account = env.DEBIT.getByName(request.headers.get('authorization') ?? 'anonymous')
    const url = new URL(request.url)
    const target = `${env.ORIGIN}${url.pathname}${url.search}`
    if (request.headers.get('x-bench-writes') !== '2') {
      await account.debit(1)
      return fetch(target, request)
    }
    const hold = await account.hold(1)
    const response = await fetch(target, request)
    ctx.waitUntil(account.settle(hold))
    return response
  },
} satisfies ExportedHandler<Env>
