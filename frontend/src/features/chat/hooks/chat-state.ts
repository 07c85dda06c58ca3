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
  /**
   * How long the model thought, in ms: from its first reasoning to its first answer text, as
   * this page saw them arrive. Unknown for answers from the store or followed after a reload.
   */
  thinkingMs?: number
  state: MessageState
  info?: MessageInfo
  /** Why the answer failed (`throttled`, `access_denied`, …). */
  errorCode?: string
  /** The server keeps this message: it came from the store, or its answer began with `start`. */
  stored?: boolean
  /**
   * The page lost the answer's stream (the connection broke, or following it was refused), not
   * the answer: the server may still be writing it, so Retry follows it again.
   */
  followable?: boolean
}

export interface ChatState {
  messages: UiMessage[]
  status: ChatStatus
  error: ChatError | null
  /** The connection dropped mid-answer and the transport is trying to reach the answer again. */
  reconnecting: boolean
  /**
   * A question the server refused before any answer, as it is (too long, say) or while another
   * answer is being written in the conversation: handed back to the message box, to be edited
   * or sent again later rather than lost; out of the conversation too, unless the server keeps
   * it (with its failed answer).
   */
  returned: UiMessage | null
}

export type ChatAction =
  | { type: 'submit'; user: UiMessage; answerId: string }
  /** The server keeps the answer, as `messageId`. */
  | { type: 'start'; messageId: string }
  | { type: 'append'; text: string; reasoning: string }
  | { type: 'thought'; ms: number }
  | { type: 'done'; info: MessageInfo }
  /** `thrown`: the stream failed (the connection, a refused request), not the answer (`event: error`). */
  | { type: 'fail'; error: ChatError; thrown?: boolean }
  /** `unsent`: stopped before the turn left the page. */
  | { type: 'stopped'; unsent?: boolean }
  | { type: 'retry'; answerId: string; resend?: UiMessage }
  | { type: 'resume' }
  | { type: 'reconnecting' }
  | { type: 'reconnected' }
  | { type: 'sync'; messages: UiMessage[] }
  | { type: 'reset' }

/**
 * The refusals whose question goes back to the message box (see `ChatState.returned`): refused
 * as it was, or before the server took it (its rate limit, its cap on answers, or no server
 * reached), so that nothing is lost when it is sent again; or refused where it was asked (a
 * conversation full or deleted meanwhile, or none kept), so that it can be asked in a new chat,
 * where a Retry would only be refused again. (A missing key asks for one, then sends the
 * question again itself.)
 */
const RETURNED = new Set([
  'invalid_request',
  'payload_too_large',
  'answer_in_progress',
  'rate_limited',
  'too_many_answers',
  'network_error',
  'limit_reached',
  'not_found',
  'conversations_disabled',
])

export const initialChatState: ChatState = { messages: [], status: 'ready', error: null, reconnecting: false, returned: null }

/** The last message when it is an answer the server is still writing (from the store). */
export function pendingAnswer(messages: UiMessage[]): UiMessage | null {
  const last = messages.at(-1)
  return last?.role === 'assistant' && last.state === 'pending' ? last : null
}

/**
 * An answer that ended without a word (refused before its first token, or stopped or cut off
 * before it): asking its question again replaces it, on the server (which kept it, even when it
 * was stopped before the page heard that it had) and so here.
 */
export function cameToNothing(message: UiMessage | undefined): boolean {
  return brokeOff(message) && message!.content === '' && message!.reasoning === ''
}

/** An answer that ended otherwise than as the model ended it: stopped, failed or cut off. */
export function brokeOff(message: UiMessage | undefined): boolean {
  return message?.role === 'assistant' && (message.state === 'failed' || message.state === 'stopped' || message.state === 'interrupted')
}

/** The conversation as the server had it when a read of it began (`readAt`, on `performance.now()`'s clock). */
export interface ServerCopy {
  messages: UiMessage[]
  readAt: number
}

/** An answer the page has seen end, however it ended. */
const ended = (message: UiMessage) => message.state !== 'streaming' && message.state !== 'pending'

/**
 * Whether `latest` (the conversation as the server has it) shows more than `shown`: more
 * messages, or as many with one of them changed. Never fewer: an older copy than the page's
 * own. Nor an answer still being written where the page saw it end: the store's copy lags the
 * stream (its text is flushed every half second, its end written after the last frame).
 */
export function isNewer(latest: UiMessage[], shown: UiMessage[]): boolean {
  if (latest.length !== shown.length) return latest.length > shown.length
  return latest.some((message, i) => {
    const seen = shown[i]!
    if (message.state === 'pending' && ended(seen)) return false
    const changed = message.role !== seen.role || message.content !== seen.content || message.reasoning !== seen.reasoning
    return changed || message.state !== seen.state
  })
}

/**
 * A chat that starts from messages already there (a stored conversation). With `resuming`, an
 * answer the server is still writing is shown as streaming from the start: it is followed.
 */
export function chatStateFrom({ messages, resuming = false }: { messages: UiMessage[]; resuming?: boolean }): ChatState {
  const state = { ...initialChatState, messages }
  return resuming && pendingAnswer(messages) ? chatReducer(state, { type: 'resume' }) : state
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
        reconnecting: false,
        returned: null,
      }
    case 'start':
      // The answer is the server's message from now on: its id too (it has no text yet, so its
      // view starting over under the new key costs nothing).
      return { ...state, messages: updateAnswer(state, (m) => ({ ...m, id: action.messageId, stored: true })) }
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
    case 'thought':
      return { ...state, messages: updateAnswer(state, (m) => ({ ...m, thinkingMs: action.ms })) }
    case 'done':
      return {
        ...state,
        status: 'ready',
        reconnecting: false,
        messages: updateAnswer(state, (m) => ({ ...m, state: 'complete', info: action.info })),
      }
    case 'fail': {
      const [question, answer] = state.messages.slice(-2)
      const followable = Boolean(action.thrown && answer?.role === 'assistant' && answer.stored)
      const beforeAnswer = answer?.role === 'assistant' && answer.content === '' && answer.reasoning === ''
      const returned = !followable && RETURNED.has(action.error.code) && beforeAnswer && question?.role === 'user' ? question : null
      // The server keeps it when the answer began (`start`), or the question was stored before
      // (asked again after an answer that came to nothing): then it stays, as it does there.
      if (returned && !answer?.stored && !returned.stored) {
        return { status: 'error', error: action.error, reconnecting: false, messages: state.messages.slice(0, -2), returned }
      }
      return {
        status: 'error',
        error: action.error,
        reconnecting: false,
        messages: updateAnswer(state, (m) => ({ ...m, state: 'failed', errorCode: action.error.code, ...(followable && { followable }) })),
        returned,
      }
    }
    case 'stopped': {
      // Stopped before the turn left the page: the server has nothing of it, so the question
      // goes back to the box, to be sent again or not, rather than stay on screen as asked.
      const [question, answer] = state.messages.slice(-2)
      const unanswered = answer?.role === 'assistant' && answer.content === '' && answer.reasoning === ''
      if (action.unsent && unanswered && question?.role === 'user' && !question.stored) {
        return { status: 'ready', error: null, reconnecting: false, messages: state.messages.slice(0, -2), returned: question }
      }
      return { ...state, status: 'ready', reconnecting: false, messages: updateAnswer(state, (m) => ({ ...m, state: 'stopped' })) }
    }
    case 'retry': {
      const answer = newMessage(action.answerId, 'assistant', '', 'streaming')
      // A stored failed answer that said something stays, as it does on the server, and the
      // question is asked again after it; an answer the server never kept, or kept without a
      // word (which the server replaces), makes way for the new one.
      if (action.resend) return { messages: [...state.messages, action.resend, answer], status: 'submitted', error: null, reconnecting: false, returned: null }
      const withoutAnswer = state.messages.at(-1)?.role === 'assistant' ? state.messages.slice(0, -1) : state.messages
      return { messages: [...withoutAnswer, answer], status: 'submitted', error: null, reconnecting: false, returned: null }
    }
    case 'resume': {
      // The answer so far stays; what the server writes next is appended to it.
      const last = state.messages.at(-1)
      return {
        messages: updateAnswer(state, (m) => ({ ...m, state: 'streaming', errorCode: undefined, followable: undefined })),
        status: last?.content ? 'streaming' : 'submitted',
        error: null,
        reconnecting: false,
        returned: null,
      }
    }
    case 'reconnecting':
      return { ...state, reconnecting: true }
    case 'reconnected':
      return { ...state, reconnecting: false }
    case 'sync':
      // Changed elsewhere: shown as the server has it, and its answer still being written
      // followed (the caller follows it).
      return chatStateFrom({ messages: action.messages, resuming: true })
    case 'reset':
      return initialChatState
  }
}
