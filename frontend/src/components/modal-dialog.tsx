import { type MouseEvent, type ReactNode, useEffect, useRef } from 'react'

const FOCUSABLE = 'button:not([disabled]), [href], input:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])'

interface ModalDialogProps {
  /** Called when the dialog closes (Escape, a click on the backdrop); the owner then unmounts it. */
  onClose: () => void
  children: ReactNode
  className?: string
  /** The dialog's accessible name: the id of its heading, or a label. */
  labelledBy?: string
  label?: string
}

/**
 * A modal on the native <dialog>: the browser keeps focus inside it, makes the rest of the
 * page inert and shows the backdrop. Open while mounted. Focus starts on `[data-autofocus]` (or
 * the first control) and goes back to where it was when the dialog closes.
 */
export function ModalDialog({ onClose, children, className, labelledBy, label }: ModalDialogProps) {
  const ref = useRef<HTMLDialogElement>(null)

  useEffect(() => {
    const dialog = ref.current
    if (!dialog) return
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null
    if (!dialog.open) dialog.showModal()
    const first = dialog.querySelector<HTMLElement>('[data-autofocus]') ?? dialog.querySelector<HTMLElement>(FOCUSABLE)
    first?.focus()
    return () => {
      if (dialog.open) dialog.close()
      if (opener?.isConnected) opener.focus()
    }
  }, [])

  // Every way of closing (Escape included, which browsers may not let a page cancel) ends in the
  // `close` event, which tells the owner. The browser queues that event: one from an earlier
  // close (React's StrictMode mounts twice) can arrive when the dialog is open again.
  const closed = () => {
    if (!ref.current?.open) onClose()
  }
  const clickBackdrop = (event: MouseEvent) => {
    if (event.target === event.currentTarget) ref.current?.close()
  }

  return (
    <dialog ref={ref} className={className} aria-labelledby={labelledBy} aria-label={label} onClose={closed} onClick={clickBackdrop}>
      {children}
    </dialog>
  )
}
