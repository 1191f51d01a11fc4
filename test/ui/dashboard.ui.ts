/**
 * The operator dashboard in real headless Chromium against the real gate (a
 * local server from test/ui/gate-server.ts): sign in, see the seeded keys
 * (one named as an XSS attempt, shown as text), top up / create / suspend from
 * the page and see the change through the admin API too, CSRF and CSP hold, and
 * a screenshot lands in test-results/dashboard.png.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateServer, type GateServer } from './gate-server'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const XSS_NAME = '<img src=x onerror=alert(1)>'
const SCREENSHOT = join(import.meta.dirname, '..', '..', 'test-results', 'dashboard.png')

let gate: GateServer
let browser: Browser
let page: Page
const keys: Record<string, { id: string; key: string }> = {}
const dialogs: string[] = []
const pageErrors: string[] = []
const consoleErrors: string[] = []

beforeAll(async () => {
  gate = await startGateServer(`ui-${randomBytes(16).toString('hex')}`)
  for (const [name, credits] of [[XSS_NAME, '5'], ['Acme Corp', '10'], ['Paused Inc', '3']] as const) {
    const created = await gate.admin('/keys', { method: 'POST', body: { name, credits } })
    expect(created.status).toBe(201)
    keys[name] = created.body
  }
  expect((await gate.admin(`/keys/${keys['Paused Inc']!.id}/suspend`, { method: 'POST' })).status).toBe(200)
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  page = await browser.newPage({ baseURL: gate.url.href, viewport: { width: 1280, height: 900 } })
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message())
    void dialog.dismiss()
  })
  page.on('pageerror', (error) => pageErrors.push(error.message))
  page.on('console', (message) => {
    // Expected: the wrong-token login (401), the usage endpoints when this gate has none,
    // and the CSRF test's deliberately refused POST /admin/keys (401).
    const url = message.location().url
    const expected =
      /Failed to load resource/.test(message.text()) &&
      (/\/admin\/(ui\/login|usage|revenue)/.test(url) || (/\/admin\/keys$/.test(url) && /status of 401/.test(message.text())))
    if (message.type() === 'error' && !expected) consoleErrors.push(`${message.text()} (${message.location().url})`)
  })
})

afterAll(async () => {
  await browser?.close()
  await gate?.close()
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
    expect(cookie).toMatchObject({ name: 'pg_admin_session', httpOnly: true, secure: true, sameSite: 'Strict', path: '/admin' })
    expect(cookie!.value).not.toContain(gate.adminToken)
    expect(await page.evaluate('document.cookie')).toBe('') // scripts cannot read it
  })

  it('shows the seeded keys with balances and status; a hostile name is text, never markup', async () => {
    await expect(row(XSS_NAME).locator('td.name').textContent()).resolves.toBe(XSS_NAME)
    await expect(row(XSS_NAME).locator('td.credits').textContent()).resolves.toBe('$5.00')
    await expect(row('Acme Corp').locator('td.credits').textContent()).resolves.toBe('$10.00')
    await expect(row('Paused Inc').locator('td.status').textContent()).resolves.toBe('suspended')
    expect(await page.locator('img').count()).toBe(0)
    expect(dialogs).toEqual([])
  })

  it('degrades to "no usage data" where the usage endpoints do not exist', async () => {
    await page.waitForSelector('body[data-usage-loaded="1"]')
    // Without them, /admin/usage falls through to the gate: 404, or 503 here as this gate has no route table.
    const usage = await gate.admin('/usage?groupBy=day')
    if (usage.status !== 200) {
      await expect(page.locator('#calls-chart').textContent()).resolves.toContain('No usage data')
      await expect(page.locator('#events').textContent()).resolves.toContain('No usage data')
    } else {
      // The usage endpoints are there (merged): the charts drew, or said there was nothing yet.
      expect(await page.locator('#calls-chart svg, #calls-chart .empty').count()).toBeGreaterThan(0)
    }
  })

  it('tops up a key from the page; the balance changes on the page and in the API', async () => {
    await row('Acme Corp').locator('input.amount').fill('2.50')
    await row('Acme Corp').getByRole('button', { name: 'Top up' }).click()
    await expect.poll(() => row('Acme Corp').locator('td.credits').textContent()).toBe('$12.50')
    const state = await gate.admin(`/keys/${keys['Acme Corp']!.id}?ledger=10`)
    expect(state.body.credits).toBe('12.5')
    expect(state.body.ledger.some((entry: { kind: string; label: string }) => entry.kind === 'topup' && entry.label === 'dashboard top-up')).toBe(true)
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
    expect(created.body).toMatchObject({ name: 'Made in the browser', credits: '1.25', status: 'active' })

    await row('Acme Corp').getByRole('button', { name: 'Suspend' }).click()
    await expect.poll(() => row('Acme Corp').locator('td.status').textContent()).toBe('suspended')
    expect((await gate.admin(`/keys/${keys['Acme Corp']!.id}`)).body.status).toBe('suspended')
  })

  it('refuses a state-changing call with the session cookie but without the CSRF header', async () => {
    const status = await page.evaluate(async () => {
      const response = await fetch('/admin/keys', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"csrf","credits":"1"}' })
      return response.status
    })
    expect(status).toBe(401)
    const listed = await gate.admin('/keys?limit=100')
    expect(listed.body.keys.map((key: { name: string }) => key.name)).not.toContain('csrf')
  })

  it('ran with no script errors and no CSP violations; screenshot saved', async () => {
    await page.locator(`tr[data-key-id="${keys[XSS_NAME]!.id}"]`).getByRole('button', { name: 'Details' }).click()
    await page.waitForSelector('#key-detail table')
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true })
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
    console.log(`dashboard screenshot: ${SCREENSHOT}`)
    expect(pageErrors).toEqual([])
    expect(consoleErrors).toEqual([])
    expect(dialogs).toEqual([])
  })
})
