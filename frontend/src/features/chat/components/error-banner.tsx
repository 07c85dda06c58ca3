import { useEffect, useState } from 'react'

import type { ChatError } from '../api/chat-error'

/**
 * A heading for each kind of failure: what happened, in a few words. The server's own message
 * under it says why and what to do, so the heading does not say it again.
 */
const advice: Record<string, string> = {
  access_denied: 'Bedrock refused access.',
  model_not_found: 'The model was not found.',
  invalid_request: 'The request was refused.',
  throttled: 'Bedrock is busy.',
  overloaded: 'The server is busy right now.',
  model_timeout: 'The model took too long.',
  upstream_error: 'Bedrock could not answer.',
  unauthorized: 'This server needs an API key. Enter it below, then retry.',
  rate_limited: 'You are sending messages too fast.',
  too_many_answers: 'You have as many answers running as this server allows.',
  auth_locked_out: 'Too many wrong API keys were sent from here. Wait a minute, check the key, then retry.',
  network_error: 'The Streambed server could not be reached.',
  stream_interrupted: 'The answer was cut off.',
  connection_lost: 'The connection to the server was lost.',
  shutting_down: 'The server is restarting.',
  answer_in_progress: 'Another answer is being written in this conversation, perhaps in another tab; it shows here as it is written. Your message is back in the box.',
  limit_reached: 'There is no room for more here.',
  payload_too_large: 'The message is too large for this server.',
  request_timeout: 'The message took too long to arrive.',
  store_unavailable: 'Conversations cannot be stored right now.',
  stop_unavailable: 'The answer could not be stopped. Retry to follow it, then Stop again.',
  auth_unavailable: 'The sign-in service could not be reached.',
  not_found: 'It no longer exists.',
  conversations_disabled: 'This server keeps no conversations.',
}

/** Whole seconds until `at` (`Date.now()` ms), counting down once a second; 0 once it has come. */
function useSecondsUntil(at: number | undefined): number {
  const [now, setNow] = useState(Date.now)
  useEffect(() => {
    if (at === undefined) return
    const look = () => {
      const time = Date.now()
      setNow(time)
      return time
    }
    const first = setTimeout(look, 0) // `now` may be from an earlier error's countdown
    const tick = setInterval(() => {
      if (look() >= at) clearInterval(tick)
    }, 1000)
    return () => {
      clearTimeout(first)
      clearInterval(tick)
    }
  }, [at])
  return at === undefined ? 0 : Math.max(0, Math.ceil((at - now) / 1000))
}

/**
 * The error, its advice, and Retry where sending the same again can help (`onRetry`): held
 * back, counting down, while the server asked to wait (`Retry-After`).
 */
export function ErrorBanner({ error, onRetry }: { error: ChatError; onRetry?: () => void }) {
  const wait = useSecondsUntil(error.retryAt)
  return (
    <div className="error-banner" role="alert">
      <div>
        <strong>{advice[error.code] ?? 'Something went wrong.'}</strong>
        <p>{error.message}</p>
        {error.requestId && <p className="request-id">Request id: {error.requestId}</p>}
        {error.upstreamRequestId && <p className="request-id">Bedrock request id: {error.upstreamRequestId}</p>}
      </div>
      {onRetry && (
        // Named Retry throughout: a countdown in the alert's text would be read out every second.
        <button type="button" onClick={onRetry} disabled={wait > 0} aria-label="Retry">
          <span aria-hidden="true">{wait > 0 ? `Retry in ${wait} s` : 'Retry'}</span>
        </button>
      )}
    </div>
  )
}
