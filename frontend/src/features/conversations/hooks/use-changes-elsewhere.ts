import { useCallback, useEffect, useRef, useState } from 'react'

import type { ServerCopy } from '../../chat/hooks/chat-state'
import { getConversation, isNotFound } from '../api/conversations'
import { onTabNews } from '../api/tab-news'
import { toUiMessages } from './to-ui-messages'

export interface ChangesElsewhereOptions {
  /** The server keeps conversations (otherwise there is nothing to hear of). */
  enabled: boolean
  /** The conversation on screen, or null for a new chat without one yet. */
  conversationId: string | null
  /** The visit (see `Place`): what the visit loaded is its own, so news from before it is not. */
  visit: number
  /** The list of conversations may have changed. */
  onListChanged: () => void
  /** The open conversation is gone: deleted in another tab, or elsewhere. */
  onGone?: (conversationId: string) => void
}

export interface ChangesElsewhere {
  /** The open conversation as the server has it, from the latest read of this visit; null before one. */
  latest: ServerCopy | null
  /** Reads the open conversation again: the server said it changed where this tab did not see. */
  readAgain: () => void
}

/**
 * The open conversation's messages as the server has them, read again whenever they may have
 * changed without this tab: another tab announced a change (`tab-news`), this tab comes back
 * into view (another device may have written meanwhile), or the server refused a turn for an
 * answer this tab did not know of (`readAgain`: another tab's, before it could announce it).
 * The first two also tell `onListChanged`. A read that fails changes nothing, but one that finds
 * the conversation gone says so (`onGone`).
 */
export function useChangesElsewhere({ enabled, conversationId, visit, onListChanged, onGone }: ChangesElsewhereOptions): ChangesElsewhere {
  const [changes, setChanges] = useState(0)
  const [latest, setLatest] = useState<{ key: string; copy: ServerCopy } | null>(null)
  const key = `${visit}:${conversationId}`
  // Read by the listeners and the read, which run for changes, not for moves.
  const open = useRef({ conversationId, key, onGone })
  useEffect(() => {
    open.current = { conversationId, key, onGone }
  }, [conversationId, key, onGone])

  useEffect(() => {
    if (!enabled) return
    const unsubscribe = onTabNews((news) => {
      onListChanged()
      if (news.conversationId === open.current.conversationId) setChanges((n) => n + 1)
    })
    const onVisible = () => {
      if (document.visibilityState !== 'visible') return
      onListChanged()
      setChanges((n) => n + 1)
    }
    document.addEventListener('visibilitychange', onVisible)
    return () => {
      unsubscribe()
      document.removeEventListener('visibilitychange', onVisible)
    }
  }, [enabled, onListChanged])

  useEffect(() => {
    const { conversationId: id, key: readFor, onGone: gone } = open.current
    // `/c/` names no conversation: nothing to read.
    if (changes === 0 || id === null || id === '') return
    const abort = new AbortController()
    const readAt = performance.now()
    getConversation(id, abort.signal).then(
      (conversation) => setLatest({ key: readFor, copy: { messages: toUiMessages(conversation.messages), readAt } }),
      (error: unknown) => {
        // Deleted: the page says so, as a link to it would. Out of reach for now: what is on
        // screen stays, and the next action says why.
        if (!abort.signal.aborted && isNotFound(error)) gone?.(id)
      },
    )
    return () => abort.abort()
  }, [changes])

  const readAgain = useCallback(() => setChanges((n) => n + 1), [])
  return { latest: latest?.key === key ? latest.copy : null, readAgain }
}
