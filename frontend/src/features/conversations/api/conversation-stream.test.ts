import type { StreamEvent } from '../../chat/api/types'
import { notSent, stopRequested } from '../../chat/hooks/use-chat'
import { fakeServer } from '../../../test/fake-server'
import { cursorAfter, waitToReconnect } from './answer-stream'
import { PendingStops, conversationResume, conversationStream } from './conversation-stream'

async function drain(events: AsyncIterable<StreamEvent>, onEach?: (event: StreamEvent) => void) {
  const seen: StreamEvent[] = []
  for await (const event of events) {
    seen.push(event)
    onEach?.(event)
  }
  return seen
}

describe('conversationStream', () => {
  it('creates the conversation on the first turn, then sends each turn with its id', async () => {
    const server = fakeServer()
    let id: string | null = null
    const onCreated = vi.fn((c: { id: string }) => void (id = c.id))
    const onTitled = vi.fn()
    const stream = conversationStream({ conversationId: () => id, onCreated, onTitled, onDisabled: vi.fn(), fetchImpl: server.fetch })

    const first = drain(stream([{ role: 'user', content: 'Hi' }], new AbortController().signal))
    await vi.waitFor(() => expect(server.answers).toHaveLength(1))
    await vi.waitFor(() => expect(onTitled).toHaveBeenCalledOnce(), { timeout: 1000 })
    server.answers[0]!.done()
    const events = await first

    expect(events.map((e) => e.type)).toEqual(['start', 'done'])
    expect(events[0]).toEqual({ type: 'start', info: { conversationId: 'c1', messageId: expect.any(String) } })
    expect(onCreated).toHaveBeenCalledWith(expect.objectContaining({ id: 'c1' }))

    const second = drain(stream([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Yo' }, { role: 'user', content: 'Again' }], new AbortController().signal))
    await vi.waitFor(() => expect(server.answers).toHaveLength(2))
    server.answers[1]!.done()
    await second

    expect(server.answers.map((a) => a.body)).toEqual([
      { conversationId: 'c1', prompt: 'Hi' },
      { conversationId: 'c1', prompt: 'Again' },
    ])
    expect(onCreated).toHaveBeenCalledOnce()
    expect(onTitled).toHaveBeenCalledOnce()
  })

  it('sends the whole history the stateless way where the server keeps no conversations', async () => {
    const server = fakeServer({ disabled: true })
    const onDisabled = vi.fn()
    const stream = conversationStream({ conversationId: () => null, onCreated: vi.fn(), onDisabled, fetchImpl: server.fetch })

    const run = drain(stream([{ role: 'user', content: 'Hi' }], new AbortController().signal))
    await vi.waitFor(() => expect(server.answers).toHaveLength(1))
    server.answers[0]!.done()
    await run

    expect(onDisabled).toHaveBeenCalledOnce()
    expect(server.answers[0]!.body).toEqual({ messages: [{ role: 'user', content: 'Hi' }] })
  })

  it('does not adopt a conversation whose creation was stopped, and gives it up', async () => {
    const server = fakeServer()
    const onCreated = vi.fn()
    const onAbandoned = vi.fn()
    const abort = new AbortController()
    const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit) => {
      const response = await server.fetch(input, init)
      abort.abort() // Stop pressed while the conversation was being created
      return response
    }
    const stream = conversationStream({ conversationId: () => null, onCreated, onAbandoned, onDisabled: vi.fn(), fetchImpl })

    await expect(drain(stream([{ role: 'user', content: 'Hi' }], abort.signal))).rejects.toBe(notSent)
    expect(onCreated).not.toHaveBeenCalled()
    // Once the conversation exists, it goes again.
    await vi.waitFor(() => expect(onAbandoned).toHaveBeenCalledWith('c1'))
    expect(server.answers).toHaveLength(0)
  })

  it('ends a turn stopped while its conversation is being created at once, not when it exists', async () => {
    const server = fakeServer()
    const onAbandoned = vi.fn()
    // The database is slow to create it.
    let created!: () => void
    const slow = new Promise<void>((resolve) => (created = resolve))
    const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit) => {
      await slow
      return server.fetch(input, init)
    }
    const abort = new AbortController()
    const stream = conversationStream({ conversationId: () => null, onCreated: vi.fn(), onAbandoned, onDisabled: vi.fn(), fetchImpl })

    const turn = drain(stream([{ role: 'user', content: 'Hi' }], abort.signal))
    abort.abort(stopRequested)

    await expect(turn).rejects.toBe(notSent)
    expect(onAbandoned).not.toHaveBeenCalled()
    created()
    await vi.waitFor(() => expect(onAbandoned).toHaveBeenCalledWith('c1'))
  })

  it('passes other refusals on, for the error banner', async () => {
    const server = fakeServer()
    const stream = conversationStream({ conversationId: () => 'nope', onCreated: vi.fn(), onDisabled: vi.fn(), fetchImpl: server.fetch })

    await expect(drain(stream([{ role: 'user', content: 'Hi' }], new AbortController().signal))).rejects.toMatchObject({
      status: 404,
      code: 'not_found',
    })
  })

  it('on Stop asks the server to stop the answer; a reader who leaves lets it go on', async () => {
    const server = fakeServer()
    const first = server.seed('Stopped here')
    const second = server.seed('Left running')
    const run = async (id: string, reason?: unknown) => {
      const abort = new AbortController()
      const stream = conversationStream({ conversationId: () => id, onCreated: vi.fn(), onDisabled: vi.fn(), fetchImpl: server.fetch })
      const events = drain(stream([{ role: 'user', content: 'Go' }], abort.signal))
      await vi.waitFor(() => expect(server.answers.at(-1)?.body).toMatchObject({ conversationId: id }))
      server.answers.at(-1)!.token('Part')
      abort.abort(reason)
      await expect(events).rejects.toBeDefined()
    }

    await run(first.id, stopRequested)
    await run(second.id)

    const stops = server.requests.filter((r) => r.path.endsWith('/stop')).map((r) => [r.method, r.path])
    expect(stops).toEqual([['POST', `/api/conversations/${first.id}/stop`]])
    expect(first.messages.at(-1)).toMatchObject({ content: 'Part', status: 'stopped' })
    expect(second.messages.at(-1)).toMatchObject({ content: 'Part', status: 'streaming' })
  })

  it('ends a stopped turn once the server has answered the Stop, and sends a turn asked meanwhile only then', async () => {
    let answerStop!: () => void
    const server = fakeServer({ stopGate: new Promise<void>((resolve) => (answerStop = resolve)) })
    const conversation = server.seed('Busy')
    const stream = conversationStream({ conversationId: () => conversation.id, onCreated: vi.fn(), onDisabled: vi.fn(), fetchImpl: server.fetch })
    const abort = new AbortController()
    const first = drain(stream([{ role: 'user', content: 'Go' }], abort.signal))
    let firstEnded = false
    first.catch(() => {}).finally(() => (firstEnded = true))
    await vi.waitFor(() => expect(server.answers).toHaveLength(1))
    server.answers[0]!.token('Part')
    abort.abort(stopRequested)

    const next = drain(stream([{ role: 'user', content: 'Next' }], new AbortController().signal))
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(firstEnded, 'the stopped turn waits for the Stop').toBe(false)
    expect(server.answers, 'so does the next').toHaveLength(1)
    answerStop()
    await expect(first).rejects.toBeDefined()
    await vi.waitFor(() => expect(server.answers).toHaveLength(2))
    server.answers[1]!.done()

    expect((await next).map((e) => e.type)).toEqual(['start', 'done'])
    expect(conversation.messages.at(-3)).toMatchObject({ content: 'Part', status: 'stopped' })
  })

  it('ends a turn whose Stop the server could not deliver with that error, the answer going on there', async () => {
    let refuseStop = true
    const server = fakeServer({ stopUndelivered: () => refuseStop })
    const conversation = server.seed('Elsewhere')
    const stream = conversationStream({ conversationId: () => conversation.id, onCreated: vi.fn(), onDisabled: vi.fn(), fetchImpl: server.fetch })
    const abort = new AbortController()
    const events = drain(stream([{ role: 'user', content: 'Go' }], abort.signal))
    await vi.waitFor(() => expect(server.answers).toHaveLength(1))
    server.answers[0]!.token('Part')
    abort.abort(stopRequested)

    await expect(events).rejects.toMatchObject({ code: 'stop_unavailable', status: 503, retryable: true })
    expect(conversation.messages.at(-1)).toMatchObject({ status: 'streaming' })

    // A Stop the server does not answer in time: said so too.
    const silent = fakeServer({ stopGate: new Promise(() => {}) })
    const hanging = silent.seed('Hanging')
    const slowStop = new AbortController()
    const stops = new PendingStops(50)
    const answering = drain(
      conversationStream({ conversationId: () => hanging.id, onCreated: vi.fn(), onDisabled: vi.fn(), fetchImpl: silent.fetch, stops })([{ role: 'user', content: 'Go' }], slowStop.signal),
    )
    await vi.waitFor(() => expect(silent.answers).toHaveLength(1))
    slowStop.abort(stopRequested)
    await expect(answering).rejects.toMatchObject({ code: 'stop_unavailable', message: expect.stringMatching(/did not answer the Stop in time/) })

    // No server reached: said so, in the same words.
    refuseStop = false
    const again = new AbortController()
    const resumed = drain(conversationResume({ conversationId: () => conversation.id, fetchImpl: server.fetch })({ id: 'a', content: 'Part', reasoning: '', stored: false }, again.signal))
    await vi.waitFor(() => expect(server.answers[0]!.followers()).toBe(1))
    server.setOffline(true)
    again.abort(stopRequested)
    await expect(resumed).rejects.toMatchObject({ code: 'stop_unavailable', message: expect.stringMatching(/^The Stop did not reach the server/) })
  })

  it('follows the answer again after a drop, and Stop while reconnecting stops it on the server', async () => {
    const server = fakeServer()
    const conversation = server.seed('Dropped')
    const abort = new AbortController()
    const stream = conversationStream({
      conversationId: () => conversation.id,
      onCreated: vi.fn(),
      onDisabled: vi.fn(),
      fetchImpl: server.fetch,
      // A long wait, that Stop cuts short.
      follow: { wait: (_ms, signal) => waitToReconnect(60_000, signal) },
    })
    const seen: StreamEvent[] = []

    const events = drain(stream([{ role: 'user', content: 'Go' }], abort.signal), (event) => seen.push(event))
    await vi.waitFor(() => expect(server.answers).toHaveLength(1))
    server.answers[0]!.token('Part')
    server.answers[0]!.drop()
    await vi.waitFor(() => expect(seen.at(-1)?.type).toBe('reconnecting'))
    abort.abort(stopRequested)

    await expect(events).rejects.toBe(stopRequested)
    await vi.waitFor(() => expect(conversation.messages.at(-1)).toMatchObject({ status: 'stopped' }))
    expect(server.requests.filter((r) => r.path.endsWith('/stop'))).toHaveLength(1)
  })

  it('shows a failure the server kept before refusing, as a reload would show it', async () => {
    const server = fakeServer()
    const conversation = server.seed('Refused')
    const stream = conversationStream({ conversationId: () => conversation.id, onCreated: vi.fn(), onDisabled: vi.fn(), fetchImpl: server.fetch })
    const seen: StreamEvent[] = []
    const run = async () => {
      for await (const event of stream([{ role: 'user', content: 'Hi' }], new AbortController().signal)) seen.push(event)
    }

    server.refuseNextChat({ status: 502, code: 'access_denied', stored: true })
    await run()
    expect(seen).toEqual([
      { type: 'start', info: { conversationId: conversation.id, messageId: conversation.messages.at(-1)!.id } },
      { type: 'error', error: expect.objectContaining({ code: 'access_denied' }) },
    ])

    seen.length = 0
    server.refuseNextChat({ status: 429, code: 'rate_limited' })
    await expect(run()).rejects.toMatchObject({ status: 429 })
    expect(seen, 'nothing kept this time: the failed answer of the turn before is not this one').toEqual([])
  })
})

describe('conversationStream refused before storing', () => {
  it('gives up the conversation it created for a first turn refused before anything was stored', async () => {
    const server = fakeServer()
    let id: string | null = null
    const onAbandoned = vi.fn()
    const stream = conversationStream({ conversationId: () => id, onCreated: (c) => void (id = c.id), onAbandoned, onDisabled: vi.fn(), fetchImpl: server.fetch })
    const send = () => drain(stream([{ role: 'user', content: 'Far too long' }], new AbortController().signal))

    server.refuseNextChat({ status: 400, code: 'invalid_request' })
    await expect(send()).rejects.toMatchObject({ status: 400 })
    expect(onAbandoned).toHaveBeenCalledWith('c1')

    onAbandoned.mockClear()
    server.refuseNextChat({ status: 400, code: 'invalid_request' })
    await expect(send()).rejects.toMatchObject({ status: 400 })
    expect(onAbandoned, 'a conversation this send did not create stays').not.toHaveBeenCalled()
  })
})

describe('conversationResume', () => {
  it('follows the running answer from the text the page has, and Stop stops it on the server', async () => {
    const server = fakeServer()
    const conversation = server.seed('Running')
    await server.fetch('/api/chat', { method: 'POST', body: JSON.stringify({ conversationId: conversation.id, prompt: 'Go' }) })
    const answer = server.answers[0]!
    answer.reasoning('思考')
    answer.token('Grüße 👋 ')
    const abort = new AbortController()
    const resume = conversationResume({ conversationId: () => conversation.id, fetchImpl: server.fetch })

    const stored = conversation.messages.at(-1)!
    const events = drain(resume({ id: stored.id, stored: true, content: 'Grüße 👋 ', reasoning: '思考' }, abort.signal))
    await vi.waitFor(() => expect(answer.followers()).toBe(2))
    answer.token('more')
    await new Promise((resolve) => setTimeout(resolve, 10))
    abort.abort(stopRequested)

    await expect(events).rejects.toMatchObject({ name: 'AbortError' })
    const follow = server.requests.find((r) => r.path.includes('/stream'))!
    expect(follow.headers.get('Last-Event-ID')).toBe(cursorAfter('Grüße 👋 ', '思考'))
    expect(follow.path, 'that answer, not one begun since').toBe(`/api/conversations/${conversation.id}/stream?message=${stored.id}`)
    expect(follow.headers.get('Last-Event-ID')).toBe('13.6')
    expect(conversation.messages.at(-1)).toMatchObject({ content: 'Grüße 👋 more', status: 'stopped' })
  })
})
