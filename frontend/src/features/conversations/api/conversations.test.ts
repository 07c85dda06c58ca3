import { saveApiKey } from '../../chat/api/api-key'
import { ChatError } from '../../chat/api/chat-error'
import {
  createConversation,
  deleteConversation,
  downloadConversation,
  downloadNeedsFetch,
  exportUrl,
  getConversation,
  isConversationsDisabled,
  listConversations,
  renameConversation,
} from './conversations'

const conversation = { id: 'c1', title: '', model: null, createdAt: '2025-01-01T00:00:00Z', updatedAt: '2025-01-01T00:00:00Z' }

/** A fetch that records each call and answers with `response()`. */
function recorder(response: () => Response) {
  const calls: { url: string; method: string; body: unknown; headers: Headers }[] = []
  const fetchImpl = async (input: RequestInfo | URL, init: RequestInit = {}) => {
    calls.push({
      url: String(input),
      method: init.method ?? 'GET',
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
      headers: new Headers(init.headers),
    })
    return response()
  }
  return { calls, fetchImpl }
}

const json = (status: number, body: unknown) => () => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })

// jsdom has no blob URLs.
const createObjectURL = vi.fn<(blob: Blob) => string>(() => 'blob:fake')
beforeEach(() => {
  Object.defineProperty(URL, 'createObjectURL', { value: createObjectURL, configurable: true })
  Object.defineProperty(URL, 'revokeObjectURL', { value: vi.fn(), configurable: true })
})

afterEach(() => {
  sessionStorage.clear()
  createObjectURL.mockClear()
  vi.restoreAllMocks()
  Reflect.deleteProperty(URL, 'createObjectURL')
  Reflect.deleteProperty(URL, 'revokeObjectURL')
})

/** Records what each saving link would have downloaded. */
function spyOnDownloads() {
  const clicked: { href: string; download: string }[] = []
  vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
    clicked.push({ href: this.href, download: this.download })
  })
  return clicked
}

describe('the conversations API', () => {
  it('creates a conversation, with the title only when there is one', async () => {
    const { calls, fetchImpl } = recorder(json(201, conversation))

    expect(await createConversation(undefined, undefined, fetchImpl)).toEqual(conversation)
    await createConversation('Named', undefined, fetchImpl)

    expect(calls.map((c) => [c.method, c.url, c.body])).toEqual([
      ['POST', '/api/conversations', {}],
      ['POST', '/api/conversations', { title: 'Named' }],
    ])
  })

  it('lists a page, and the page before a cursor', async () => {
    const { calls, fetchImpl } = recorder(json(200, { conversations: [conversation], next: 'cur' }))

    expect(await listConversations({}, undefined, fetchImpl)).toEqual({ conversations: [conversation], next: 'cur' })
    await listConversations({ limit: 5, before: 'cur/+=' }, undefined, fetchImpl)

    expect(calls.map((c) => c.url)).toEqual(['/api/conversations?limit=30', '/api/conversations?limit=5&before=cur%2F%2B%3D'])
  })

  it('gets, renames and deletes by id, escaping it', async () => {
    const { calls, fetchImpl } = recorder(json(200, { ...conversation, messages: [] }))

    await getConversation('a/b', undefined, fetchImpl)
    await renameConversation('c1', 'New', fetchImpl)

    expect(calls.map((c) => [c.method, c.url, c.body])).toEqual([
      ['GET', '/api/conversations/a%2Fb', undefined],
      ['PATCH', '/api/conversations/c1', { title: 'New' }],
    ])
    const deleted = recorder(() => new Response(null, { status: 204 }))
    await deleteConversation('c1', deleted.fetchImpl)
    expect(deleted.calls[0]).toMatchObject({ method: 'DELETE', url: '/api/conversations/c1' })
  })

  it('sends the API key with every call', async () => {
    saveApiKey('sk-1')
    const { calls, fetchImpl } = recorder(json(200, { conversations: [] }))

    await listConversations({}, undefined, fetchImpl)

    expect(calls[0]!.headers.get('authorization')).toBe('Bearer sk-1')
  })

  it('treats deleting a conversation already gone as done', async () => {
    const { fetchImpl } = recorder(json(404, { error: { code: 'not_found', message: 'No such conversation.' } }))
    await expect(deleteConversation('gone', fetchImpl)).resolves.toBeUndefined()
  })

  it('reports refusals as ChatErrors, and recognises conversations_disabled', async () => {
    const { fetchImpl } = recorder(json(403, { error: { code: 'conversations_disabled', message: 'Set API_KEYS.' } }))

    const error = await listConversations({}, undefined, fetchImpl).catch((e: unknown) => e)

    expect(error).toBeInstanceOf(ChatError)
    expect(error).toMatchObject({ status: 403, code: 'conversations_disabled', message: 'Set API_KEYS.' })
    expect(isConversationsDisabled(error)).toBe(true)
    expect(isConversationsDisabled(new ChatError({ code: 'unauthorized', message: 'x' }, 401))).toBe(false)
  })

  it('links the export, and fetches it with the key into a blob when a key is set', async () => {
    expect(exportUrl('c1')).toBe('/api/conversations/c1/export?format=markdown')
    expect(downloadNeedsFetch()).toBe(false)
    saveApiKey('sk-1')
    expect(downloadNeedsFetch()).toBe(true)
    const { calls, fetchImpl } = recorder(
      () => new Response('# Chat', { headers: { 'Content-Type': 'text/markdown', 'Content-Disposition': 'attachment; filename="my chat.md"' } }),
    )
    const clicked = spyOnDownloads()

    await downloadConversation({ id: 'c1', title: 'ignored' }, 'markdown', fetchImpl)

    expect(calls[0]).toMatchObject({ url: '/api/conversations/c1/export?format=markdown' })
    expect(calls[0]!.headers.get('authorization')).toBe('Bearer sk-1')
    expect(createObjectURL).toHaveBeenCalledOnce()
    expect(clicked).toEqual([{ href: 'blob:fake', download: 'my chat.md' }])
  })

  it('names the saved file after the title when the server names none', async () => {
    const { fetchImpl } = recorder(() => new Response('{}'))
    const clicked = spyOnDownloads()

    await downloadConversation({ id: 'c1', title: 'Plans: Q3 / Q4?' }, 'json', fetchImpl)
    await downloadConversation({ id: 'c1', title: '' }, 'markdown', fetchImpl)

    expect(clicked.map((c) => c.download)).toEqual(['Plans-Q3-Q4.json', 'conversation.md'])
  })
})
