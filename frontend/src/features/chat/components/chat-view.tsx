import { type ReactNode, useState } from 'react'

import type { ServerCopy, UiMessage } from '../hooks/chat-state'
import type { ResumeChat, StreamChat } from '../hooks/use-chat'
import { useModels } from '../hooks/use-models'
import { ChatSession } from './chat-session'

export interface ChatViewProps {
  stream?: StreamChat
  /** Follows an answer the server is still writing (see useChat). */
  resume?: ResumeChat
  /** Names the conversation on screen: a new value starts over, from `initialMessages`. */
  session?: string
  /** A stored conversation's messages. */
  initialMessages?: UiMessage[]
  /** A stored conversation's model (its latest turn's), preselected in the model picker. */
  initialModel?: string | null
  /** The conversation as the server has it now, when it changed elsewhere (see useChat's `sync`). */
  latest?: ServerCopy | null
  /** The server refused a turn while an answer this page did not know of runs (another tab's). */
  onBusyElsewhere?: () => void
  /** Shown instead of the conversation (loading it, or why it cannot be); sending waits meanwhile. */
  placeholder?: ReactNode
  /** The server wants an API key before it shows the conversation: the key form is open. */
  keyRequired?: boolean
  /** Called when an answer has ended, however it ended. */
  onSettled?: () => void
  /** New chat in the header; by default the view starts over by itself; null: no button (the sidebar has one). */
  onNewChat?: (() => void) | null
  /** A new API key was saved. */
  onKeySaved?: () => void
  /** First in the header: the button that opens the conversations drawer on narrow screens. */
  menuButton?: ReactNode
  /** A line under the header about the whole page (why conversations are not kept). */
  notice?: ReactNode
}

/**
 * The chat screen. What outlives one conversation lives here (the models, the API key form);
 * the conversation itself is a ChatSession, started afresh for each `session`.
 */
export function ChatView({ session = '', onNewChat, onKeySaved, ...props }: ChatViewProps) {
  const [keyVersion, setKeyVersion] = useState(0)
  const [keyFormOpen, setKeyFormOpen] = useState(false)
  const [restarts, setRestarts] = useState(0)
  const models = useModels(keyVersion)

  const keySaved = () => {
    setKeyFormOpen(false)
    setKeyVersion((v) => v + 1)
    onKeySaved?.()
  }

  return (
    <ChatSession
      key={`${session}/${restarts}`}
      {...props}
      models={models}
      keyFormOpen={keyFormOpen}
      onToggleKeyForm={() => setKeyFormOpen((open) => !open)}
      onKeySaved={keySaved}
      onNewChat={onNewChat === undefined ? () => setRestarts((n) => n + 1) : onNewChat}
    />
  )
}
