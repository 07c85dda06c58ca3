import { type FormEvent, type KeyboardEvent, type ReactNode, useEffect, useRef, useState } from 'react'

import { useMediaQuery } from '../../../hooks/use-media-query'

/** A touch screen is the main pointer: its keyboard has no Shift+Enter to add a line. */
const TOUCH = '(pointer: coarse)'

interface ComposerProps {
  busy: boolean
  /** Nothing to send to yet (the conversation is loading, or cannot be shown). */
  disabled?: boolean
  onSend: (text: string) => void
  onStop: () => void
  /** Settings for the next turn, above the box (the model picker). */
  options?: ReactNode
  /** A question handed back to be edited (refused as it was): it joins what is in the box. */
  returned?: { id: string; content: string }
}

/**
 * The message box: Enter sends, Shift+Enter adds a line, Escape stops an answer. On a touch
 * screen Enter adds a line and the Send button (or Ctrl/Cmd+Enter) sends, as an on-screen
 * keyboard has no Shift+Enter.
 */
export function Composer({ busy, disabled = false, onSend, onStop, options, returned }: ComposerProps) {
  const [text, setText] = useState('')
  // Taken in once per question, ahead of anything typed since it was sent.
  const [handedBack, setHandedBack] = useState<string | undefined>(undefined)
  if (returned && returned.id !== handedBack) {
    setHandedBack(returned.id)
    setText((typed) => (typed.trim() === '' ? returned.content : `${returned.content}\n${typed}`))
  }
  const input = useRef<HTMLTextAreaElement>(null)
  const touch = useMediaQuery(TOUCH)

  // Focus is in the box whenever a question can be typed, so the next one can be straight away;
  // once an answer ends, only from the composer (or the page, where Stop left it when it went),
  // never from where the reader went meanwhile (the conversation list, a message's copy button).
  const form = useRef<HTMLFormElement>(null)
  const wasBusy = useRef(busy)
  useEffect(() => {
    const ended = wasBusy.current && !busy
    wasBusy.current = busy
    if (busy || disabled) return
    const at = document.activeElement
    const here = at === null || at === document.body || Boolean(form.current?.contains(at))
    if (!ended || here) input.current?.focus()
  }, [busy, disabled])

  const submit = (event?: FormEvent) => {
    event?.preventDefault()
    if (busy || disabled || text.trim() === '') return
    onSend(text)
    setText('')
  }

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    // Ctrl or Cmd+Enter sends on a touch screen too (a tablet's keyboard).
    const sends = !touch || event.ctrlKey || event.metaKey
    if (event.key === 'Enter' && !event.shiftKey && sends && !event.nativeEvent.isComposing) {
      event.preventDefault()
      submit()
    } else if (event.key === 'Escape' && busy) {
      event.preventDefault()
      onStop()
    }
  }

  return (
    <form ref={form} className="composer" onSubmit={submit}>
      {options}
      <div className="composer-row">
        <label htmlFor="message" className="visually-hidden">
          Message
        </label>
        <textarea
          id="message"
          ref={input}
          value={text}
          rows={2}
          disabled={disabled}
          placeholder={touch ? 'Send a message' : 'Send a message (Enter to send, Shift+Enter for a new line)'}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKeyDown}
        />
        {/* Keyed apart: one reused <button> would turn from Stop into a submit button
            while its click is still being handled, and send the draft in the box. */}
        {busy ? (
          <button key="stop" type="button" className="stop" onClick={onStop}>
            Stop
          </button>
        ) : (
          <button key="send" type="submit" disabled={disabled || text.trim() === ''}>
            Send
          </button>
        )}
      </div>
    </form>
  )
}
