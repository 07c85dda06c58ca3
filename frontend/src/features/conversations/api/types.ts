/**
 * The wire contract of /api/conversations (see the server's OpenAPI document and
 * shared/design.md, "Conversations"). Times are RFC 3339, in UTC.
 */
import type { Role, Usage } from '../../chat/api/types'

export interface Conversation {
  id: string
  /** Empty until named: the server names it after the first prompt, renaming overrides that. */
  title: string
  /** The model of its latest turn (null before the first). */
  model: string | null
  createdAt: string
  updatedAt: string
}

/** GET /api/conversations: newest first (by updatedAt); `next` is the cursor for older ones. */
export interface ConversationPage {
  conversations: Conversation[]
  next?: string
}

/** `streaming` while the server writes it, `interrupted` if the server died meanwhile. */
export type StoredStatus = 'complete' | 'streaming' | 'stopped' | 'error' | 'interrupted'

export interface StoredMessage {
  id: string
  role: Role
  content: string
  status: StoredStatus
  /** The model that wrote an answer. */
  model?: string | null
  /** An answer's reasoning text, when the model reasoned visibly. */
  reasoning?: string | null
  usage?: Usage
  stopReason?: string
  errorCode?: string
  /** How long a complete answer took from its request, in milliseconds. */
  latencyMs?: number
  createdAt: string
}

/** GET /api/conversations/{id}: the conversation with its messages in order. */
export interface ConversationDetail extends Conversation {
  messages: StoredMessage[]
}

export type ExportFormat = 'markdown' | 'json'
