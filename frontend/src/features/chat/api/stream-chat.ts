import { EventSourceParserStream } from 'eventsource-parser/stream'

import { apiFetch } from './api-fetch'
import { ChatError } from './chat-error'
import type { ChatMessage, ChatRequest, ChatStreamEvent, DoneInfo, ErrorBody, StartInfo } from './types'

/**
 * Ends the text with a newline. A stream whose last line ends in a bare CR is otherwise
 * ambiguous at EOF (CR or CRLF?), and the parser would hold back the final event.
 */
function endWithNewline(): TransformStream<string, string> {
  return new TransformStream({
    transform: (chunk, controller) => controller.enqueue(chunk),
    flush: (controller) => controller.enqueue('\n'),
  })
}

/** Turns one parsed SSE message into a typed event; unknown event types are ignored. */
function toEvent(event: string | undefined, data: string): ChatStreamEvent | null {
  switch (event ?? 'message') {
    case 'start':
      return { type: 'start', info: JSON.parse(data) as StartInfo }
    case 'message':
      return { type: 'token', text: (JSON.parse(data) as { token: string }).token }
    case 'reasoning':
      return { type: 'reasoning', text: (JSON.parse(data) as { token: string }).token }
    case 'done':
      return { type: 'done', info: JSON.parse(data) as DoneInfo }
    case 'error':
      return { type: 'error', error: (JSON.parse(data) as { error: ErrorBody }).error }
    case 'stopped':
      return { type: 'stopped' }
    default:
      return null
  }
}

/** The stateless chat: POSTs the whole conversation and yields the answer's events. */
export function streamChat(messages: ChatMessage[], signal: AbortSignal, fetchImpl: typeof fetch = fetch): AsyncGenerator<ChatStreamEvent> {
  return postChat({ messages }, signal, fetchImpl)
}

/** One turn of a stored conversation: the server adds the history from its store. */
export function streamTurn(
  conversationId: string,
  prompt: string,
  signal: AbortSignal,
  fetchImpl: typeof fetch = fetch,
): AsyncGenerator<ChatStreamEvent> {
  return postChat({ conversationId, prompt }, signal, fetchImpl)
}

/**
 * POSTs the request and yields the answer's events as they arrive. The byte stream is
 * decoded by TextDecoderStream (multi-byte characters split across chunks are fine) and framed
 * by eventsource-parser (CR, LF, CRLF, multi-line data and comments all occur on the wire).
 * Aborting `signal` cancels the request, which makes the server stop the model (and store a
 * stored conversation's partial answer as `stopped`).
 */
async function* postChat(request: ChatRequest, signal: AbortSignal, fetchImpl: typeof fetch): AsyncGenerator<ChatStreamEvent> {
  const response = await apiFetch(
    '/api/chat',
    {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      body: JSON.stringify(request),
      signal,
    },
    fetchImpl,
  )
  if (!response.body) {
    throw new ChatError({ code: 'no_stream', message: 'This browser cannot read streamed responses; use a current Chromium or Firefox.' })
  }

  const reader = response.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(endWithNewline())
    .pipeThrough(new EventSourceParserStream())
    .getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      const event = toEvent(value.event, value.data)
      if (!event) continue
      yield event
      if (event.type === 'done' || event.type === 'error' || event.type === 'stopped') return
    }
  } catch (error) {
    if (signal.aborted) throw error
    throw new ChatError({ code: 'stream_interrupted', message: 'The connection broke before the answer finished. Try again.' })
  } finally {
    // Leaving early (Stop, unmount) closes the connection rather than draining it.
    reader.cancel().catch(() => {})
  }
  throw new ChatError({ code: 'stream_interrupted', message: 'The answer ended before it was complete. Try again.' })
}
