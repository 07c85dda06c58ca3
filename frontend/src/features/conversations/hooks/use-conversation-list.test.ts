import { act, renderHook, waitFor } from '@testing-library/react'

import { fakeServer } from '../../../test/fake-server'
import type { Conversation } from '../api/types'
import { type ListState, useConversationList, withFirstPage } from './use-conversation-list'

const at = (id: string, minute: number): Conversation => {
  const time = `2025-01-01T00:${String(minute).padStart(2, '0')}:00Z`
  return { id, title: id, model: null, createdAt: time, updatedAt: time }
}
const ready = (conversations: Conversation[], next?: string): ListState => ({
  owner: 0,
  status: 'ready',
  conversations,
  next,
  error: null,
  loadingMore: false,
})

describe('withFirstPage', () => {
  it('replaces the newest part of the list and keeps older pages already loaded', () => {
    const shown = ready([at('d', 40), at('c', 30), at('b', 20), at('a', 10)], 'cursor-a')

    // "b" was answered in just now; "d" was deleted elsewhere.
    const next = withFirstPage(shown, { conversations: [at('b', 50), at('c', 30)], next: 'cursor-c' }, 0)

    expect(next.conversations.map((c) => c.id)).toEqual(['b', 'c', 'a'])
    expect(next.next).toBe('cursor-a')
  })

  it('takes a complete first page as the whole list', () => {
    const next = withFirstPage(ready([at('b', 20), at('a', 10)], 'x'), { conversations: [at('a', 10)] }, 0)
    expect(next.conversations.map((c) => c.id)).toEqual(['a'])
    expect(next.next).toBeUndefined()
  })

  it("drops another owner's list", () => {
    const next = withFirstPage(ready([at('z', 59)]), { conversations: [at('a', 10)], next: 'n' }, 1)
    expect(next).toMatchObject({ owner: 1, conversations: [at('a', 10)], next: 'n' })
  })
})

describe('useConversationList', () => {
  afterEach(() => vi.unstubAllGlobals())

  it('loads the first page, adds a new conversation at the top, and renames and deletes', async () => {
    const server = fakeServer()
    server.seed('Old')
    vi.stubGlobal('fetch', server.fetch)
    const { result } = renderHook(() => useConversationList(0))
    await waitFor(() => expect(result.current.status).toBe('ready'))

    const created = server.seed('')
    act(() => result.current.add(created))
    expect(result.current.conversations.map((c) => c.id)).toEqual(['c2', 'c1'])
    await act(() => result.current.rename('c1', 'Renamed'))
    await act(() => result.current.remove('c2'))

    expect(result.current.conversations.map((c) => c.title)).toEqual(['Renamed'])
    expect(server.conversations.map((c) => c.title)).toEqual(['Renamed'])
  })

  it('sets aside a list read begun before a rename or a delete: it would bring back what they changed', async () => {
    const server = fakeServer()
    server.seed('A')
    server.seed('B')
    // The next request is answered as the server stood, but only once `release` is called.
    let gate: Promise<void> | null = null
    vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
      const response = await server.fetch(input, init)
      const held = gate
      gate = null
      if (held) await held
      return response
    })
    const { result } = renderHook(() => useConversationList(0))
    await waitFor(() => expect(result.current.status).toBe('ready'))
    let release!: () => void
    gate = new Promise((resolve) => (release = resolve))
    act(() => result.current.refresh())

    await act(() => result.current.rename('c1', 'Renamed'))
    await act(() => result.current.remove('c2'))
    await act(async () => {
      release()
      await new Promise((resolve) => setTimeout(resolve, 20))
    })

    expect(result.current.conversations.map((c) => c.title)).toEqual(['Renamed'])
  })

  it('is disabled where the server keeps no conversations', async () => {
    vi.stubGlobal('fetch', fakeServer({ disabled: true }).fetch)
    const { result } = renderHook(() => useConversationList(0))
    await waitFor(() => expect(result.current.status).toBe('disabled'))
  })

  it('reports why the list could not load, and loads again with a new key', async () => {
    const server = fakeServer()
    const refuse = async () => new Response(JSON.stringify({ error: { code: 'unauthorized', message: 'Key!' } }), { status: 401 })
    vi.stubGlobal('fetch', refuse)
    const { result, rerender } = renderHook(({ key }) => useConversationList(key), { initialProps: { key: 0 } })
    await waitFor(() => expect(result.current.status).toBe('error'))
    expect(result.current.error).toMatchObject({ code: 'unauthorized' })

    vi.stubGlobal('fetch', server.fetch)
    rerender({ key: 1 })

    await waitFor(() => expect(result.current.status).toBe('ready'))
    expect(result.current.error).toBeNull()
  })
})
