import type { StreamEvent } from '../../chat/api/types'
import { type FakeServer, fakeServer } from '../../../test/fake-server'
import { type FollowOptions, cursorAfter, followAnswer, reconnectDelay, waitToReconnect } from './answer-stream'

/** What the reader ends up with: every event, and the answer's text put together. */
async function collect(events: AsyncIterable<StreamEvent>, onEach?: (event: StreamEvent) => void) {
  const seen: StreamEvent[] = []
  for await (const event of events) {
    seen.push(event)
    onEach?.(event)
  }
  const text = seen.map((e) => (e.type === 'token' ? e.text : '')).join('')
  const reasoning = seen.map((e) => (e.type === 'reasoning' ? e.text : '')).join('')
  return { seen, text, reasoning, types: seen.map((e) => e.type) }
}

/** A stored conversation with an answer running on the fake server, and the POST's response. */
async function running(server: FakeServer) {
  const conversation = server.seed('Running')
  const response = await server.fetch('/api/chat', { method: 'POST', body: JSON.stringify({ conversationId: conversation.id, prompt: 'Go' }) })
  return { id: conversation.id, response, answer: server.answers.at(-1)! }
}

/** No real waiting in tests: each wait is recorded and over at once. */
function options(server: FakeServer, conversationId: string, extra: Partial<FollowOptions> = {}) {
  const waits: number[] = []
  const follow: FollowOptions = {
    conversationId,
    signal: new AbortController().signal,
    fetchImpl: server.fetch,
    wait: async (ms) => void waits.push(ms),
    ...extra,
  }
  return { follow, waits }
}

const streamRequests = (server: FakeServer) =>
  server.requests.filter((r) => r.path.includes('/stream')).map((r) => r.headers.get('Last-Event-ID'))

describe('cursorAfter', () => {
  it('counts UTF-8 bytes of the text and of the reasoning, as the server does', () => {
    expect(cursorAfter('')).toBe('0.0')
    expect(cursorAfter('abc')).toBe('3.0')
    // é is 2 bytes, 中 3, 👋 4 (one code point, two UTF-16 units).
    expect(cursorAfter('Hé 中👋', 'ß')).toBe('11.2')
    expect(cursorAfter('👋'.repeat(3), '中中')).toBe('12.6')
  })
})

describe('reconnectDelay', () => {
  it('doubles from half a second up to eight seconds', () => {
    expect([1, 2, 3, 4, 5, 6, 9].map(reconnectDelay)).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000])
  })
})

describe('waitToReconnect', () => {
  afterEach(() => vi.useRealTimers())

  it('waits the delay, or less when the browser is back online', async () => {
    vi.useFakeTimers()
    const signal = new AbortController().signal
    let done = false
    void waitToReconnect(8000, signal).then(() => (done = true))
    await vi.advanceTimersByTimeAsync(7999)
    expect(done).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(done).toBe(true)

    let early = false
    void waitToReconnect(8000, signal).then(() => (early = true))
    window.dispatchEvent(new Event('online'))
    await vi.advanceTimersByTimeAsync(0)
    expect(early).toBe(true)
  })

  it('rejects with the abort reason (Stop) at once', async () => {
    const abort = new AbortController()
    const waiting = waitToReconnect(60_000, abort.signal)
    abort.abort('stop')
    await expect(waiting).rejects.toBe('stop')
  })
})

describe('followAnswer', () => {
  it('passes a whole answer on, start to done, without reconnecting', async () => {
    const server = fakeServer()
    const { id, response, answer } = await running(server)
    const { follow } = options(server, id)
    answer.token('Hi')
    answer.done()

    const { types, text } = await collect(followAnswer(response, '0.0', follow))

    expect(types).toEqual(['start', 'token', 'done'])
    expect(text).toBe('Hi')
    expect(streamRequests(server)).toEqual([])
  })

  it('reconnects after a drop with the last id as Last-Event-ID: no text twice, none lost', async () => {
    const server = fakeServer()
    const { id, response, answer } = await running(server)
    const { follow, waits } = options(server, id)
    answer.reasoning('Hmm, 中')
    answer.token('Hé ')
    answer.token('👋 ')

    const result = collect(followAnswer(response, '0.0', follow), (event) => {
      // The network drops just after the second piece of text arrived; more is written meanwhile.
      if (event.type === 'token' && event.text === '👋 ') {
        answer.drop()
        answer.token('wörld ')
        answer.reasoning(' more')
      }
      if (event.type === 'reconnected') {
        answer.token('and the rest.')
        answer.done()
      }
    })
    const { types, text, reasoning } = await result

    expect(text).toBe('Hé 👋 wörld and the rest.')
    expect(reasoning).toBe('Hmm, 中 more')
    expect(streamRequests(server)).toEqual([cursorAfter('Hé 👋 ', 'Hmm, 中')])
    expect(types).toEqual(['start', 'reasoning', 'token', 'token', 'reconnecting', 'reconnected', 'reasoning', 'token', 'token', 'done'])
    expect(waits).toEqual([500])
    // The answer the first `start` named, and no other begun since.
    const reconnect = server.requests.find((r) => r.path.includes('/stream'))!
    expect(reconnect.path).toBe(`/api/conversations/${id}/stream?message=${server.conversations[0]!.messages.at(-1)!.id}`)
  })

  it('backs off while the server cannot be reached, then goes on', async () => {
    const server = fakeServer()
    const { id, response, answer } = await running(server)
    const { follow, waits } = options(server, id, {
      wait: async (ms) => {
        waits.push(ms)
        if (waits.length === 3) server.setOffline(false)
      },
    })
    answer.token('One ')

    const { text, seen } = await collect(followAnswer(response, '0.0', follow), (event) => {
      if (event.type === 'token' && event.text === 'One ') {
        server.setOffline(true)
        answer.drop()
        answer.token('two.')
        answer.done()
      }
    })

    expect(text).toBe('One two.')
    expect(waits).toEqual([500, 1000, 2000])
    expect(seen.filter((e) => e.type === 'reconnecting')).toEqual([
      { type: 'reconnecting', attempt: 1, delayMs: 500 },
      { type: 'reconnecting', attempt: 2, delayMs: 1000 },
      { type: 'reconnecting', attempt: 3, delayMs: 2000 },
    ])
    expect(streamRequests(server)).toEqual(['4.0', '4.0', '4.0'])
  })

  it('waits no less than a refusal’s Retry-After before the next attempt', async () => {
    const server = fakeServer()
    const { id, response, answer } = await running(server)
    let refused = false
    const fetchImpl: typeof fetch = async (input, init) => {
      if (!refused && String(input).includes('/stream')) {
        refused = true
        const body = JSON.stringify({ error: { code: 'overloaded', message: 'Busy.' } })
        return new Response(body, { status: 503, headers: { 'Retry-After': '3', 'Content-Type': 'application/json' } })
      }
      return server.fetch(input, init)
    }
    const { follow, waits } = options(server, id, { fetchImpl })
    answer.token('One ')

    const { text } = await collect(followAnswer(response, '0.0', follow), (event) => {
      if (event.type === 'token' && event.text === 'One ') {
        answer.drop()
        answer.token('two.')
        answer.done()
      }
    })

    expect(text).toBe('One two.')
    expect(waits).toEqual([500, 3000])
  })

  it('gives up after a bounded number of attempts, as connection_lost', async () => {
    const server = fakeServer()
    const { id, response, answer } = await running(server)
    const { follow, waits } = options(server, id, { maxReconnects: 4 })

    const result = collect(followAnswer(response, '0.0', follow), (event) => {
      if (event.type === 'start') {
        server.setOffline(true)
        answer.drop()
      }
    })

    await expect(result).rejects.toMatchObject({ code: 'connection_lost', retryable: true })
    expect(waits).toEqual([500, 1000, 2000, 4000])
  })

  it('counts attempts afresh once new text has come through', async () => {
    const server = fakeServer()
    const { id, response, answer } = await running(server)
    const { follow, waits } = options(server, id)
    let drops = 0

    const { text } = await collect(followAnswer(response, '0.0', follow), (event) => {
      if (event.type === 'start' || (event.type === 'reconnected' && drops < 3)) {
        drops++
        answer.token(`${drops} `)
        answer.drop()
      } else if (event.type === 'reconnected') answer.done()
    })

    expect(waits).toEqual([500, 500, 500])
    // Each replayed `start` (id 0.0) leaves the cursor where the text is.
    expect(streamRequests(server)).toEqual(['2.0', '4.0', '6.0'])
    expect(text).toBe('1 2 3 ')
  })

  it('does not retry a refusal: the conversation was deleted meanwhile', async () => {
    const server = fakeServer()
    const { id, response, answer } = await running(server)
    const { follow, waits } = options(server, id)

    const result = collect(followAnswer(response, '0.0', follow), (event) => {
      if (event.type === 'start') {
        answer.drop()
        server.conversations.splice(0)
      }
    })

    await expect(result).rejects.toMatchObject({ status: 404 })
    expect(waits).toEqual([500])
  })

  it('follows from a cursor, with no response yet: a page reloaded mid-answer', async () => {
    const server = fakeServer()
    const { id, answer } = await running(server)
    answer.token('Stored ✓ ')
    const { follow } = options(server, id)

    const { text, types } = await collect(followAnswer(null, cursorAfter('Stored ✓ '), follow), (event) => {
      if (event.type === 'start') {
        answer.token('live.')
        answer.done()
      }
    })

    expect(types).toEqual(['start', 'token', 'done'])
    expect(text).toBe('live.')
    expect(streamRequests(server)).toEqual(['11.0'])
  })

  it('replays the rest of an answer that ended meanwhile, from the store', async () => {
    const server = fakeServer()
    const { id, answer } = await running(server)
    answer.token('Begun, ')
    answer.token('and ended.')
    answer.done()
    const { follow } = options(server, id)

    const { text, types } = await collect(followAnswer(null, cursorAfter('Begun, '), follow))

    expect(types).toEqual(['start', 'token', 'done'])
    expect(text).toBe('and ended.')
  })

  it('stops waiting to reconnect when aborted', async () => {
    const server = fakeServer()
    const { id, response, answer } = await running(server)
    const abort = new AbortController()
    const { follow } = options(server, id, { signal: abort.signal, wait: waitToReconnect })

    const result = collect(followAnswer(response, '0.0', follow), (event) => {
      if (event.type === 'start') answer.drop()
      if (event.type === 'reconnecting') abort.abort('left')
    })

    await expect(result).rejects.toBe('left')
    expect(streamRequests(server)).toEqual([])
  })
})
