/**
 * The key holder's portal (/account) in real headless Chromium, 420 px wide,
 * against the real gate (test/ui/gate-server.ts) in front of a real origin.
 * Seeded as an agent would: a key from the admin API and paid calls through the
 * gate (usage events in D1). Then, as the holder: sign in with the key, see the
 * balance, the usage and the ledger, set a low-balance alert (a refused URL first),
 * rotate the key (shown once; the old one stops), and no page but the reveal
 * ever holds a key. A screenshot lands in test-results/account.png.
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
const SCREENSHOT = join(import.meta.dirname, '..', '..', 'test-results', 'account.png')

let origin: OriginServer
let gate: GateServer
let browser: Browser
let page: Page
let holder: { id: string; key: string }
const pageErrors: string[] = []
/** Every HTML page the browser was served, to check none but the reveal shows a key. */
const served: Array<{ url: string; html: string }> = []

const balance = async (key: string) =>
  fetch(new URL('/balance', gate.url), { headers: { authorization: `Bearer ${key}` } }).then(
    async (response) => ({
      status: response.status,
      body: (await response.json()) as { credits?: string },
    })
  )

beforeAll(async () => {
  origin = await startOriginServer()
  gate = await startGateServer(`ui-${randomBytes(16).toString('hex')}`)
  await gate.putRoutes({ routes: [{ path: '/api/*', origin: origin.origin, price: '0.25' }] })
  const created = await gate.admin('/keys', {
    method: 'POST',
    body: { name: 'Holder & Co', credits: '5' },
  })
  expect(created.status).toBe(201)
  holder = created.body
  for (const item of [1, 2]) {
    const response = await fetch(new URL(`/api/items/${item}`, gate.url), {
      headers: { authorization: `Bearer ${holder.key}` },
    })
    expect(response.status).toBe(200)
    await response.text()
  }
  await settled(
    async () => (await gate.admin(`/usage/events?limit=10&keyId=${holder.id}`)).body?.length,
    2
  )
  await settled(async () => (await gate.admin(`/keys/${holder.id}`)).body.credits, '4.5')

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  page = await browser.newPage({ baseURL: gate.url.href, viewport: { width: 420, height: 900 } })
  page.on('pageerror', (error) => pageErrors.push(error.message))
  page.on('response', async (response) => {
    if ((response.headers()['content-type'] ?? '').startsWith('text/html'))
      served.push({ url: response.url(), html: await response.text().catch(() => '') })
  })
})

afterAll(async () => {
  await browser?.close()
  await gate?.close()
  await origin?.close()
})

/** The page is no wider than the 420 px viewport: nothing to scroll sideways. */
const fitsWidth = async () =>
  (await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')) === true

describe('the key holder’s portal in Chromium', () => {
  it('refuses a wrong key with a clear message, and signs in with the right one (a cookie that is not the key)', async () => {
    await page.goto('/account')
    await page.getByLabel('API key', { exact: true }).fill(`pg_${'x'.repeat(43)}`)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect(page.getByRole('alert').textContent()).resolves.toContain(
      'does not open an account'
    )
    expect(await page.context().cookies()).toEqual([])

    await page.getByLabel('API key', { exact: true }).fill(holder.key)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Balance', exact: true }).waitFor()
    expect(page.url()).toBe(new URL('/account', gate.url).href)
    const [cookie, ...others] = await page.context().cookies()
    expect(others).toEqual([])
    expect(cookie).toMatchObject({
      name: 'pg_account_session',
      httpOnly: true,
      secure: true,
      sameSite: 'Strict',
      path: '/account',
    })
    expect(cookie!.value).not.toContain(holder.key)
    expect(await page.evaluate('document.cookie')).toBe('')
  })

  it('shows the balance, the paid calls and the ledger, readable at 420 px', async () => {
    const figures = page.locator('dl.figures')
    await expect(figures.getByText('$4.5', { exact: true }).count()).resolves.toBe(1)
    await expect(figures.getByText('$0.5', { exact: true }).count()).resolves.toBe(1) // spent
    await expect(page.getByText('Holder & Co').count()).resolves.toBe(1)
    const usage = page.locator('section', { has: page.getByRole('heading', { name: 'Usage' }) })
    await expect(usage.locator('tbody tr').count()).resolves.toBe(2)
    await expect(usage.locator('tbody tr').first().textContent()).resolves.toContain('$0.25')
    const ledger = page.locator('section', { has: page.getByRole('heading', { name: 'Ledger' }) })
    await expect(ledger.locator('tbody tr').last().textContent()).resolves.toContain(
      'initial credits'
    )
    expect(await fitsWidth()).toBe(true)
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true })
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
  })

  it('sets a low-balance alert: a refused URL first (nothing saved), then a good one, its secret shown once', async () => {
    await page.getByLabel('Webhook URL (https)').fill('https://10.0.0.8/hook')
    await page.getByLabel('Alert below (dollars)').fill('1.00')
    await page.getByRole('button', { name: 'Save the alert' }).click()
    await expect(page.getByRole('alert').textContent()).resolves.toContain('private')
    await expect(page.getByText('No alert is set.').count()).resolves.toBe(1)

    await page.getByLabel('Webhook URL (https)').fill('https://hooks.example.com/pay-gate')
    await page.getByLabel('Alert below (dollars)').fill('1.00')
    await page.getByRole('button', { name: 'Save the alert' }).click()
    const secret = await page.locator('#secret').textContent()
    expect(secret).toMatch(/^pgwh_[A-Za-z0-9_-]{43}$/)
    await page.getByRole('link', { name: 'Back to your account' }).click()
    const alert = page.locator('section', {
      has: page.getByRole('heading', { name: 'Low-balance alert' }),
    })
    await expect(alert.textContent()).resolves.toContain('below $1')
    await expect(alert.textContent()).resolves.toContain('https://hooks.example.com/pay-gate')
    expect(await page.content()).not.toContain(secret)
  })

  it('refuses a change made with the session cookie but without the form’s CSRF token', async () => {
    // The page itself cannot even try (its CSP allows no fetch); the browser context's own request, with the cookie, can.
    await expect(
      page.evaluate(
        `fetch('/account/rotate', { method: 'POST' }).then(() => 'sent', () => 'blocked')`
      )
    ).resolves.toBe('blocked')
    const answer = await page.request.post('/account/rotate', {
      form: { confirm: 'yes' },
      headers: { origin: gate.url.origin },
    })
    expect(answer.status()).toBe(403)
    expect(await answer.text()).toContain('nothing was changed')
    expect((await balance(holder.key)).status).toBe(200)
  })

  it('rotates the key: the new one shown once, the old one stops, the balance stays, the holder stays signed in', async () => {
    // Without the confirmation the browser's own required check stops the form; with it, the gate rotates.
    await page.getByLabel('I will update every client that uses this key').check()
    await page.getByRole('button', { name: 'Rotate the key' }).click()
    const fresh = (await page.locator('#secret').textContent()) ?? ''
    expect(fresh).toMatch(/^pg_[A-Za-z0-9_-]{43}$/)
    expect(fresh).not.toBe(holder.key)
    expect((await balance(holder.key)).status).toBe(401)
    expect(await balance(fresh)).toMatchObject({ status: 200, body: { credits: '4.5' } })

    await page.getByRole('link', { name: 'Back to your account' }).click()
    await page.getByRole('heading', { name: 'Balance', exact: true }).waitFor()
    expect(await page.content()).not.toContain(fresh)
    await page.reload()
    expect(await page.content()).not.toContain(fresh)

    // No page held the old key, and the new key was on its reveal only.
    const elsewhere = served.filter(
      (entry) => entry.html.includes(fresh) && new URL(entry.url).pathname !== '/account/rotate'
    )
    expect(elsewhere.map((entry) => entry.url)).toEqual([])
    expect(
      served.filter((entry) => entry.html.includes(holder.key)).map((entry) => entry.url)
    ).toEqual([])
    expect(pageErrors).toEqual([])
  })

  it('signs out', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('heading', { name: 'Sign in with your API key' }).waitFor()
    expect(await page.context().cookies()).toEqual([])
  })
})
