import { useState, useSyncExternalStore } from 'react'

/** Where the reader is: a conversation's URL (`/c/{id}`) or a new chat (`/`). */
export interface Place {
  /** The conversation in the URL, or null for a new chat. */
  conversationId: string | null
  /**
   * Counts the reader's moves (open a conversation, New chat, back, forward). It does not
   * change when a new chat gets its id, so the answer being written goes on undisturbed.
   */
  visit: number
  /** The conversation this visit opened (to be loaded from the server); null for a new chat. */
  opened: string | null
}

export function conversationPath(id: string | null): string {
  return id === null ? '/' : `/c/${encodeURIComponent(id)}`
}

/**
 * The conversation a path names: whatever follows `/c/` (one trailing slash aside), decoded
 * where it can be. A malformed one (`/c/`, `/c/a/b`, a broken escape) is still a conversation's
 * place, which the server then does not know, so the page says so rather than show an empty
 * chat under a URL that names none; any other path is a new chat.
 */
export function conversationIdFrom(pathname: string): string | null {
  const match = /^\/c\/(.*?)\/?$/.exec(pathname)
  if (!match) return null
  try {
    return decodeURIComponent(match[1]!)
  } catch {
    return match[1]!
  }
}

export interface Navigation {
  subscribe: (listener: () => void) => () => void
  place: () => Place
  /** Opens a conversation (or a new chat, with null): a new visit, and a new history entry unless `replace`. */
  go: (id: string | null, options?: { replace?: boolean }) => void
  /**
   * The new chat now has an id (or, with null, has none again): the URL says so, and the visit
   * goes on.
   */
  adopt: (id: string | null) => void
}

/**
 * The URL as the app's navigation, on the History API: no router needed for one kind of
 * page. The server answers any client route with index.html, so deep links and reloads work.
 */
export function createNavigation(win: Window = window): Navigation {
  const fromLocation = (visit: number): Place => {
    const id = conversationIdFrom(win.location.pathname)
    return { conversationId: id, visit, opened: id }
  }
  let current = fromLocation(0)
  const listeners = new Set<() => void>()
  const emit = () => listeners.forEach((listener) => listener())
  const onPopState = () => {
    // A footnote's link (or Back from one) moves within the page: the same place, no new visit.
    if (conversationIdFrom(win.location.pathname) === current.conversationId) return
    current = fromLocation(current.visit + 1)
    emit()
  }

  return {
    subscribe(listener) {
      if (listeners.size === 0) win.addEventListener('popstate', onPopState)
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
        if (listeners.size === 0) win.removeEventListener('popstate', onPopState)
      }
    },
    place: () => current,
    go(id, { replace = false } = {}) {
      const path = conversationPath(id)
      // New chat from a new chat: nothing worth a history entry of its own.
      if (replace || path === win.location.pathname) win.history.replaceState(null, '', path)
      else win.history.pushState(null, '', path)
      current = { conversationId: id, visit: current.visit + 1, opened: id }
      emit()
    },
    adopt(id) {
      win.history.replaceState(null, '', conversationPath(id))
      current = { ...current, conversationId: id }
      emit()
    },
  }
}

/** The current place, and the moves. One navigation per mounted app. */
export function useNavigation() {
  const [navigation] = useState(() => createNavigation())
  const place = useSyncExternalStore(navigation.subscribe, navigation.place)
  // `current` reads the place at call time, for code outside React's render (a transport).
  return { place, current: navigation.place, go: navigation.go, adopt: navigation.adopt }
}
