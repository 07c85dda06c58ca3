import { memo } from 'react'

import type { UiMessage } from '../hooks/chat-state'
import { Markdown } from './markdown'
import { Thinking } from './thinking'

/**
 * A labelled note for an answer that did not finish; the label is what reading it says first.
 * `chosen`: the reader ended it (Stop), which is no failure.
 */
function Note({ label, chosen = false, children }: { label: string; chosen?: boolean; children: string }) {
  return (
    <p className={chosen ? 'message-note chosen' : 'message-note'}>
      <span className="badge">{label}</span> {children}
    </p>
  )
}

/** What ended a failed answer, in words, by the error's code; others are named by their code. */
const failures: Record<string, string> = {
  access_denied: 'Access denied',
  model_not_found: 'Model not found',
  invalid_request: 'Refused',
  throttled: 'Throttled',
  overloaded: 'Server busy',
  rate_limited: 'Rate limited',
  unauthorized: 'API key needed',
  model_timeout: 'Timed out',
  too_many_answers: 'Too many answers',
  shutting_down: 'Server restarting',
  network_error: 'Connection lost',
  connection_lost: 'Connection lost',
  // As an answer left by a server that stopped reads after a reload.
  stream_interrupted: 'Interrupted',
  upstream_error: 'Upstream error',
  // A Stop that did not reach the answer, which goes on on the server: Retry follows it.
  stop_unavailable: 'Not stopped',
}

/** Whether the answer has any text or reasoning to show. */
const said = (message: UiMessage) => message.content !== '' || message.reasoning !== ''

function Footer({ message }: { message: UiMessage }) {
  switch (message.state) {
    case 'stopped':
      return (
        <Note label="Stopped" chosen>
          {said(message) ? 'The answer is incomplete.' : 'Stopped before the answer began.'}
        </Note>
      )
    case 'failed': {
      const code = message.errorCode
      return (
        <Note label={code ? (failures[code] ?? `Failed: ${code}`) : 'Failed'}>
          {said(message) ? 'The answer is incomplete.' : 'No answer was written.'}
        </Note>
      )
    }
    case 'interrupted':
      return <Note label="Interrupted">The server stopped before the answer was complete.</Note>
    case 'pending':
      return <Note label="In progress">The server is still writing this answer; reload to see more.</Note>
    case 'streaming':
      return null
    case 'complete':
      break
  }
  const { usage, latencyMs, streamed, stopReason } = message.info ?? {}
  const parts = usage ? [`${usage.outputTokens} tokens`] : []
  if (usage && latencyMs !== undefined) parts.push(`${(latencyMs / 1000).toFixed(1)} s`)
  if (usage && streamed === false) parts.push('answered in one piece')
  return (
    <>
      {stopReason === 'max_tokens' && <Note label="Cut off">The answer reached its token limit before its end.</Note>}
      {parts.length > 0 && <p className="message-meta">{parts.join(' · ')}</p>}
    </>
  )
}

/** One turn. Memoized: finished messages keep their object identity, so they never re-render. */
export const MessageItem = memo(function MessageItem({ message }: { message: UiMessage }) {
  const beforeText = message.state === 'streaming' && message.content === ''
  const waiting = beforeText && message.reasoning === ''
  return (
    // Busy while its text streams, for the screen readers that honour it (the answer is read
    // once, whole, as it completes: see MessageList). Not while it waits for the first word,
    // when its status is to be heard.
    <article
      className={`message message-${message.role}`}
      aria-label={message.role === 'user' ? 'You' : 'Assistant'}
      aria-busy={(message.state === 'streaming' && !waiting) || undefined}
    >
      {message.reasoning && <Thinking text={message.reasoning} live={beforeText} ms={message.thinkingMs} />}
      {message.role === 'user' ? (
        <p className="user-text">{message.content}</p>
      ) : waiting ? (
        <p className="typing" role="status">
          <span className="visually-hidden">Waiting for the answer</span>
          <span className="dot" />
          <span className="dot" />
          <span className="dot" />
        </p>
      ) : (
        <Markdown text={message.content} settled={message.state !== 'streaming'} />
      )}
      <Footer message={message} />
    </article>
  )
})
