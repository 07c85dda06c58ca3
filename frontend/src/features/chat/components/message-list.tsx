import { type Ref, useEffect, useRef } from 'react'

import type { UiMessage } from '../hooks/chat-state'
import { MessageItem } from './message-item'

/**
 * The conversation. Not a live region itself: screen readers differ on `aria-busy` (most read a
 * growing answer in pieces, token by token), so an answer that streamed here is read once, whole,
 * as it completes, from a status region of its own. Focusable, so it scrolls from the keyboard
 * where a browser makes no scroller focusable by itself (Safari).
 */
export function MessageList({ messages, ref }: { messages: UiMessage[]; ref: Ref<HTMLDivElement> }) {
  const said = useRef<HTMLParagraphElement>(null)
  const streaming = useRef<string | null>(null)
  useEffect(() => {
    const last = messages.at(-1)
    const was = streaming.current
    streaming.current = last?.state === 'streaming' ? last.id : null
    if (was === null || last?.id !== was || last.state !== 'complete' || !said.current) return
    // The answer as shown (markdown's marks are not read out), not as the model wrote it.
    const shown = said.current.parentElement?.querySelector('.message-list > article:last-of-type .markdown')
    said.current.textContent = shown?.textContent ? `Answer: ${shown.textContent}` : ''
  }, [messages])

  return (
    <>
      <div className="message-list" ref={ref} role="log" aria-live="off" aria-label="Conversation" tabIndex={0}>
        {messages.length === 0 ? (
          <p className="empty">Ask anything. Answers stream in as they are written.</p>
        ) : (
          messages.map((m) => <MessageItem key={m.id} message={m} />)
        )}
      </div>
      <p ref={said} className="visually-hidden" role="status" />
    </>
  )
}
