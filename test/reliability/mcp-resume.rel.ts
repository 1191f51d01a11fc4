/**
 * MCP answers wherever they arrive, under concurrency (issue 10): polling
 * servers whose answers come only on resumed streams, duplicate resumes racing
 * each other, cancellations and session ends racing resumes, and tasks whose
 * results are fetched twice at once or raced by a cancel. The oracle counts, on
 * the client's side, the successful paid answers actually delivered; for every
 * key the ledger must charge exactly those, once each, leave nothing held, and
 * no delivered answer may be unpaid.
 */
import { env } from 'cloudflare:workers'
import { it } from 'vitest'
import { createKey, gate, mcpHeaders, putRoutes } from '../helpers'
import { bounded, checkLedger, prng, sleep, Tally } from './harness'

const PRICE = 10_000

async function useRoutes(): Promise<void> {
  await putRoutes([
    {
      path: '/m/*',
      origin: env.SCRIPTED_ORIGIN,
      mcp: { price: '0.001', tools: { search: '0.01', forever: '0.01' } },
    },
  ])
}

/** The JSON-RPC messages of an answer, JSON or SSE, and the event ids it handed out. */
async function read(
  response: Response
): Promise<{ messages: Array<Record<string, unknown>>; ids: string[] }> {
  const text = await response.text()
  if (!(response.headers.get('content-type') ?? '').includes('text/event-stream')) {
    try {
      return { messages: [JSON.parse(text) as Record<string, unknown>], ids: [] }
    } catch {
      return { messages: [], ids: [] }
    }
  }
  const messages: Array<Record<string, unknown>> = []
  const ids: string[] = []
  for (const block of text.split(/\r?\n\r?\n/)) {
    const data: string[] = []
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('id:')) ids.push(line.slice(3).trim())
      if (line.startsWith('data:')) data.push(line.slice(5).trimStart())
    }
    if (data.join('') !== '') messages.push(JSON.parse(data.join('\n')) as Record<string, unknown>)
  }
  return { messages, ids }
}

const delivered = (messages: Array<Record<string, unknown>>, id: number) =>
  messages.some(
    (m) =>
      m.id === id &&
      typeof m.result === 'object' &&
      m.result !== null &&
      Array.isArray((m.result as { content?: unknown }).content)
  )

function post(key: string, session: string, body: unknown) {
  return gate('/m/poll/mcp', {
    method: 'POST',
    headers: mcpHeaders(key, 'rel-resume', { 'mcp-session-id': session }),
    body: JSON.stringify(body),
  })
}

function resume(key: string, session: string, lastEventId: string, path = '/m/poll/mcp') {
  const headers = mcpHeaders(key, 'rel-resume', {
    accept: 'text/event-stream',
    'mcp-session-id': session,
    'last-event-id': lastEventId,
  })
  headers.delete('content-type')
  return gate(path, { headers })
}

it('resumed answers: duplicate resumes, cancellations and session ends racing them; charged exactly what was delivered', async ({
  task,
}) => {
  const tally = new Tally(task)
  await useRoutes()
  const random = prng(Number(env.FC_SEED) ^ 0x5e55)
  const keys = await Promise.all([createKey('10'), createKey('10'), createKey('10')])
  const deliveredBy = new Map<string, number>()
  const calls = Array.from({ length: 60 }, (_, index) => ({
    index,
    who: keys[index % keys.length] as (typeof keys)[number],
    action: Math.floor(random() * 6),
  }))
  await bounded(calls, 8, async ({ index, who, action }) => {
    const id = 1000 + index
    // Sessions of their own for the DELETE cases, so that an end of session releases only its own call.
    const session = action === 5 ? `rel-end-${index}` : `rel-${who.id}`
    tally.call()
    const primed = (
      await read(
        await post(who.key, session, {
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: { name: 'search', arguments: { i: index } },
        })
      )
    ).ids[0]
    if (!tally.check(primed !== undefined, `call ${index}: an event id was handed out`)) return
    const cancel = () =>
      post(who.key, session, {
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: id },
      }).then((r) => r.text())
    const end = () =>
      gate('/m/poll/mcp', {
        method: 'DELETE',
        headers: mcpHeaders(who.key, 'rel-resume', { 'mcp-session-id': session }),
      }).then((r) => r.text())
    const fetchAnswer = async () =>
      delivered((await read(await resume(who.key, session, primed as string))).messages, id)
    let got: boolean[] = []
    if (action === 0) got = [await fetchAnswer()]
    if (action === 1) got = await Promise.all([fetchAnswer(), fetchAnswer()])
    if (action === 2) {
      await cancel()
      got = [await fetchAnswer()]
      tally.check(!got[0], `call ${index}: an answer after its cancellation is not handed on`)
    }
    if (action === 3) got = (await Promise.all([fetchAnswer(), cancel()])).slice(0, 1) as boolean[]
    if (action === 4) got = [await fetchAnswer(), await fetchAnswer()]
    if (action === 5) got = (await Promise.all([fetchAnswer(), end()])).slice(0, 1) as boolean[]
    // A resume that lost its race to a cancel or an end may get nothing; one that won got the answer.
    if (action <= 1 || action === 4)
      tally.check(
        got.every(Boolean),
        `call ${index}: every resume with its hold still there hands on the answer`
      )
    if (got.some(Boolean)) deliveredBy.set(who.id, (deliveredBy.get(who.id) ?? 0) + 1)
    // What is left held (a resume that lost to nothing: never) is let go so the ledger can settle.
    if (!got.some(Boolean)) await cancel()
  })
  for (const who of keys) {
    const n = deliveredBy.get(who.id) ?? 0
    await checkLedger(
      tally,
      { id: who.id, key: who.key, name: `key ${who.id}` },
      { charges: n, charged: n * PRICE }
    )
  }
  tally.assertClean()
})

it('cut then resumed: callers who hang up after the priming event resume, racing the origin; each answer charged once', async ({
  task,
}) => {
  const tally = new Tally(task)
  await useRoutes()
  const random = prng(Number(env.FC_SEED) ^ 0xc07)
  const keys = await Promise.all([createKey('10'), createKey('10')])
  const deliveredBy = new Map<string, number>()
  const calls = Array.from({ length: 30 }, (_, index) => ({
    index,
    who: keys[index % keys.length] as (typeof keys)[number],
    cut: random() < 0.7,
  }))
  await bounded(calls, 8, async ({ index, who, cut }) => {
    const id = 2000 + index
    const session = `rel-cut-${who.id}`
    tally.call()
    const body = {
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'search', arguments: { i: index } },
    }
    const response = await gate('/m/late/mcp', {
      method: 'POST',
      headers: mcpHeaders(who.key, 'rel-cut', { 'mcp-session-id': session }),
      body: JSON.stringify(body),
    })
    let primed: string | undefined
    let got = false
    if (cut) {
      // Hang up as soon as an event id has come: the answer goes to the origin's store.
      const reader = (response.body as ReadableStream<Uint8Array>).getReader()
      let text = ''
      while (primed === undefined) {
        const next = await reader.read()
        if (next.done) break
        text += new TextDecoder().decode(next.value)
        primed = /id: (\S+)\r?\n/.exec(text)?.[1]
      }
      await reader.cancel()
    } else {
      const whole = await read(response)
      primed = whole.ids[0]
      got = delivered(whole.messages, id)
    }
    if (!tally.check(primed !== undefined, `call ${index}: an event id was handed out`)) return
    // Resume until the answer comes (a resume before the origin stored it replays nothing), then once more: a replay.
    for (let tries = 0; !got && tries < 200; tries++) {
      if (tries > 0) await sleep(25)
      got = delivered(
        (await read(await resume(who.key, session, primed as string, '/m/late/mcp'))).messages,
        id
      )
    }
    tally.check(got, `call ${index}: the answer came, on the POST or a resumed stream`)
    tally.check(
      delivered(
        (await read(await resume(who.key, session, primed as string, '/m/late/mcp'))).messages,
        id
      ),
      `call ${index}: a replay is handed on`
    )
    if (got) deliveredBy.set(who.id, (deliveredBy.get(who.id) ?? 0) + 1)
  })
  for (const who of keys) {
    const n = deliveredBy.get(who.id) ?? 0
    await checkLedger(
      tally,
      { id: who.id, key: who.key, name: `key ${who.id}` },
      { charges: n, charged: n * PRICE }
    )
  }
  tally.assertClean()
})

it('tasks: results fetched twice at once, cancels racing results; charged exactly the results delivered', async ({
  task,
}) => {
  const tally = new Tally(task)
  await useRoutes()
  const random = prng(Number(env.FC_SEED) ^ 0x7a5c)
  const keys = await Promise.all([createKey('10'), createKey('10')])
  const deliveredBy = new Map<string, number>()
  const rpc = async (
    key: string,
    session: string,
    id: number,
    method: string,
    params: Record<string, unknown>
  ) => {
    const response = await gate('/m/json/mcp', {
      method: 'POST',
      headers: mcpHeaders(key, 'rel-tasks', { 'mcp-session-id': session }),
      body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
    })
    return (await read(response)).messages[0] ?? {}
  }
  const runs = Array.from({ length: 40 }, (_, index) => ({
    index,
    who: keys[index % keys.length] as (typeof keys)[number],
    action: Math.floor(random() * 4),
  }))
  await bounded(runs, 8, async ({ index, who, action }) => {
    const session = `rel-tasks-${who.id}`
    tally.call()
    // 'forever' never ends by itself: only cancelled (actions 2 and 3 cancel).
    const tool = action >= 2 && random() < 0.5 ? 'forever' : 'search'
    const created = await rpc(who.key, session, 1, 'tools/call', {
      name: tool,
      arguments: { i: index },
      task: { ttl: 60_000 },
    })
    const taskId = (created.result as { task?: { taskId?: string } } | undefined)?.task?.taskId as
      string | undefined
    if (!tally.check(typeof taskId === 'string', `task ${index}: created`)) return
    const result = async () =>
      delivered([await rpc(who.key, session, 2, 'tasks/result', { taskId })], 2)
    const cancel = () => rpc(who.key, session, 3, 'tasks/cancel', { taskId })
    let got: boolean[] = []
    if (action === 0) got = [await result()]
    if (action === 1) got = await Promise.all([result(), result()])
    if (action === 2) {
      await cancel()
      got = [await result()]
    }
    if (action === 3) got = (await Promise.all([result(), cancel()])).slice(0, 1) as boolean[]
    if (tool === 'forever')
      tally.check(!got.some(Boolean), `task ${index}: a cancelled task's result is never delivered`)
    if (action <= 1)
      tally.check(
        got.every(Boolean),
        `task ${index}: every fetch of a finished task's result hands it on`
      )
    if (got.some(Boolean)) deliveredBy.set(who.id, (deliveredBy.get(who.id) ?? 0) + 1)
  })
  for (const who of keys) {
    const n = deliveredBy.get(who.id) ?? 0
    await checkLedger(
      tally,
      { id: who.id, key: who.key, name: `key ${who.id}` },
      { charges: n, charged: n * PRICE }
    )
  }
  tally.assertClean()
})
