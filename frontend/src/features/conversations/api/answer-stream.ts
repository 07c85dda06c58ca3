import { ChatError } from '../../chat/api/chat-error'
import { type Frame, IDLE_TIMEOUT_MS, isTerminal, readFrames } from '../../chat/api/stream-chat'
import type { StreamEvent } from '../../chat/api/types'
import { openAnswerStream } from './conversations'

const encoder = new TextEncoder()

/**
 * The cursor of a stored answer whose text so far is `content` and `reasoning`: their UTF-8
 * byte lengths, as the server counts them in each frame's id. After a reload, the stored text
 * plus this cursor continue exactly where the text stops.
 */
export function cursorAfter(content: string, reasoning = ''): string {
  return `${encoder.encode(content).length}.${encoder.encode(reasoning).length}`
}

/** How long to wait before the nth reconnection: 0.5 s, 1 s, 2 s, 4 s, then 8 s each. */
export function reconnectDelay(attempt: number): number {
  return Math.min(500 * 2 ** (attempt - 1), 8_000)
}

/** Reconnections without any new text in between before giving up (about 40 s of trying). */
export const MAX_RECONNECTS = 8


/** Waits `ms`, or less if the browser comes back online meanwhile; an abort rejects. */
export function waitToReconnect(ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted()
  return new Promise((resolve, reject) => {
    const settle = (then: () => void) => () => {
      clearTimeout(timer)
      window.removeEventListener('online', online)
      signal.removeEventListener('abort', aborted)
      then()
    }
    const online = settle(resolve)
    const aborted = settle(() => reject(signal.reason))
    const timer = setTimeout(online, ms)
    window.addEventListener('online', online)
    signal.addEventListener('abort', aborted)
  })
}

/** A dropped or refused connection worth another try: not a 4xx, which would only repeat. */
function canReconnect(error: unknown): boolean {
  if (!(error instanceof ChatError)) return false
  if (error.code === 'stream_interrupted' || error.code === 'network_error') return true
  return error.status === 408 || error.status === 429 || error.status >= 500
}

const connectionLost = () =>
  new ChatError({
    code: 'connection_lost',
    message: 'The connection to the server was lost while the answer was being written. The server goes on writing it: Retry to follow it again.',
    retryable: true,
  })

export interface FollowOptions {
  conversationId: string
  signal: AbortSignal
  fetchImpl?: typeof fetch
  /** Waits between attempts (tests pass their own). */
  wait?: (ms: number, signal: AbortSignal) => Promise<void>
  maxReconnects?: number
  idleTimeoutMs?: number
  /**
   * The answer followed, when known; else the first `start` frame names it. Each reconnection
   * asks for it, so an answer begun since (in another tab) is never taken for it.
   */
  messageId?: string
}

/** The tuning of `followAnswer`, for transports that pass it on. */
export type FollowTuning = Pick<FollowOptions, 'wait' | 'maxReconnects' | 'idleTimeoutMs'>

/**
 * Follows a stored answer to its terminal frame. `first` is the response of the POST that
 * started it, or null to open the answer's stream after `cursor` (a page reloaded mid-answer).
 * The answer belongs to the server, which goes on writing it whatever happens to this
 * connection: so when the connection drops (the body breaks, ends early, or stays silent),
 * this reconnects with backoff, sending the id of the last frame received as `Last-Event-ID`,
 * and the server replays exactly what was missed — no text twice, none lost. It yields
 * `reconnecting` before each attempt and `reconnected` once the server answers; the replayed
 * `start` frame is not passed on again. Refusals (a 4xx) and aborts end it as they are.
 */
export async function* followAnswer(first: Response | null, cursor: string, options: FollowOptions): AsyncGenerator<StreamEvent> {
  const { conversationId, signal, fetchImpl, wait = waitToReconnect, maxReconnects = MAX_RECONNECTS, idleTimeoutMs = IDLE_TIMEOUT_MS } = options
  const read = (response: Response) => readFrames(response, signal, { idleTimeoutMs })
  let frames: AsyncGenerator<Frame> | null = first && read(first)
  let { messageId } = options
  let started = false
  let reconnecting = false
  let attempt = 0
  for (;;) {
    try {
      frames ??= read(await openAnswerStream(conversationId, cursor, signal, fetchImpl, messageId))
      for await (const { event, id } of frames) {
        if (event.type === 'start') {
          messageId ??= event.info.messageId
          if (reconnecting) {
            reconnecting = false
            yield { type: 'reconnected' }
          }
          if (started) continue
          started = true
        } else if (id !== undefined) {
          cursor = id
          // New text came through: the next drop starts counting afresh.
          attempt = 0
        }
        yield event
        if (isTerminal(event)) return
      }
      return
    } catch (error) {
      if (signal.aborted || !canReconnect(error)) throw error
      frames = null
      if (++attempt > maxReconnects) throw connectionLost()
      reconnecting = true
      // No sooner than the server asked (a 503 or 429 with Retry-After).
      const asked = error instanceof ChatError ? (error.retryAfterMs ?? 0) : 0
      const delayMs = Math.max(reconnectDelay(attempt), asked)
      yield { type: 'reconnecting', attempt, delayMs }
      await wait(delayMs, signal)
    }
  }
}
