/**
 * The gate's sealed values (event ids and task ids): they open only as written,
 * bound to the origin's own value and to their kind.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import type { Env } from '../../src/env'
import {
  openTicket,
  Sealer,
  ticketSealer,
  unseal,
  type StreamTicket,
} from '../../src/gate/stream-ticket'

const gateEnv = env as unknown as Env
const ticket: StreamTicket = {
  session: 's-1',
  holder: 'a'.repeat(64),
  account: 'a'.repeat(64),
  keyId: 'key_x',
  calls: { 'n:1': { reservation: '7', amount: 10_000, calls: 1 } },
  until: 1_900_000_000_000,
}

describe('stream tickets', () => {
  it('open as written, with the origin’s own event id (dots and all)', async () => {
    const sealed = ticketSealer(gateEnv, ticket).seal('stream.42.7')
    expect(sealed.startsWith('pg1.')).toBe(true)
    expect(await openTicket(gateEnv, sealed)).toEqual({ ok: true, ticket, originId: 'stream.42.7' })
  })

  it('do not open when altered, moved to another origin id, or cut', async () => {
    const sealed = ticketSealer(gateEnv, ticket).seal('e-1')
    const [prefix, payload, mac] = sealed.split('.')
    const other = ticketSealer(gateEnv, {
      ...ticket,
      calls: { 'n:1': { reservation: '7', amount: 1, calls: 1 } },
    }).seal('e-1')
    const cheaper = other.split('.')[1]
    for (const forged of [
      `${prefix}.${cheaper}.${mac}.e-1`,
      `${prefix}.${payload}.${mac}.e-2`,
      `${prefix}.${payload}.${mac}`,
      sealed.slice(0, -1),
      `pg1.${payload}.AAAAAAAAAAAAAAAAAAAAAA.e-1`,
      'e-1',
      '',
    ]) {
      expect(await openTicket(gateEnv, forged)).toEqual({ ok: false })
    }
  })

  it('of one kind never open as another', async () => {
    const task = new Sealer(gateEnv, 'pgt1.', { hold: null }).seal('task-1')
    expect(await openTicket(gateEnv, `pg1.${task.slice('pgt1.'.length)}`)).toEqual({ ok: false })
    expect(await unseal(gateEnv, 'pgt1.', task)).toMatchObject({ ok: true, originValue: 'task-1' })
  })

  it('are not handed out when they would be too long to come back', () => {
    const calls = Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`n:${i}`, null]))
    expect(ticketSealer(gateEnv, ticket).fits).toBe(true)
    expect(ticketSealer(gateEnv, { ...ticket, calls }).fits).toBe(false)
    const long = 'x'.repeat(600)
    expect(ticketSealer(gateEnv, ticket).seal(long)).toBe(long)
  })
})
