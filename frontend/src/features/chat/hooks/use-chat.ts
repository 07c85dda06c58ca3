import { useCallback, useEffect, useReducer, useRef } from 'react'

import { ChatError } from '../api/chat-error'
import { streamChat } from '../api/stream-chat'
import type { ChatMessage, ChatStreamEvent } from '../api/types'
import { type UiMessage, chatReducer, chatStateFrom, newMessage } from './chat-state'

/** The transport: sends the conversation, which ends with the new user turn, and yields the answer. */
export type StreamChat = (history: ChatMessage[], signal: AbortSignal) => AsyncIterable<ChatStreamEvent>

/**
 * The abort reason when the reader presses Stop, so that a transport can tell Stop from a
 * reader who merely went elsewhere (where a stored answer may go on without them).
 */
export const stopRequested = new DOMException('Stopped by the reader.', 'AbortError')

export interface ChatOptions {
  /** The messages to start from: a stored conversation's. Read once, when the hook mounts. */
  initialMessages?: UiMessage[]
  /** Called when an answer has ended, however it ended. */
  onSettled?: () => void
}

let nextId = 0
const id = () => `m${++nextId}`

/** Schedules one flush per animation frame, so a fast stream re-renders ~60 times a second, not per token. */
const nextFrame: (cb: () => void) => void =
  typeof requestAnimationFrame === 'function' ? (cb) => requestAnimationFrame(cb) : (cb) => setTimeout(cb, 16)

/** What the server needs: every turn with text, in order. */
function toHistory(messages: UiMessage[]): ChatMessage[] {
  return messages.filter((m) => m.content.trim() !== '').map(({ role, content }) => ({ role, content }))
}

/**
 * The chat's state: messages, status (`submitted → streaming → ready | error`), the last error,
 * and the actions. The in-flight request owns its AbortController; `stop` aborts it.
 */
export function useChat(stream: StreamChat = streamChat, { initialMessages = [], onSettled }: ChatOptions = {}) {
  const [state, dispatch] = useReducer(chatReducer, initialMessages, chatStateFrom)
  const controller = useRef<AbortController | null>(null)
  const pending = useRef({ text: '', reasoning: '', scheduled: false })

  const flush = useCallback(() => {
    const { text, reasoning } = pending.current
    pending.current = { text: '', reasoning: '', scheduled: false }
    if (text || reasoning) dispatch({ type: 'append', text, reasoning })
  }, [])

  const buffer = useCallback(
    (kind: 'text' | 'reasoning', piece: string) => {
      pending.current[kind] += piece
      if (!pending.current.scheduled) {
        pending.current.scheduled = true
        nextFrame(flush)
      }
    },
    [flush],
  )

  const run = useCallback(
    async (history: ChatMessage[]) => {
      const abort = new AbortController()
      controller.current = abort
      try {
        for await (const event of stream(history, abort.signal)) {
          if (event.type === 'start') dispatch({ type: 'start' })
          else if (event.type === 'token') buffer('text', event.text)
          else if (event.type === 'reasoning') buffer('reasoning', event.text)
          else if (event.type === 'done') {
            flush()
            dispatch({ type: 'done', info: event.info })
          } else if (event.type === 'stopped') {
            flush()
            dispatch({ type: 'stopped' })
          } else {
            flush()
            dispatch({ type: 'fail', error: new ChatError(event.error) })
          }
        }
      } catch (error) {
        flush()
        if (abort.signal.aborted) dispatch({ type: 'stopped' })
        else if (error instanceof ChatError) dispatch({ type: 'fail', error })
        else dispatch({ type: 'fail', error: new ChatError({ code: 'client_error', message: String(error) }) })
      } finally {
        if (controller.current === abort) controller.current = null
        onSettled?.()
      }
    },
    [stream, buffer, flush, onSettled],
  )

  const busy = state.status === 'submitted' || state.status === 'streaming'

  const send = useCallback(
    (text: string) => {
      if (busy || text.trim() === '') return
      const user = newMessage(id(), 'user', text)
      dispatch({ type: 'submit', user, answerId: id() })
      void run(toHistory([...state.messages, user]))
    },
    [busy, run, state.messages],
  )

  const stop = useCallback(() => controller.current?.abort(stopRequested), [])

  const retry = useCallback(() => {
    if (busy) return
    const last = state.messages.at(-1)
    if (last?.role === 'assistant' && last.stored) {
      // The server keeps the failed answer: ask the question again after it.
      const question = state.messages.findLast((m) => m.role === 'user')
      if (!question) return
      const resend = newMessage(id(), 'user', question.content)
      dispatch({ type: 'retry', answerId: id(), resend })
      void run(toHistory([...state.messages, resend]))
      return
    }
    const history = state.messages.at(-1)?.role === 'assistant' ? state.messages.slice(0, -1) : state.messages
    if (history.at(-1)?.role !== 'user') return
    dispatch({ type: 'retry', answerId: id() })
    void run(toHistory(history))
  }, [busy, run, state.messages])

  const newChat = useCallback(() => {
    controller.current?.abort()
    dispatch({ type: 'reset' })
  }, [])

  // Leaving the page mid-answer stops the generation too.
  useEffect(() => () => controller.current?.abort(), [])

  return { ...state, busy, send, stop, retry, newChat }
}
