import { apiBaseUrl } from '../../../config'
import { authHeaders } from './api-key'
import { ChatError, errorFromResponse } from './chat-error'

/**
 * What to check when the server cannot be reached. A UI built to call a server elsewhere
 * (`VITE_API_BASE_URL`, read at build time) names that setting; one served by the server itself
 * has only the connection to check.
 */
const unreachable = apiBaseUrl
  ? `Check that the server at ${apiBaseUrl} is running, and the VITE_API_BASE_URL this UI was built with.`
  : 'Check your connection, then try again.'

export type ApiRequestInit = Omit<RequestInit, 'headers'> & { headers?: Record<string, string> }

/**
 * fetch for Streambed's API: the base URL and the API key added, and every failure turned into
 * a ChatError — an unreachable server as `network_error`, a refusal with the server's own error
 * body. An aborted request rejects as fetch does (AbortError), so callers can tell Stop apart.
 */
export async function apiFetch(path: string, init: ApiRequestInit = {}, fetchImpl: typeof fetch = fetch): Promise<Response> {
  let response: Response
  try {
    response = await fetchImpl(`${apiBaseUrl}${path}`, { ...init, headers: { ...authHeaders(), ...init.headers } })
  } catch (error) {
    if (init.signal?.aborted) throw error
    throw new ChatError({ code: 'network_error', message: unreachable })
  }
  if (!response.ok) throw await errorFromResponse(response)
  return response
}
