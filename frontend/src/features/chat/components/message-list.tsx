import type { Ref } from 'react'

import type { UiMessage } from '../hooks/chat-state'
import { MessageItem } from './message-item'

/** The conversation. Screen readers hear the answer as it settles (`aria-live`). */
export function MessageList({ messages, ref }: { messages: UiMessage[]; ref: Ref<HTMLDivElement> }) {
  return (
    <div className="message-list" ref={ref} role="log" aria-live="polite" aria-label="Conversation">
      {messages.length === 0 ? (
        <p className="empty">Ask anything. Answers stream in as they are written.</p>
      ) : (
        messages.map((m) => <MessageItem key={m.id} message={m} />)
      )}
    </div>
  )
}
