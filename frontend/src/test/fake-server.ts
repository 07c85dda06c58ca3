import type { ModelCapabilities, ModelsInfo } from '../features/chat/api/types'
import type { Conversation, ConversationDetail, StoredMessage } from '../features/conversations/api/types'

/** One answer being streamed by the fake server; the test writes its frames. */
export interface LiveAnswer {
  body: Record<string, unknown>
  /** The signal of the request that started it. */
  signal: AbortSignal | null
  token: (text: string) => void
  reasoning: (text: string) => void
  done: () => void
  error: (code: string, message?: string) => void
  /**
   * The network drops: every connection following the answer breaks (its body errors), and
   * the answer goes on, as on the real server.
   */
  drop: () => void
  /** How many connections follow the answer now. */
  followers: () => number
}

export interface Request {
  method: string
  path: string
  body: unknown
  headers: Headers
}

interface Refusal {
  status: number
  code: string
  /** The server kept the question and the failed answer before refusing. */
  stored?: boolean
}

interface Options {
  /** The server keeps no conversations (public, without auth): 403 `conversations_disabled`. */
  disabled?: boolean
  /** How many conversations a page holds, to test "Load more". */
  pageSize?: number
  /** Stop answers once this settles (a server still writing the stopped answer's record). */
  stopGate?: Promise<unknown>
  /**
   * Stop is refused as by a replica whose Stop the one writing the answer did not confirm in
   * time (503 `stop_unavailable`): the answer goes on.
   */
  stopUndelivered?: () => boolean
}

const capabilities = (reasoning: ModelCapabilities['reasoning']): ModelCapabilities => ({
  reasoning,
  sampling: ['temperature', 'topP', 'topK'],
  temperatureWithTopP: reasoning === 'none',
  maxOutputTokens: 4096,
  contextWindow: 200_000,
  tools: true,
  images: true,
  documents: true,
  promptCache: reasoning !== 'none',
})

/** GET /api/models of the fake server: a plain default model and one that reasons. */
export const testModels: ModelsInfo = {
  provider: 'fake',
  default: 'test-model',
  models: [
    { id: 'test-model', name: 'Test Model', provider: 'fake', default: true, capabilities: capabilities('none') },
    { id: 'test-reasoner', name: 'Test Reasoner', provider: 'fake', default: false, capabilities: capabilities('adaptive') },
  ],
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
export function fakeServer({ disabled = false, pageSize, stopGate, stopUndelivered }: Options = {}) {
  const conversations: ConversationDetail[] = []
  const requests: Request[] = []
  const answers: LiveAnswer[] = []
  /** Ends the running answer of a conversation, by id. */
  const running = new Map<string, () => void>()
  /** While offline, every request fails as fetch does without a network. */
  let offline = false
  const refusals: Refusal[] = []
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

  const bytes = (text: string) => encoder.encode(text).length
  const cursorOf = (m: StoredMessage) => `${bytes(m.content)}.${bytes(m.reasoning ?? '')}`
  /** The rest of `text` after its first `n` UTF-8 bytes. */
  const after = (text: string, n: number) => new TextDecoder().decode(encoder.encode(text).slice(n))
  const frame = (event: string | null, data: unknown, id?: string) =>
    `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n${id === undefined ? '' : `id: ${id}\n`}\n`
  const doneData = { stopReason: 'end_turn', usage: { inputTokens: 3, outputTokens: 2 }, latencyMs: 1200, model: 'test-model', streamed: true }

  /** A streamed response, and what writes to it; `signal` is its request's. */
  function connection(signal: AbortSignal | null) {
    let controller!: ReadableStreamDefaultController<Uint8Array>
    let open = true
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) })
    const close = (error?: unknown) => {
      if (!open) return
      open = false
      if (error) controller.error(error)
      else controller.close()
    }
    // As with fetch, an abort errors the body even where the rest of it is already buffered.
    signal?.addEventListener('abort', () => {
      open = false
      controller.error(new DOMException('The operation was aborted.', 'AbortError'))
    })
    return {
      response: new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } }),
      write: (text: string) => void (open && controller.enqueue(encoder.encode(text))),
      close,
      isOpen: () => open,
    }
  }
  type Connection = ReturnType<typeof connection>

  /** The connections following each running stored answer, by conversation id. */
  const following = new Map<string, Connection[]>()

  function chat(body: Record<string, unknown>, signal: AbortSignal | null): Response {
    const model = typeof body.model === 'string' ? body.model : testModels.default
    let conversation: ConversationDetail | undefined
    let stored: StoredMessage | undefined
    if (typeof body.conversationId === 'string') {
      conversation = conversations.find((c) => c.id === body.conversationId)
      if (!conversation) return refuse(404, 'not_found', 'No such conversation.')
      const time = now()
      if (!conversation.title) conversation.title = String(body.prompt).slice(0, 60)
      conversation.updatedAt = time
      conversation.model = model
      ask(conversation, String(body.prompt), time)
      stored = { id: `a${++ids}`, role: 'assistant', content: '', reasoning: '', model, status: 'streaming', createdAt: time }
      conversation.messages.push(stored)
    }
    const first = connection(signal)
    const followers: Connection[] = [first]
    const cursor = () => (stored ? cursorOf(stored) : undefined)
    const broadcast = (text: string) => followers.forEach((f) => f.write(text))
    const end = (text: string) => {
      if (conversation) {
        running.delete(conversation.id)
        following.delete(conversation.id)
      }
      broadcast(text)
      followers.forEach((f) => f.close())
    }
    if (conversation && stored) {
      const answer = stored
      following.set(conversation.id, followers)
      running.set(conversation.id, () => {
        answer.status = 'stopped'
        end(frame('stopped', { messageId: answer.id }, cursor()))
      })
      first.write(frame('start', { conversationId: conversation.id, messageId: stored.id }, '0.0'))
    }
    answers.push({
      body,
      signal,
      token: (text) => {
        if (stored) stored.content += text
        broadcast(frame(null, { token: text }, cursor()))
      },
      reasoning: (text) => {
        if (stored) stored.reasoning += text
        broadcast(frame('reasoning', { token: text }, cursor()))
      },
      done: () => {
        if (stored) {
          Object.assign(stored, { status: 'complete', usage: doneData.usage, latencyMs: doneData.latencyMs, model: 'test-model' })
        }
        end(frame('done', doneData, cursor()))
      },
      error: (code, message = 'It went wrong.') => {
        if (stored) Object.assign(stored, { status: 'error', errorCode: code })
        end(frame('error', { error: { code, message } }, cursor()))
      },
      drop: () => {
        for (const f of followers.splice(0)) f.close(new TypeError('network error'))
      },
      followers: () => followers.filter((f) => f.isOpen()).length,
    })
    return first.response
  }

  /**
   * Refuses a turn with an HTTP error. With `stored`, as when Bedrock refuses the request, the
   * server first keeps the question and the failed answer.
   */
  function refuseChat(body: Record<string, unknown>, { status, code, stored }: Refusal): Response {
    const conversation = conversations.find((c) => c.id === body.conversationId)
    if (conversation && stored) {
      const time = now()
      ask(conversation, String(body.prompt), time)
      conversation.messages.push({ id: `a${++ids}`, role: 'assistant', content: '', status: 'error', errorCode: code, createdAt: time })
    }
    return refuse(status, code, 'Refused.')
  }

  /**
   * Stores a turn's question as the server does: the conversation's last question asked again
   * after its answer came to nothing (an error, Stop or interruption before any text) is
   * reused, and that empty answer goes.
   */
  function ask(conversation: ConversationDetail, prompt: string, time: string): void {
    const [before, last] = conversation.messages.slice(-2)
    const isPrompt = (m: StoredMessage | undefined) => m?.role === 'user' && m.content === prompt
    if (isPrompt(last)) return
    const cameToNothing =
      last?.role === 'assistant' && ['error', 'stopped', 'interrupted'].includes(last.status) && !last.content && !last.reasoning
    if (isPrompt(before) && cameToNothing) {
      conversation.messages.pop()
      return
    }
    conversation.messages.push({ id: `u${++ids}`, role: 'user', content: prompt, status: 'complete', createdAt: time })
  }

  /** GET …/stream: the latest answer after the cursor, live while it runs, else from the store. */
  function follow(conversation: ConversationDetail, lastEventId: string | null, signal: AbortSignal | null): Response {
    const match = lastEventId === null ? null : /^(\d+)\.(\d+)$/.exec(lastEventId)
    if (lastEventId !== null && !match) return refuse(400, 'bad_request', 'Bad Last-Event-ID.')
    const answer = conversation.messages.at(-1)
    const live = following.get(conversation.id)
    if (!answer || answer.role !== 'assistant' || (!live && !match)) return new Response(null, { status: 204 })
    const [text, reasoning] = match ? [Number(match[1]), Number(match[2])] : [0, 0]
    const to = connection(signal)
    to.write(frame('start', { conversationId: conversation.id, messageId: answer.id }, '0.0'))
    const missedReasoning = after(answer.reasoning ?? '', reasoning)
    if (missedReasoning) to.write(frame('reasoning', { token: missedReasoning }, cursorOf(answer)))
    const missedText = after(answer.content, text)
    if (missedText) to.write(frame(null, { token: missedText }, cursorOf(answer)))
    if (live) {
      live.push(to)
    } else {
      if (answer.status === 'complete') to.write(frame('done', doneData, cursorOf(answer)))
      else if (answer.status === 'stopped') to.write(frame('stopped', { messageId: answer.id }, cursorOf(answer)))
      else to.write(frame('error', { error: { code: answer.errorCode ?? 'stream_interrupted', message: 'It went wrong.' } }, cursorOf(answer)))
      to.close()
    }
    return to.response
  }

  function route(method: string, url: URL, body: Record<string, unknown>, headers: Headers, signal: AbortSignal | null): Response {
    const path = url.pathname
    if (path === '/api/models') return json(200, testModels)
    if (path === '/api/chat' && method === 'POST') {
      if (disabled && body.conversationId) return refuse(403, 'conversations_disabled', 'Not here.')
      const refusal = refusals.shift()
      if (refusal) return refuseChat(body, refusal)
      if (typeof body.conversationId === 'string' && running.has(body.conversationId)) {
        return refuse(409, 'answer_in_progress', 'An answer is still being written in this conversation: wait for it, or stop it first.')
      }
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
    const match = /^\/api\/conversations\/([^/]+)(\/export|\/stop|\/stream)?$/.exec(path)
    const conversation = conversations.find((c) => c.id === decodeURIComponent(match?.[1] ?? ''))
    if (!match || !conversation) return refuse(404, 'not_found', 'No such conversation.')
    if (match[2] === '/stop') {
      if (stopUndelivered?.()) return refuse(503, 'stop_unavailable', 'The answer runs on another replica, which did not confirm the Stop in time.')
      const stop = running.get(conversation.id)
      stop?.()
      return json(200, { stopped: Boolean(stop) })
    }
    if (match[2] === '/stream') return follow(conversation, headers.get('Last-Event-ID'), signal)
    if (match[2]) {
      const markdown = conversation.messages.map((m) => `## ${m.role}\n\n${m.content}`).join('\n\n')
      return new Response(markdown, { headers: { 'Content-Type': 'text/markdown', 'Content-Disposition': 'attachment; filename="chat.md"' } })
    }
    if (method === 'GET') return json(200, conversation)
    if (method === 'PATCH') {
      // A rename counts as activity, as on the real server: to the top of the list.
      conversation.title = String(body.title)
      conversation.updatedAt = now()
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
    const headers = new Headers(init.headers)
    requests.push({ method, path: url.pathname + url.search, body, headers })
    // The request takes a moment to arrive, as over a network: an abort that sends it (Stop)
    // has closed the aborted response by then, as fetch does before any 'abort' listener runs.
    await Promise.resolve()
    if (init.signal?.aborted) throw new DOMException('The operation was aborted.', 'AbortError')
    if (offline) throw new TypeError('Failed to fetch')
    if (method === 'POST' && url.pathname.endsWith('/stop')) {
      // As fetch does, the request ends when its signal aborts (a client's timeout).
      const aborted = new Promise((_, reject) => init.signal?.addEventListener('abort', () => reject(init.signal!.reason as Error)))
      await Promise.race([stopGate, aborted])
    }
    return route(method, url, body, headers, init.signal ?? null)
  }

  const setOffline = (value: boolean) => void (offline = value)
  /** The next POST /api/chat is refused so. */
  const refuseNextChat = (refusal: Refusal) => void refusals.push(refusal)

  return { fetch, conversations, requests, answers, seed, setOffline, refuseNextChat }
}

export type FakeServer = ReturnType<typeof fakeServer>
