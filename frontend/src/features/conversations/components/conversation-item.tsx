import { type FocusEvent, type KeyboardEvent, type MouseEvent, useEffect, useId, useRef, useState } from 'react'

import type { Conversation } from '../api/types'
import { conversationPath } from '../hooks/use-navigation'
import { DeleteDialog } from './delete-dialog'
import { DownloadLink } from './download-link'
import { RenameDialog } from './rename-dialog'

/** What the list shows for a conversation the server has not named yet. */
export function displayTitle(conversation: Conversation): string {
  return conversation.title.trim() || 'New conversation'
}

interface ConversationItemProps {
  conversation: Conversation
  active: boolean
  onSelect: (id: string) => void
  onRename: (id: string, title: string) => Promise<void>
  onDelete: (id: string) => Promise<void>
}

/**
 * One conversation: a link that opens it (a real link, so it opens in a new tab too), and a
 * disclosure button with its actions: rename, download, delete.
 */
export function ConversationItem({ conversation, active, onSelect, onRename, onDelete }: ConversationItemProps) {
  const [expanded, setExpanded] = useState(false)
  const [dialog, setDialog] = useState<'rename' | 'delete' | null>(null)
  const toggle = useRef<HTMLButtonElement>(null)
  const item = useRef<HTMLLIElement>(null)
  const actionsId = useId()
  const title = displayTitle(conversation)
  const link = useRef<HTMLAnchorElement>(null)

  // The open conversation's row is in view when the page opens on it (a deep link, a reload).
  useEffect(() => {
    if (active) link.current?.scrollIntoView?.({ block: 'nearest' })
  }, [active])

  // Open actions close when the reader clicks elsewhere (another conversation's ⋯ included).
  useEffect(() => {
    if (!expanded) return
    const elsewhere = (event: PointerEvent) => {
      if (!item.current?.contains(event.target as Node)) setExpanded(false)
    }
    document.addEventListener('pointerdown', elsewhere)
    return () => document.removeEventListener('pointerdown', elsewhere)
  }, [expanded])

  const open = (event: MouseEvent) => {
    // Modified clicks (new tab, new window) are the browser's.
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
    event.preventDefault()
    onSelect(conversation.id)
  }

  const closeActions = (event: KeyboardEvent) => {
    if (event.key !== 'Escape') return
    // Just the actions: not the drawer around them too.
    event.preventDefault()
    event.stopPropagation()
    setExpanded(false)
    toggle.current?.focus()
  }

  // …and when focus moves out of the row (Tab past its actions), so one row's actions are open at
  // most. Focus going nowhere (a click on a button Safari does not focus) is the click's to decide.
  const leaveActions = (event: FocusEvent) => {
    const to = event.relatedTarget as Node | null
    if (to !== null && !event.currentTarget.contains(to)) setExpanded(false)
  }

  return (
    <li
      ref={item}
      className={active ? 'conversation active' : 'conversation'}
      onKeyDown={expanded && dialog === null ? closeActions : undefined}
      onBlur={expanded && dialog === null ? leaveActions : undefined}
    >
      {/* `title`: the whole title, where the row shows it cut short. */}
      <a ref={link} href={conversationPath(conversation.id)} title={title} aria-current={active ? 'page' : undefined} onClick={open}>
        {title}
      </a>
      <button
        ref={toggle}
        type="button"
        className="conversation-toggle"
        aria-label={`Actions for ${title}`}
        aria-expanded={expanded}
        aria-controls={actionsId}
        onClick={() => setExpanded((e) => !e)}
      >
        ⋯
      </button>
      <div id={actionsId} className="conversation-actions" hidden={!expanded}>
        <button type="button" onClick={() => setDialog('rename')}>
          Rename
        </button>
        <DownloadLink conversation={conversation} />
        <button type="button" className="danger" onClick={() => setDialog('delete')}>
          Delete
        </button>
      </div>
      {dialog === 'rename' && (
        <RenameDialog title={conversation.title} onRename={(t) => onRename(conversation.id, t)} onClose={() => setDialog(null)} />
      )}
      {dialog === 'delete' && (
        <DeleteDialog title={title} onDelete={() => onDelete(conversation.id)} onClose={() => setDialog(null)} />
      )}
    </li>
  )
}
