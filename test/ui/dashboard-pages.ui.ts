/**
 * The dashboard's pages in real headless Chromium against the real gate (as
 * dashboard.ui.ts): totals, searching and filtering the key list and the calls,
 * the CSV export as a real download, a key's own page (ledger page by page, its
 * calls, grant, plan, rotate, revoke), an action's error shown beside the row
 * that caused it, and the page at 420 px wide without sideways scrolling.
 * Seeded through the admin API and paid calls, as an operator and agents would.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateServer, type GateServer } from './gate-server'
import { startOriginServer, type OriginServer } from './origin-server'
import { settled } from './settled'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const NARROW_SCREENSHOT = join(import.meta.dirname, '..', '..', 'test-results', 'dashboard-420.png')
const NARROW_KEY_SCREENSHOT = join(
  import.meta.dirname,
  '..',
  '..',
  'test-results',
  'dashboard-key-420.png'
)
const SECONDS = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/

let origin: OriginServer
let gate: GateServer
let browser: Browser
let page: Page
const keys: Record<string, { id: string; key: string }> = {}
const pageErrors: string[] = []

async function callGate(path: string, key: string): Promise<number> {
  const response = await fetch(new URL(path, gate.url), {
    headers: { authorization: `Bearer ${key}` },
  })
  await response.text()
  return response.status
}

/** Poll until the page shows it: generous, as the machine may be busy. */
const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 15_000 })

const cells = (selector: string, cell: string) =>
  page
    .locator(selector)
    .evaluateAll(
      (rows, cell) => rows.map((row) => row.querySelector(cell)?.textContent ?? null),
      cell
    )

beforeAll(async () => {
  origin = await startOriginServer()
  gate = await startGateServer(`ui-${randomBytes(16).toString('hex')}`)
  await gate.putRoutes({
    routes: [{ path: '/api/*', origin: origin.origin, price: '0.01' }],
    plans: { starter: { kind: 'payg', freeCalls: 1 } },
  })
  for (const [name, credits] of [
    ['Acme Corp', '10'],
    ['Acme Labs', '5'],
    ['Paused Inc', '3'],
    ['Broke Ltd', '0'],
  ] as const) {
    const created = await gate.admin('/keys', { method: 'POST', body: { name, credits } })
    expect(created.status).toBe(201)
    keys[name] = created.body
  }
  expect(
    (await gate.admin(`/keys/${keys['Paused Inc']!.id}/suspend`, { method: 'POST' })).status
  ).toBe(200)
  // Enough ledger rows on Acme Labs for two pages of 20.
  for (let i = 1; i <= 24; i++)
    expect(
      (
        await gate.admin(`/keys/${keys['Acme Labs']!.id}/topup`, {
          method: 'POST',
          body: { credits: '0.01' },
        })
      ).status
    ).toBe(200)
  expect(await callGate('/api/items/1', keys['Acme Corp']!.key)).toBe(200)
  expect(await callGate('/api/items/2', keys['Acme Corp']!.key)).toBe(200)
  expect(await callGate('/api/fail', keys['Acme Corp']!.key)).toBe(500)
  expect(await callGate('/api/items/3', keys['Broke Ltd']!.key)).toBe(402)
  await settled(async () => (await gate.admin('/usage/events?limit=50')).body?.length, 4)
  await settled(
    async () => (await gate.admin(`/keys/${keys['Acme Corp']!.id}`)).body.credits,
    '9.98'
  )

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  page = await browser.newPage({
    baseURL: gate.url.href,
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
  })
  page.on('pageerror', (error) => pageErrors.push(error.message))
  page.on('dialog', (dialog) => void dialog.dismiss())
  await page.goto('/admin/ui')
  await page.fill('input[name="token"]', gate.adminToken)
  await page.click('button[type="submit"]')
  await page.waitForSelector('body[data-usage-loaded="1"]')
})

afterAll(async () => {
  await browser?.close()
  await gate?.close()
  await origin?.close()
})

const row = (name: string) => page.locator(`#keys tr[data-key-id="${keys[name]!.id}"]`)

describe('the overview', () => {
  it("heads with the totals: outstanding credit, keys by status, today's revenue", async () => {
    const totals = (await gate.admin('/totals')).body
    // $10 + $5.24 + $3 + $0, less two calls of $0.01.
    expect(totals.outstandingDollars).toBe('18.22')
    await expect(page.locator('#total-outstanding .value').textContent()).resolves.toBe('$18.22')
    await expect(page.locator('#total-keys .value').textContent()).resolves.toBe('4')
    await expect(page.locator('#total-keys .detail').textContent()).resolves.toBe(
      '3 active, 1 suspended, 0 revoked, 0 expired'
    )
    await expect(page.locator('#total-revenue .value').textContent()).resolves.toBe('$0.02')
    await expect(page.locator('#total-revenue .detail').textContent()).resolves.toMatch(
      /^4 calls since \d{4}-\d\d-\d\d 00:00:00Z$/
    )
  })

  it('searches keys by name or id and filters them by status, through the admin API', async () => {
    await page.fill('#key-filter input[name="q"]', 'acme')
    await poll(() => cells('#keys tbody tr[data-key-id]', 'td.name')).toEqual([
      'Acme Corp',
      'Acme Labs',
    ])
    await page.fill('#key-filter input[name="q"]', keys['Broke Ltd']!.id.slice(4, 14))
    await poll(() => cells('#keys tbody tr[data-key-id]', 'td.name')).toEqual(['Broke Ltd'])
    await page.fill('#key-filter input[name="q"]', '')
    await page.selectOption('#key-filter select[name="status"]', 'suspended')
    await poll(() => cells('#keys tbody tr[data-key-id]', 'td.name')).toEqual(['Paused Inc'])
    await page.fill('#key-filter input[name="q"]', 'acme')
    await poll(() => page.locator('#keys tbody td.empty').textContent()).toBe('No key matches.')
    await page.fill('#key-filter input[name="q"]', '')
    await page.selectOption('#key-filter select[name="status"]', '')
    await poll(() => page.locator('#keys tbody tr[data-key-id]').count()).toBe(4)
    expect(await page.locator('#keys-more').isVisible()).toBe(false) // all four on one page
  })

  it('filters the calls by outcome, route and key; every time to the second', async () => {
    await page.selectOption('#event-filter select[name="outcome"]', 'charged')
    await poll(() => cells('#events tbody tr', 'td.path')).toHaveLength(2)
    expect((await cells('#events tbody tr', 'td.path')).sort()).toEqual([
      '/api/items/1',
      '/api/items/2',
    ])
    for (const when of await cells('#events tbody tr', 'td.when')) expect(when).toMatch(SECONDS)
    await page.selectOption('#event-filter select[name="outcome"]', '')
    await page.selectOption('#event-filter select[name="route"]', '/api/*')
    await page.fill('#event-filter input[name="keyId"]', keys['Broke Ltd']!.id)
    await page.click('#event-filter button[type="submit"]')
    await poll(() => cells('#events tbody tr', 'td.outcome')).toEqual([
      'denied (insufficient_credits)',
    ])
    // A time range that ends before the calls: none.
    await page.fill('#event-filter input[name="to"]', '2020-01-01T00:00:00')
    await page.click('#event-filter button[type="submit"]')
    await poll(() => page.locator('#events tbody td.empty').textContent()).toBe('No calls match.')
    await page.click('#event-filter-clear')
    await poll(() => page.locator('#events tbody tr').count()).toBe(4)
  })

  it('exports the filtered calls as CSV: a real download, with the path called', async () => {
    await page.selectOption('#event-filter select[name="outcome"]', 'charged')
    await poll(() => page.locator('#events tbody tr').count()).toBe(2)
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#events-csv')])
    expect(download.suggestedFilename()).toBe('usage-events.csv')
    const text = readFileSync(await download.path(), 'utf8')
    const [header, ...lines] = text.trimEnd().split('\r\n')
    const columns = header!.split(',')
    const rows = lines.map((line) => line.split(','))
    expect(rows).toHaveLength(2)
    expect(rows.map((cells) => cells[columns.indexOf('outcome')])).toEqual(['charged', 'charged'])
    expect(rows.map((cells) => cells[columns.indexOf('path')]).sort()).toEqual([
      '/api/items/1',
      '/api/items/2',
    ])
    await page.click('#event-filter-clear')
  })

  it("shows an action's error under the row that caused it, and changes nothing", async () => {
    await row('Acme Corp').locator('input.amount').fill('abc')
    await row('Acme Corp').getByRole('button', { name: 'Top up' }).click()
    const error = page.locator(`#keys tr.row-error[data-error-for="${keys['Acme Corp']!.id}"]`)
    await poll(() => error.textContent()).toMatch(/^Top-up failed: Invalid body: credits: /)
    // Right under its own row, and under no other.
    expect(
      await row('Acme Corp').evaluate((tr) =>
        tr.nextElementSibling?.classList.contains('row-error')
      )
    ).toBe(true)
    expect(await page.locator('#keys tr.row-error').count()).toBe(1)
    expect((await gate.admin(`/keys/${keys['Acme Corp']!.id}`)).body.credits).toBe('9.98')
  })
})

describe("a key's page", () => {
  // A fresh load each time (not a change of the fragment on the page already open).
  const open = async (name: string) => {
    await page.goto('about:blank')
    await page.goto(`/admin/ui#/keys/${keys[name]!.id}`)
    await page.waitForSelector(`body[data-key-page="${keys[name]!.id}"]`)
  }

  it('opens from the key list, with its spend, usage, plan, calls and ledger', async () => {
    await page.goto('/admin/ui')
    await page.waitForSelector('body[data-keys-loaded="1"]')
    await row('Acme Corp').locator('td.name a').click()
    await page.waitForSelector(`body[data-key-page="${keys['Acme Corp']!.id}"]`)
    expect(page.url()).toContain(`#/keys/${keys['Acme Corp']!.id}`)
    await expect(page.locator('#key-page .key-name').textContent()).resolves.toBe('Acme Corp')
    // Nothing but elements at the top of the page (no stray "null" where a notice is absent).
    expect(
      await page
        .locator('#key-page')
        .evaluate((node) => node.childElementCount === node.childNodes.length)
    ).toBe(true)
    await expect(page.locator('#key-page dd.credits').textContent()).resolves.toBe('$9.98')
    await expect(page.locator('#key-page dd.spent').textContent()).resolves.toBe('$0.02')
    await expect(page.locator('#key-page dd.plan').textContent()).resolves.toBe('none: list prices')
    expect((await cells('#key-events tbody tr', 'td.path')).sort()).toEqual([
      '/api/fail',
      '/api/items/1',
      '/api/items/2',
    ])
    expect(await cells('#key-ledger tbody tr', 'td.kind')).toEqual(['charge', 'charge', 'grant']) // the credits it was created with are a grant
    for (const when of await cells('#key-ledger tbody tr', 'td.when')) expect(when).toMatch(SECONDS)
  })

  it('pages back through a long ledger', async () => {
    await open('Acme Labs')
    const firstPage = await cells('#key-ledger tbody tr', 'td:first-child')
    expect(firstPage).toHaveLength(20)
    await page.click('#ledger-older')
    await poll(() => cells('#key-ledger tbody tr', 'td:first-child')).toHaveLength(5)
    const secondPage = await cells('#key-ledger tbody tr', 'td:first-child')
    expect([...firstPage, ...secondPage].map(Number)).toEqual(
      Array.from({ length: 25 }, (_, i) => 25 - i)
    )
    expect(await page.locator('#ledger-older').isDisabled()).toBe(true)
    await page.click('#ledger-newest')
    await poll(() => cells('#key-ledger tbody tr', 'td:first-child')).toEqual(firstPage)
  })

  it('grants expiring credits and sets the plan; a bad grant says why beside it', async () => {
    await open('Acme Labs')
    const grant = page.locator('[data-action="grant"]')
    await grant.locator('input[name="grant"]').fill('2')
    await grant.locator('input[name="grant-expires"]').fill('2020-01-01T00:00:00')
    await grant.getByRole('button', { name: 'Grant' }).click()
    await poll(() => grant.locator('.action-error').textContent()).toBe(
      'expiresAt must be in the future.'
    )
    expect(await page.locator('#key-page .action-error:not([hidden])').count()).toBe(1)
    await grant.locator('input[name="grant-expires"]').fill('2099-01-01T00:00:00')
    await grant.getByRole('button', { name: 'Grant' }).click()
    await poll(() => page.locator('#key-page .notice').textContent()).toBe(
      'Granted $2.00 to Acme Labs.'
    )
    expect((await gate.admin(`/keys/${keys['Acme Labs']!.id}`)).body.expiringCredits).toEqual([
      { credits: '2', expiresAt: '2099-01-01T00:00:00.000Z' },
    ])

    await page.selectOption('[data-action="plan"] select', 'starter')
    await page.locator('[data-action="plan"]').getByRole('button', { name: 'Set plan' }).click()
    await poll(() => page.locator('#key-page dd.plan').textContent()).toBe('starter (payg)')
    expect((await gate.admin(`/keys/${keys['Acme Labs']!.id}`)).body.plan.name).toBe('starter')
  })

  it('edits the policy; JSON that is not JSON, or not a policy, says why beside it', async () => {
    await open('Acme Corp')
    const policy = page.locator('[data-action="policy"]')
    await policy.locator('textarea').fill('{ not json')
    await policy.getByRole('button', { name: 'Save policy' }).click()
    await poll(() => policy.locator('.action-error').textContent()).toMatch(
      /^The policy is not JSON: /
    )
    await policy.locator('textarea').fill('{"lifetimeLimit": 5}')
    await policy.getByRole('button', { name: 'Save policy' }).click()
    await poll(() => policy.locator('.action-error').textContent()).toMatch(
      /^Invalid body: lifetimeLimit: /
    )
    await policy.locator('textarea').fill('{"denyTools": ["admin"], "lifetimeLimit": "5"}')
    await policy.getByRole('button', { name: 'Save policy' }).click()
    await poll(() => page.locator('#key-page .notice').textContent()).toBe(
      'Saved the policy of Acme Corp.'
    )
    expect((await gate.admin(`/keys/${keys['Acme Corp']!.id}`)).body.policy).toMatchObject({
      denyTools: ['admin'],
      lifetimeLimit: '5',
    })
  })

  it('rotates after asking on the page: the new key shown once works, the old one no longer does', async () => {
    await open('Acme Labs')
    const rotate = page.locator('[data-action="rotate"]')
    await rotate.getByRole('button', { name: 'Rotate', exact: true }).click()
    expect(await rotate.getByRole('button', { name: 'Rotate', exact: true }).isVisible()).toBe(
      false
    )
    await rotate.getByRole('button', { name: 'Yes, rotate' }).click()
    const shown = page.locator(`#key-page code[data-new-key="${keys['Acme Labs']!.id}"]`)
    await shown.waitFor()
    const newKey = (await shown.textContent())!
    expect(newKey).toMatch(/^pg_/)
    expect(await callGate('/api/items/9', keys['Acme Labs']!.key)).toBe(401)
    expect(await callGate('/api/items/9', newKey)).toBe(200)
  })

  it('revokes after asking on the page', async () => {
    await open('Paused Inc')
    const status = page.locator('[data-action="status"]')
    await status.getByRole('button', { name: 'Revoke', exact: true }).click()
    await status.getByRole('button', { name: 'Yes, revoke' }).click()
    await poll(() => page.locator('#key-page .key-title .status').textContent()).toBe('revoked')
    expect((await gate.admin(`/keys/${keys['Paused Inc']!.id}`)).body.status).toBe('revoked')
  })
})

describe('at 420 px wide', () => {
  const pageWidth = () => page.evaluate('document.documentElement.scrollWidth') as Promise<number>

  it('neither the overview nor a key page scrolls sideways; wide tables scroll inside themselves', async () => {
    await page.setViewportSize({ width: 420, height: 900 })
    await page.goto('/admin/ui')
    await page.waitForSelector('body[data-usage-loaded="1"]')
    expect(await pageWidth()).toBeLessThanOrEqual(420)
    const events = await page
      .locator('#events')
      .evaluate((table) => ({ table: table.scrollWidth, box: table.parentElement!.clientWidth }))
    expect(events.table).toBeGreaterThan(events.box) // the table is wider than its box, which scrolls
    mkdirSync(join(NARROW_SCREENSHOT, '..'), { recursive: true })
    await page.screenshot({ path: NARROW_SCREENSHOT, fullPage: true })

    await page.goto(`/admin/ui#/keys/${keys['Acme Corp']!.id}`)
    await page.waitForSelector(`body[data-key-page="${keys['Acme Corp']!.id}"]`)
    expect(await pageWidth()).toBeLessThanOrEqual(420)
    await page.screenshot({ path: NARROW_KEY_SCREENSHOT, fullPage: true })
    // An error beside a row stays readable inside the page's width.
    await page.goto('/admin/ui')
    await page.waitForSelector('body[data-keys-loaded="1"]')
    await row('Broke Ltd').locator('input.amount').fill('-1')
    await row('Broke Ltd').getByRole('button', { name: 'Top up' }).click()
    await page.locator('#keys tr.row-error').waitFor()
    expect(await pageWidth()).toBeLessThanOrEqual(420)
    expect(pageErrors).toEqual([])
  })
})
