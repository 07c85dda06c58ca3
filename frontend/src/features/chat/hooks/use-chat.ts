import { useCallback, useEffect, useReducer, useRef, useState } from 'react'

import { ChatError, toChatError } from '../api/chat-error'
import { streamChat } from '../api/stream-chat'
import type { ChatMessage, ModelChoice, StreamEvent } from '../api/types'
import { type ServerCopy, type UiMessage, brokeOff, cameToNothing, chatReducer, chatStateFrom, isNewer, newMessage, pendingAnswer } from './chat-state'

/**
 * The transport: sends the conversation, which ends with the new user turn, with the reader's
 * choice of model and reasoning, and yields the answer.
 */
export type StreamChat = (history: ChatMessage[], signal: AbortSignal, choice?: ModelChoice) => AsyncIterable<StreamEvent>

/**
 * Follows an answer the server is still writing, from the text the page already has of it
 * (`content`, `reasoning`): yields only what comes after.
 */
export type ResumeChat = (answer: Pick<UiMessage, 'id' | 'content' | 'reasoning' | 'stored'>, signal: AbortSignal) => AsyncIterable<StreamEvent>

/**
 * The abort reason when the reader presses Stop, so that a transport can tell Stop from a
 * reader who merely went elsewhere (where a stored answer may go on without them). A transport
 * whose Stop did not reach the answer throws a `ChatError` coded `stop_unavailable`.
 */
export const stopRequested = new DOMException('Stopped by the reader.', 'AbortError')

/**
 * What a transport throws when the turn was stopped before it left the page (a new chat's
 * conversation was still being created): the server has nothing of it, so the question goes
 * back to the message box.
 */
export const notSent = new DOMException('Stopped before it was sent.', 'AbortError')

export interface ChatOptions {
  /** The messages to start from: a stored conversation's. Read once, when the hook mounts. */
  initialMessages?: UiMessage[]
  /**
   * Follows a stored answer again: on mount, when the last initial message is an answer the
   * server is still writing, and on Retry after the connection to an answer was lost.
   */
  resume?: ResumeChat
  /** Called when an answer has ended, however it ended. */
  onSettled?: () => void
}

let nextId = 0
const id = () => `m${++nextId}`

/** Schedules one flush per animation frame, so a fast stream re-renders ~60 times a second, not per token. */
const nextFrame: (cb: () => void) => void =
  typeof requestAnimationFrame === 'function' ? (cb) => requestAnimationFrame(cb) : (cb) => setTimeout(cb, 16)

/** A clock for how long the model thought; `performance.now` where there is one. */
const now: () => number = typeof performance === 'object' ? () => performance.now() : () => Date.now()

/**
 * What the server needs: every turn with text, in order, as the server sends a stored
 * conversation: but a question whose answer came to nothing (stopped or failed before a word),
 * which the reader moved on from (asked with the new one, it would be answered too), and a
 * question asked again after its answer broke off, with that answer (Retry: asked once).
 */
function toHistory(messages: UiMessage[]): ChatMessage[] {
  const answeredWithNothing = (i: number) => brokeOff(messages[i + 1]) && messages[i + 1]!.content.trim() === ''
  const askedAgain = (i: number) => messages[i]?.role === 'user' && brokeOff(messages[i + 1]) && messages[i + 2]?.role === 'user' && messages[i + 2]!.content === messages[i]!.content
  return messages
    .filter((m, i) => m.content.trim() !== '' && !(m.role === 'user' && answeredWithNothing(i)) && !askedAgain(i) && !askedAgain(i - 1))
    .map(({ role, content }) => ({ role, content }))
}

/**
 * The chat's state: messages, status (`submitted → streaming → ready | error`), whether a
 * dropped connection is being re-established, the last error, and the actions. The in-flight
 * request owns its AbortController; `stop` aborts it.
 */
export function useChat(stream: StreamChat = streamChat, { initialMessages = [], resume, onSettled }: ChatOptions = {}) {
  const [state, dispatch] = useReducer(chatReducer, { messages: initialMessages, resuming: Boolean(resume) }, chatStateFrom)
  // The answer to follow on mount, fixed then: its text is where the server resumes from.
  const [resumeOnMount] = useState(() => (resume ? pendingAnswer(initialMessages) : null))
  const controller = useRef<AbortController | null>(null)
  // When the last answer this page followed ended: a read of the server begun before then may
  // not have it yet.
  const settledAt = useRef(-Infinity)
  const pending = useRef({ text: '', reasoning: '', scheduled: false })
  // Read when an answer ends, so that a new callback never restarts what is running.
  const settled = useRef(onSettled)
  useEffect(() => {
    settled.current = onSettled
  }, [onSettled])

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

  /**
   * Reads one answer's events into the state. A run that is no longer the current one (the
   * hook unmounted, or New chat) changes nothing more; `onSettled` still hears that it ended.
   * For an answer that starts here (`timed`), how long the model thought is measured as the
   * events arrive: from the first reasoning to the first answer text. A followed answer began
   * elsewhere, so its thinking has no known start.
   */
  const run = useCallback(
    async (open: (signal: AbortSignal) => AsyncIterable<StreamEvent>, { timed = true } = {}) => {
      const abort = new AbortController()
      controller.current = abort
      const current = () => controller.current === abort
      // When the first reasoning arrived; null before it, and once the answer text began.
      let thinkingSince: number | null = null
      let answering = !timed
      try {
        for await (const event of open(abort.signal)) {
          if (!current()) return
          if (event.type === 'start') dispatch({ type: 'start', messageId: event.info.messageId })
          else if (event.type === 'token') {
            if (thinkingSince !== null) dispatch({ type: 'thought', ms: now() - thinkingSince })
            thinkingSince = null
            answering = true
            buffer('text', event.text)
          } else if (event.type === 'reasoning') {
            if (!answering) thinkingSince ??= now()
            buffer('reasoning', event.text)
          }
          else if (event.type === 'reconnecting') dispatch({ type: 'reconnecting' })
          else if (event.type === 'reconnected') dispatch({ type: 'reconnected' })
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
        if (!current()) return
        flush()
        // A Stop the server could not deliver (`stop_unavailable`) fails the turn instead: the
        // answer goes on there, and Retry follows it again.
        const unstopped = error instanceof ChatError && error.code === 'stop_unavailable'
        if (abort.signal.aborted && !unstopped) dispatch({ type: 'stopped', unsent: error === notSent })
        else dispatch({ type: 'fail', error: toChatError(error), thrown: true })
      } finally {
        if (current()) controller.current = null
        settledAt.current = now()
        settled.current?.()
      }
    },
    [buffer, flush],
  )

  const busy = state.status === 'submitted' || state.status === 'streaming'

  /** Follows `answer`, which the server is still writing: as long as it runs, so no deadline. */
  const follow = useCallback(
    (answer: UiMessage) => {
      if (resume) void run((signal) => resume(answer, signal), { timed: false })
    },
    [resume, run],
  )

  /** Sends `text` as the next turn, to the chosen model (the server's default when none is). */
  const send = useCallback(
    (text: string, choice: ModelChoice = {}) => {
      if (busy || text.trim() === '') return
      const [question, last] = state.messages.slice(-2)
      if (cameToNothing(last) && question?.role === 'user' && question.content === text) {
        // The same question right after its answer came to nothing: the server takes it as a
        // retry (one question, the empty answer replaced), and so does the page.
        dispatch({ type: 'retry', answerId: id() })
        void run((signal) => stream(toHistory(state.messages.slice(0, -1)), signal, choice))
        return
      }
      const user = newMessage(id(), 'user', text)
      const history = toHistory([...state.messages, user])
      dispatch({ type: 'submit', user, answerId: id() })
      void run((signal) => stream(history, signal, choice))
    },
    [busy, run, stream, state.messages],
  )

  const stop = useCallback(() => controller.current?.abort(stopRequested), [])

  /** Tries the failed answer again, asking (when it asks again) the model chosen now. */
  const retry = useCallback((choice: ModelChoice = {}) => {
    if (busy) return
    const last = state.messages.at(-1)
    if (resume && last?.role === 'assistant' && last.followable) {
      // The server may well still be writing it (or has it whole): follow it again rather than
      // ask again.
      dispatch({ type: 'resume' })
      follow(last)
      return
    }
    if (last?.role === 'assistant' && last.stored && !cameToNothing(last)) {
      // The server keeps the failed answer and what it said: ask the question again after it.
      const question = state.messages.findLast((m) => m.role === 'user')
      if (!question) return
      const resend = newMessage(id(), 'user', question.content)
      const history = toHistory([...state.messages, resend])
      dispatch({ type: 'retry', answerId: id(), resend })
      void run((signal) => stream(history, signal, choice))
      return
    }
    // An answer the server never kept, or kept without a word (the server replaces it when its
    // question is asked again), makes way for the new one.
    const before = last?.role === 'assistant' ? state.messages.slice(0, -1) : state.messages
    if (before.at(-1)?.role !== 'user') return
    const history = toHistory(before)
    dispatch({ type: 'retry', answerId: id() })
    void run((signal) => stream(history, signal, choice))
  }, [busy, resume, follow, run, stream, state.messages])

  /**
   * The conversation as the server has it, changed elsewhere (another tab asked a question,
   * say): shown instead when this page writes no answer of its own, the read began after its
   * last one ended, and the server's copy is newer; an answer the server is still writing is
   * followed. A failure shown here gives way to it too.
   */
  const sync = useCallback(
    ({ messages, readAt }: ServerCopy) => {
      if (!resume || busy || readAt < settledAt.current || !isNewer(messages, state.messages)) return
      dispatch({ type: 'sync', messages })
      const pending = pendingAnswer(messages)
      if (pending) follow(pending)
    },
    [resume, follow, busy, state.messages],
  )

  const newChat = useCallback(() => {
    const running = controller.current
    controller.current = null
    running?.abort()
    dispatch({ type: 'reset' })
  }, [])

  // On mount, follow the answer the server is still writing; leaving the page mid-answer
  // closes the connection (a stored answer goes on on the server; a stateless one stops).
  useEffect(() => {
    if (resumeOnMount) follow(resumeOnMount)
    return () => {
      const running = controller.current
      controller.current = null
      running?.abort()
    }
    // Once per mount: the answer's text has moved on by the time anything else changes.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [])

  return { ...state, busy, send, stop, retry, sync, newChat }
}
