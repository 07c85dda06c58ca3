/**
 * What one tab changes in the conversations, told to the others of the same browser, so that a
 * conversation open in two tabs shows the other's questions, and follows its answers, without a
 * reload. A BroadcastChannel delivers a message to every other channel of its name in the
 * browser's tabs of this origin, never back to the channel that sent it: so each tab has one.
 */

const NAME = 'streambed:conversations'

/** A change to this conversation (a turn, an answer's end, a rename, a delete, its creation). */
export interface TabNews {
  conversationId: string
}

let channel: BroadcastChannel | null | undefined

/** The tab's channel; null where the browser has none (news is then a nicety it goes without). */
function tabChannel(): BroadcastChannel | null {
  if (channel === undefined) channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(NAME) : null
  return channel
}

/** Tells the other tabs that this conversation changed. */
export function announce(conversationId: string): void {
  tabChannel()?.postMessage({ conversationId } satisfies TabNews)
}

/** Calls `listener` with each change another tab announces; returns the unsubscribe. */
export function onTabNews(listener: (news: TabNews) => void): () => void {
  const source = tabChannel()
  if (!source) return () => {}
  const receive = ({ data }: MessageEvent) => {
    if (typeof data === 'object' && data !== null && typeof (data as TabNews).conversationId === 'string') listener(data as TabNews)
  }
  source.addEventListener('message', receive)
  return () => source.removeEventListener('message', receive)
}
