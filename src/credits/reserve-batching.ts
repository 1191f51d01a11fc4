/**
 * @module credits/reserve-batching
 * Group commit, from the isolate's side: while one reserve to a key's account is
 * on its way, the isolate's next reserves to that account wait, and go together
 * in one `reserveMany` when it is back. One round trip and one durable storage
 * commit then pay for the whole batch instead of one each (docs/group-commit.md).
 * A reserve with nothing on its way goes at once, so an idle key waits for no one.
 *
 * Each batch is sent by one of its own calls, from that call's request, which
 * waits for the answer itself: no request waits on I/O that another request
 * started and then finished with. A promise is resolved only by the request that
 * made it (the runtime refuses a request resolving another's). A call that waits
 * longer than `BATCH_WAIT_MS` gives up and is told the ledger is unavailable
 * (fail closed: if its hold was taken after all, it expires uncharged).
 */
import type { CreditAccount } from './account-object'
import type { ReserveAnswer, ReserveRequest, ReserveResult } from './types'

type Namespace = DurableObjectNamespace<CreditAccount>

/** The most reserves one batch carries (the rest go in the next). */
const MAX_BATCH = 32
/** How long a call waits for its batch before giving up. */
const BATCH_WAIT_MS = 10_000
/**
 * A batch on its way for longer than this no longer holds back the next one: its
 * request may have been cancelled, taking the round trip with it. Two batches on
 * their way at once are harmless (the object takes them one after the other).
 */
const SEND_STALL_MS = 1_000

type Outcome = { answer: ReserveResult } | { error: unknown }

interface Waiting {
  request: ReserveRequest
  /** queued: in no batch yet; sent: in a batch on its way. */
  state: 'queued' | 'sent'
  outcome?: Outcome
}

/** A batch on its way: `done` resolves (in its sender's request) once its outcomes are handed out. */
interface Sending {
  done: Promise<void>
}

interface Lane {
  queue: Waiting[]
  /** The batch on its way, if any. */
  sending: Sending | null
  sentAt: number
}

const lanes = new WeakMap<Namespace, Map<string, Lane>>()

/**
 * Reserve on the account object `name`, in a batch with whatever else this
 * isolate has waiting for it. Rejects as `stub.reserve` would (the RPC failed, or
 * the object threw for this request).
 */
export async function reserveBatched(
  namespace: Namespace,
  name: string,
  request: ReserveRequest
): Promise<ReserveResult> {
  let byName = lanes.get(namespace)
  if (!byName) lanes.set(namespace, (byName = new Map()))
  let lane = byName.get(name)
  if (!lane) byName.set(name, (lane = { queue: [], sending: null, sentAt: 0 }))
  const own: Waiting = { request, state: 'queued' }
  lane.queue.push(own)
  const outcome = await waitForTurn(namespace, name, byName, lane, own)
  if ('error' in outcome) throw outcome.error
  return outcome.answer
}

async function waitForTurn(
  namespace: Namespace,
  name: string,
  byName: Map<string, Lane>,
  lane: Lane,
  own: Waiting
): Promise<Outcome> {
  const deadline = Date.now() + BATCH_WAIT_MS
  for (;;) {
    if (own.outcome) return own.outcome
    if (lane.sending && Date.now() - lane.sentAt > SEND_STALL_MS) lane.sending = null
    if (own.state === 'queued' && !lane.sending) return send(namespace, name, byName, lane, own)
    const left = deadline - Date.now()
    if (left <= 0) {
      const queued = lane.queue.indexOf(own)
      if (queued >= 0) lane.queue.splice(queued, 1)
      return { error: new Error(`no answer from the account within ${BATCH_WAIT_MS} ms`) }
    }
    // The batch on its way ends when its sender says so (a promise of the sender's request, which
    // is alive while it waits for its answer), or this call's own timer ends the wait.
    let timer: ReturnType<typeof setTimeout> | undefined
    const tick = new Promise<void>(
      (resolve) => (timer = setTimeout(resolve, Math.min(left, SEND_STALL_MS)))
    )
    await (lane.sending ? Promise.race([lane.sending.done, tick]) : tick)
    if (timer !== undefined) clearTimeout(timer)
  }
}

/** Send the waiting calls (this one among them) as one batch; hand each its outcome; wake the next. */
async function send(
  namespace: Namespace,
  name: string,
  byName: Map<string, Lane>,
  lane: Lane,
  own: Waiting
): Promise<Outcome> {
  // This call first (its request is alive: it waits for the answer), then the longest waiting.
  lane.queue.splice(lane.queue.indexOf(own), 1)
  const batch = [own, ...lane.queue.splice(0, MAX_BATCH - 1)]
  for (const call of batch) call.state = 'sent'
  let finish = () => {}
  const token: Sending = { done: new Promise<void>((resolve) => (finish = resolve)) }
  lane.sending = token
  lane.sentAt = Date.now()
  let outcomes: Outcome[]
  try {
    const stub = namespace.getByName(name)
    const answers: ReserveAnswer[] =
      batch.length === 1
        ? [await stub.reserve((batch[0] as Waiting).request)]
        : await stub.reserveMany(batch.map((call) => call.request))
    outcomes = batch.map((_, index): Outcome => {
      const answer = answers[index]
      if (!answer)
        return { error: new Error('the account answered fewer reserves than it was sent') }
      return !answer.ok && answer.reason === 'reserve_failed'
        ? { error: new Error(answer.message) }
        : { answer }
    })
  } catch (error) {
    outcomes = batch.map(() => ({ error }))
  }
  if (lane.sending === token) lane.sending = null
  batch.forEach((call, index) => (call.outcome = outcomes[index] as Outcome))
  // Wakes the batch's calls and every waiting one: the first waiting whose request is still alive sends the next batch.
  finish()
  if (lane.queue.length === 0 && !lane.sending && byName.get(name) === lane) byName.delete(name)
  return own.outcome as Outcome
}
