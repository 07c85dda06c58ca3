import { useEffect, useRef, useState } from 'react'

import type { ConversationList } from '../hooks/use-conversation-list'
import { ConversationItem } from './conversation-item'

interface ConversationSidebarProps {
  list: ConversationList
  activeId: string | null
  onSelect: (id: string) => void
  onNewChat: () => void
  /** Deletes (the list follows); leaving the conversation if it was open is the caller's. */
  onDelete: (id: string) => Promise<void>
  /** Closes the drawer the list is shown in, on a narrow screen. */
  onDismiss?: () => void
}

/** The owner's conversations, newest first, with New chat at the top and older ones on demand. */
export function ConversationSidebar({ list, activeId, onSelect, onNewChat, onDelete, onDismiss }: ConversationSidebarProps) {
  const newChat = useRef<HTMLButtonElement>(null)
  // Deletions of a conversation not open: its row is gone, and focus with it, so it goes to New
  // chat once the row and its dialog are (an effect runs after their cleanup, which gives focus
  // back to what the dialog was opened from). The open one's deletion moves focus to the message box.
  const [deletedElsewhere, setDeletedElsewhere] = useState(0)
  useEffect(() => {
    if (deletedElsewhere > 0) newChat.current?.focus()
  }, [deletedElsewhere])

  const remove = async (id: string) => {
    await onDelete(id)
    if (id !== activeId) setDeletedElsewhere((n) => n + 1)
  }

  return (
    <nav className="sidebar" aria-label="Conversations">
      <div className="sidebar-top">
        <button ref={newChat} type="button" className="new-chat" onClick={onNewChat}>
          New chat
        </button>
        {onDismiss && (
          <button type="button" className="drawer-close" aria-label="Close conversations" onClick={onDismiss}>
            ✕
          </button>
        )}
      </div>
      {list.status === 'loading' && (
        <p className="sidebar-note" role="status">
          Loading conversations…
        </p>
      )}
      {list.status === 'error' && (
        <div className="sidebar-note">
          <p>
            {list.error?.code === 'unauthorized'
              ? 'Enter the API key to see your conversations.'
              : `Conversations could not be loaded. ${list.error?.message ?? ''}`}
          </p>
          <button type="button" onClick={list.refresh}>
            Try again
          </button>
        </div>
      )}
      {list.status === 'ready' && list.conversations.length === 0 && <p className="sidebar-note">No conversations yet.</p>}
      {list.conversations.length > 0 && (
        <ul className="conversation-list">
          {list.conversations.map((c) => (
            <ConversationItem
              key={c.id}
              conversation={c}
              active={c.id === activeId}
              onSelect={onSelect}
              onRename={list.rename}
              onDelete={remove}
            />
          ))}
        </ul>
      )}
      {list.next && (
        <button type="button" className="load-more" onClick={list.loadMore} disabled={list.loadingMore}>
          {list.loadingMore ? 'Loading…' : 'Load more'}
        </button>
      )}
    </nav>
  )
}
