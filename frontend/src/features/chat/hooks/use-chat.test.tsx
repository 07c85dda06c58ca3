import { act, renderHook, waitFor } from '@testing-library/react'

import { controlledStream, doneEvent } from '../../../test/controlled-stream'
import { ChatError } from '../api/chat-error'
import { type UiMessage, isNewer } from './chat-state'
import { type ChatOptions, type StreamChat, notSent, stopRequested, useChat } from './use-chat'

function setup(options?: ChatOptions & { resumable?: boolean }) {
  const transport = controlledStream()
  const { resumable, ...rest } = options ?? {}
  const hook = renderHook(() => useChat(transport.stream, { ...rest, resume: resumable ? transport.resume : undefined }))
  return { ...transport, hook, chat: () => hook.result.current }
}

const stored = (id: string, role: 'user' | 'assistant', content: string, state: UiMessage['state'] = 'complete'): UiMessage => ({
  id,
  role,
  content,
  reasoning: '',
  state,
  stored: true,
})

const start = { type: 'start', info: { conversationId: 'c1', messageId: 'a1' } } as const

describe('useChat', () => {
  it('goes submitted → streaming → ready and keeps the answer', async () => {
    const { calls, chat } = setup()

    act(() => chat().send('Hi'))
    expect(chat().status).toBe('submitted')
    expect(chat().messages.map((m) => m.role)).toEqual(['user', 'assistant'])

    act(() => calls[0]!.push({ type: 'token', text: 'Hel' }, { type: 'token', text: 'lo' }))
    await waitFor(() => expect(chat().status).toBe('streaming'))
    await waitFor(() => expect(chat().messages[1]!.content).toBe('Hello'))

    act(() => calls[0]!.push(doneEvent))
    await waitFor(() => expect(chat().status).toBe('ready'))
    expect(chat().messages[1]).toMatchObject({ content: 'Hello', state: 'complete', info: { model: 'test-model' } })
  })

  it('sends the whole conversation on the second turn', async () => {
    const { calls, chat } = setup()
    act(() => chat().send('First'))
    act(() => calls[0]!.push({ type: 'token', text: 'One' }, doneEvent))
    await waitFor(() => expect(chat().status).toBe('ready'))

    act(() => chat().send('Second'))

    expect(calls[1]!.history).toEqual([
      { role: 'user', content: 'First' },
      { role: 'assistant', content: 'One' },
      { role: 'user', content: 'Second' },
    ])
  })

  it('an in-stream error keeps the partial answer and sets the error', async () => {
    const { calls, chat } = setup()
    act(() => chat().send('Hi'))

    act(() => calls[0]!.push({ type: 'token', text: 'Part' }, { type: 'error', error: { code: 'stream_interrupted', message: 'cut' } }))

    await waitFor(() => expect(chat().status).toBe('error'))
    expect(chat().error).toMatchObject({ code: 'stream_interrupted', message: 'cut' })
    expect(chat().messages[1]).toMatchObject({ content: 'Part', state: 'failed' })
  })

  it('an HTTP error before the stream sets the error', async () => {
    const { calls, chat } = setup()
    act(() => chat().send('Hi'))

    act(() => calls[0]!.fail(new ChatError({ code: 'access_denied', message: 'Check IAM.' }, 502)))

    await waitFor(() => expect(chat().status).toBe('error'))
    expect(chat().error).toMatchObject({ code: 'access_denied', status: 502 })
  })

  it('stop aborts the request and keeps the partial answer', async () => {
    const { calls, chat } = setup()
    act(() => chat().send('Hi'))
    act(() => calls[0]!.push({ type: 'token', text: 'Partial' }))
    await waitFor(() => expect(chat().messages[1]!.content).toBe('Partial'))

    act(() => chat().stop())

    expect(calls[0]!.signal.aborted).toBe(true)
    expect(calls[0]!.signal.reason).toBe(stopRequested)
    await waitFor(() => expect(chat().status).toBe('ready'))
    expect(chat().messages[1]).toMatchObject({ content: 'Partial', state: 'stopped' })
    expect(chat().error).toBeNull()
  })

  it('gives the question back to the box when the turn was stopped before it left the page', async () => {
    // A transport still creating the conversation when Stop came: it sent nothing.
    const stream: StreamChat = (_history, signal) => ({
      [Symbol.asyncIterator]: () => ({
        next: () => new Promise((_, reject) => signal.addEventListener('abort', () => reject(notSent))),
      }),
    })
    const hook = renderHook(() => useChat(stream))

    act(() => hook.result.current.send('Never mind'))
    act(() => hook.result.current.stop())

    await waitFor(() => expect(hook.result.current.returned?.content).toBe('Never mind'))
    expect(hook.result.current.messages).toEqual([])
    expect(hook.result.current.status).toBe('ready')
  })

  it('keeps a question the server got, marked stopped, when Stop came before the first word', async () => {
    const { calls, chat } = setup()
    act(() => chat().send('Hi'))

    act(() => chat().stop())

    await waitFor(() => expect(chat().status).toBe('ready'))
    expect(calls[0]!.signal.aborted).toBe(true)
    expect(chat().messages.map((m) => [m.role, m.state])).toEqual([
      ['user', 'complete'],
      ['assistant', 'stopped'],
    ])
    expect(chat().returned).toBeNull()
  })

  it('a stopped frame (Stop from elsewhere) ends the answer as stopped', async () => {
    const { calls, chat } = setup()
    act(() => chat().send('Hi'))

    act(() => calls[0]!.push({ type: 'token', text: 'Part' }, { type: 'stopped' }))

    await waitFor(() => expect(chat().status).toBe('ready'))
    expect(chat().messages[1]).toMatchObject({ content: 'Part', state: 'stopped' })
  })

  it('retry asks again from the last user turn', async () => {
    const { calls, chat } = setup()
    act(() => chat().send('Hi'))
    act(() => calls[0]!.fail(new ChatError({ code: 'throttled', message: 'slow' }, 429)))
    await waitFor(() => expect(chat().status).toBe('error'))

    act(() => chat().retry())

    expect(chat().status).toBe('submitted')
    expect(calls[1]!.history).toEqual([{ role: 'user', content: 'Hi' }])
    expect(chat().messages).toHaveLength(2)
  })

  it('newChat clears the conversation and ignores blank input', async () => {
    const { chat } = setup()
    act(() => chat().send('   '))
    expect(chat().messages).toHaveLength(0)
    act(() => chat().send('Hi'))

    act(() => chat().newChat())

    await waitFor(() => expect(chat().messages).toHaveLength(0))
    expect(chat().status).toBe('ready')
  })

  it('starts from the messages given, and carries them into the next turn', () => {
    const stored: UiMessage[] = [
      { id: 's1', role: 'user', content: 'Earlier', reasoning: '', state: 'complete', stored: true },
      { id: 's2', role: 'assistant', content: 'Half', reasoning: '', state: 'stopped', stored: true },
    ]
    const { calls, chat } = setup({ initialMessages: stored })
    expect(chat().messages).toBe(stored)

    act(() => chat().send('Now'))

    expect(calls[0]!.history.map((m) => m.content)).toEqual(['Earlier', 'Half', 'Now'])
  })

  it('calls onSettled when an answer ends, however it ends', async () => {
    const onSettled = vi.fn()
    const { calls, chat } = setup({ onSettled })
    act(() => chat().send('One'))
    act(() => calls[0]!.push(doneEvent))
    await waitFor(() => expect(onSettled).toHaveBeenCalledTimes(1))

    act(() => chat().send('Two'))
    act(() => chat().stop())

    await waitFor(() => expect(onSettled).toHaveBeenCalledTimes(2))
  })

  it('a stored answer that failed stays, and retry asks the question again after it', async () => {
    const { calls, chat } = setup()
    act(() => chat().send('Hi'))
    act(() => calls[0]!.push({ type: 'start', info: { conversationId: 'c1', messageId: 'a1' } }, { type: 'token', text: 'Pa' }))
    act(() => calls[0]!.push({ type: 'error', error: { code: 'throttled', message: 'slow' } }))
    await waitFor(() => expect(chat().status).toBe('error'))
    expect(chat().messages[1]).toMatchObject({ content: 'Pa', state: 'failed', errorCode: 'throttled', stored: true })

    act(() => chat().retry())

    expect(chat().messages.map((m) => [m.role, m.content, m.state])).toEqual([
      ['user', 'Hi', 'complete'],
      ['assistant', 'Pa', 'failed'],
      ['user', 'Hi', 'complete'],
      ['assistant', '', 'streaming'],
    ])
    expect(calls[1]!.history.at(-1)).toEqual({ role: 'user', content: 'Hi' })
  })

  it('a stored answer that failed before its first word makes way for the retry, as on the server', async () => {
    const { calls, chat } = setup()
    act(() => chat().send('Hi'))
    act(() => calls[0]!.push(start, { type: 'error', error: { code: 'throttled', message: 'slow' } }))
    await waitFor(() => expect(chat().status).toBe('error'))

    act(() => chat().retry())

    expect(chat().messages.map((m) => [m.role, m.content, m.state])).toEqual([
      ['user', 'Hi', 'complete'],
      ['assistant', '', 'streaming'],
    ])
    expect(calls[1]!.history).toEqual([{ role: 'user', content: 'Hi' }])
  })

  it('sending the same question after its stored answer came to nothing is a retry', async () => {
    const { calls, chat } = setup()
    act(() => chat().send('Hi'))
    act(() => calls[0]!.push(start))
    await waitFor(() => expect(chat().messages[1]!.stored).toBe(true))
    act(() => chat().stop())
    await waitFor(() => expect(chat().status).toBe('ready'))

    act(() => chat().send('Hi'))

    expect(chat().messages.map((m) => [m.role, m.content, m.state])).toEqual([
      ['user', 'Hi', 'complete'],
      ['assistant', '', 'streaming'],
    ])
    expect(calls[1]!.history).toEqual([{ role: 'user', content: 'Hi' }])
  })

  it('says it is reconnecting after a drop, stays busy, and goes on with the same answer', async () => {
    const { calls, chat } = setup()
    act(() => chat().send('Hi'))
    act(() => calls[0]!.push(start, { type: 'token', text: 'Hel' }))
    await waitFor(() => expect(chat().messages[1]!.content).toBe('Hel'))

    act(() => calls[0]!.push({ type: 'reconnecting', attempt: 1, delayMs: 500 }))
    await waitFor(() => expect(chat().reconnecting).toBe(true))
    expect(chat()).toMatchObject({ busy: true, status: 'streaming', error: null })
    expect(chat().messages[1]!.state).toBe('streaming')

    act(() => calls[0]!.push({ type: 'reconnected' }, { type: 'token', text: 'lo' }, doneEvent))
    await waitFor(() => expect(chat().status).toBe('ready'))
    expect(chat().reconnecting).toBe(false)
    expect(chat().messages[1]).toMatchObject({ content: 'Hello', state: 'complete' })
  })

  it('a failure while reconnecting ends it, and Stop while reconnecting stops the answer', async () => {
    const { calls, chat } = setup()
    act(() => chat().send('One'))
    act(() => calls[0]!.push(start, { type: 'reconnecting', attempt: 1, delayMs: 500 }))
    await waitFor(() => expect(chat().reconnecting).toBe(true))
    act(() => calls[0]!.fail(new ChatError({ code: 'connection_lost', message: 'Lost.' })))
    await waitFor(() => expect(chat().status).toBe('error'))
    expect(chat().reconnecting).toBe(false)

    act(() => chat().send('Two'))
    act(() => calls[1]!.push(start, { type: 'reconnecting', attempt: 1, delayMs: 500 }))
    await waitFor(() => expect(chat().reconnecting).toBe(true))
    act(() => chat().stop())

    await waitFor(() => expect(chat().status).toBe('ready'))
    expect(calls[1]!.signal.reason).toBe(stopRequested)
    expect(chat().reconnecting).toBe(false)
    expect(chat().messages.at(-1)!.state).toBe('stopped')
  })

  it('follows an answer the server is still writing from its stored text, on mount', async () => {
    const initialMessages = [stored('u1', 'user', 'Tell me'), stored('a1', 'assistant', 'Once upon', 'pending')]
    const onSettled = vi.fn()
    const { calls, chat } = setup({ initialMessages, onSettled, resumable: true })

    // Streaming from the first render: no "in progress" note, Stop at once.
    expect(chat()).toMatchObject({ status: 'streaming', busy: true })
    expect(chat().messages[1]).toMatchObject({ content: 'Once upon', state: 'streaming' })
    await waitFor(() => expect(calls).toHaveLength(1))
    expect(calls[0]!.answer).toEqual(initialMessages[1])

    act(() => calls[0]!.push(start, { type: 'token', text: ' a time.' }, doneEvent))

    await waitFor(() => expect(chat().status).toBe('ready'))
    expect(chat().messages[1]).toMatchObject({ content: 'Once upon a time.', state: 'complete', info: { model: 'test-model' } })
    expect(onSettled).toHaveBeenCalledOnce()
  })

  it('follows nothing when the last answer is finished, or when it cannot be followed', () => {
    const finished = setup({ initialMessages: [stored('u1', 'user', 'Q'), stored('a1', 'assistant', 'A')], resumable: true })
    const unfollowable = setup({ initialMessages: [stored('u1', 'user', 'Q'), stored('a1', 'assistant', 'A', 'pending')] })

    expect(finished.calls).toHaveLength(0)
    expect(finished.chat().status).toBe('ready')
    expect(unfollowable.calls).toHaveLength(0)
    expect(unfollowable.chat().messages[1]!.state).toBe('pending')
  })

  it('stops a followed answer with Stop', async () => {
    const { calls, chat } = setup({ initialMessages: [stored('u1', 'user', 'Q'), stored('a1', 'assistant', 'Par', 'pending')], resumable: true })
    await waitFor(() => expect(calls).toHaveLength(1))

    act(() => chat().stop())

    expect(calls[0]!.signal.reason).toBe(stopRequested)
    await waitFor(() => expect(chat().status).toBe('ready'))
    expect(chat().messages[1]).toMatchObject({ content: 'Par', state: 'stopped' })
  })

  it('closes the followed answer on unmount without a word more', async () => {
    const { calls, hook } = setup({ initialMessages: [stored('u1', 'user', 'Q'), stored('a1', 'assistant', 'Par', 'pending')], resumable: true })
    await waitFor(() => expect(calls).toHaveLength(1))

    hook.unmount()

    expect(calls[0]!.signal.aborted).toBe(true)
    expect(calls[0]!.signal.reason).not.toBe(stopRequested)
  })

  it('retry after the connection was lost follows the answer again instead of asking again', async () => {
    const { calls, chat } = setup({ resumable: true })
    act(() => chat().send('Hi'))
    act(() => calls[0]!.push(start, { type: 'token', text: 'Hal' }))
    await waitFor(() => expect(chat().messages[1]!.content).toBe('Hal'))
    act(() => calls[0]!.fail(new ChatError({ code: 'connection_lost', message: 'Lost.' })))
    await waitFor(() => expect(chat().status).toBe('error'))

    act(() => chat().retry())

    expect(chat()).toMatchObject({ status: 'streaming', error: null })
    expect(chat().messages).toHaveLength(2)
    expect(chat().messages[1]).toMatchObject({ content: 'Hal', state: 'streaming', errorCode: undefined })
    expect(calls[1]).toMatchObject({ history: [], answer: { content: 'Hal', reasoning: '' } })
    act(() => calls[1]!.push(start, { type: 'token', text: 'f done.' }, doneEvent))
    await waitFor(() => expect(chat().status).toBe('ready'))
    expect(chat().messages[1]).toMatchObject({ content: 'Half done.', state: 'complete' })
  })

  it('retry after following the answer was refused (a key gone stale) follows it again, never asks again', async () => {
    const { calls, chat } = setup({ resumable: true })
    act(() => chat().send('Hi'))
    act(() => calls[0]!.push(start, { type: 'token', text: 'Hal' }))
    await waitFor(() => expect(chat().messages[1]!.content).toBe('Hal'))
    act(() => calls[0]!.fail(new ChatError({ code: 'unauthorized', message: 'Key?' }, 401)))
    await waitFor(() => expect(chat().status).toBe('error'))
    expect(chat().returned, 'the question was stored: it stays').toBeNull()

    act(() => chat().retry())

    expect(chat().messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'Hi'],
      ['assistant', 'Hal'],
    ])
    expect(calls[1]).toMatchObject({ history: [], answer: { content: 'Hal', reasoning: '' } })
  })

  it('an answer that failed before it began (a refused turn) is asked again on retry', async () => {
    const { calls, chat } = setup({ resumable: true })
    act(() => chat().send('Hi'))
    act(() => calls[0]!.fail(new ChatError({ code: 'overloaded', message: 'Busy.' }, 503)))
    await waitFor(() => expect(chat().status).toBe('error'))

    act(() => chat().retry())

    expect(calls[1]!.history).toEqual([{ role: 'user', content: 'Hi' }])
  })

  describe('how long the model thought', () => {
    beforeEach(() => vi.useFakeTimers({ toFake: ['performance'] }))
    afterEach(() => vi.useRealTimers())

    it('is measured from the first reasoning to the first answer text, for an answer sent here', async () => {
      const { calls, chat } = setup()
      act(() => chat().send('Why?', { model: 'thinker', reasoning: 'low' }))
      expect(calls[0]!.choice).toEqual({ model: 'thinker', reasoning: 'low' })

      await act(async () => calls[0]!.push({ type: 'reasoning', text: 'Hmm' }))
      vi.advanceTimersByTime(1_500)
      await act(async () => calls[0]!.push({ type: 'reasoning', text: '…' }))
      vi.advanceTimersByTime(500)
      await act(async () => calls[0]!.push({ type: 'token', text: 'Because.' }))
      vi.advanceTimersByTime(4_000)
      await act(async () => calls[0]!.push({ type: 'token', text: ' Done.' }, doneEvent))

      await waitFor(() => expect(chat().status).toBe('ready'))
      expect(chat().messages[1]).toMatchObject({ reasoning: 'Hmm…', content: 'Because. Done.', thinkingMs: 2_000 })
    })

    it('is unknown for an answer followed after a reload, which began elsewhere', async () => {
      const pending = { ...stored('a1', 'assistant', '', 'pending'), reasoning: 'Earlier thoughts' }
      const { calls, chat } = setup({ initialMessages: [stored('u1', 'user', 'Q'), pending], resumable: true })
      await waitFor(() => expect(calls).toHaveLength(1))

      await act(async () => calls[0]!.push({ type: 'reasoning', text: ' and more' }))
      vi.advanceTimersByTime(1_000)
      await act(async () => calls[0]!.push({ type: 'token', text: 'Answer' }, doneEvent))

      await waitFor(() => expect(chat().status).toBe('ready'))
      expect(chat().messages[1]).toMatchObject({ reasoning: 'Earlier thoughts and more', content: 'Answer' })
      expect(chat().messages[1]!.thinkingMs).toBeUndefined()
    })
  })

  describe('sync: the conversation changed elsewhere', () => {
    const asked = [stored('u1', 'user', 'First'), stored('a1', 'assistant', 'One.')]
    /** The server's copy, read just now. */
    const read = (messages: UiMessage[]) => ({ messages, readAt: performance.now() })

    it('shows a newer copy and follows the answer the server is still writing', async () => {
      const { calls, chat } = setup({ initialMessages: asked, resumable: true })
      const latest = [...asked, stored('u2', 'user', 'Second'), stored('a2', 'assistant', 'Tw', 'pending')]

      act(() => chat().sync(read(latest)))

      expect(chat().messages.map((m) => m.content)).toEqual(['First', 'One.', 'Second', 'Tw'])
      expect(chat().busy).toBe(true)
      expect(calls[0]!.answer).toMatchObject({ content: 'Tw' })
      act(() => calls[0]!.push({ type: 'token', text: 'o.' }, doneEvent))
      await waitFor(() => expect(chat().status).toBe('ready'))
      expect(chat().messages[3]).toMatchObject({ content: 'Two.', state: 'complete' })
    })

    it('leaves a page that is writing its own answer as it is', () => {
      const { chat } = setup({ initialMessages: asked, resumable: true })
      act(() => chat().send('Mine'))

      act(() => chat().sync(read([...asked, stored('u2', 'user', 'Theirs'), stored('a2', 'assistant', 'Done.')])))

      expect(chat().messages.map((m) => m.content)).toEqual(['First', 'One.', 'Mine', ''])
    })

    it('takes no read begun before its own answer ended, which may lack its end', async () => {
      const { calls, chat } = setup({ initialMessages: asked, resumable: true })
      act(() => chat().send('Mine'))
      const begun = performance.now()
      act(() => calls[0]!.push({ type: 'token', text: 'All of it.' }, doneEvent))
      await waitFor(() => expect(chat().status).toBe('ready'))
      // As the store had it mid-answer: its text flushed in part, its end not yet written.
      const midAnswer = [...asked, stored('u2', 'user', 'Mine'), stored('a2', 'assistant', 'All', 'pending'), stored('u3', 'user', 'x')]

      act(() => chat().sync({ messages: midAnswer, readAt: begun }))

      expect(chat().messages.map((m) => m.content)).toEqual(['First', 'One.', 'Mine', 'All of it.'])
      expect(chat().busy).toBe(false)
    })

    it('gives a failure shown here way to the news', () => {
      const { calls, chat } = setup({ initialMessages: asked, resumable: true })
      act(() => chat().send('Mine'))
      act(() => calls[0]!.fail(new ChatError({ code: 'answer_in_progress', message: 'Another tab is answering.' }, 409)))

      return waitFor(() => expect(chat().status).toBe('error')).then(() => {
        act(() => chat().sync(read([...asked, stored('u2', 'user', 'Theirs'), stored('a2', 'assistant', 'Done.')])))
        expect(chat().messages.map((m) => m.content)).toEqual(['First', 'One.', 'Theirs', 'Done.'])
        expect(chat().error).toBeNull()
      })
    })

    it('takes no older copy, nor one that has yet to mark an answer ended that the page saw end', () => {
      const shown = [...asked, stored('u2', 'user', 'Second'), stored('a2', 'assistant', 'Two.')]
      const unfinished = [...shown.slice(0, 3), stored('a2', 'assistant', 'Tw', 'pending')]

      expect(isNewer(asked, shown)).toBe(false)
      expect(isNewer(unfinished, shown)).toBe(false)
      expect(isNewer(shown, asked)).toBe(true)
      expect(isNewer([...asked.slice(0, 1), stored('a1', 'assistant', 'One.', 'stopped')], asked)).toBe(true)
    })

    it('is not offered where the server keeps nothing to follow (no resume)', () => {
      const { chat } = setup({ initialMessages: asked })

      act(() => chat().sync(read([...asked, stored('u2', 'user', 'Second')])))

      expect(chat().messages).toHaveLength(2)
    })
  })
})
