import type { ChatMessage, ChatStreamEvent } from '../features/chat/api/types'
import type { StreamChat } from '../features/chat/hooks/use-chat'

/** One call of the transport, driven by the test. */
export interface Call {
  history: ChatMessage[]
  signal: AbortSignal
  push: (...events: ChatStreamEvent[]) => void
  fail: (error: unknown) => void
}

/**
 * A transport whose events the test releases one by one, to observe each state in between.
 * Abort behaves as fetch does: the pending read rejects with an AbortError.
 */
export function controlledStream(): { stream: StreamChat; calls: Call[] } {
  const calls: Call[] = []
  const stream: StreamChat = (history, signal) => {
    const queue: (ChatStreamEvent | { thrown: unknown })[] = []
    let wake: (() => void) | null = null
    const notify = () => {
      wake?.()
      wake = null
    }
    signal.addEventListener('abort', notify)
    calls.push({
      history,
      signal,
      push: (...events) => {
        queue.push(...events)
        notify()
      },
      fail: (error) => {
        queue.push({ thrown: error })
        notify()
      },
    })
    return (async function* () {
      for (;;) {
        if (signal.aborted) throw new DOMException('The operation was aborted.', 'AbortError')
        const next = queue.shift()
        if (!next) {
          await new Promise<void>((resolve) => (wake = resolve))
          continue
        }
        if ('thrown' in next) throw next.thrown
        yield next
        if (next.type === 'done' || next.type === 'error') return
      }
    })()
  }
  return { stream, calls }
}

export const doneEvent: ChatStreamEvent = {
  type: 'done',
  info: { stopReason: 'end_turn', usage: { inputTokens: 3, outputTokens: 2 }, latencyMs: 1234, model: 'test-model', streamed: true },
}
