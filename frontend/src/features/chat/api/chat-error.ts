import type { ErrorBody } from './types'

/** A failed chat, before or during the stream, with what the UI needs to explain it. */
export class ChatError extends Error {
  readonly code: string
  readonly retryable: boolean
  /** HTTP status when the server refused before streaming; 0 for network and in-stream errors. */
  readonly status: number
  readonly requestId: string | undefined
  /** Bedrock's own request id, for an AWS support case. */
  readonly upstreamRequestId: string | undefined
  /** How long the server asked to wait before trying again (`Retry-After`), in ms. */
  readonly retryAfterMs: number | undefined
  /** When trying again may help (`Date.now()` ms), from `Retry-After`. */
  readonly retryAt: number | undefined

  constructor(body: ErrorBody, status = 0, retryAfterMs?: number) {
    super(body.message)
    this.name = 'ChatError'
    this.code = body.code
    this.retryable = body.retryable ?? (status === 0 || status === 429 || status >= 500)
    this.status = status
    this.requestId = body.requestId
    this.upstreamRequestId = body.upstreamRequestId
    this.retryAfterMs = retryAfterMs
    this.retryAt = retryAfterMs === undefined ? undefined : Date.now() + retryAfterMs
  }
}

/** A response's `Retry-After` (seconds, or an HTTP date), in ms. */
function retryAfter(response: Response): number | undefined {
  const value = response.headers.get('Retry-After')
  if (value === null || value.trim() === '') return undefined
  const seconds = Number(value)
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now()
  return Number.isNaN(ms) ? undefined : Math.max(0, ms)
}

/** Reads a JSON error body, or describes a response that has none (a proxy's HTML page). */
export async function errorFromResponse(response: Response): Promise<ChatError> {
  try {
    const body = (await response.json()) as { error?: ErrorBody }
    if (body.error?.code && body.error.message) return new ChatError(body.error, response.status, retryAfter(response))
  } catch {
    // Not JSON: fall through to a generic description.
  }
  const message = `The server answered ${response.status} ${response.statusText || ''}`.trim()
  return new ChatError({ code: 'http_error', message }, response.status, retryAfter(response))
}

/** Any failure as a ChatError, so the UI has one shape to explain. */
export function toChatError(error: unknown): ChatError {
  return error instanceof ChatError ? error : new ChatError({ code: 'client_error', message: String(error) })
}
