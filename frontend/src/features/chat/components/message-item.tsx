import { memo } from 'react'

import type { UiMessage } from '../hooks/chat-state'
import { Markdown } from './markdown'

function Footer({ message }: { message: UiMessage }) {
  if (message.state === 'stopped') return <p className="message-note">Stopped — the answer is incomplete.</p>
  if (message.state === 'failed') return <p className="message-note">Interrupted — the answer is incomplete.</p>
  if (!message.info) return null
  const { usage, latencyMs, streamed } = message.info
  const seconds = (latencyMs / 1000).toFixed(1)
  return (
    <p className="message-meta">
      {usage.outputTokens} tokens · {seconds} s{streamed ? '' : ' · answered in one piece'}
    </p>
  )
}

/** One turn. Memoized: finished messages keep their object identity, so they never re-render. */
export const MessageItem = memo(function MessageItem({ message }: { message: UiMessage }) {
  const waiting = message.state === 'streaming' && message.content === ''
  return (
    <article className={`message message-${message.role}`} aria-label={message.role === 'user' ? 'You' : 'Assistant'}>
      {message.reasoning && (
        <details className="reasoning">
          <summary>Reasoning</summary>
          <p>{message.reasoning}</p>
        </details>
      )}
      {message.role === 'user' ? (
        <p className="user-text">{message.content}</p>
      ) : waiting ? (
        <p className="typing" aria-label="Thinking">
          <span />
          <span />
          <span />
        </p>
      ) : (
        <Markdown text={message.content} />
      )}
      <Footer message={message} />
    </article>
  )
})
