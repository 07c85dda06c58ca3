import { streamChat, streamTurn } from '../../chat/api/stream-chat'
import type { ChatMessage, ChatStreamEvent } from '../../chat/api/types'
import { type StreamChat, stopRequested } from '../../chat/hooks/use-chat'
import { createConversation, isConversationsDisabled, stopAnswer } from './conversations'
import type { Conversation } from './types'

export interface ConversationStreamOptions {
  /** The conversation on screen, read at each send; null for a new chat, created on its first send. */
  conversationId: () => string | null
  /** The new chat's conversation exists: show it in the list, put it in the URL. */
  onCreated: (conversation: Conversation) => void
  /** The server keeps no conversations: this turn and the next go stateless. */
  onDisabled: () => void
  fetchImpl?: typeof fetch
}

/**
 * The transport of a stored conversation: each send carries only the new turn, and the server
 * adds the history from its store. The first send of a new chat creates the conversation.
 * A stored answer belongs to the server, which goes on writing it when the reader leaves: so
 * Stop, besides closing the connection, asks the server to stop. Where the server answers
 * `conversations_disabled`, the turn is sent the stateless way, with the whole history.
 */
export function conversationStream({ conversationId, onCreated, onDisabled, fetchImpl }: ConversationStreamOptions): StreamChat {
  return async function* (history: ChatMessage[], signal: AbortSignal): AsyncGenerator<ChatStreamEvent> {
    const prompt = history.at(-1)
    if (prompt?.role !== 'user') throw new Error('A turn ends with the user message')
    let id = conversationId()
    try {
      if (id === null) {
        const created = await createConversation(undefined, signal, fetchImpl)
        // Stopped, or the reader went elsewhere, while it was being created: stay out of the way.
        signal.throwIfAborted()
        id = created.id
        onCreated(created)
      }
      const conversation = id
      const stopOnServer = () => {
        if (signal.reason === stopRequested) stopAnswer(conversation, fetchImpl).catch(() => {})
      }
      signal.addEventListener('abort', stopOnServer, { once: true })
      try {
        yield* streamTurn(conversation, prompt.content, signal, fetchImpl)
      } finally {
        signal.removeEventListener('abort', stopOnServer)
      }
    } catch (error) {
      if (!isConversationsDisabled(error)) throw error
      onDisabled()
      yield* streamChat(history, signal, fetchImpl)
    }
  }
}
