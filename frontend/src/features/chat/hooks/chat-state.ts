import type { ChatError } from '../api/chat-error'
import type { Role, Usage } from '../api/types'

export type ChatStatus = 'submitted' | 'streaming' | 'ready' | 'error'

/**
 * How a message came to be as it is; a partial answer stays visible after Stop or an error.
 * `interrupted` (the server died mid-answer) and `pending` (the server is still writing it)
 * only come from the store.
 */
export type MessageState = 'streaming' | 'complete' | 'stopped' | 'failed' | 'interrupted' | 'pending'

/** What is known about a finished answer: all of it live (`done`), less from the store. */
export interface MessageInfo {
  usage?: Usage
  latencyMs?: number
  model?: string
  /** False when Bedrock refused streaming and Converse answered in one piece. */
  streamed?: boolean
  stopReason?: string
}

export interface UiMessage {
  id: string
  role: Role
  content: string
  reasoning: string
  state: MessageState
  info?: MessageInfo
  /** Why the answer failed (`throttled`, `access_denied`, …). */
  errorCode?: string
  /** The server keeps this message: it came from the store, or its answer began with `start`. */
  stored?: boolean
}

export interface ChatState {
  messages: UiMessage[]
  status: ChatStatus
  error: ChatError | null
}

export type ChatAction =
  | { type: 'submit'; user: UiMessage; answerId: string }
  | { type: 'start' }
  | { type: 'append'; text: string; reasoning: string }
  | { type: 'done'; info: MessageInfo }
  | { type: 'fail'; error: ChatError }
  | { type: 'stopped' }
  | { type: 'retry'; answerId: string; resend?: UiMessage }
  | { type: 'reset' }

export const initialChatState: ChatState = { messages: [], status: 'ready', error: null }

/** A chat that starts from messages already there (a stored conversation). */
export function chatStateFrom(messages: UiMessage[]): ChatState {
  return { ...initialChatState, messages }
}

export function newMessage(id: string, role: Role, content = '', state: MessageState = 'complete'): UiMessage {
  return { id, role, content, reasoning: '', state }
}

/** Replaces the last message (the answer in progress), keeping every other object as it was. */
function updateAnswer(state: ChatState, update: (m: UiMessage) => UiMessage): UiMessage[] {
  const last = state.messages.at(-1)
  if (!last || last.role !== 'assistant') return state.messages
  return [...state.messages.slice(0, -1), update(last)]
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case 'submit':
      return {
        messages: [...state.messages, action.user, newMessage(action.answerId, 'assistant', '', 'streaming')],
        status: 'submitted',
        error: null,
      }
    case 'start':
      return { ...state, messages: updateAnswer(state, (m) => ({ ...m, stored: true })) }
    case 'append':
      return {
        ...state,
        status: 'streaming',
        messages: updateAnswer(state, (m) => ({
          ...m,
          content: m.content + action.text,
          reasoning: m.reasoning + action.reasoning,
        })),
      }
    case 'done':
      return { ...state, status: 'ready', messages: updateAnswer(state, (m) => ({ ...m, state: 'complete', info: action.info })) }
    case 'fail':
      return {
        ...state,
        status: 'error',
        error: action.error,
        messages: updateAnswer(state, (m) => ({ ...m, state: 'failed', errorCode: action.error.code })),
      }
    case 'stopped':
      return { ...state, status: 'ready', messages: updateAnswer(state, (m) => ({ ...m, state: 'stopped' })) }
    case 'retry': {
      const answer = newMessage(action.answerId, 'assistant', '', 'streaming')
      // A stored failed answer stays, as it does on the server, and the question is asked again
      // after it; an answer the server never kept makes way for the new one.
      if (action.resend) return { messages: [...state.messages, action.resend, answer], status: 'submitted', error: null }
      const withoutAnswer = state.messages.at(-1)?.role === 'assistant' ? state.messages.slice(0, -1) : state.messages
      return { messages: [...withoutAnswer, answer], status: 'submitted', error: null }
    }
    case 'reset':
      return initialChatState
  }
}
