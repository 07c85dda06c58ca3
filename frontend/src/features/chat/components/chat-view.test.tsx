import { act, render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'

import { controlledStream, doneEvent } from '../../../test/controlled-stream'
import { readApiKey } from '../api/api-key'
import { ChatError } from '../api/chat-error'
import { ChatView } from './chat-view'

function setup() {
  // The header asks /api/models; here it is simply unreachable.
  vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('offline'))))
  const transport = controlledStream()
  const user = userEvent.setup()
  render(<ChatView stream={transport.stream} />)
  return { ...transport, user, box: () => screen.getByRole('textbox', { name: 'Message' }) }
}

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
    expect(alert).toHaveTextContent(/Check the IAM permissions/)
    expect(alert).toHaveTextContent('Bedrock said no.')
    expect(alert).toHaveTextContent('Request id: ours-1')
    expect(alert).toHaveTextContent('Bedrock request id: aws-2')
    await user.click(within(alert).getByRole('button', { name: 'Retry' }))
    expect(calls).toHaveLength(2)
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

  it('renders code blocks with a copy button and never renders raw HTML', async () => {
    const { calls, user, box } = setup()
    const writeText = vi.fn(async () => {})
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true })
    await user.type(box(), 'Hi{Enter}')

    act(() =>
      calls[0]!.push(
        { type: 'token', text: '<img src=x onerror="alert(1)"><b>bold?</b>\n\n```rust\nfn main() {}\n```\n' },
        doneEvent,
      ),
    )

    const copy = await screen.findByRole('button', { name: 'Copy code' })
    await user.click(copy)
    expect(writeText).toHaveBeenCalledWith('fn main() {}')
    const answer = screen.getByRole('article', { name: 'Assistant' })
    expect(answer.querySelector('img, b')).toBeNull()
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

  it('labels the conversation as a live region', () => {
    setup()
    expect(screen.getByRole('log', { name: 'Conversation' })).toHaveAttribute('aria-live', 'polite')
  })
})
