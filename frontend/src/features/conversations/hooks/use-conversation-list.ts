import { useCallback, useEffect, useRef, useState } from 'react'

import { type ChatError, toChatError } from '../../chat/api/chat-error'
import {
  deleteConversation,
  isConversationsDisabled,
  listConversations,
  renameConversation,
} from '../api/conversations'
import type { Conversation, ConversationPage } from '../api/types'

/** `disabled`: the server keeps no conversations here (`error` says why), and the UI works without them. */
export type ListStatus = 'loading' | 'ready' | 'disabled' | 'error'

export interface ListState {
  /** Whose list this is: the API key version it was loaded with. */
  owner: number
  status: ListStatus
  /** Newest first. */
  conversations: Conversation[]
  /** The cursor for older conversations, if there are more. */
  next?: string
  error: ChatError | null
  loadingMore: boolean
}

const empty = (owner: number, status: ListStatus): ListState => ({ owner, status, conversations: [], error: null, loadingMore: false })

/**
 * The newest page, laid over what is shown: it replaces the newest part of the list, and
 * conversations older than its last one (pages loaded with "Load more") stay.
 */
export function withFirstPage(state: ListState, page: ConversationPage, owner: number): ListState {
  const fresh = { ...empty(owner, 'ready'), conversations: page.conversations, next: page.next }
  const last = page.conversations.at(-1)
  if (state.owner !== owner || state.status !== 'ready' || !page.next || !last) return fresh
  const inPage = new Set(page.conversations.map((c) => c.id))
  const boundary = Date.parse(last.updatedAt)
  const older = state.conversations.filter((c) => !inPage.has(c.id) && Date.parse(c.updatedAt) < boundary)
  return older.length === 0 ? fresh : { ...fresh, conversations: [...page.conversations, ...older], next: state.next }
}

/** The server keeps no conversations here, for the reason its `error` gives. */
const disabled = (owner: number, error: unknown): ListState => ({ ...empty(owner, 'disabled'), error: toChatError(error) })

function withError(state: ListState, error: unknown, owner: number): ListState {
  if (isConversationsDisabled(error)) return disabled(owner, error)
  // A refresh that fails leaves the list as it was.
  if (state.owner === owner && state.status === 'ready') return state
  return { ...empty(owner, 'error'), error: toChatError(error) }
}

/**
 * The owner's conversations, newest first, loaded again when the API key changes
 * (`keyVersion`), with the actions that change them.
 */
export function useConversationList(keyVersion: number) {
  const [state, setState] = useState<ListState>(() => empty(keyVersion, 'loading'))
  // Only the newest request for the first page may set it: an older answer may lack a new conversation.
  const latest = useRef(0)

  const refresh = useCallback(() => {
    const request = ++latest.current
    listConversations({}).then(
      (page) => request === latest.current && setState((s) => withFirstPage(s, page, keyVersion)),
      (error: unknown) => request === latest.current && setState((s) => withError(s, error, keyVersion)),
    )
  }, [keyVersion])

  useEffect(refresh, [refresh])

  const { next, loadingMore } = state
  const loadMore = useCallback(() => {
    if (!next || loadingMore) return
    setState((s) => ({ ...s, loadingMore: true }))
    listConversations({ before: next }).then(
      (page) =>
        setState((s) => {
          if (s.next !== next) return { ...s, loadingMore: false }
          const known = new Set(s.conversations.map((c) => c.id))
          const older = page.conversations.filter((c) => !known.has(c.id))
          return { ...s, loadingMore: false, conversations: [...s.conversations, ...older], next: page.next }
        }),
      // The button stays, to try again.
      () => setState((s) => ({ ...s, loadingMore: false })),
    )
  }, [next, loadingMore])

  /** A conversation just created here: at the top at once, then confirmed by a fresh page. */
  const add = useCallback(
    (conversation: Conversation) => {
      setState((s) => ({
        ...s,
        status: 'ready',
        error: null,
        conversations: [conversation, ...s.conversations.filter((c) => c.id !== conversation.id)],
      }))
      refresh()
    },
    [refresh],
  )

  const rename = useCallback(
    async (id: string, title: string) => {
      const renamed = await renameConversation(id, title)
      // A rename counts as activity on the server: the conversation moves to the top there too.
      setState((s) => ({ ...s, conversations: [renamed, ...s.conversations.filter((c) => c.id !== id)] }))
      // Read again, which also sets aside a read begun before the rename (it has the old title).
      refresh()
    },
    [refresh],
  )

  const remove = useCallback(
    async (id: string) => {
      await deleteConversation(id)
      setState((s) => ({ ...s, conversations: s.conversations.filter((c) => c.id !== id) }))
      // As after a rename: a read begun before the delete still has it.
      refresh()
    },
    [refresh],
  )

  const markDisabled = useCallback((error: unknown) => setState((s) => disabled(s.owner, error)), [])

  return { ...state, refresh, loadMore, add, rename, remove, markDisabled }
}

export type ConversationList = ReturnType<typeof useConversationList>
