import { EventSourceParserStream } from 'eventsource-parser/stream'

import { apiFetch } from './api-fetch'
import { ChatError } from './chat-error'
import type { ChatMessage, ChatRequest, ChatStreamEvent, DoneInfo, ErrorBody, ModelChoice, StartInfo } from './types'

/**
 * Ends a text that stops on a bare CR with a LF. Such a last line is otherwise ambiguous at EOF
 * (CR or CRLF?), and the parser would hold back the final event. Nothing else is added: a
 * frame whose blank line never came was cut off, and must not be taken for a whole one.
 */
function endWithNewline(): TransformStream<string, string> {
  let last = ''
  return new TransformStream({
    transform: (chunk, controller) => {
      if (chunk) last = chunk
      controller.enqueue(chunk)
    },
    flush: (controller) => {
      if (last.endsWith('\r')) controller.enqueue('\n')
    },
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

/** One parsed frame: its event, and its SSE `id:` (a stored answer's cursor), if it has one. */
export interface Frame {
  event: ChatStreamEvent
  id?: string
}

/** The frames that end an answer: nothing follows them. */
export function isTerminal(event: { type: string }): boolean {
  return event.type === 'done' || event.type === 'error' || event.type === 'stopped'
}

/** The stateless chat: POSTs the whole conversation and yields the answer's events. */
export async function* streamChat(
  messages: ChatMessage[],
  signal: AbortSignal,
  choice: ModelChoice = {},
  fetchImpl: typeof fetch = fetch,
): AsyncGenerator<ChatStreamEvent> {
  const response = await postChat({ messages, ...wireChoice(choice) }, signal, fetchImpl)
  for await (const { event } of readFrames(response, signal)) yield event
}

/**
 * POSTs one turn of a stored conversation (the server adds the history from its store). Its
 * body is the answer's frames, for `readFrames`; a refusal rejects as a ChatError.
 */
export function postTurn(
  conversationId: string,
  prompt: string,
  signal: AbortSignal,
  choice: ModelChoice = {},
  fetchImpl: typeof fetch = fetch,
): Promise<Response> {
  return postChat({ conversationId, prompt, ...wireChoice(choice) }, signal, fetchImpl)
}

/** The choice as the request carries it: only what was chosen (the server picks the rest). */
function wireChoice({ model, reasoning }: ModelChoice): ModelChoice {
  return { ...(model ? { model } : {}), ...(reasoning ? { reasoning } : {}) }
}

/** POSTs the request; resolves once the server has accepted it and the stream begins. */
function postChat(request: ChatRequest, signal: AbortSignal, fetchImpl: typeof fetch): Promise<Response> {
  return apiFetch(
    '/api/chat',
    {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      body: JSON.stringify(request),
      signal,
    },
    fetchImpl,
  )
}

const interrupted = (message: string) => new ChatError({ code: 'stream_interrupted', message })

/**
 * Errors the stream when no byte has arrived for `ms` (the server sends a keep-alive comment
 * every 15 s): a connection that went dead without a word, as after a change of Wi-Fi.
 */
function watchdog(ms: number): { stream: TransformStream<string, string>; disarm: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined
  let fail = () => {}
  const disarm = () => clearTimeout(timer)
  const arm = () => {
    disarm()
    timer = setTimeout(fail, ms)
  }
  const stream = new TransformStream<string, string>({
    start(controller) {
      fail = () => controller.error(interrupted('The server has sent nothing for too long.'))
      arm()
    },
    transform(chunk, controller) {
      arm()
      controller.enqueue(chunk)
    },
    flush: disarm,
  })
  return { stream, disarm }
}

/** Three keep-alives (15 s apart) missed: the connection is dead even if nothing said so. */
export const IDLE_TIMEOUT_MS = 45_000

export interface ReadOptions {
  /**
   * Treat the connection as broken after this long without a byte (keep-alives count);
   * `IDLE_TIMEOUT_MS` unless given.
   */
  idleTimeoutMs?: number
}

/**
 * Yields a streamed response's frames as they arrive, up to and including the terminal one.
 * The byte stream is decoded by TextDecoderStream (multi-byte characters split across chunks
 * are fine) and framed by eventsource-parser (CR, LF, CRLF, multi-line data and comments all
 * occur on the wire); a frame cut off by a broken connection is never yielded. A body that
 * breaks, or ends before a terminal frame, throws `stream_interrupted`; an abort rejects as
 * fetch does. Leaving early (Stop, unmount) closes the connection rather than draining it.
 */
export async function* readFrames(response: Response, signal: AbortSignal, { idleTimeoutMs = IDLE_TIMEOUT_MS }: ReadOptions = {}): AsyncGenerator<Frame> {
  if (!response.body) {
    throw new ChatError({ code: 'no_stream', message: 'This browser cannot read streamed responses; use a current Chromium or Firefox.' })
  }
  const guard = watchdog(idleTimeoutMs)
  const text = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(guard.stream)
  const reader = text.pipeThrough(endWithNewline()).pipeThrough(new EventSourceParserStream()).getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      const event = toEvent(value.event, value.data)
      if (!event) continue
      yield value.id === undefined ? { event } : { event, id: value.id }
      if (isTerminal(event)) return
    }
  } catch (error) {
    if (signal.aborted) throw error
    throw error instanceof ChatError ? error : interrupted('The connection broke before the answer finished. Try again.')
  } finally {
    guard.disarm()
    reader.cancel().catch(() => {})
  }
  throw interrupted('The answer ended before it was complete. Try again.')
}
