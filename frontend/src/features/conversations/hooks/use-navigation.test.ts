import { act, renderHook } from '@testing-library/react'

import { conversationIdFrom, conversationPath, useNavigation } from './use-navigation'

describe('conversation URLs', () => {
  it('map /c/{id} to the id and back, and any other path to a new chat', () => {
    expect(conversationPath('0190-ab')).toBe('/c/0190-ab')
    expect(conversationPath(null)).toBe('/')
    expect(conversationIdFrom('/c/0190-ab')).toBe('0190-ab')
    expect(conversationIdFrom('/c/0190-ab/')).toBe('0190-ab')
    expect(conversationIdFrom(conversationPath('a b/c'))).toBe('a b/c')
    expect(conversationIdFrom('/')).toBeNull()
    expect(conversationIdFrom('/chat')).toBeNull()
    // Malformed, yet a conversation's place: one the server does not know.
    expect(conversationIdFrom('/c/')).toBe('')
    expect(conversationIdFrom('/c/a/b')).toBe('a/b')
    expect(conversationIdFrom('/c/%E0%A4%A')).toBe('%E0%A4%A')
  })
})

describe('useNavigation', () => {
  it('starts from the URL', () => {
    window.history.replaceState(null, '', '/c/abc')
    const { result } = renderHook(useNavigation)
    expect(result.current.place).toEqual({ conversationId: 'abc', visit: 0, opened: 'abc' })
  })

  it('go pushes a history entry and starts a new visit; replace does not add one', () => {
    const { result } = renderHook(useNavigation)
    const entries = window.history.length

    act(() => result.current.go('abc'))
    expect(window.location.pathname).toBe('/c/abc')
    expect(window.history.length).toBe(entries + 1)
    expect(result.current.place).toEqual({ conversationId: 'abc', visit: 1, opened: 'abc' })

    act(() => result.current.go(null, { replace: true }))
    expect(window.location.pathname).toBe('/')
    expect(window.history.length).toBe(entries + 1)
    expect(result.current.place).toEqual({ conversationId: null, visit: 2, opened: null })
  })

  it('adopt gives a new chat its id without a new visit or history entry', () => {
    const { result } = renderHook(useNavigation)
    const entries = window.history.length

    act(() => result.current.adopt('fresh'))

    expect(window.location.pathname).toBe('/c/fresh')
    expect(window.history.length).toBe(entries)
    expect(result.current.place).toEqual({ conversationId: 'fresh', visit: 0, opened: null })
    expect(result.current.current()).toBe(result.current.place)
  })

  it('follows back and forward as new visits', async () => {
    const { result } = renderHook(useNavigation)
    act(() => result.current.go('one'))
    act(() => result.current.go('two'))

    await act(async () => {
      window.history.back()
      await new Promise((resolve) => window.addEventListener('popstate', resolve, { once: true }))
    })

    expect(result.current.place).toEqual({ conversationId: 'one', visit: 3, opened: 'one' })
  })

  it('stays on the visit when only the fragment changes (a footnote link, and Back from it)', async () => {
    const { result } = renderHook(useNavigation)
    act(() => result.current.go('one'))
    const popped = () => new Promise((resolve) => window.addEventListener('popstate', resolve, { once: true }))

    await act(async () => {
      window.location.hash = 'user-content-fn-1'
      await popped()
    })
    await act(async () => {
      window.history.back()
      await popped()
    })

    expect(result.current.place).toEqual({ conversationId: 'one', visit: 1, opened: 'one' })
  })
})
