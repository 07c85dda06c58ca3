import { act, render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'

import { type FakeServer, fakeServer } from '../test/fake-server'
import { App } from './app'

function setup({ path = '/', seed, ...options }: { path?: string; seed?: (server: FakeServer) => void } & Parameters<typeof fakeServer>[0] = {}) {
  const server = fakeServer(options)
  seed?.(server)
  vi.stubGlobal('fetch', vi.fn(server.fetch))
  window.history.replaceState(null, '', path)
  const user = userEvent.setup()
  const view = render(<App />)
  const sidebar = () => screen.getByRole('navigation', { name: 'Conversations' })
  return {
    server,
    user,
    view,
    sidebar,
    box: () => screen.getByRole('textbox', { name: 'Message' }),
    /** Each listed conversation's title, top to bottom. */
    titles: () => within(sidebar()).queryAllByRole('listitem').map((item) => within(item).getAllByRole('link')[0]!.textContent),
    answer: (n = 0) => screen.getAllByRole('article', { name: 'Assistant' })[n]!,
  }
}

afterEach(() => {
  vi.unstubAllGlobals()
  sessionStorage.clear()
})

describe('App with stored conversations', () => {
  it('creates the conversation on the first send, puts it in the URL and at the top of the list', async () => {
    const { server, user, box, titles, sidebar } = setup({ seed: (s) => s.seed('Older chat') })
    await waitFor(() => expect(titles()).toEqual(['Older chat']))

    await user.type(box(), 'Hello there{Enter}')

    await waitFor(() => expect(server.answers).toHaveLength(1))
    expect(server.answers[0]!.body).toEqual({ conversationId: 'c2', prompt: 'Hello there', model: 'test-model' })
    expect(window.location.pathname).toBe('/c/c2')
    // The server names it after the first prompt; the list shows that while the answer is written.
    await waitFor(() => expect(titles()).toEqual(['Hello there', 'Older chat']))
    expect(within(sidebar()).getByRole('link', { name: 'Hello there' })).toHaveAttribute('aria-current', 'page')
    expect(within(sidebar()).getByRole('link', { name: 'Older chat' })).not.toHaveAttribute('aria-current')
    expect(document.title).toBe('Hello there · Streambed')
    act(() => {
      server.answers[0]!.token('Hi!')
      server.answers[0]!.done()
    })
    expect(await screen.findByText('Hi!')).toBeInTheDocument()
  })

  it('gives up a new conversation whose first question was refused, and puts the question back in the box', async () => {
    const { server, user, box, titles } = setup({ seed: (s) => s.seed('Older chat') })
    await waitFor(() => expect(titles()).toEqual(['Older chat']))
    server.refuseNextChat({ status: 400, code: 'invalid_request' })

    await user.type(box(), 'Far too long{Enter}')

    expect(await screen.findByRole('alert')).toBeInTheDocument()
    await waitFor(() => expect(server.conversations.map((c) => c.title)).toEqual(['Older chat']))
    await waitFor(() => expect(titles()).toEqual(['Older chat']))
    expect(window.location.pathname).toBe('/')
    expect(box()).toHaveValue('Far too long')
  })

  it('puts a question the model refused back in the box, and keeps it in the conversation as the server does', async () => {
    const { server, user, box } = setup({ seed: (s) => s.seed('Older chat') })
    server.refuseNextChat({ status: 400, code: 'invalid_request', stored: true })

    await user.type(box(), 'Far too long{Enter}')

    const alert = await screen.findByRole('alert')
    expect(within(alert).queryByRole('button', { name: 'Retry' })).toBeNull()
    expect(await screen.findByText('Refused')).toBeInTheDocument()
    expect(screen.getByRole('article', { name: 'You' })).toHaveTextContent('Far too long')
    expect(box()).toHaveValue('Far too long')
  })

  it('sends only the new turn once the conversation exists', async () => {
    const { server, user, box } = setup()
    await user.type(box(), 'First{Enter}')
    await waitFor(() => expect(server.answers).toHaveLength(1))
    act(() => {
      server.answers[0]!.token('One')
      server.answers[0]!.done()
    })
    await screen.findByText('One')

    await user.type(box(), 'Second{Enter}')

    await waitFor(() => expect(server.answers).toHaveLength(2))
    expect(server.answers[1]!.body).toEqual({ conversationId: 'c1', prompt: 'Second', model: 'test-model' })
    expect(server.requests.filter((r) => r.method === 'POST' && r.path === '/api/conversations')).toHaveLength(1)
  })

  it('opens a deep link with its messages, each answer showing how it ended', async () => {
    const { titles, sidebar, answer } = setup({
      path: '/c/c1',
      seed: (s) =>
        s.seed('Statuses', [
          { role: 'user', content: 'Q1' },
          {
            role: 'assistant',
            content: 'Whole answer',
            usage: { inputTokens: 1, outputTokens: 7 },
            latencyMs: 2345,
            reasoning: 'Thought first',
          },
          { role: 'user', content: 'Q2' },
          { role: 'assistant', content: 'Partial', status: 'stopped' },
          { role: 'user', content: 'Q3' },
          { role: 'assistant', content: 'Half', status: 'error', errorCode: 'throttled' },
          { role: 'user', content: 'Q4' },
          { role: 'assistant', content: 'Cut', status: 'interrupted' },
        ]),
    })

    await screen.findByText('Whole answer')
    expect(within(answer(0)).getByText('7 tokens · 2.3 s')).toBeInTheDocument()
    const thinking = within(answer(0)).getByRole('group', { name: 'Thinking' })
    expect(thinking).not.toHaveAttribute('open')
    expect(within(thinking).getByText('Thought')).toBeInTheDocument()
    expect(within(thinking).getByText('Thought first')).not.toBeVisible()
    expect(within(answer(1)).getByText('Stopped')).toBeInTheDocument()
    expect(within(answer(2)).getByText('Throttled')).toBeInTheDocument()
    expect(within(answer(3)).getByText('Interrupted')).toBeInTheDocument()
    expect(screen.getAllByRole('article', { name: 'You' }).map((m) => m.textContent)).toEqual(['Q1', 'Q2', 'Q3', 'Q4'])
    await waitFor(() => expect(titles()).toEqual(['Statuses']))
    expect(within(sidebar()).getByRole('link', { name: 'Statuses' })).toHaveAttribute('aria-current', 'page')
  })

  it('offers Retry for a last answer that failed before this page opened it', async () => {
    const { server, user } = setup({
      path: '/c/c1',
      seed: (s) =>
        s.seed('Cut short', [
          { role: 'user', content: 'Q1' },
          { role: 'assistant', content: 'Cut', status: 'interrupted' },
        ]),
    })
    await screen.findByText('Cut')

    await user.click(screen.getByRole('button', { name: 'Retry' }))

    await waitFor(() => expect(server.answers).toHaveLength(1))
    expect(server.answers[0]!.body).toMatchObject({ conversationId: 'c1', prompt: 'Q1' })
    expect(screen.queryByRole('button', { name: 'Retry' })).toBeNull()
  })

  it('Stop aborts the answer, which is still there, marked stopped, after a reload', async () => {
    const { server, user, box, view, answer } = setup()
    await user.type(box(), 'Tell me a story{Enter}')
    await waitFor(() => expect(server.answers).toHaveLength(1))
    act(() => server.answers[0]!.token('Once upon'))
    await screen.findByText('Once upon')

    await user.click(screen.getByRole('button', { name: 'Stop' }))

    expect(server.answers[0]!.signal?.aborted).toBe(true)
    expect(await within(answer()).findByText('Stopped')).toBeInTheDocument()
    await waitFor(() => expect(server.requests).toContainEqual(expect.objectContaining({ method: 'POST', path: '/api/conversations/c1/stop' })))
    view.unmount()
    render(<App />)
    expect(window.location.pathname).toBe('/c/c1')
    expect(await screen.findByText('Once upon')).toBeInTheDocument()
    expect(within(answer()).getByText('Stopped')).toBeInTheDocument()
  })

  it('says so when the server could not deliver a Stop, and Retry follows the answer it goes on writing', async () => {
    let refuseStop = true
    const { server, user, box, answer } = setup({ stopUndelivered: () => refuseStop })
    await user.type(box(), 'Tell me a story{Enter}')
    await waitFor(() => expect(server.answers).toHaveLength(1))
    act(() => server.answers[0]!.token('Once upon'))
    await screen.findByText('Once upon')

    await user.click(screen.getByRole('button', { name: 'Stop' }))

    const alert = await screen.findByRole('alert')
    expect(alert).toHaveTextContent('The answer could not be stopped.')
    expect(alert).toHaveTextContent('did not confirm the Stop in time')
    expect(within(answer()).queryByText('Stopped')).toBeNull()
    act(() => server.answers[0]!.token(' a time'))
    await user.click(within(alert).getByRole('button', { name: 'Retry' }))

    expect(await screen.findByText('Once upon a time')).toBeInTheDocument()
    expect(server.answers, 'followed, not asked again').toHaveLength(1)
    refuseStop = false
    await user.click(screen.getByRole('button', { name: 'Stop' }))
    expect(await within(answer()).findByText('Stopped')).toBeInTheDocument()
    expect(screen.queryByRole('alert')).toBeNull()
    expect(server.conversations[0]!.messages.at(-1)).toMatchObject({ status: 'stopped', content: 'Once upon a time' })
  })

  it('lets the server finish an answer when the reader opens another conversation meanwhile', async () => {
    const { server, user, sidebar, box } = setup({ seed: (s) => s.seed('Elsewhere', [{ role: 'user', content: 'Other' }]) })
    await user.type(box(), 'Long question{Enter}')
    await waitFor(() => expect(server.answers).toHaveLength(1))
    act(() => server.answers[0]!.token('Begun'))
    await screen.findByText('Begun')

    await user.click(within(sidebar()).getByRole('link', { name: 'Elsewhere' }))
    await screen.findByText('Other')
    act(() => {
      server.answers[0]!.token(' and finished.')
      server.answers[0]!.done()
    })
    await user.click(within(sidebar()).getByRole('link', { name: 'Long question' }))

    expect(await screen.findByText('Begun and finished.')).toBeInTheDocument()
    expect(server.requests.some((r) => r.path.endsWith('/stop'))).toBe(false)
  })

  it('goes on streaming an answer still being written after a reload, and Stop stops it', async () => {
    const { server, user, box, view, answer } = setup()
    await user.type(box(), 'Tell me a story{Enter}')
    await waitFor(() => expect(server.answers).toHaveLength(1))
    act(() => server.answers[0]!.token('Once upon a tîme'))
    await screen.findByText('Once upon a tîme')

    view.unmount()
    render(<App />)

    // The stored text at once, and no "in progress" note: the answer is followed from there.
    expect(await screen.findByText('Once upon a tîme')).toBeInTheDocument()
    expect(within(answer()).queryByText('In progress')).toBeNull()
    expect(screen.getByRole('button', { name: 'Stop' })).toBeInTheDocument()
    await waitFor(() => expect(server.answers[0]!.followers()).toBe(1))
    const follow = server.requests.find((r) => r.path.startsWith('/api/conversations/c1/stream'))!
    expect(follow.headers.get('Last-Event-ID')).toBe('17.0')
    expect(follow.path, 'this answer').toBe(`/api/conversations/c1/stream?message=${server.conversations[0]!.messages.at(-1)!.id}`)
    act(() => server.answers[0]!.token(', there was'))
    expect(await screen.findByText('Once upon a tîme, there was')).toBeInTheDocument()

    await user.click(screen.getByRole('button', { name: 'Stop' }))

    expect(await within(answer()).findByText('Stopped')).toBeInTheDocument()
    await waitFor(() => expect(server.conversations[0]!.messages.at(-1)).toMatchObject({ status: 'stopped', content: 'Once upon a tîme, there was' }))
  })

  it('says it is reconnecting when the network drops mid-answer, then shows the whole answer', async () => {
    const { server, user, box, answer } = setup()
    await user.type(box(), 'Count{Enter}')
    await waitFor(() => expect(server.answers).toHaveLength(1))
    act(() => server.answers[0]!.token('One, '))
    await screen.findByText('One,')

    act(() => {
      server.answers[0]!.drop()
      server.answers[0]!.token('two, ')
    })

    const status = await screen.findByText('Connection lost. Reconnecting…')
    expect(status).toHaveAttribute('role', 'status')
    expect(screen.getByRole('button', { name: 'Stop' })).toBeInTheDocument()
    await waitFor(() => expect(server.answers[0]!.followers()).toBe(1), { timeout: 3000 })
    expect(status).toBeEmptyDOMElement()
    act(() => {
      server.answers[0]!.token('three.')
      server.answers[0]!.done()
    })
    expect(await within(answer()).findByText('One, two, three.')).toBeInTheDocument()
    expect(await within(answer()).findByText(/2 tokens/)).toBeInTheDocument()
    expect(screen.queryByRole('alert')).toBeNull()
  })

  it('on Retry after a refusal that the server kept, shows one question and one answer, as the server keeps them', async () => {
    const { server, user, box } = setup()
    server.refuseNextChat({ status: 502, code: 'access_denied', stored: true })
    await user.type(box(), 'Hi{Enter}')
    const alert = await screen.findByRole('alert')
    expect(screen.getByText('Access denied')).toBeInTheDocument()

    await user.click(within(alert).getByRole('button', { name: 'Retry' }))
    await waitFor(() => expect(server.answers).toHaveLength(1))
    act(() => {
      server.answers[0]!.token('Hello!')
      server.answers[0]!.done()
    })
    await screen.findByText('Hello!')

    const shown = screen.getAllByRole('article').map((a) => a.getAttribute('aria-label'))
    expect(shown).toEqual(server.conversations[0]!.messages.map((m) => (m.role === 'user' ? 'You' : 'Assistant')))
    expect(shown).toEqual(['You', 'Assistant'])
    expect(screen.queryByText('Access denied')).toBeNull()
  })

  it('replaces a stored answer that failed before its first word when retrying, as the server does', async () => {
    const { server, user, box } = setup()
    await user.type(box(), 'Hi{Enter}')
    await waitFor(() => expect(server.answers).toHaveLength(1))
    act(() => server.answers[0]!.error('throttled', 'Slow down.'))
    const alert = await screen.findByRole('alert')

    await user.click(within(alert).getByRole('button', { name: 'Retry' }))

    await waitFor(() => expect(server.answers).toHaveLength(2))
    expect(server.answers[1]!.body).toEqual({ conversationId: 'c1', prompt: 'Hi', model: 'test-model' })
    expect(screen.getAllByRole('article', { name: 'You' })).toHaveLength(1)
    expect(screen.queryByText('Throttled')).toBeNull()
    expect(server.conversations[0]!.messages.map((m) => m.role)).toEqual(['user', 'assistant'])
  })

  it('keeps a failed stored answer that said something when retrying, as the server does', async () => {
    const { server, user, box } = setup()
    await user.type(box(), 'Hi{Enter}')
    await waitFor(() => expect(server.answers).toHaveLength(1))
    act(() => {
      server.answers[0]!.token('Hal')
      server.answers[0]!.error('throttled', 'Slow down.')
    })
    const alert = await screen.findByRole('alert')

    await user.click(within(alert).getByRole('button', { name: 'Retry' }))

    await waitFor(() => expect(server.answers).toHaveLength(2))
    expect(server.answers[1]!.body).toEqual({ conversationId: 'c1', prompt: 'Hi', model: 'test-model' })
    expect(screen.getAllByRole('article', { name: 'You' })).toHaveLength(2)
    expect(screen.getByText('Throttled')).toBeInTheDocument()
  })

  it('keeps the model per conversation: sent with each turn, preselected when it is opened again', async () => {
    const { server, user, box, sidebar } = setup()
    await user.selectOptions(await screen.findByRole('combobox', { name: 'Model' }), 'Test Reasoner')
    await user.selectOptions(screen.getByRole('combobox', { name: 'Reasoning' }), 'Medium')
    await user.type(box(), 'Deep question{Enter}')
    await waitFor(() => expect(server.answers).toHaveLength(1))
    expect(server.answers[0]!.body).toEqual({ conversationId: 'c1', prompt: 'Deep question', model: 'test-reasoner', reasoning: 'medium' })
    act(() => {
      server.answers[0]!.reasoning('Hmm.')
      server.answers[0]!.token('Deep answer')
      server.answers[0]!.done()
    })
    await screen.findByText('Deep answer')

    // A new chat starts on the model picked last; picked again, it is that chat's.
    await user.click(within(sidebar()).getByRole('button', { name: 'New chat' }))
    expect(await screen.findByRole('combobox', { name: 'Model' })).toHaveValue('test-reasoner')
    await user.selectOptions(screen.getByRole('combobox', { name: 'Model' }), 'Test Model')
    await user.click(await within(sidebar()).findByRole('link', { name: 'Deep question' }))

    await screen.findByText('Deep answer')
    expect(screen.getByRole('combobox', { name: 'Model' })).toHaveValue('test-reasoner')
    expect(screen.getByRole('heading', { name: 'Streambed' }).closest('header')).toHaveTextContent('Test Reasoner')
  })

  it('switches conversations from the list, and back and forward', async () => {
    const { user, sidebar } = setup({
      path: '/c/c1',
      seed: (s) => {
        s.seed('Apples', [{ role: 'user', content: 'About apples' }])
        s.seed('Pears', [{ role: 'user', content: 'About pears' }])
      },
    })
    await screen.findByText('About apples')

    await user.click(await within(sidebar()).findByRole('link', { name: 'Pears' }))

    expect(await screen.findByText('About pears')).toBeInTheDocument()
    // A screen reader hears which conversation opened, as it would hear a page load.
    expect(screen.getByText('Opened “Pears”: 1 message.')).toHaveAttribute('role', 'status')
    expect(window.location.pathname).toBe('/c/c2')
    expect(within(sidebar()).getByRole('link', { name: 'Pears' })).toHaveAttribute('aria-current', 'page')
    act(() => window.history.back())
    expect(await screen.findByText('About apples')).toBeInTheDocument()
    expect(window.location.pathname).toBe('/c/c1')
    act(() => window.history.forward())
    expect(await screen.findByText('About pears')).toBeInTheDocument()
  })

  it('New chat leaves the conversation for an empty chat at /', async () => {
    const { user, sidebar, box } = setup({ path: '/c/c1', seed: (s) => s.seed('Apples', [{ role: 'user', content: 'About apples' }]) })
    await screen.findByText('About apples')

    await user.click(within(sidebar()).getByRole('button', { name: 'New chat' }))

    await waitFor(() => expect(screen.queryByText('About apples')).toBeNull())
    expect(screen.getByText('New chat.')).toHaveAttribute('role', 'status')
    expect(window.location.pathname).toBe('/')
    await waitFor(() => expect(box()).toHaveFocus())
  })

  it('renames a conversation in a dialog, which moves it to the top as the server does', async () => {
    const { server, user, sidebar } = setup({
      seed: (s) => {
        s.seed('Old title')
        s.seed('Newer')
      },
    })
    const toggle = await within(sidebar()).findByRole('button', { name: 'Actions for Old title' })

    await user.click(toggle)
    expect(toggle).toHaveAttribute('aria-expanded', 'true')
    await user.click(within(sidebar()).getByRole('button', { name: 'Rename' }))
    const dialog = screen.getByRole('dialog', { name: 'Rename conversation' })
    const input = within(dialog).getByLabelText('Title')
    expect(input).toHaveFocus()
    await user.clear(input)
    await user.type(input, 'New title{Enter}')

    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull())
    const titles = within(sidebar())
      .getAllByRole('link')
      .filter((link) => link.getAttribute('href')?.startsWith('/c/'))
      .map((link) => link.textContent)
    expect(titles).toEqual(['New title', 'Newer'])
    expect(server.conversations.find((c) => c.title === 'New title')).toBeDefined()
    expect(within(sidebar()).getByRole('button', { name: 'Rename' })).toHaveFocus()
  })

  it('closes the rename dialog with Escape without renaming', async () => {
    const { server, user, sidebar } = setup({ seed: (s) => s.seed('Keep me') })
    await user.click(await within(sidebar()).findByRole('button', { name: 'Actions for Keep me' }))
    await user.click(within(sidebar()).getByRole('button', { name: 'Rename' }))

    await user.keyboard('{Escape}')

    expect(screen.queryByRole('dialog')).toBeNull()
    expect(server.requests.some((r) => r.method === 'PATCH')).toBe(false)
  })

  it('deletes a conversation after confirmation, leaving it when it was open', async () => {
    const { server, user, sidebar, titles } = setup({
      path: '/c/c2',
      seed: (s) => {
        s.seed('Keep')
        s.seed('Doomed', [{ role: 'user', content: 'Bye' }])
      },
    })
    await screen.findByText('Bye')
    await user.click(within(sidebar()).getByRole('button', { name: 'Actions for Doomed' }))
    await user.click(within(sidebar()).getByRole('button', { name: 'Delete' }))
    const dialog = screen.getByRole('dialog', { name: 'Delete conversation?' })
    expect(within(dialog).getByRole('button', { name: 'Cancel' })).toHaveFocus()
    await user.click(within(dialog).getByRole('button', { name: 'Cancel' }))
    expect(titles()).toEqual(['Doomed', 'Keep'])

    await user.click(within(sidebar()).getByRole('button', { name: 'Delete' }))
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Delete' }))

    await waitFor(() => expect(titles()).toEqual(['Keep']))
    expect(server.conversations.map((c) => c.title)).toEqual(['Keep'])
    expect(window.location.pathname).toBe('/')
    await waitFor(() => expect(screen.queryByText('Bye')).toBeNull())
  })

  it('loads older conversations with Load more', async () => {
    const { user, sidebar, titles } = setup({
      pageSize: 2,
      seed: (s) => ['One', 'Two', 'Three'].forEach((t) => s.seed(t)),
    })
    await waitFor(() => expect(titles()).toEqual(['Three', 'Two']))

    await user.click(within(sidebar()).getByRole('button', { name: 'Load more' }))

    await waitFor(() => expect(titles()).toEqual(['Three', 'Two', 'One']))
    expect(within(sidebar()).queryByRole('button', { name: 'Load more' })).toBeNull()
  })

  it('links the Markdown export of each conversation', async () => {
    const { user, sidebar } = setup({ seed: (s) => s.seed('Export me') })
    await user.click(await within(sidebar()).findByRole('button', { name: 'Actions for Export me' }))

    const link = within(sidebar()).getByRole('link', { name: 'Download as Markdown' })

    expect(link).toHaveAttribute('href', '/api/conversations/c1/export?format=markdown')
    expect(link).toHaveAttribute('download')
  })

  it('says so when a linked conversation does not exist', async () => {
    const { user } = setup({ path: '/c/nope' })

    expect(await screen.findByText(/does not exist/)).toBeInTheDocument()
    expect(screen.getByRole('textbox', { name: 'Message' })).toBeDisabled()
    expect(await screen.findByRole('combobox', { name: 'Model' }), 'no turn to choose a model for').toBeDisabled()
    await user.click(screen.getByRole('button', { name: 'Start a new chat' }))

    expect(window.location.pathname).toBe('/')
    await waitFor(() => expect(screen.getByRole('textbox', { name: 'Message' })).toBeEnabled())
    expect(screen.getByRole('combobox', { name: 'Model' })).toBeEnabled()
  })

  it.each(['/c/', '/c/a/b', '/c/%E0%A4%A'])('says so for a malformed conversation URL (%s), not an empty chat', async (path) => {
    setup({ path })

    expect(await screen.findByText(/does not exist/)).toBeInTheDocument()
    expect(screen.getByRole('textbox', { name: 'Message' })).toBeDisabled()
  })

  it('offers the conversations in a drawer on narrow screens', async () => {
    vi.stubGlobal('matchMedia', (query: string) => ({
      matches: true,
      media: query,
      addEventListener: () => {},
      removeEventListener: () => {},
    }))
    const { user, box } = setup({ seed: (s) => s.seed('Pocket', [{ role: 'user', content: 'Small screen' }]) })
    expect(screen.queryByRole('navigation', { name: 'Conversations' })).toBeNull()
    const toggle = screen.getByRole('button', { name: 'Show conversations' })

    await user.click(toggle)
    const drawer = screen.getByRole('dialog', { name: 'Conversations' })
    expect(within(drawer).getByRole('button', { name: 'New chat' })).toHaveFocus()
    await user.keyboard('{Escape}')
    expect(screen.queryByRole('dialog')).toBeNull()
    expect(toggle).toHaveFocus()
    // A button closes it too, for a reader without Escape (a phone's screen reader).
    await user.click(toggle)
    await user.click(within(screen.getByRole('dialog', { name: 'Conversations' })).getByRole('button', { name: 'Close conversations' }))
    expect(screen.queryByRole('dialog')).toBeNull()
    expect(toggle).toHaveFocus()

    await user.click(toggle)
    await user.click(await within(screen.getByRole('dialog')).findByRole('link', { name: 'Pocket' }))

    expect(screen.queryByRole('dialog')).toBeNull()
    expect(await screen.findByText('Small screen')).toBeInTheDocument()
    await waitFor(() => expect(box()).toHaveFocus())

    // Deleting the open conversation from the drawer leaves a new chat, the drawer closed.
    await user.click(screen.getByRole('button', { name: 'Show conversations' }))
    const reopened = screen.getByRole('dialog', { name: 'Conversations' })
    await user.click(within(reopened).getByRole('button', { name: 'Actions for Pocket' }))
    await user.click(within(reopened).getByRole('button', { name: 'Delete' }))
    await user.click(within(screen.getByRole('dialog', { name: 'Delete conversation?' })).getByRole('button', { name: 'Delete' }))

    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull())
    expect(window.location.pathname).toBe('/')
    await waitFor(() => expect(box()).toHaveFocus())
  })
})

describe('a conversation open in two tabs', () => {
  /** Another tab of the same browser: it asks in the conversation, and says so. */
  async function askElsewhere(server: FakeServer, conversationId: string, prompt: string) {
    await server.fetch('/api/chat', { method: 'POST', body: JSON.stringify({ conversationId, prompt }) })
    const otherTab = new BroadcastChannel('streambed:conversations')
    otherTab.postMessage({ conversationId })
    otherTab.close()
  }

  const shared = (s: FakeServer) =>
    s.seed('Shared', [
      { role: 'user', content: 'First' },
      { role: 'assistant', content: 'One.' },
    ])

  it('shows a question asked in another tab and follows its answer as it is written', async () => {
    const { server, answer } = setup({ path: '/c/c1', seed: shared })
    expect(await screen.findByText('One.')).toBeInTheDocument()

    await askElsewhere(server, 'c1', 'Second')

    expect(await screen.findByText('Second')).toBeInTheDocument()
    // The asking tab's response, and this page following the answer.
    await waitFor(() => expect(server.answers[0]!.followers()).toBe(2))
    act(() => server.answers[0]!.token('Two, '))
    await waitFor(() => expect(answer(1)).toHaveTextContent('Two,'))
    expect(screen.getByRole('button', { name: 'Stop' })).toBeInTheDocument()
    act(() => {
      server.answers[0]!.token('live.')
      server.answers[0]!.done()
    })
    await waitFor(() => expect(screen.queryByRole('button', { name: 'Stop' })).toBeNull())
    expect(answer(1)).toHaveTextContent('Two, live.')
  })

  it('follows another tab\'s answer that started unannounced when the server refuses a turn for it', async () => {
    const { server, user, box, answer } = setup({ path: '/c/c1', seed: shared })
    expect(await screen.findByText('One.')).toBeInTheDocument()
    // Asked in another tab, whose answer is slow to start: it has not said so yet.
    await server.fetch('/api/chat', { method: 'POST', body: JSON.stringify({ conversationId: 'c1', prompt: 'Second' }) })

    await user.type(box(), 'Mine{Enter}')

    expect(await screen.findByText('Second')).toBeInTheDocument()
    await waitFor(() => expect(server.answers[0]!.followers()).toBe(2))
    expect(box()).toHaveValue('Mine')
    act(() => {
      server.answers[0]!.token('Two.')
      server.answers[0]!.done()
    })
    await waitFor(() => expect(answer(1)).toHaveTextContent('Two.'))
    expect(screen.getAllByRole('article', { name: 'You' }).map((m) => m.textContent)).toEqual(['First', 'Second'])
  })

  it('says the conversation no longer exists once another tab deleted it', async () => {
    const { server } = setup({ path: '/c/c1', seed: shared })
    expect(await screen.findByText('One.')).toBeInTheDocument()

    await server.fetch('/api/conversations/c1', { method: 'DELETE' })
    const otherTab = new BroadcastChannel('streambed:conversations')
    otherTab.postMessage({ conversationId: 'c1' })
    otherTab.close()

    expect(await screen.findByText(/does not exist, or it was deleted/)).toBeInTheDocument()
    expect(screen.queryByText('One.')).toBeNull()
    expect(window.location.pathname).toBe('/c/c1')
  })

  it('reads the conversation again when the tab comes back into view', async () => {
    const { server } = setup({ path: '/c/c1', seed: shared })
    expect(await screen.findByText('One.')).toBeInTheDocument()
    // Written meanwhile elsewhere (another device, say), with no tab here to say so.
    await server.fetch('/api/chat', { method: 'POST', body: JSON.stringify({ conversationId: 'c1', prompt: 'Second' }) })
    act(() => {
      server.answers[0]!.token('Two.')
      server.answers[0]!.done()
    })

    act(() => void document.dispatchEvent(new Event('visibilitychange')))

    expect(await screen.findByText('Two.')).toBeInTheDocument()
    expect(screen.getAllByRole('article', { name: 'You' }).map((m) => m.textContent)).toEqual(['First', 'Second'])
  })
})

describe('App where the server keeps no conversations', () => {
  it('is the stateless chat: no list, the whole history sent, the URL unchanged', async () => {
    const { server, user, box } = setup({ disabled: true })
    await waitFor(() => expect(server.requests.some((r) => r.path.startsWith('/api/conversations'))).toBe(true))
    await waitFor(() => expect(screen.queryByRole('navigation', { name: 'Conversations' })).toBeNull())
    // Why, in the server's words: behind a proxy, say, the reader learns what to change.
    expect(await screen.findByText('This server keeps no conversations: set API_KEYS.')).toHaveAttribute('role', 'status')

    await user.type(box(), 'First{Enter}')
    await waitFor(() => expect(server.answers).toHaveLength(1))
    act(() => {
      server.answers[0]!.token('One')
      server.answers[0]!.done()
    })
    await screen.findByText('One')
    await user.type(box(), 'Second{Enter}')

    await waitFor(() => expect(server.answers).toHaveLength(2))
    expect(server.answers[1]!.body).toEqual({
      messages: [
        { role: 'user', content: 'First' },
        { role: 'assistant', content: 'One' },
        { role: 'user', content: 'Second' },
      ],
      model: 'test-model',
    })
    expect(window.location.pathname).toBe('/')
    expect(screen.queryByRole('alert')).toBeNull()
    expect(screen.getByRole('button', { name: 'New chat' })).toBeEnabled()
  })
})
