import type { MessageState, UiMessage } from '../../chat/hooks/chat-state'
import type { StoredMessage, StoredStatus } from '../api/types'

const states: Record<StoredStatus, MessageState> = {
  complete: 'complete',
  streaming: 'pending',
  stopped: 'stopped',
  error: 'failed',
  interrupted: 'interrupted',
}

/** A stored conversation's messages as the chat shows them, statuses included. */
export function toUiMessages(messages: StoredMessage[]): UiMessage[] {
  return messages.map((m) => {
    const message: UiMessage = {
      id: m.id,
      role: m.role,
      content: m.content,
      reasoning: m.reasoning ?? '',
      state: m.role === 'user' ? 'complete' : (states[m.status] ?? 'complete'),
      stored: true,
    }
    if (m.role === 'assistant') {
      message.info = { usage: m.usage, model: m.model ?? undefined, stopReason: m.stopReason, latencyMs: m.latencyMs }
    }
    if (m.errorCode) message.errorCode = m.errorCode
    return message
  })
}
