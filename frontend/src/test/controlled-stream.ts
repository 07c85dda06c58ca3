import type { ChatMessage, ChatStreamEvent, ModelChoice, StreamEvent } from '../features/chat/api/types'
import type { ResumeChat, StreamChat } from '../features/chat/hooks/use-chat'
import type { UiMessage } from '../features/chat/hooks/chat-state'

/** One call of the transport, driven by the test. */
export interface Call {
  /** What a send carried; empty for a resume. */
  history: ChatMessage[]
  /** The model and reasoning a send asked for. */
  choice?: ModelChoice
  /** What a resume started from. */
  answer?: Pick<UiMessage, 'content' | 'reasoning'>
  signal: AbortSignal
  push: (...events: StreamEvent[]) => void
  fail: (error: unknown) => void
}

/**
 * A transport whose events the test releases one by one, to observe each state in between.
 * Abort behaves as fetch does: the pending read rejects with an AbortError. `resume` follows
 * an answer the same way; its calls are in the same list.
 */
export function controlledStream(): { stream: StreamChat; resume: ResumeChat; calls: Call[] } {
  const calls: Call[] = []
  const open = (call: Pick<Call, 'history' | 'choice' | 'answer'>, signal: AbortSignal) => {
    const queue: (StreamEvent | { thrown: unknown })[] = []
    let wake: (() => void) | null = null
    const notify = () => {
      wake?.()
      wake = null
    }
    signal.addEventListener('abort', notify)
    calls.push({
      ...call,
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
  return {
    stream: (history, signal, choice) => open({ history, choice }, signal),
    resume: (answer, signal) => open({ history: [], answer }, signal),
    calls,
  }
}

export const doneEvent: ChatStreamEvent = {
  type: 'done',
  info: { stopReason: 'end_turn', usage: { inputTokens: 3, outputTokens: 2 }, latencyMs: 1234, model: 'test-model', streamed: true },
}
