/**
 * The admin surface under attack: every admin route refuses missing, wrong and
 * almost-right tokens (fast-check makes the near misses) and changes nothing;
 * repeated wrong tokens from one client are slowed down (429 with Retry-After
 * after 5 in a minute, per `cf-connecting-ip`, or for every caller without it),
 * while the right token still works; hostile bodies with the right token are
 * refused without a 5xx; and no response or log line ever shows an API key, the
 * admin token or a stack trace (Tally watches the console).
 */
import fc from 'fast-check'
import { describe, it } from 'vitest'
import { admin, createKey, gate, keyState, TEST_ADMIN_TOKEN } from '../helpers'
import { forAll, leaks, Tally } from './harness'

/** Every admin route, with a body that would succeed with the right token. */
const ROUTES = (id: string): Array<[string, string, string?]> => [
  ['POST', '/admin/keys', '{"name":"x","credits":"1000"}'],
  ['GET', '/admin/keys'],
  ['GET', `/admin/keys/${id}?ledger=1000`],
  ['POST', `/admin/keys/${id}/topup`, '{"credits":"1000"}'],
  ['POST', `/admin/keys/${id}/suspend`],
  ['POST', `/admin/keys/${id}/resume`],
  ['POST', `/admin/keys/${id}/revoke`],
]

/** A token that is nearly the right one: one edit away, or the right one in the wrong place or form. */
const nearMiss = fc
  .oneof(
    fc
      .tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 1 }))
      .map(
        ([i, c]) => TEST_ADMIN_TOKEN.slice(0, i % 32) + c + TEST_ADMIN_TOKEN.slice((i % 32) + 1)
      ),
    fc
      .tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 1 }))
      .map(([i, c]) => TEST_ADMIN_TOKEN.slice(0, i % 33) + c + TEST_ADMIN_TOKEN.slice(i % 33)),
    fc.nat().map((i) => TEST_ADMIN_TOKEN.slice(0, i % 32) + TEST_ADMIN_TOKEN.slice((i % 32) + 1)),
    fc.constantFrom(
      TEST_ADMIN_TOKEN.toUpperCase(),
      TEST_ADMIN_TOKEN.slice(0, 16),
      `${TEST_ADMIN_TOKEN}\u200b`,
      `${TEST_ADMIN_TOKEN}%00`,
      encodeURIComponent(`${TEST_ADMIN_TOKEN} `),
      ''
    ),
    fc.string({ maxLength: 40 })
  )
  .filter((token) => !sameCredential(token))

/**
 * Whether `Bearer ${token}` is the right token after all: RFC 9110 §11.4 allows
 * more than one space after the scheme, and Headers strips trailing whitespace.
 */
function sameCredential(token: string): boolean {
  return token.replace(/^ +/, '').replace(/[ \t\r\n]+$/, '') === TEST_ADMIN_TOKEN
}

/** How the token is presented: the wrong token properly, or the right one improperly. */
const presentation = fc.oneof(
  nearMiss.map((token): Array<[string, string]> => [['authorization', `Bearer ${token}`]]),
  fc.constantFrom<Array<[string, string]>>(
    [],
    [['authorization', TEST_ADMIN_TOKEN]],
    [['authorization', `Basic ${btoa(`admin:${TEST_ADMIN_TOKEN}`)}`]],
    [['authorization', `Bearer: ${TEST_ADMIN_TOKEN}`]],
    [['authorization', `Token ${TEST_ADMIN_TOKEN}`]],
    [['x-api-key', TEST_ADMIN_TOKEN]],
    [['x-admin-token', TEST_ADMIN_TOKEN]],
    [
      ['authorization', `Bearer ${TEST_ADMIN_TOKEN}`],
      ['authorization', 'Bearer wrong-wrong-wrong-wrong'],
    ],
    [
      ['authorization', 'Bearer wrong-wrong-wrong-wrong'],
      ['authorization', `Bearer ${TEST_ADMIN_TOKEN}`],
    ]
  )
)

let client = 0
/** A client address of its own (TEST-NET-2), so a matrix of refusals does not trip the throttle. */
const nextClient = () => `198.18.${Math.floor(++client / 250)}.${client % 250}`

const listed = async () =>
  ((await (await admin('/keys?limit=100')).json()) as { keys: unknown[] }).keys.length

describe('admin tokens', () => {
  it('every admin route refuses missing, wrong and almost-right tokens, and changes nothing', async ({
    task,
  }) => {
    const tally = new Tally(task)
    const target = await createKey('1')
    const before = { keys: await listed(), state: JSON.stringify(await keyState(target.id)) }
    const input = fc.tuple(fc.constantFrom(...ROUTES(target.id)), presentation)
    await forAll(
      tally,
      'admin token near misses',
      input,
      async ([[method, path, body], pairs]) => {
        const headers = new Headers({
          'content-type': 'application/json',
          'cf-connecting-ip': nextClient(),
        })
        for (const [name, value] of pairs) {
          try {
            headers.append(name, value)
          } catch {
            return [] // not a legal header value: a client could not send it
          }
        }
        const response = await gate(path, { method, headers, body })
        const text = await response.text()
        tally.call()
        const problems: string[] = []
        if (response.status !== 401) problems.push(`status ${response.status}`)
        for (const what of leaks(text)) problems.push(`the answer shows ${what}`)
        return problems.map(
          (problem) => `${problem} (${method} ${path} ${JSON.stringify(pairs).slice(0, 80)})`
        )
      },
      300
    )
    tally.equal(await listed(), before.keys, 'no key was created')
    tally.equal(
      JSON.stringify(await keyState(target.id)),
      before.state,
      'the target key is untouched'
    )
    tally.assertClean()
  })
})

describe('admin throttling', () => {
  it('after 5 wrong tokens a client gets 429 with Retry-After, whatever X-Forwarded-* says; the right token still works', async ({
    task,
  }) => {
    const tally = new Tally(task)
    const ip = '198.51.100.77'
    const wrong = (n: number) => ({
      authorization: `Bearer wrong-token-${n}-0000000000`,
      'cf-connecting-ip': ip,
      'x-forwarded-for': `10.0.0.${n}`,
      'x-real-ip': `10.0.1.${n}`,
    })
    for (let n = 0; n < 5; n++) {
      tally.call()
      tally.equal(
        (await gate('/admin/keys', { headers: wrong(n) })).status,
        401,
        `wrong token ${n + 1} of 5: 401`
      )
    }
    for (let n = 5; n < 10; n++) {
      const slowed = await gate('/admin/keys', { headers: wrong(n) })
      tally.call()
      tally.fault()
      tally.equal(slowed.status, 429, `wrong token ${n + 1}: 429`)
      tally.check(
        Number(slowed.headers.get('retry-after')) > 0,
        `wrong token ${n + 1}: Retry-After`
      )
      tally.check(
        leaks(await slowed.text()).length === 0,
        `wrong token ${n + 1}: nothing secret in the answer`
      )
    }
    const right = await gate('/admin/keys', {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'cf-connecting-ip': ip },
    })
    tally.call()
    tally.equal(right.status, 200, 'the right token still works from the slowed-down client')
    tally.check(!/pg_[A-Za-z0-9_-]{43}/.test(await right.text()), 'the key list shows no key')
    const other = await gate('/admin/keys', {
      headers: {
        authorization: 'Bearer wrong-token-x-0000000000',
        'cf-connecting-ip': '198.51.100.78',
      },
    })
    tally.call()
    tally.equal(other.status, 401, 'another client is not slowed down')
    tally.assertClean()
  })

  it('without cf-connecting-ip every caller shares one allowance', async ({ task }) => {
    const tally = new Tally(task)
    const statuses: number[] = []
    for (let n = 0; n < 8; n++) {
      const response = await gate('/admin/keys', {
        headers: { authorization: `Bearer anonymous-guess-${n}-000000` },
      })
      tally.call()
      statuses.push(response.status)
    }
    tally.fault(3)
    tally.equal(
      JSON.stringify(statuses),
      JSON.stringify([401, 401, 401, 401, 401, 429, 429, 429]),
      'the 6th anonymous wrong token and later get 429'
    )
    const right = await gate('/admin/keys', {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    })
    tally.call()
    tally.equal(right.status, 200, 'the right token still works')
    tally.assertClean()
  })
})

describe('admin bodies', () => {
  it('hostile bodies with the right token are refused with 4xx, never 5xx; only a valid top-up moves money, by exactly its amount', async ({
    task,
  }) => {
    const tally = new Tally(task)
    const target = await createKey('1')
    let added = 0
    const credits = fc.oneof(
      fc.constantFrom(
        '1',
        '0.000001',
        '999999999.999999',
        '1000000000',
        '0',
        '-1',
        '1e3',
        '0x10',
        ' 1',
        '1.',
        '.5',
        '01',
        '1.0000001',
        'NaN',
        '１'
      ),
      fc.string({ maxLength: 12 }),
      fc.double(),
      fc.integer()
    )
    const body = fc.oneof(
      fc
        .record(
          {
            name: fc.oneof(fc.string(), fc.constant('x')),
            credits,
            expiresAt: fc.oneof(fc.string(), fc.constant('2999-01-01T00:00:00Z')),
            rateLimit: fc.jsonValue({ maxDepth: 2 }),
            extra: fc.jsonValue(),
          },
          { requiredKeys: [] }
        )
        .map((v) => JSON.stringify(v)),
      fc.record({ credits, note: fc.string() }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
      fc.string(),
      fc
        .integer({ min: 1_000, max: 100_000 })
        .map((d) => `{"credits":${'['.repeat(d)}${']'.repeat(d)}}`),
      fc.constant(`{"name":"${'n'.repeat(300_000)}","credits":"1"}`)
    )
    const input = fc.tuple(fc.constantFrom('/admin/keys', `/admin/keys/${target.id}/topup`), body)
    await forAll(
      tally,
      'admin bodies',
      input,
      async ([path, text]) => {
        const response = await admin(path.replace('/admin', ''), { method: 'POST', body: text })
        const answer = await response.text()
        tally.call()
        const problems: string[] = []
        if (response.status >= 500) problems.push(`status ${response.status}`)
        const leaked = leaks(answer).filter(
          (what) => !(what === 'an API key' && response.status === 201)
        )
        for (const what of leaked) problems.push(`the answer shows ${what}`)
        if (path.endsWith('/topup') && response.status === 200) {
          const parsed = JSON.parse(text) as { credits: string }
          added += Math.round(Number(parsed.credits) * 1_000_000)
        }
        return problems.map(
          (problem) => `${problem} (${path} ${text.slice(0, 80)} → ${answer.slice(0, 100)})`
        )
      },
      200
    )
    const state = await keyState(target.id)
    tally.equal(
      Math.round(Number(state.balance) * 1_000_000),
      1_000_000 + added,
      'the balance moved by exactly the accepted top-ups'
    )
    tally.assertClean()
  })
})
