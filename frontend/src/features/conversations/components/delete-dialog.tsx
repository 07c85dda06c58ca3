import { useId, useState } from 'react'

import { ModalDialog } from '../../../components/modal-dialog'
import { toChatError } from '../../chat/api/chat-error'

interface DeleteDialogProps {
  title: string
  onDelete: () => Promise<void>
  onClose: () => void
}

/** Confirms a delete, which cannot be undone. Cancel has the focus, so Enter is the safe choice. */
export function DeleteDialog({ title, onDelete, onClose }: DeleteDialogProps) {
  const [error, setError] = useState<string | null>(null)
  const [deleting, setDeleting] = useState(false)
  const headingId = useId()

  const confirm = async () => {
    setDeleting(true)
    try {
      await onDelete()
      onClose()
    } catch (failure) {
      setError(toChatError(failure).message)
      setDeleting(false)
    }
  }

  return (
    <ModalDialog className="modal" labelledBy={headingId} onClose={onClose}>
      <div className="dialog-body">
        <h2 id={headingId}>Delete conversation?</h2>
        <p>“{title}” and all its messages will be deleted. This cannot be undone.</p>
        {error && (
          <p className="dialog-error" role="alert">
            {error}
          </p>
        )}
        <div className="dialog-actions">
          <button type="button" data-autofocus onClick={onClose}>
            Cancel
          </button>
          <button type="button" className="danger" disabled={deleting} onClick={confirm}>
            Delete
          </button>
        </div>
      </div>
    </ModalDialog>
  )
}
