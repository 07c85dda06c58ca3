import { type Ref, useEffect, useRef } from 'react'

import type { UiMessage } from '../hooks/chat-state'
import { MessageItem } from './message-item'

/**
 * An answer as shown, to be read out: its text without markdown's marks, a line per block, and
 * without the controls in it (a code block's toolbar: its language, Copy and Copy's status).
 */
function shownText(answer: Element | null | undefined): string {
  if (!answer) return ''
  const text = answer.cloneNode(true) as Element
  text.querySelectorAll('.code-toolbar').forEach((toolbar) => toolbar.remove())
  text.querySelectorAll('p, li, pre, h1, h2, h3, h4, h5, h6, blockquote, tr').forEach((block) => block.append('\n'))
  const said = text.textContent?.trim()
  return said ? `Answer: ${said}` : ''
}

/**
 * The conversation. Not a live region itself: screen readers differ on `aria-busy` (most read a
 * growing answer in pieces, token by token), so an answer that streamed here is read once, whole,
 * as it completes, from a status region of its own. Focusable, so it scrolls from the keyboard
 * where a browser makes no scroller focusable by itself (Safari).
 */
export function MessageList({ messages, ref }: { messages: UiMessage[]; ref: Ref<HTMLDivElement> }) {
  const said = useRef<HTMLParagraphElement>(null)
  /** Where the last message was streaming, by position: a stored answer's id changes as it starts. */
  const streamingAt = useRef<number | null>(null)
  useEffect(() => {
    const last = messages.at(-1)
    const was = streamingAt.current
    streamingAt.current = last?.state === 'streaming' ? messages.length - 1 : null
    // Emptied while the next answer streams, so that one is heard even if it says the same.
    if (streamingAt.current !== null && said.current?.textContent) said.current.textContent = ''
    if (was !== messages.length - 1 || last?.role !== 'assistant' || last.state !== 'complete' || !said.current) return
    said.current.textContent = shownText(said.current.parentElement?.querySelector('.message-list > article:last-of-type .markdown'))
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
