import { apiBaseUrl } from '../../../config'
import { apiFetch } from '../../chat/api/api-fetch'
import { readApiKey } from '../../chat/api/api-key'
import { ChatError } from '../../chat/api/chat-error'
import { announce } from './tab-news'
import type { Conversation, ConversationDetail, ConversationPage, ExportFormat } from './types'

/** How many conversations the sidebar asks for at a time. */
export const PAGE_SIZE = 30

const path = (id: string) => `/api/conversations/${encodeURIComponent(id)}`

/** The server keeps no conversations here (public, without auth): the UI goes stateless. */
export function isConversationsDisabled(error: unknown): boolean {
  return error instanceof ChatError && error.code === 'conversations_disabled'
}

/** Gone, never there, or someone else's: the server answers all three alike. */
export function isNotFound(error: unknown): boolean {
  return error instanceof ChatError && (error.status === 404 || error.code === 'not_found')
}

export async function createConversation(title?: string, signal?: AbortSignal, fetchImpl?: typeof fetch): Promise<Conversation> {
  const response = await apiFetch(
    '/api/conversations',
    { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(title ? { title } : {}), signal },
    fetchImpl,
  )
  const conversation = (await response.json()) as Conversation
  announce(conversation.id)
  return conversation
}

export async function listConversations(
  { limit = PAGE_SIZE, before }: { limit?: number; before?: string } = {},
  signal?: AbortSignal,
  fetchImpl?: typeof fetch,
): Promise<ConversationPage> {
  const query = new URLSearchParams({ limit: String(limit) })
  if (before) query.set('before', before)
  const response = await apiFetch(`/api/conversations?${query}`, { signal }, fetchImpl)
  return (await response.json()) as ConversationPage
}

export async function getConversation(id: string, signal?: AbortSignal, fetchImpl?: typeof fetch): Promise<ConversationDetail> {
  const response = await apiFetch(path(id), { signal }, fetchImpl)
  return (await response.json()) as ConversationDetail
}

export async function renameConversation(id: string, title: string, fetchImpl?: typeof fetch): Promise<Conversation> {
  const response = await apiFetch(
    path(id),
    { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ title }) },
    fetchImpl,
  )
  const renamed = (await response.json()) as Conversation
  announce(id)
  return renamed
}

/** A conversation already gone counts as deleted. */
export async function deleteConversation(id: string, fetchImpl?: typeof fetch): Promise<void> {
  try {
    await apiFetch(path(id), { method: 'DELETE' }, fetchImpl)
  } catch (error) {
    if (!isNotFound(error)) throw error
  }
  announce(id)
}

/** Ends the conversation's running answer; the server stores its text so far as `stopped`. */
export async function stopAnswer(id: string, fetchImpl?: typeof fetch, signal?: AbortSignal): Promise<void> {
  await apiFetch(`${path(id)}/stop`, { method: 'POST', signal }, fetchImpl)
}

/**
 * Opens the stream of the conversation's latest answer after `cursor` (sent as Last-Event-ID):
 * the server replays what comes after it, live or from the store, up to the terminal frame.
 * With `messageId`, that answer's, even when another has begun since. The body is for
 * `readFrames`. 204 (no answer to follow) rejects as `no_answer`.
 */
export async function openAnswerStream(id: string, cursor: string, signal: AbortSignal, fetchImpl?: typeof fetch, messageId?: string): Promise<Response> {
  const query = messageId === undefined ? '' : `?message=${encodeURIComponent(messageId)}`
  const response = await apiFetch(
    `${path(id)}/stream${query}`,
    { headers: { Accept: 'text/event-stream', 'Last-Event-ID': cursor }, cache: 'no-store', signal },
    fetchImpl,
  )
  if (response.status === 204) {
    throw new ChatError({ code: 'no_answer', message: 'There is no answer to follow in this conversation.' }, 204)
  }
  return response
}

/** The export route, for a plain link: enough when no API key is needed. */
export function exportUrl(id: string, format: ExportFormat = 'markdown'): string {
  return `${apiBaseUrl}${path(id)}/export?format=${format}`
}

/** The file name from a Content-Disposition header, if it names one. */
function attachmentName(header: string | null): string | null {
  if (!header) return null
  const encoded = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header)?.[1]
  if (encoded) {
    try {
      return decodeURIComponent(encoded.trim())
    } catch {
      // Malformed: try the plain parameter.
    }
  }
  return /filename\s*=\s*"([^"]+)"|filename\s*=\s*([^;\s]+)/i.exec(header)?.slice(1).find(Boolean) ?? null
}

/** A name for the saved file when the server gives none: the title, or "conversation". */
function fallbackName(title: string, format: ExportFormat): string {
  const base = title.replace(/[^\p{L}\p{N}]+/gu, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'conversation'
  return `${base}.${format === 'markdown' ? 'md' : 'json'}`
}

/**
 * Saves the export as a file. A plain link cannot send the Authorization header, so when an
 * API key is set the file is fetched with it and saved from a blob URL.
 */
export async function downloadConversation(
  conversation: Pick<Conversation, 'id' | 'title'>,
  format: ExportFormat = 'markdown',
  fetchImpl?: typeof fetch,
): Promise<void> {
  const response = await apiFetch(`${path(conversation.id)}/export?format=${format}`, {}, fetchImpl)
  const blob = await response.blob()
  const url = URL.createObjectURL(blob)
  try {
    const link = document.createElement('a')
    link.href = url
    link.download = attachmentName(response.headers.get('Content-Disposition')) ?? fallbackName(conversation.title, format)
    document.body.append(link)
    link.click()
    link.remove()
  } finally {
    // After the click has handed the blob to the download; revoking at once can cancel it in some browsers.
    setTimeout(() => URL.revokeObjectURL(url), 10_000)
  }
}

/** Whether the download needs a fetch (an API key is set) rather than a plain link. */
export function downloadNeedsFetch(): boolean {
  return readApiKey() !== ''
}
