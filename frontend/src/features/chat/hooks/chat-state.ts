import type { ChatError } from '../api/chat-error'
import type { DoneInfo, Role } from '../api/types'

export type ChatStatus = 'submitted' | 'streaming' | 'ready' | 'error'

/** How a message came to be as it is; a partial answer stays visible after Stop or an error. */
export type MessageState = 'streaming' | 'complete' | 'stopped' | 'failed'

export interface UiMessage {
  id: string
  role: Role
  content: string
  reasoning: string
  state: MessageState
  info?: DoneInfo
}

export interface ChatState {
  messages: UiMessage[]
  status: ChatStatus
  error: ChatError | null
}

export type ChatAction =
  | { type: 'submit'; user: UiMessage; answerId: string }
  | { type: 'append'; text: string; reasoning: string }
  | { type: 'done'; info: DoneInfo }
  | { type: 'fail'; error: ChatError }
  | { type: 'stopped' }
  | { type: 'retry'; answerId: string }
  | { type: 'reset' }

export const initialChatState: ChatState = { messages: [], status: 'ready', error: null }

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
      return { ...state, status: 'error', error: action.error, messages: updateAnswer(state, (m) => ({ ...m, state: 'failed' })) }
    case 'stopped':
      return { ...state, status: 'ready', messages: updateAnswer(state, (m) => ({ ...m, state: 'stopped' })) }
    case 'retry': {
      // Ask again from the last user turn: the failed answer makes way for a new one.
      const withoutAnswer = state.messages.at(-1)?.role === 'assistant' ? state.messages.slice(0, -1) : state.messages
      return {
        messages: [...withoutAnswer, newMessage(action.answerId, 'assistant', '', 'streaming')],
        status: 'submitted',
        error: null,
      }
    }
    case 'reset':
      return initialChatState
  }
}
