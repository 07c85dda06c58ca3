import type { ChatStreamEvent } from '../../chat/api/types'
import { stopRequested } from '../../chat/hooks/use-chat'
import { fakeServer } from '../../../test/fake-server'
import { conversationStream } from './conversation-stream'

async function drain(events: AsyncIterable<ChatStreamEvent>, onEach?: () => void) {
  const seen: ChatStreamEvent[] = []
  for await (const event of events) {
    seen.push(event)
    onEach?.()
  }
  return seen
}

describe('conversationStream', () => {
  it('creates the conversation on the first turn, then sends each turn with its id', async () => {
    const server = fakeServer()
    let id: string | null = null
    const onCreated = vi.fn((c: { id: string }) => void (id = c.id))
    const stream = conversationStream({ conversationId: () => id, onCreated, onDisabled: vi.fn(), fetchImpl: server.fetch })

    const first = drain(stream([{ role: 'user', content: 'Hi' }], new AbortController().signal))
    await vi.waitFor(() => expect(server.answers).toHaveLength(1))
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

  it('does not adopt a conversation whose creation was stopped', async () => {
    const server = fakeServer()
    const onCreated = vi.fn()
    const abort = new AbortController()
    const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit) => {
      const response = await server.fetch(input, init)
      abort.abort() // Stop pressed while the conversation was being created
      return response
    }
    const stream = conversationStream({ conversationId: () => null, onCreated, onDisabled: vi.fn(), fetchImpl })

    await expect(drain(stream([{ role: 'user', content: 'Hi' }], abort.signal))).rejects.toMatchObject({ name: 'AbortError' })
    expect(onCreated).not.toHaveBeenCalled()
    expect(server.answers).toHaveLength(0)
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
})
