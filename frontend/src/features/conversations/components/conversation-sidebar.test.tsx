import { render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'

import { ChatError } from '../../chat/api/chat-error'
import type { ConversationList } from '../hooks/use-conversation-list'
import { ConversationSidebar } from './conversation-sidebar'

const conversation = (id: string, title: string) => ({ id, title, model: null, createdAt: '2025-01-01T00:00:00Z', updatedAt: '2025-01-01T00:00:00Z' })

function list(state: Partial<ConversationList>): ConversationList {
  return {
    owner: 0,
    status: 'ready',
    conversations: [],
    error: null,
    loadingMore: false,
    refresh: vi.fn(),
    loadMore: vi.fn(),
    add: vi.fn(),
    rename: vi.fn(),
    remove: vi.fn(),
    markDisabled: vi.fn(),
    ...state,
  }
}

function renderSidebar(state: Partial<ConversationList>, activeId: string | null = null) {
  const props = { onSelect: vi.fn(), onNewChat: vi.fn(), onDelete: vi.fn(async () => {}) }
  render(<ConversationSidebar list={list(state)} activeId={activeId} {...props} />)
  return { ...props, nav: screen.getByRole('navigation', { name: 'Conversations' }) }
}

describe('ConversationSidebar', () => {
  it('says it is loading', () => {
    renderSidebar({ status: 'loading' })
    expect(screen.getByRole('status')).toHaveTextContent('Loading conversations…')
  })

  it('asks for the API key when the list needs one, and offers to try again', async () => {
    const refresh = vi.fn()
    renderSidebar({ status: 'error', error: new ChatError({ code: 'unauthorized', message: 'Key!' }, 401), refresh })

    expect(screen.getByText('Enter the API key to see your conversations.')).toBeInTheDocument()
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }))
    expect(refresh).toHaveBeenCalled()
  })

  it('names untitled conversations, highlights the open one, and opens one on click', async () => {
    const { nav, onSelect, onNewChat } = renderSidebar({ conversations: [conversation('a', ''), conversation('b', 'Named')] }, 'b')

    expect(within(nav).getByRole('link', { name: 'New conversation' })).toHaveAttribute('href', '/c/a')
    expect(within(nav).getByRole('link', { name: 'Named' })).toHaveAttribute('aria-current', 'page')
    await userEvent.click(within(nav).getByRole('link', { name: 'New conversation' }))
    await userEvent.click(within(nav).getByRole('button', { name: 'New chat' }))

    expect(onSelect).toHaveBeenCalledWith('a')
    expect(onNewChat).toHaveBeenCalled()
  })

  it('shows each whole title on hover, and scrolls the open conversation into view', () => {
    const scrolled = vi.fn()
    Element.prototype.scrollIntoView = scrolled // jsdom has none
    try {
      const long = 'A title long enough to be cut short in the sidebar, with more words after'
      const { nav } = renderSidebar({ conversations: [conversation('a', long), conversation('b', 'Open')] }, 'b')

      expect(within(nav).getByRole('link', { name: long })).toHaveAttribute('title', long)
      expect(scrolled).toHaveBeenCalledTimes(1)
      expect(scrolled.mock.contexts[0]).toBe(within(nav).getByRole('link', { name: 'Open' }))
    } finally {
      Reflect.deleteProperty(Element.prototype, 'scrollIntoView')
    }
  })

  it('hides each conversation’s actions until asked, and Escape hides them again', async () => {
    const user = userEvent.setup()
    const { nav } = renderSidebar({ conversations: [conversation('a', 'Alpha')] })
    const toggle = within(nav).getByRole('button', { name: 'Actions for Alpha' })
    expect(within(nav).queryByRole('button', { name: 'Rename' })).toBeNull()

    await user.click(toggle)
    await user.click(within(nav).getByRole('button', { name: 'Rename' }))
    await user.keyboard('{Escape}') // closes the dialog
    expect(within(nav).getByRole('button', { name: 'Rename' })).toHaveFocus()
    await user.keyboard('{Escape}') // then the actions

    expect(within(nav).queryByRole('button', { name: 'Rename' })).toBeNull()
    expect(toggle).toHaveFocus()
    expect(toggle).toHaveAttribute('aria-expanded', 'false')
  })

  it('closes a conversation’s actions when focus leaves its row, so one row’s are open at most', async () => {
    const user = userEvent.setup()
    const { nav } = renderSidebar({ conversations: [conversation('a', 'Alpha'), conversation('b', 'Beta')] })

    await user.click(within(nav).getByRole('button', { name: 'Actions for Alpha' }))
    await user.tab() // Rename
    await user.tab() // Download
    await user.tab() // Delete
    expect(within(nav).getByRole('button', { name: 'Delete' })).toHaveFocus()
    await user.tab() // Beta's link

    expect(within(nav).getByRole('link', { name: 'Beta' })).toHaveFocus()
    expect(within(nav).queryByRole('button', { name: 'Rename' })).toBeNull()
    expect(within(nav).getByRole('button', { name: 'Actions for Alpha' })).toHaveAttribute('aria-expanded', 'false')
  })

  it('closes a conversation’s actions when the reader clicks elsewhere, another’s ⋯ included', async () => {
    const user = userEvent.setup()
    const { nav } = renderSidebar({ conversations: [conversation('a', 'Alpha'), conversation('b', 'Beta')] })
    const [alpha, beta] = ['Alpha', 'Beta'].map((name) => within(nav).getByRole('button', { name: `Actions for ${name}` }))

    await user.click(alpha!)
    await user.click(beta!)

    expect(alpha).toHaveAttribute('aria-expanded', 'false')
    expect(beta).toHaveAttribute('aria-expanded', 'true')
    await user.click(document.body)
    expect(beta).toHaveAttribute('aria-expanded', 'false')
  })

  it('shows the delete error inside the dialog and keeps the conversation', async () => {
    const user = userEvent.setup()
    const onDelete = vi.fn(async () => {
      throw new ChatError({ code: 'internal', message: 'The database is busy.' }, 500)
    })
    render(
      <ConversationSidebar list={list({ conversations: [conversation('a', 'Alpha')] })} activeId={null} onSelect={vi.fn()} onNewChat={vi.fn()} onDelete={onDelete} />,
    )
    await user.click(screen.getByRole('button', { name: 'Actions for Alpha' }))
    await user.click(screen.getByRole('button', { name: 'Delete' }))

    await user.click(within(screen.getByRole('dialog', { name: 'Delete conversation?' })).getByRole('button', { name: 'Delete' }))

    expect(await within(screen.getByRole('dialog')).findByRole('alert')).toHaveTextContent('The database is busy.')
  })

  it('offers older conversations while there are more', async () => {
    const loadMore = vi.fn()
    renderSidebar({ conversations: [conversation('a', 'Alpha')], next: 'cursor', loadMore })
    await userEvent.click(screen.getByRole('button', { name: 'Load more' }))
    expect(loadMore).toHaveBeenCalled()
  })
})
