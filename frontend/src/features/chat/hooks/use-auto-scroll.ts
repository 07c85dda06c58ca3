import { type RefObject, useCallback, useEffect, useLayoutEffect, useRef } from 'react'

/** How close to the bottom still counts as "following" the answer. */
const FOLLOW_THRESHOLD_PX = 48

/**
 * Keeps a scrolling element pinned to its bottom while content grows, until the reader scrolls
 * up; scrolling back to the bottom resumes following.
 */
export function useAutoScroll<T extends HTMLElement>(ref: RefObject<T | null>, content: unknown) {
  const following = useRef(true)

  const onScroll = useCallback(() => {
    const el = ref.current
    if (el) following.current = el.scrollHeight - el.scrollTop - el.clientHeight < FOLLOW_THRESHOLD_PX
  }, [ref])

  useEffect(() => {
    const el = ref.current
    el?.addEventListener('scroll', onScroll, { passive: true })
    return () => el?.removeEventListener('scroll', onScroll)
  }, [ref, onScroll])

  useLayoutEffect(() => {
    const el = ref.current
    if (el && following.current) el.scrollTop = el.scrollHeight
  }, [ref, content])

  /** Call when the reader sends a message: they want to see the answer. */
  const follow = useCallback(() => {
    following.current = true
  }, [])

  return follow
}
