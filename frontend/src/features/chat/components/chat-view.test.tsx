import { act, cleanup, render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'

import { controlledStream, doneEvent } from '../../../test/controlled-stream'
import { testModels } from '../../../test/fake-server'
import { readApiKey } from '../api/api-key'
import { ChatError } from '../api/chat-error'
import type { ModelsInfo, StreamEvent } from '../api/types'
import { ChatView, type ChatViewProps } from './chat-view'

/** With `models`, GET /api/models answers them; without, the server is simply unreachable for it. */
function setup({ models, ...props }: { models?: ModelsInfo } & ChatViewProps = {}) {
  vi.stubGlobal(
    'fetch',
    vi.fn(async () => (models ? new Response(JSON.stringify(models)) : Promise.reject(new TypeError('offline')))),
  )
  const transport = controlledStream()
  const user = userEvent.setup()
  render(<ChatView stream={transport.stream} {...props} />)
  return { ...transport, user, box: () => screen.getByRole('textbox', { name: 'Message' }) }
}

/** The model named in the header. */
const headerModel = () => screen.getByRole('heading', { name: 'Streambed' }).closest('header')!.querySelector('.model')

afterEach(() => {
  vi.unstubAllGlobals()
  sessionStorage.clear()
})

describe('ChatView', () => {
  it('sends with Enter, adds a line with Shift+Enter, and shows the streamed answer', async () => {
    const { calls, user, box } = setup()

    await user.type(box(), 'Line one{Shift>}{Enter}{/Shift}line two{Enter}')

    expect(calls[0]!.history).toEqual([{ role: 'user', content: 'Line one\nline two' }])
    expect(box()).toHaveValue('')
    act(() => calls[0]!.push({ type: 'token', text: 'Hello **world**' }, doneEvent))
    const answer = await screen.findByRole('article', { name: 'Assistant' })
    await waitFor(() => expect(within(answer).getByText('world').tagName).toBe('STRONG'))
    expect(within(answer).getByText(/2 tokens · 1.2 s/)).toBeInTheDocument()
  })

  it('on a touch screen, Enter adds a line and the Send button sends', async () => {
    vi.stubGlobal(
      'matchMedia',
      vi.fn((query: string) => ({
        matches: query === '(pointer: coarse)',
        addEventListener: () => {},
        removeEventListener: () => {},
      })),
    )
    const { calls, user, box } = setup()

    await user.type(box(), 'Line one{Enter}line two')
    expect(calls).toHaveLength(0)
    expect(box()).toHaveAttribute('placeholder', 'Send a message')
    await user.click(screen.getByRole('button', { name: 'Send' }))

    expect(calls[0]!.history).toEqual([{ role: 'user', content: 'Line one\nline two' }])
    act(() => calls[0]!.push(doneEvent))
    await user.type(box(), 'With a keyboard{Control>}{Enter}{/Control}')
    await waitFor(() => expect(calls).toHaveLength(2))
  })

  it('marks an answer cut off at its token limit', async () => {
    const { calls, user, box } = setup()
    await user.type(box(), 'Write a lot{Enter}')

    const cutOff: StreamEvent = {
      type: 'done',
      info: { stopReason: 'max_tokens', usage: { inputTokens: 3, outputTokens: 2 }, latencyMs: 900, model: 'test-model', streamed: true },
    }
    act(() => calls[0]!.push({ type: 'token', text: 'A long' }, cutOff))

    const answer = await screen.findByRole('article', { name: 'Assistant' })
    expect(await within(answer).findByText('Cut off')).toBeInTheDocument()
    expect(within(answer).getByText(/2 tokens/)).toBeInTheDocument()
  })

  it('takes a question the server refused as it is back into the box, with no Retry', async () => {
    const { calls, user, box } = setup()
    await user.type(box(), 'Far too long{Enter}')
    expect(box()).toHaveValue('')

    act(() => calls[0]!.fail(new ChatError({ code: 'invalid_request', message: 'Shorten it.' }, 400)))

    const alert = await screen.findByRole('alert')
    expect(alert).toHaveTextContent('Shorten it.')
    expect(within(alert).queryByRole('button', { name: 'Retry' })).toBeNull()
    expect(box()).toHaveValue('Far too long')
    expect(screen.queryByRole('article', { name: 'You' })).toBeNull()
    await user.type(box(), '!{Enter}')
    expect(calls[1]!.history).toEqual([{ role: 'user', content: 'Far too long!' }])
    expect(screen.getAllByRole('article', { name: 'You' })).toHaveLength(1)
  })

  it.each([
    ['limit_reached', 409],
    ['not_found', 404],
    ['conversations_disabled', 403],
  ])('takes a question refused where it was asked (%s) back into the box, with no Retry that would repeat it', async (code, status) => {
    const { calls, user, box } = setup()
    await user.type(box(), 'One more{Enter}')

    act(() => calls[0]!.fail(new ChatError({ code, message: 'Not here.' }, status)))

    const alert = await screen.findByRole('alert')
    expect(alert).toHaveTextContent('Not here.')
    expect(within(alert).queryByRole('button', { name: 'Retry' })).toBeNull()
    expect(box()).toHaveValue('One more')
    expect(screen.queryByRole('article', { name: 'You' })).toBeNull()
  })

  it.each([
    ['rate_limited', 429],
    ['network_error', 0],
  ])('takes a question the server never took (%s) back into the box, so a reload loses nothing', async (code, status) => {
    const { calls, user, box } = setup()
    await user.type(box(), 'Are you there?{Enter}')

    act(() => calls[0]!.fail(new ChatError({ code, message: 'Not now.' }, status)))

    expect(await screen.findByRole('alert')).toHaveTextContent('Not now.')
    expect(box()).toHaveValue('Are you there?')
    expect(screen.queryByRole('article', { name: 'You' })).toBeNull()
  })

  it('takes a question sent while another answer is being written back into the box, ahead of what was typed since', async () => {
    const { calls, user, box } = setup()
    await user.type(box(), 'Me too{Enter}')
    await user.type(box(), 'and this')

    const busy = 'An answer is still being written in this conversation: wait for it, or stop it first.'
    act(() => calls[0]!.fail(new ChatError({ code: 'answer_in_progress', message: busy }, 409)))

    expect(await screen.findByRole('alert')).toHaveTextContent(/perhaps in another tab; it shows here as it is written/)
    expect(box()).toHaveValue('Me too\nand this')
    expect(screen.queryByRole('article', { name: 'You' })).toBeNull()
  })

  it('gives focus back to the box when an answer ends, unless the reader went elsewhere meanwhile', async () => {
    const { calls, user, box } = setup()
    await user.type(box(), 'Hi{Enter}')
    act(() => calls[0]!.push(doneEvent))
    await waitFor(() => expect(box()).toHaveFocus())

    await user.type(box(), 'Again{Enter}')
    const elsewhere = screen.getByRole('button', { name: 'API key' })
    elsewhere.focus()
    act(() => calls[1]!.push(doneEvent))

    await waitFor(() => expect(screen.getAllByText(/tokens ·/)).toHaveLength(2))
    expect(elsewhere).toHaveFocus()
  })

  it('offers Stop while streaming, and Escape stops too', async () => {
    const { calls, user, box } = setup()
    await user.type(box(), 'Hi{Enter}')
    act(() => calls[0]!.push({ type: 'token', text: 'Partial answer' }))

    await user.click(await screen.findByRole('button', { name: 'Stop' }))

    expect(calls[0]!.signal.aborted).toBe(true)
    expect(await screen.findByText(/Stopped/)).toBeInTheDocument()
    expect(screen.getByText('Partial answer')).toBeInTheDocument()

    await user.type(box(), 'Again{Enter}')
    await user.keyboard('{Escape}')
    expect(calls[1]!.signal.aborted).toBe(true)
  })

  it('shows a friendly error with a retry', async () => {
    const { calls, user, box } = setup()
    await user.type(box(), 'Hi{Enter}')

    act(() =>
      calls[0]!.push({
        type: 'error',
        error: { code: 'access_denied', message: 'Bedrock said no.', requestId: 'ours-1', upstreamRequestId: 'aws-2' },
      }),
    )

    const alert = await screen.findByRole('alert')
    expect(alert).toHaveTextContent('Bedrock refused access.')
    expect(alert).toHaveTextContent('Bedrock said no.')
    expect(alert).toHaveTextContent('Request id: ours-1')
    expect(alert).toHaveTextContent('Bedrock request id: aws-2')
    await user.click(within(alert).getByRole('button', { name: 'Retry' }))
    expect(calls).toHaveLength(2)
  })

  it('says so when an answer failed or was stopped before a word of it, and reads a streaming answer once it settles', async () => {
    const { calls, user, box } = setup()
    await user.type(box(), 'Hi{Enter}')
    const answer = await screen.findByRole('article', { name: 'Assistant' })
    expect(within(answer).getByRole('status')).toHaveTextContent('Waiting for the answer')
    expect(answer, 'its waiting status is heard').not.toHaveAttribute('aria-busy')

    act(() => calls[0]!.push({ type: 'error', error: { code: 'throttled', message: 'Slow down.' } }))

    expect(await within(answer).findByText('No answer was written.')).toBeInTheDocument()
    expect(answer).not.toHaveAttribute('aria-busy')
    await user.type(box(), 'Again{Enter}')
    await user.keyboard('{Escape}')
    const stopped = screen.getAllByRole('article', { name: 'Assistant' }).at(-1)!
    expect(await within(stopped).findByText('Stopped before the answer began.')).toBeInTheDocument()

    await user.type(box(), 'More{Enter}')
    act(() => calls[2]!.push({ type: 'token', text: 'Part' }))
    const streaming = screen.getAllByRole('article', { name: 'Assistant' }).at(-1)!
    await waitFor(() => expect(streaming).toHaveAttribute('aria-busy', 'true'))
    act(() => calls[2]!.push(doneEvent))
    await waitFor(() => expect(streaming).not.toHaveAttribute('aria-busy'))
  })

  it('tells an address locked out for wrong keys to wait', async () => {
    const { calls, user, box } = setup()
    await user.type(box(), 'Hi{Enter}')

    act(() => calls[0]!.fail(new ChatError({ code: 'auth_locked_out', message: 'Try again in 42 s.' }, 429)))

    const alert = await screen.findByRole('alert')
    expect(alert).toHaveTextContent(/Wait a minute, check the key/)
    expect(alert).toHaveTextContent('Try again in 42 s.')
  })

  it('asks for an API key on 401, keeps it for the tab, and retries with it', async () => {
    const { calls, user, box } = setup()
    await user.type(box(), 'Hi{Enter}')

    act(() => calls[0]!.fail(new ChatError({ code: 'unauthorized', message: 'This API needs a key.' }, 401)))

    expect(await screen.findByRole('alert')).toHaveTextContent(/needs an API key/)
    const form = screen.getByRole('form', { name: 'API key settings' })
    await user.type(within(form).getByLabelText('API key'), ' sk-test-123 ')
    await user.click(within(form).getByRole('button', { name: 'Save' }))

    expect(readApiKey()).toBe('sk-test-123')
    expect(calls).toHaveLength(2)
    expect(calls[1]!.history).toEqual([{ role: 'user', content: 'Hi' }])
    expect(screen.queryByRole('form', { name: 'API key settings' })).toBeNull()
  })

  it('opens the key settings from the header', async () => {
    const { user } = setup()
    const toggle = screen.getByRole('button', { name: 'API key' })

    await user.click(toggle)

    expect(toggle).toHaveAttribute('aria-expanded', 'true')
    expect(screen.getByLabelText('API key')).toHaveAttribute('type', 'password')
  })

  it('renders code blocks with a copy button, and raw HTML as the text it is, never as HTML', async () => {
    const { calls, user, box } = setup()
    const writeText = vi.fn(async () => {})
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true })
    await user.type(box(), 'Hi{Enter}')

    act(() =>
      calls[0]!.push(
        {
          type: 'token',
          text: '<img src=x onerror="alert(1)"><b>bold?</b>\n\n<div class="card">\n  <p>Hi</p>\n</div>\n\n```rust\nfn main() {}\n```\n',
        },
        doneEvent,
      ),
    )

    // The HTML that stands as a block of its own is shown as HTML code, lines and all; then the Rust.
    await waitFor(() => expect(screen.getAllByRole('button', { name: 'Copy code' })).toHaveLength(2))
    const [html, rust] = screen.getAllByRole('button', { name: 'Copy code' })
    await user.click(rust!)
    expect(writeText).toHaveBeenCalledWith('fn main() {}')
    // Said to a screen reader, which does not read a button's new name by itself.
    await waitFor(() => expect(screen.getAllByRole('status').some((s) => s.textContent === 'Copied to the clipboard')).toBe(true))
    await user.click(html!)
    expect(writeText).toHaveBeenCalledWith('<div class="card">\n  <p>Hi</p>\n</div>')
    const answer = screen.getByRole('article', { name: 'Assistant' })
    expect(answer.querySelector('img, b, .card')).toBeNull()
    // A tag in an answer about HTML, or a generic type, is part of what the model said.
    expect(answer).toHaveTextContent('<img src=x onerror="alert(1)"><b>bold?</b>')
  })

  it('numbers a loose list as one, with each item’s paragraphs and code inside it', async () => {
    const { calls, user, box } = setup()
    await user.type(box(), 'Hi{Enter}')
    const text = ['Steps:', '1. Install.\n\n    Continuation paragraph.', '1. Configure:\n\n    ```sh\n    run\n    ```', '1. Done.'].join('\n\n')

    act(() => calls[0]!.push({ type: 'token', text }, doneEvent))

    const answer = await screen.findByRole('article', { name: 'Assistant' })
    await waitFor(() => expect(answer.querySelectorAll('li')).toHaveLength(3))
    const items = Array.from(answer.querySelectorAll('li'))
    // One list numbered from 1, however the model numbered its items.
    expect(new Set(items.map((li) => li.parentElement)).size).toBe(1)
    expect((items[0]!.parentElement as HTMLOListElement).start).toBe(1)
    expect(within(items[0]!).getByText('Continuation paragraph.').tagName).toBe('P')
    expect(within(items[1]!).getByRole('button', { name: 'Copy code' })).toBeInTheDocument()
  })

  it('shows a loose list as one list once the answer has settled, as it was parsed item by item while it streamed', async () => {
    const { calls, user, box } = setup()
    await user.type(box(), 'Hi{Enter}')

    act(() => calls[0]!.push({ type: 'token', text: 'Steps:\n\n1. One.\n\n1. Two.\n\n1. Three.' }))
    const answer = await screen.findByRole('article', { name: 'Assistant' })
    await waitFor(() => expect(answer.querySelectorAll('ol')).toHaveLength(3))
    act(() => calls[0]!.push(doneEvent))

    await waitFor(() => expect(answer.querySelectorAll('ol')).toHaveLength(1))
    expect([...answer.querySelectorAll('ol > li')].map((item) => item.textContent?.trim())).toEqual(['One.', 'Two.', 'Three.'])
  })

  it('parses an answer with definitions whole: one list, its reference links and footnotes resolved', async () => {
    const { calls, user, box } = setup()
    await user.type(box(), 'Hi{Enter}')
    const text = [
      'Steps:',
      '1. Install.\n\n    Continuation paragraph.',
      '1. Configure:\n\n    ```sh\n    run\n    ```',
      '1. Done.',
      'See [the docs][docs].[^1]',
      '[docs]: https://example.com/docs\n[^1]: The source.',
    ].join('\n\n')

    act(() => calls[0]!.push({ type: 'token', text }, doneEvent))

    const answer = await screen.findByRole('article', { name: 'Assistant' })
    await waitFor(() => expect(answer.querySelectorAll('ol > li')).toHaveLength(3 + 1 /* the footnote */))
    const steps = answer.querySelector('ol')!
    expect(steps.children).toHaveLength(3)
    expect(within(steps).getByText('Continuation paragraph.').tagName).toBe('P')
    expect(within(steps).getByRole('button', { name: 'Copy code' })).toBeInTheDocument()
    expect(within(answer).getByRole('link', { name: 'the docs' })).toHaveAttribute('href', 'https://example.com/docs')
    expect(answer).toHaveTextContent('The source.')
    // A footnote's links stay on the page, labelled, and lead to this answer's own footnote.
    const note = within(answer).getByRole('link', { name: '1' })
    expect(note).toHaveAttribute('href', expect.stringMatching(/^#/))
    expect(note).not.toHaveAttribute('target')
    const back = within(answer).getByRole('link', { name: /Back to reference 1/ })
    expect(answer.querySelector(back.getAttribute('href')!)).toBe(note)

    await user.type(box(), 'Again{Enter}')
    act(() => calls[1]!.push({ type: 'token', text: 'Another claim.[^1]\n\n[^1]: Another source.' }, doneEvent))
    const second = (await screen.findAllByRole('article', { name: 'Assistant' }))[1]!
    await waitFor(() => expect(second).toHaveTextContent('Another source.'))
    const secondNote = within(second).getByRole('link', { name: '1' })
    expect(secondNote.getAttribute('href')).not.toBe(note.getAttribute('href'))
    expect(second.querySelector(secondNote.getAttribute('href')!)).not.toBeNull()
    // Each reference is described by its own answer's footnotes heading.
    for (const [reference, its] of [[note, answer], [secondNote, second]] as const) {
      const heading = document.getElementById(reference.getAttribute('aria-describedby')!)
      expect(heading).toHaveTextContent('Footnotes')
      expect(its.contains(heading)).toBe(true)
    }
  })

  it('renders a very long paragraph as one paragraph, parsed in pieces', async () => {
    const { calls, user, box } = setup()
    const sentences = Array.from({ length: 300 }, (_, n) => `Sentence **${n}** goes here.`)
    await user.type(box(), 'Hi{Enter}')

    act(() => calls[0]!.push({ type: 'token', text: sentences.join(' ') }, doneEvent))

    const answer = await screen.findByRole('article', { name: 'Assistant' })
    await waitFor(() => expect(answer.querySelectorAll('.markdown p')).toHaveLength(1))
    const paragraph = answer.querySelector('.markdown p')!
    expect(paragraph.textContent).toBe(sentences.join(' ').replaceAll('**', ''))
    expect(paragraph.querySelectorAll('strong')).toHaveLength(300)
    // Laid out as blocks, so a growing last piece does not lay out the whole paragraph again.
    expect(paragraph.querySelectorAll(':scope > .piece').length).toBeGreaterThan(1)
  })

  /** The status region that reads out finished answers: the one beside the conversation's log. */
  const answerStatus = (log: HTMLElement) => screen.getAllByRole('status').find((s) => s.parentElement === log.parentElement)!

  it('reads an answer that streamed here once, as it completes, not token by token', async () => {
    const { calls, user, box } = setup()
    const log = screen.getByRole('log', { name: 'Conversation' })
    expect(log).toHaveAttribute('aria-live', 'off')
    expect(log).toHaveAttribute('tabindex', '0')
    await user.type(box(), 'Hi{Enter}')
    const status = () => answerStatus(log)

    act(() => calls[0]!.push({ type: 'token', text: 'It is **sunny**' }))
    await screen.findByText('sunny')
    expect(status()).toHaveTextContent('')
    act(() => calls[0]!.push({ type: 'token', text: ' today.' }, doneEvent))

    await waitFor(() => expect(status()).toHaveTextContent('Answer: It is sunny today.'))
  })

  it('reads a stored answer that started and ended at once, without its code block\'s controls', async () => {
    const { calls, user, box } = setup()
    const log = screen.getByRole('log', { name: 'Conversation' })
    await user.type(box(), 'Hi{Enter}')
    const status = () => answerStatus(log)

    // The answer takes its stored id as it starts, in the same render as its end.
    const start = { type: 'start', info: { conversationId: 'c1', messageId: 'a1' } } as const
    act(() => calls[0]!.push(start, { type: 'token', text: 'Run:\n\n```sh\nls\n```' }, doneEvent))

    await waitFor(() => expect(status().textContent).toBe('Answer: Run:\nls'))
  })
})

describe('ChatView model choice', () => {
  it('lists the models by name, preselects the default, and names it in the header', async () => {
    setup({ models: testModels })

    const picker = await screen.findByRole('combobox', { name: 'Model' })

    expect(within(picker).getAllByRole('option').map((o) => o.textContent)).toEqual(['Test Model', 'Test Reasoner'])
    expect(picker).toHaveValue('test-model')
    expect(headerModel()).toHaveTextContent('Test Model')
    expect(screen.queryByRole('combobox', { name: 'Reasoning' })).toBeNull()
  })

  it('sends the chosen model, and the header shows it', async () => {
    const { calls, user, box } = setup({ models: testModels })
    const picker = await screen.findByRole('combobox', { name: 'Model' })

    await user.selectOptions(picker, 'Test Reasoner')
    await user.type(box(), 'Hi{Enter}')

    expect(calls[0]!.choice).toEqual({ model: 'test-reasoner', reasoning: 'off' })
    expect(headerModel()).toHaveTextContent('Test Reasoner')
  })

  it('offers reasoning only for a model that reasons, and sends the level', async () => {
    const { calls, user, box } = setup({ models: testModels })
    await user.selectOptions(await screen.findByRole('combobox', { name: 'Model' }), 'test-reasoner')
    const reasoning = screen.getByRole('combobox', { name: 'Reasoning' })
    expect(within(reasoning).getAllByRole('option').map((o) => o.textContent)).toEqual(['Off', 'Low', 'Medium', 'High'])
    expect(reasoning).toHaveValue('off')

    await user.selectOptions(reasoning, 'High')
    await user.type(box(), 'Think hard{Enter}')
    act(() => calls[0]!.push(doneEvent))
    await user.selectOptions(screen.getByRole('combobox', { name: 'Model' }), 'Test Model')
    await user.type(box(), 'Now plainly{Enter}')

    expect(calls[0]!.choice).toEqual({ model: 'test-reasoner', reasoning: 'high' })
    expect(screen.queryByRole('combobox', { name: 'Reasoning' })).toBeNull()
    expect(calls[1]!.choice).toEqual({ model: 'test-model' })
  })

  it('keeps the reader’s reasoning level for the next page load', async () => {
    const { user } = setup({ models: testModels, initialModel: 'test-reasoner' })
    await user.selectOptions(await screen.findByRole('combobox', { name: 'Reasoning' }), 'High')
    cleanup()

    setup({ models: testModels, initialModel: 'test-reasoner' })

    expect(await screen.findByRole('combobox', { name: 'Reasoning' })).toHaveValue('high')
  })

  it('starts a new chat on the model the reader picked last; a stored conversation keeps its own', async () => {
    const { user } = setup({ models: testModels })
    await user.selectOptions(await screen.findByRole('combobox', { name: 'Model' }), 'Test Reasoner')
    cleanup()

    setup({ models: testModels })
    expect(await screen.findByRole('combobox', { name: 'Model' })).toHaveValue('test-reasoner')
    cleanup()
    setup({ models: testModels, initialModel: 'test-model' })
    expect(await screen.findByRole('combobox', { name: 'Model' })).toHaveValue('test-model')
  })

  it("preselects a stored conversation's model while the server still offers it", async () => {
    setup({ models: testModels, initialModel: 'test-reasoner' })

    expect(await screen.findByRole('combobox', { name: 'Model' })).toHaveValue('test-reasoner')
    expect(screen.getByRole('combobox', { name: 'Reasoning' })).toHaveValue('off')
    expect(headerModel()).toHaveTextContent('Test Reasoner')
  })

  it('falls back to the default for a model the server no longer offers', async () => {
    setup({ models: testModels, initialModel: 'retired-model' })

    expect(await screen.findByRole('combobox', { name: 'Model' })).toHaveValue('test-model')
  })

  it('shows no picker when there is nothing to choose, only the model in the header', async () => {
    const { calls, user, box } = setup({ models: { ...testModels, models: testModels.models.slice(0, 1) } })
    await waitFor(() => expect(headerModel()).toHaveTextContent('Test Model'))

    await user.type(box(), 'Hi{Enter}')

    expect(screen.queryByRole('combobox', { name: 'Model' })).toBeNull()
    expect(calls[0]!.choice).toEqual({ model: 'test-model' })
  })

  it('takes the same question asked again after its answer came to nothing as a retry: one question on screen', async () => {
    const { calls, user, box } = setup()
    await user.type(box(), 'Hi{Enter}')
    act(() => calls[0]!.push({ type: 'error', error: { code: 'throttled', message: 'Slow down.' } }))
    await screen.findByRole('alert')

    await user.type(box(), 'Hi{Enter}')

    await waitFor(() => expect(calls).toHaveLength(2))
    expect(calls[1]!.history).toEqual([{ role: 'user', content: 'Hi' }])
    expect(screen.getAllByRole('article', { name: 'You' })).toHaveLength(1)
  })

  it('sends a new question without the one whose answer came to nothing', async () => {
    const { calls, user, box } = setup()
    await user.type(box(), 'First{Enter}')
    act(() => calls[0]!.push({ type: 'error', error: { code: 'throttled', message: 'Slow down.' } }))
    await screen.findByRole('alert')

    await user.type(box(), 'Something else{Enter}')

    await waitFor(() => expect(calls).toHaveLength(2))
    expect(calls[1]!.history).toEqual([{ role: 'user', content: 'Something else' }])
  })

  it('asks the question once on Retry after its answer broke off, without what it said', async () => {
    const { calls, user, box } = setup()
    await user.type(box(), 'Tell me{Enter}')
    act(() => {
      calls[0]!.push({ type: 'token', text: 'Once upon' })
      calls[0]!.push({ type: 'error', error: { code: 'throttled', message: 'Slow down.' } })
    })
    await user.click(within(await screen.findByRole('alert')).getByRole('button', { name: 'Retry' }))

    await waitFor(() => expect(calls).toHaveLength(2))
    expect(calls[1]!.history).toEqual([{ role: 'user', content: 'Tell me' }])
  })

  it('brings focus to the box on Retry, where Escape stops the answer', async () => {
    const { calls, user, box } = setup()
    await user.type(box(), 'Hi{Enter}')
    act(() => calls[0]!.push({ type: 'error', error: { code: 'throttled', message: 'Slow down.' } }))
    within(await screen.findByRole('alert')).getByRole('button', { name: 'Retry' }).focus()

    await user.keyboard('{Enter}')

    await waitFor(() => expect(calls).toHaveLength(2))
    await waitFor(() => expect(box()).toHaveFocus())
  })

  it('retries with the model chosen now', async () => {
    const { calls, user, box } = setup({ models: testModels })
    const picker = await screen.findByRole('combobox', { name: 'Model' })
    await user.type(box(), 'Hi{Enter}')
    act(() => calls[0]!.push({ type: 'error', error: { code: 'throttled', message: 'Slow down.' } }))

    await user.selectOptions(picker, 'Test Reasoner')
    await user.click(within(await screen.findByRole('alert')).getByRole('button', { name: 'Retry' }))

    expect(calls[1]!.choice).toEqual({ model: 'test-reasoner', reasoning: 'off' })
  })
})

describe('ChatView thinking', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['performance'] }))
  afterEach(() => vi.useRealTimers())

  it('streams the reasoning open, folds it away when the answer starts, and says how long it took', async () => {
    const { calls, user, box } = setup()
    await user.type(box(), 'Why?{Enter}')

    act(() => calls[0]!.push({ type: 'reasoning', text: 'Let me ' }))
    const thinking = await screen.findByRole('group', { name: 'Thinking' })
    act(() => {
      vi.advanceTimersByTime(2_300)
      calls[0]!.push({ type: 'reasoning', text: 'see.' })
    })
    await waitFor(() => expect(thinking).toHaveTextContent('Let me see.'))
    expect(thinking).toHaveAttribute('open')
    expect(within(thinking).getByText('Thinking…')).toBeInTheDocument()

    act(() => calls[0]!.push({ type: 'token', text: 'Because.' }))
    await screen.findByText('Because.')

    expect(thinking).not.toHaveAttribute('open')
    expect(within(thinking).getByText('Thought for 2.3 s')).toBeInTheDocument()
    act(() => calls[0]!.push(doneEvent))
    await user.click(within(thinking).getByText('Thought for 2.3 s'))
    expect(thinking).toHaveAttribute('open')
    expect(within(thinking).getByText('Let me see.')).toBeVisible()
  })

  it('shows no thinking for an answer without reasoning', async () => {
    const { calls, user, box } = setup()
    await user.type(box(), 'Hi{Enter}')

    act(() => calls[0]!.push({ type: 'token', text: 'Hello' }, doneEvent))

    await screen.findByText('Hello')
    expect(screen.queryByRole('group', { name: 'Thinking' })).toBeNull()
  })
})

