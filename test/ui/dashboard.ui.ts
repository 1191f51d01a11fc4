/**
 * The operator dashboard in real headless Chromium against the real gate (a
 * local server from test/ui/gate-server.ts) in front of a real origin
 * (test/ui/origin-server.ts). Seeded as an agent would: keys from the admin API,
 * paid calls through the gate (charged), one the origin fails (refunded) and one
 * without credits (denied), all recorded as usage events in D1. Then: sign in,
 * see the keys (one named as an XSS attempt, one route path with HTML, shown as
 * text), the usage and revenue charts and the recent calls, top up / create /
 * suspend from the page and see the change through the admin API too, CSRF and
 * CSP hold, and a screenshot lands in test-results/dashboard.png.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateServer, type GateServer } from './gate-server'
import { startOriginServer, type OriginServer } from './origin-server'
import { settled } from './settled'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const XSS_NAME = '<img src=x onerror=alert(1)>'
/** A valid route path that is also HTML: it must show as these characters. */
const HTML_ROUTE = '/<b>x</b>'
const SCREENSHOT = join(import.meta.dirname, '..', '..', 'test-results', 'dashboard.png')

let origin: OriginServer
let gate: GateServer
let browser: Browser
let page: Page
const keys: Record<string, { id: string; key: string }> = {}
/** The UTC day the seeded calls were recorded on (from the events themselves). */
let callDay: string
const dialogs: string[] = []
const pageErrors: string[] = []
const consoleErrors: string[] = []

/** A call through the gate as an agent makes it, body read in full (only then is it charged). */
async function callGate(path: string, name: string): Promise<number> {
  const response = await fetch(new URL(path, gate.url), {
    headers: { authorization: `Bearer ${keys[name]!.key}` },
  })
  await response.text()
  return response.status
}

beforeAll(async () => {
  origin = await startOriginServer()
  gate = await startGateServer(`ui-${randomBytes(16).toString('hex')}`)
  await gate.putRoutes({
    routes: [
      { path: '/api/*', origin: origin.origin, price: '0.01' },
      { path: HTML_ROUTE, origin: origin.origin, price: '0.02' },
    ],
  })
  for (const [name, credits] of [
    [XSS_NAME, '5'],
    ['Acme Corp', '10'],
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

  // Usage: 3 × $0.01 and 1 × $0.02 charged, one refunded (origin 500), one denied (no credits).
  for (const item of [1, 2, 3]) expect(await callGate(`/api/items/${item}`, 'Acme Corp')).toBe(200)
  expect(await callGate(HTML_ROUTE, XSS_NAME)).toBe(200)
  expect(await callGate('/api/fail', 'Acme Corp')).toBe(500)
  expect(await callGate('/api/items/4', 'Broke Ltd')).toBe(402)
  expect(origin.requests()).toBe(5)
  // Events are written after the response, in batches: wait until all six are in D1,
  // and until the charges are settled on the keys.
  await settled(async () => (await gate.admin('/usage/events?limit=50')).body?.length, 6)
  await settled(
    async () => (await gate.admin(`/keys/${keys['Acme Corp']!.id}`)).body.credits,
    '9.97'
  )
  await settled(async () => (await gate.admin(`/keys/${keys[XSS_NAME]!.id}`)).body.credits, '4.98')
  const events = (await gate.admin('/usage/events?limit=50')).body as Array<{ at: number }>
  callDay = new Date(events[0]!.at).toISOString().slice(0, 10)

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  page = await browser.newPage({ baseURL: gate.url.href, viewport: { width: 1280, height: 900 } })
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message())
    void dialog.dismiss()
  })
  page.on('pageerror', (error) => pageErrors.push(error.message))
  page.on('console', (message) => {
    // Expected: the wrong-token login (401) and the CSRF test's deliberately refused POST /admin/keys (401).
    const url = message.location().url
    const expected =
      /Failed to load resource/.test(message.text()) &&
      (/\/admin\/ui\/login/.test(url) ||
        (/\/admin\/keys$/.test(url) && /status of 401/.test(message.text())))
    if (message.type() === 'error' && !expected)
      consoleErrors.push(`${message.text()} (${message.location().url})`)
  })
})

afterAll(async () => {
  await browser?.close()
  await gate?.close()
  await origin?.close()
})

const row = (name: string) => page.locator(`tr[data-key-id="${keys[name]!.id}"]`)

describe('dashboard in Chromium', () => {
  it('shows a login form without a session, and refuses a wrong token', async () => {
    await page.goto('/admin/ui')
    await expect(page.locator('input[name="token"]').count()).resolves.toBe(1)
    await page.fill('input[name="token"]', 'not-the-admin-token-at-all')
    await page.click('button[type="submit"]')
    await expect(page.locator('.error').textContent()).resolves.toContain('not the admin token')
    expect(await page.context().cookies()).toEqual([])
  })

  it('signs in with the admin token: an HttpOnly, Secure, SameSite=Strict session cookie that is not the token', async () => {
    await page.fill('input[name="token"]', gate.adminToken)
    await page.click('button[type="submit"]')
    await page.waitForSelector('body[data-keys-loaded="1"]')
    const cookies = await page.context().cookies()
    expect(cookies).toHaveLength(1)
    const [cookie] = cookies
    expect(cookie).toMatchObject({
      name: 'pg_admin_session',
      httpOnly: true,
      secure: true,
      sameSite: 'Strict',
      path: '/admin',
    })
    expect(cookie!.value).not.toContain(gate.adminToken)
    expect(await page.evaluate('document.cookie')).toBe('') // scripts cannot read it
  })

  it('shows the seeded keys with balances and status; a hostile name is text, never markup', async () => {
    await expect(row(XSS_NAME).locator('td.name').textContent()).resolves.toBe(XSS_NAME)
    // What the seeded calls left: $5 − $0.02 and $10 − 3 × $0.01 (the refunded call cost nothing).
    await expect(row(XSS_NAME).locator('td.credits').textContent()).resolves.toBe('$4.98')
    await expect(row('Acme Corp').locator('td.credits').textContent()).resolves.toBe('$9.97')
    await expect(row('Broke Ltd').locator('td.credits').textContent()).resolves.toBe('$0.00')
    await expect(row('Paused Inc').locator('td.status').textContent()).resolves.toBe('suspended')
    expect(await page.locator('img').count()).toBe(0)
    expect(dialogs).toEqual([])
  })

  it('draws calls and revenue per day from the recorded usage', async () => {
    await page.waitForSelector('body[data-usage-loaded="1"]')
    const bars = async (chart: string) => page.locator(`#${chart} svg rect title`).allTextContents()
    expect(await page.locator('#calls-chart .empty, #revenue-chart .empty').count()).toBe(0)
    // Stacked per day: 4 charged, 1 refunded, 1 denied, all on the day of the calls.
    expect((await bars('calls-chart')).sort()).toEqual([
      `${callDay} · charged: 4`,
      `${callDay} · denied: 1`,
      `${callDay} · refunded: 1`,
    ])
    expect(await bars('revenue-chart')).toEqual([`${callDay} · credits: $0.05`])
    // A day on each axis for the whole 30-day range, not only the days with calls.
    expect(await page.locator('#calls-chart svg text').count()).toBeGreaterThan(5)
    await expect(page.locator('#revenue-total').textContent()).resolves.toBe(
      'Revenue, last 30 days: $0.05'
    )
    const byRoute = await page
      .locator('#by-route tbody tr')
      .evaluateAll((rows) =>
        rows.map((row) =>
          Array.from(
            row.querySelectorAll('td'),
            (cell) => (cell as { textContent: string | null }).textContent
          )
        )
      )
    expect(byRoute).toEqual([
      ['/api/*', '5', '$0.03', '1', '1'],
      [HTML_ROUTE, '1', '$0.02', '0', '0'],
    ])
    await expect(page.locator('#by-tool tbody').textContent()).resolves.toBe(
      'No MCP tool calls in the last 30 days.'
    )
  })

  it('lists the recent calls and denials with key, method, the path called, route, amount and outcome; HTML in them is text', async () => {
    const events = await page.locator('#events tbody tr').evaluateAll((rows) =>
      rows.map((row) => ({
        when: row.querySelector('td.when')?.textContent,
        key: row.querySelector('td.key')?.textContent,
        method: row.querySelector('td.method')?.textContent,
        path: row.querySelector('td.path')?.textContent,
        route: row.querySelector('td.route')?.textContent,
        amount: row.querySelector('td.amount')?.textContent,
        outcome: row.querySelector('td.outcome')?.textContent,
      }))
    )
    // Times to the second, in UTC.
    for (const event of events) expect(event.when).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/)
    const shown = events.map(({ when: _when, ...rest }) => rest)
    // Newest first (the three charged calls of one key may share a millisecond: their order is not asserted).
    expect(shown.slice(0, 3)).toEqual([
      {
        key: 'Broke Ltd',
        method: 'GET',
        path: '/api/items/4',
        route: '/api/*',
        amount: '$0.00',
        outcome: 'denied (insufficient_credits)',
      },
      {
        key: 'Acme Corp',
        method: 'GET',
        path: '/api/fail',
        route: '/api/*',
        amount: '$0.00',
        outcome: 'refunded (origin_error)',
      },
      // The path as it was called, percent-encoded on the wire; the route as routes.json writes it.
      {
        key: XSS_NAME,
        method: 'GET',
        path: '/%3Cb%3Ex%3C/b%3E',
        route: HTML_ROUTE,
        amount: '$0.02',
        outcome: 'charged',
      },
    ])
    expect(
      shown
        .slice(3)
        .map((event) => event.path)
        .sort()
    ).toEqual(['/api/items/1', '/api/items/2', '/api/items/3'])
    expect(
      shown
        .slice(3)
        .every(
          (event) =>
            event.key === 'Acme Corp' && event.amount === '$0.01' && event.outcome === 'charged'
        )
    ).toBe(true)
    expect(await page.locator('#events [data-outcome="denied"] td.key').getAttribute('title')).toBe(
      keys['Broke Ltd']!.id
    )
    expect(await page.locator('#usage-section b, #usage-section img').count()).toBe(0)
    expect(dialogs).toEqual([])
  })

  it('tops up a key from the page; the balance changes on the page and in the API', async () => {
    await row('Acme Corp').locator('input.amount').fill('2.50')
    await row('Acme Corp').getByRole('button', { name: 'Top up' }).click()
    await expect.poll(() => row('Acme Corp').locator('td.credits').textContent()).toBe('$12.47')
    const state = await gate.admin(`/keys/${keys['Acme Corp']!.id}?ledger=10`)
    expect(state.body.credits).toBe('12.47')
    expect(
      state.body.ledger.some(
        (entry: { kind: string; label: string }) =>
          entry.kind === 'topup' && entry.label === 'dashboard top-up'
      )
    ).toBe(true)
  })

  it('creates and suspends keys from the page', async () => {
    await page.fill('#create-key input[name="name"]', 'Made in the browser')
    await page.fill('#create-key input[name="credits"]', '1.25')
    await page.click('#create-key button[type="submit"]')
    const shown = page.locator('#new-key code')
    await shown.waitFor()
    const id = await shown.getAttribute('data-new-key')
    expect(await shown.textContent()).toMatch(/^pg_/)
    const created = await gate.admin(`/keys/${id}`)
    expect(created.body).toMatchObject({
      name: 'Made in the browser',
      credits: '1.25',
      status: 'active',
    })

    await row('Acme Corp').getByRole('button', { name: 'Suspend' }).click()
    await expect.poll(() => row('Acme Corp').locator('td.status').textContent()).toBe('suspended')
    expect((await gate.admin(`/keys/${keys['Acme Corp']!.id}`)).body.status).toBe('suspended')
  })

  it('refuses a state-changing call with the session cookie but without the CSRF header', async () => {
    const status = await page.evaluate(async () => {
      const response = await fetch('/admin/keys', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"name":"csrf","credits":"1"}',
      })
      return response.status
    })
    expect(status).toBe(401)
    const listed = await gate.admin('/keys?limit=100')
    expect(listed.body.keys.map((key: { name: string }) => key.name)).not.toContain('csrf')
  })

  it('ran with no script errors and no CSP violations; screenshot saved', async () => {
    await page.locator(`tr[data-key-id="${keys[XSS_NAME]!.id}"] td.name a`).click()
    await page.waitForSelector(`body[data-key-page="${keys[XSS_NAME]!.id}"]`)
    await expect(page.locator('#key-page .key-name').textContent()).resolves.toBe(XSS_NAME)
    expect(await page.locator('img').count()).toBe(0)
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true })
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
    console.log(`dashboard screenshot: ${SCREENSHOT}`)
    expect(pageErrors).toEqual([])
    expect(consoleErrors).toEqual([])
    expect(dialogs).toEqual([])
  })
})
