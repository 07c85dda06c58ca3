import { useState } from 'react'

interface ThinkingProps {
  /** The reasoning so far. */
  text: string
  /** The model is reasoning now: no answer text has come yet. */
  live: boolean
  /** How long it thought, when this page saw it happen. */
  ms?: number
}

function summary(live: boolean, ms?: number): string {
  if (live) return 'Thinking…'
  return ms === undefined ? 'Thought' : `Thought for ${(ms / 1000).toFixed(1)} s`
}

/**
 * The model's reasoning before its answer: open while it streams, folded away when the
 * answer begins; the reader may open and close it at any time (the summary is a native
 * disclosure control, keyboard-operable). The conversation's live region reads it out.
 */
export function Thinking({ text, live, ms }: ThinkingProps) {
  const [open, setOpen] = useState(live)
  const [wasLive, setWasLive] = useState(live)
  // Opens as thinking starts and closes as it ends; a toggle by the reader holds meanwhile.
  if (live !== wasLive) {
    setWasLive(live)
    setOpen(live)
  }
  return (
    <details className="thinking" aria-label="Thinking" open={open} onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>{summary(live, ms)}</summary>
      <p>{text}</p>
    </details>
  )
}
