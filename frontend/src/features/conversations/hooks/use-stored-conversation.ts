import { useCallback, useEffect, useState } from 'react'

import { type ChatError, toChatError } from '../../chat/api/chat-error'
import type { UiMessage } from '../../chat/hooks/chat-state'
import { getConversation, isNotFound } from '../api/conversations'
import type { ConversationDetail } from '../api/types'
import { toUiMessages } from './to-ui-messages'

export type Opened =
  | { status: 'none' }
  | { status: 'loading' }
  | { status: 'ready'; conversation: ConversationDetail; messages: UiMessage[] }
  | { status: 'missing' }
  | { status: 'failed'; error: ChatError }

const none: Opened = { status: 'none' }
const loading: Opened = { status: 'loading' }
const missing: Opened = { status: 'missing' }

/**
 * The conversation a visit opened (a deep link, a reload, a pick from the list), loaded once
 * per visit; `retry` loads it again. A new chat (`id` null) has nothing to load.
 */
export function useStoredConversation(id: string | null, visit: number) {
  const [attempt, setAttempt] = useState(0)
  const [result, setResult] = useState<{ key: string; opened: Opened } | null>(null)
  const key = `${visit}:${attempt}`

  useEffect(() => {
    if (id === null || id === '') return
    const abort = new AbortController()
    getConversation(id, abort.signal).then(
      (conversation) => setResult({ key, opened: { status: 'ready', conversation, messages: toUiMessages(conversation.messages) } }),
      (error: unknown) => {
        if (abort.signal.aborted) return
        // A malformed id (400) is as missing as an unknown one.
        const missing = isNotFound(error) || toChatError(error).status === 400
        setResult({ key, opened: missing ? { status: 'missing' } : { status: 'failed', error: toChatError(error) } })
      },
    )
    return () => abort.abort()
  }, [id, key])

  const retry = useCallback(() => setAttempt((n) => n + 1), [])
  // `/c/` names no conversation at all: nothing to ask the server.
  const opened = id === null ? none : id === '' ? missing : result?.key === key ? result.opened : loading
  return { opened, retry }
}
