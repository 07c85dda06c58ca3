import { type MouseEvent, type ReactNode, useCallback, useEffect, useMemo, useState } from 'react'

import { ModalDialog } from '../components/modal-dialog'
import { streamChat } from '../features/chat/api/stream-chat'
import { ChatView } from '../features/chat/components/chat-view'
import { PendingStops, conversationResume, conversationStream } from '../features/conversations/api/conversation-stream'
import { isConversationsDisabled } from '../features/conversations/api/conversations'
import type { Conversation } from '../features/conversations/api/types'
import { displayTitle } from '../features/conversations/components/conversation-item'
import { ConversationSidebar } from '../features/conversations/components/conversation-sidebar'
import { useChangesElsewhere } from '../features/conversations/hooks/use-changes-elsewhere'
import { useConversationList } from '../features/conversations/hooks/use-conversation-list'
import { useNavigation } from '../features/conversations/hooks/use-navigation'
import { type Opened, useStoredConversation } from '../features/conversations/hooks/use-stored-conversation'
import { useMediaQuery } from '../hooks/use-media-query'

/** Below this width the conversation list is a drawer; keep in step with index.css. */
export const NARROW_SCREEN = '(max-width: 760px)'

/** What stands in for the conversation while it loads, or says why it cannot be shown. */
function placeholderFor(opened: Opened, retry: () => void, newChat: () => void): { placeholder: ReactNode; keyRequired: boolean } {
  const startOver = (
    <button type="button" onClick={newChat}>
      Start a new chat
    </button>
  )
  switch (opened.status) {
    case 'none':
    case 'ready':
      return { placeholder: null, keyRequired: false }
    case 'loading':
      return { placeholder: <p role="status">Loading the conversation…</p>, keyRequired: false }
    case 'missing':
      return {
        placeholder: (
          <div className="notice">
            <p role="status">This conversation does not exist, or it was deleted.</p>
            {startOver}
          </div>
        ),
        keyRequired: false,
      }
    case 'failed':
      if (opened.error.code === 'unauthorized') {
        return { placeholder: <p className="notice">This server needs an API key to show the conversation. Enter it below.</p>, keyRequired: true }
      }
      if (isConversationsDisabled(opened.error)) {
        return { placeholder: <div className="notice"><p>This server does not keep conversations.</p>{startOver}</div>, keyRequired: false }
      }
      return {
        placeholder: (
          <div className="notice" role="alert">
            <p>The conversation could not be loaded. {opened.error.message}</p>
            <button type="button" onClick={retry}>
              Try again
            </button>
          </div>
        ),
        keyRequired: false,
      }
  }
}

/**
 * What a screen reader is told when the reader moves (a conversation picked from the list, New
 * chat, back or forward): a single-page app changes page without the page load a screen reader
 * announces by itself. The first visit is that page load. The placeholder says the rest (loading,
 * missing, failed) in a status or alert of its own.
 */
function visitNews(visit: number, opened: Opened): string {
  if (visit === 0) return ''
  switch (opened.status) {
    case 'none':
      return 'New chat.'
    case 'ready': {
      const count = opened.messages.length
      return `Opened “${displayTitle(opened.conversation)}”: ${count} ${count === 1 ? 'message' : 'messages'}.`
    }
    case 'loading':
    case 'missing':
    case 'failed':
      return ''
  }
}

/** Focuses the message box without the fragment in the address (the path is the conversation's). */
function skipToMessage(event: MouseEvent) {
  event.preventDefault()
  document.getElementById('message')?.focus()
}

/**
 * The app: the conversation list (a sidebar, or a drawer on narrow screens) beside the chat,
 * with the URL (`/c/{id}`) saying which conversation is open. Where the server keeps no
 * conversations, it is the stateless chat alone.
 */
export function App() {
  const { place, current, go, adopt } = useNavigation()
  const [keyVersion, setKeyVersion] = useState(0)
  const list = useConversationList(keyVersion)
  const { opened, retry } = useStoredConversation(place.opened, place.visit)
  const narrow = useMediaQuery(NARROW_SCREEN)
  const [drawerOpen, setDrawerOpen] = useState(false)
  const enabled = list.status !== 'disabled'
  const { add, markDisabled, refresh, remove } = list

  const onCreated = useCallback(
    (conversation: Conversation) => {
      add(conversation)
      adopt(conversation.id)
    },
    [add, adopt],
  )
  // Refused its first turn, the new conversation holds nothing: it goes, and the chat on screen
  // (with the question back in its box) is a new one again.
  const onAbandoned = useCallback(
    (id: string) => {
      if (current().conversationId === id) adopt(null)
      remove(id).catch(() => {})
    },
    [current, adopt, remove],
  )
  // A turn asked right after Stop waits for the server to have stopped, whichever transport sent it.
  const [stops] = useState(() => new PendingStops())
  const stored = useMemo(
    () =>
      conversationStream({
        conversationId: () => current().conversationId,
        onCreated,
        onTitled: refresh,
        onAbandoned,
        onDisabled: markDisabled,
        stops,
      }),
    [current, onCreated, refresh, onAbandoned, markDisabled, stops],
  )
  const resume = useMemo(() => conversationResume({ conversationId: () => current().conversationId, stops }), [current, stops])
  // Deleted in another tab: opened again, it says it does not exist, as a link to it would.
  const onGone = useCallback(
    (id: string) => {
      if (current().conversationId === id) go(id, { replace: true })
    },
    [current, go],
  )
  const { latest, readAgain } = useChangesElsewhere({ enabled, conversationId: place.conversationId, visit: place.visit, onListChanged: refresh, onGone })

  const select = (id: string) => {
    setDrawerOpen(false)
    if (id !== place.conversationId) go(id)
  }
  const newChat = () => {
    setDrawerOpen(false)
    go(null)
  }
  const deleteConversation = async (id: string) => {
    await remove(id)
    if (id !== current().conversationId) return
    // The open one gone, the page is a new chat: the drawer closes on it, as on New chat.
    setDrawerOpen(false)
    go(null, { replace: true })
  }
  const keySaved = () => {
    setKeyVersion((v) => v + 1)
    if (opened.status === 'failed') retry()
  }

  // The tab says which conversation is open.
  const active = list.conversations.find((c) => c.id === place.conversationId) ?? (opened.status === 'ready' ? opened.conversation : null)
  useEffect(() => {
    document.title = active?.title ? `${displayTitle(active)} · Streambed` : 'Streambed'
  }, [active])

  const { placeholder, keyRequired: keyForConversation } = placeholderFor(opened, retry, newChat)
  // The list refused without a key: the key form is offered at once, not after a first question.
  const keyRequired = keyForConversation || (list.status === 'error' && list.error?.code === 'unauthorized')
  const sidebar = (inDrawer: boolean) =>
    enabled && (
      <ConversationSidebar
        list={list}
        activeId={place.conversationId}
        onSelect={select}
        onNewChat={newChat}
        onDelete={deleteConversation}
        onDismiss={inDrawer ? () => setDrawerOpen(false) : undefined}
      />
    )
  const menuButton = enabled && narrow && (
    <button
      type="button"
      className="menu-toggle"
      aria-label="Show conversations"
      aria-haspopup="dialog"
      aria-expanded={drawerOpen}
      onClick={() => setDrawerOpen(true)}
    >
      ☰
    </button>
  )

  return (
    <div className="app">
      <a className="skip-link" href="#message" onClick={skipToMessage}>
        Skip to message box
      </a>
      {enabled && !narrow && <aside className="sidebar-panel">{sidebar(false)}</aside>}
      {enabled && narrow && drawerOpen && (
        <ModalDialog className="drawer" label="Conversations" onClose={() => setDrawerOpen(false)}>
          {sidebar(true)}
        </ModalDialog>
      )}
      <ChatView
        session={`${place.visit}:${opened.status}`}
        stream={enabled ? stored : streamChat}
        resume={enabled ? resume : undefined}
        initialMessages={opened.status === 'ready' ? opened.messages : undefined}
        initialModel={opened.status === 'ready' ? opened.conversation.model : undefined}
        latest={latest}
        onBusyElsewhere={enabled ? readAgain : undefined}
        placeholder={placeholder}
        keyRequired={keyRequired}
        onSettled={enabled ? refresh : undefined}
        onNewChat={enabled && !narrow ? null : newChat}
        onKeySaved={keySaved}
        menuButton={menuButton || undefined}
        notice={list.status === 'disabled' ? list.error?.message : undefined}
      />
      <p className="visually-hidden" role="status">
        {visitNews(place.visit, opened)}
      </p>
    </div>
  )
}
