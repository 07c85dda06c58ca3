import { type FormEvent, useId, useState } from 'react'

import { ModalDialog } from '../../../components/modal-dialog'
import { toChatError } from '../../chat/api/chat-error'

interface RenameDialogProps {
  title: string
  onRename: (title: string) => Promise<void>
  onClose: () => void
}

/** Asks for a new title; stays open with the reason if the server refuses it. */
export function RenameDialog({ title, onRename, onClose }: RenameDialogProps) {
  const [value, setValue] = useState(title)
  const [error, setError] = useState<string | null>(null)
  const [saving, setSaving] = useState(false)
  const headingId = useId()
  const inputId = useId()

  const submit = async (event: FormEvent) => {
    event.preventDefault()
    const next = value.trim()
    if (!next || saving) return
    setSaving(true)
    try {
      await onRename(next)
      onClose()
    } catch (failure) {
      setError(toChatError(failure).message)
      setSaving(false)
    }
  }

  return (
    <ModalDialog className="modal" labelledBy={headingId} onClose={onClose}>
      <form className="dialog-body" onSubmit={submit}>
        <h2 id={headingId}>Rename conversation</h2>
        <label htmlFor={inputId}>Title</label>
        <input
          id={inputId}
          data-autofocus
          value={value}
          maxLength={200}
          autoComplete="off"
          onChange={(event) => setValue(event.target.value)}
          onFocus={(event) => event.target.select()}
        />
        {error && (
          <p className="dialog-error" role="alert">
            {error}
          </p>
        )}
        <div className="dialog-actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={saving || value.trim() === ''}>
            Save
          </button>
        </div>
      </form>
    </ModalDialog>
  )
}
