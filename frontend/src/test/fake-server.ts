import type { Conversation, ConversationDetail, StoredMessage } from '../features/conversations/api/types'

/** One answer being streamed by the fake server; the test writes its frames. */
export interface LiveAnswer {
  body: Record<string, unknown>
  signal: AbortSignal | null
  token: (text: string) => void
  done: () => void
  error: (code: string, message?: string) => void
}

export interface Request {
  method: string
  path: string
  body: unknown
  headers: Headers
}

interface Options {
  /** The server keeps no conversations (public, without auth): 403 `conversations_disabled`. */
  disabled?: boolean
  /** How many conversations a page holds, to test "Load more". */
  pageSize?: number
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
const refuse = (status: number, code: string, message: string) => json(status, { error: { code, message } })
const encoder = new TextEncoder()

/**
 * Streambed's API in memory, enough for the UI: conversations (newest first, by cursor),
 * messages with their statuses, exports, and chat answers the test streams frame by frame.
 * As on the real server, a stored answer goes on when its client disconnects; only
 * `POST …/stop` ends it, storing the text so far as `stopped`.
 */
export function fakeServer({ disabled = false, pageSize }: Options = {}) {
  const conversations: ConversationDetail[] = []
  const requests: Request[] = []
  const answers: LiveAnswer[] = []
  /** Ends the running answer of a conversation, by id. */
  const running = new Map<string, () => void>()
  let clock = Date.parse('2025-01-01T00:00:00Z')
  let ids = 0
  const now = () => new Date((clock += 1000)).toISOString()
  const summary = ({ id, title, model, createdAt, updatedAt }: ConversationDetail): Conversation => ({ id, title, model, createdAt, updatedAt })

  function seed(title: string, messages: Partial<StoredMessage>[] = []): ConversationDetail {
    const time = now()
    const conversation: ConversationDetail = {
      id: `c${++ids}`,
      title,
      model: null,
      createdAt: time,
      updatedAt: time,
      messages: messages.map((m, i) => ({ id: `m${ids}-${i}`, role: 'user', content: '', status: 'complete', createdAt: time, ...m })),
    }
    conversations.push(conversation)
    return conversation
  }

  function chat(body: Record<string, unknown>, signal: AbortSignal | null): Response {
    let conversation: ConversationDetail | undefined
    let stored: StoredMessage | undefined
    if (typeof body.conversationId === 'string') {
      conversation = conversations.find((c) => c.id === body.conversationId)
      if (!conversation) return refuse(404, 'not_found', 'No such conversation.')
      const time = now()
      if (!conversation.title) conversation.title = String(body.prompt).slice(0, 60)
      conversation.updatedAt = time
      conversation.messages.push({ id: `u${++ids}`, role: 'user', content: String(body.prompt), status: 'complete', createdAt: time })
      stored = { id: `a${++ids}`, role: 'assistant', content: '', status: 'streaming', createdAt: time }
      conversation.messages.push(stored)
    }
    let controller!: ReadableStreamDefaultController<Uint8Array>
    let connected = true
    const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) })
    const write = (frame: string) => connected && controller.enqueue(encoder.encode(frame))
    const end = () => {
      if (conversation) running.delete(conversation.id)
      if (connected) controller.close()
      connected = false
    }
    signal?.addEventListener('abort', () => {
      connected = false
      controller.error(new DOMException('The operation was aborted.', 'AbortError'))
    })
    if (conversation && stored) {
      const answer = stored
      running.set(conversation.id, () => {
        answer.status = 'stopped'
        write(`event: stopped\ndata: ${JSON.stringify({ messageId: answer.id })}\n\n`)
        end()
      })
    }
    if (conversation && stored) write(`id: 1\nevent: start\ndata: ${JSON.stringify({ conversationId: conversation.id, messageId: stored.id })}\n\n`)
    answers.push({
      body,
      signal,
      token: (text) => {
        if (stored) stored.content += text
        write(`data: ${JSON.stringify({ token: text })}\n\n`)
      },
      done: () => {
        if (stored) Object.assign(stored, { status: 'complete', usage: { inputTokens: 3, outputTokens: 2 }, model: 'test-model' })
        write(`event: done\ndata: ${JSON.stringify({ stopReason: 'end_turn', usage: { inputTokens: 3, outputTokens: 2 }, latencyMs: 1200, model: 'test-model', streamed: true })}\n\n`)
        end()
      },
      error: (code, message = 'It went wrong.') => {
        if (stored) Object.assign(stored, { status: 'error', errorCode: code })
        write(`event: error\ndata: ${JSON.stringify({ error: { code, message } })}\n\n`)
        end()
      },
    })
    return new Response(stream, { status: 200, headers: { 'Content-Type': 'text/event-stream' } })
  }

  function route(method: string, url: URL, body: Record<string, unknown>, signal: AbortSignal | null): Response {
    const path = url.pathname
    if (path === '/api/models') return json(200, { provider: 'fake', default: 'test-model', models: [{ id: 'test-model', provider: 'fake' }] })
    if (path === '/api/chat' && method === 'POST') {
      if (disabled && body.conversationId) return refuse(403, 'conversations_disabled', 'Not here.')
      return chat(body, signal)
    }
    if (!path.startsWith('/api/conversations')) return refuse(404, 'not_found', path)
    if (disabled) return refuse(403, 'conversations_disabled', 'This server keeps no conversations: set API_KEYS.')

    if (path === '/api/conversations' && method === 'POST') return json(201, summary(seed(String(body.title ?? ''))))
    if (path === '/api/conversations' && method === 'GET') {
      const sorted = [...conversations].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))
      const before = url.searchParams.get('before')
      const from = before ? sorted.findIndex((c) => c.id === before) + 1 : 0
      const limit = pageSize ?? Number(url.searchParams.get('limit') ?? 30)
      const page = sorted.slice(from, from + limit)
      const next = from + limit < sorted.length ? page.at(-1)?.id : undefined
      return json(200, { conversations: page.map(summary), ...(next ? { next } : {}) })
    }
    const match = /^\/api\/conversations\/([^/]+)(\/export|\/stop)?$/.exec(path)
    const conversation = conversations.find((c) => c.id === decodeURIComponent(match?.[1] ?? ''))
    if (!match || !conversation) return refuse(404, 'not_found', 'No such conversation.')
    if (match[2] === '/stop') {
      const stop = running.get(conversation.id)
      stop?.()
      return json(200, { stopped: Boolean(stop) })
    }
    if (match[2]) {
      const markdown = conversation.messages.map((m) => `## ${m.role}\n\n${m.content}`).join('\n\n')
      return new Response(markdown, { headers: { 'Content-Type': 'text/markdown', 'Content-Disposition': 'attachment; filename="chat.md"' } })
    }
    if (method === 'GET') return json(200, conversation)
    if (method === 'PATCH') {
      conversation.title = String(body.title)
      return json(200, summary(conversation))
    }
    if (method === 'DELETE') {
      conversations.splice(conversations.indexOf(conversation), 1)
      return new Response(null, { status: 204 })
    }
    return refuse(405, 'method_not_allowed', method)
  }

  const fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(String(input), 'http://streambed.test')
    const method = init.method ?? 'GET'
    const body = typeof init.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : {}
    requests.push({ method, path: url.pathname + url.search, body, headers: new Headers(init.headers) })
    if (init.signal?.aborted) throw new DOMException('The operation was aborted.', 'AbortError')
    return route(method, url, body, init.signal ?? null)
  }

  return { fetch, conversations, requests, answers, seed }
}

export type FakeServer = ReturnType<typeof fakeServer>
