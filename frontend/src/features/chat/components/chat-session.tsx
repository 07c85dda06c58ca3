import { type ReactNode, useEffect, useRef } from 'react'

import type { ModelsInfo } from '../api/types'
import type { ServerCopy, UiMessage } from '../hooks/chat-state'
import { useAutoScroll } from '../hooks/use-auto-scroll'
import { type ResumeChat, type StreamChat, useChat } from '../hooks/use-chat'
import { useModelChoice } from '../hooks/use-model-choice'
import { ApiKeyForm } from './api-key-form'
import { Composer } from './composer'
import { ErrorBanner } from './error-banner'
import { MessageList } from './message-list'
import { ModelPicker } from './model-picker'

interface ChatSessionProps {
  stream?: StreamChat
  resume?: ResumeChat
  initialMessages?: UiMessage[]
  /** The model the conversation last used, preselected while the server still offers it. */
  initialModel?: string | null
  latest?: ServerCopy | null
  onBusyElsewhere?: () => void
  placeholder?: ReactNode
  keyRequired?: boolean
  onSettled?: () => void
  onNewChat: (() => void) | null
  menuButton?: ReactNode
  notice?: ReactNode
  models: ModelsInfo | null
  keyFormOpen: boolean
  onToggleKeyForm: () => void
  onKeySaved: () => void
}

/**
 * The last answer failed or was cut short where this page did not see it happen (before a
 * reload, or in another tab), and asking again may help: it was not refused as it was.
 */
function unfinished(last: UiMessage | undefined): boolean {
  if (last?.role !== 'assistant') return false
  return last.state === 'interrupted' || (last.state === 'failed' && last.errorCode !== 'invalid_request')
}

/**
 * One conversation on screen: header, messages, error, key form and the message box, with
 * the conversation's own choice of model and reasoning.
 */
export function ChatSession({ stream, resume, initialMessages, initialModel, placeholder, keyRequired = false, onSettled, ...props }: ChatSessionProps) {
  const { latest, onBusyElsewhere, onNewChat, menuButton, notice, models, keyFormOpen, onToggleKeyForm, onKeySaved } = props
  const chat = useChat(stream, { initialMessages, resume, onSettled })
  // Each read of the conversation changed elsewhere is offered once, when it arrives: offered
  // again later, it could be older than what the page has since shown.
  const offered = useRef(latest)
  const { sync } = chat
  useEffect(() => {
    if (!latest || offered.current === latest) return
    offered.current = latest
    sync(latest)
  }, [latest, sync])
  // Refused for an answer another tab started (it says so only once its answer starts): the
  // conversation is read again, and that answer shown and followed as it is written.
  const error = chat.error
  useEffect(() => {
    if (error?.code === 'answer_in_progress') onBusyElsewhere?.()
  }, [error, onBusyElsewhere])
  const selection = useModelChoice(models, initialModel)
  const scroller = useRef<HTMLDivElement>(null)
  const follow = useAutoScroll(scroller, chat.messages)

  const send = (text: string) => {
    follow()
    chat.send(text, selection.choice)
  }
  // The Retry pressed goes with the error: focus goes to the box, where Escape stops the answer.
  const retry = () => {
    chat.retry(selection.choice)
    document.getElementById('message')?.focus()
  }

  // A question refused as it is (too long, say) is back in the box to be edited: sending it
  // again unchanged would only be refused again.
  const refused = chat.returned ?? undefined
  const needsKey = chat.error?.code === 'unauthorized'
  const keySaved = () => {
    onKeySaved()
    if (needsKey) retry()
  }
  const active = selection.active

  return (
    <main className="chat">
      <header className="chat-header">
        {menuButton}
        <h1>Streambed</h1>
        {active && (
          <span className="model" title={`${active.id} (${active.provider})`}>
            {active.name}
          </span>
        )}
        <button type="button" className="key-toggle" aria-expanded={keyFormOpen} onClick={onToggleKeyForm}>
          API key
        </button>
        {onNewChat && (
          <button type="button" className="new-chat" onClick={onNewChat} disabled={chat.messages.length === 0 && !placeholder}>
            New chat
          </button>
        )}
      </header>
      {notice && (
        <p className="chat-notice" role="status">
          {notice}
        </p>
      )}
      {placeholder ? <div className="message-list placeholder">{placeholder}</div> : <MessageList messages={chat.messages} ref={scroller} />}
      <p className="connection-status" role="status" aria-live="polite">
        {chat.reconnecting && 'Connection lost. Reconnecting…'}
      </p>
      {chat.error && <ErrorBanner error={chat.error} onRetry={refused ? undefined : retry} />}
      {!chat.error && !chat.busy && unfinished(chat.messages.at(-1)) && (
        <div className="retry-last">
          <button type="button" onClick={retry}>
            Retry
          </button>
        </div>
      )}
      {(keyFormOpen || needsKey || keyRequired) && <ApiKeyForm onSaved={keySaved} />}
      <Composer
        returned={refused}
        busy={chat.busy}
        disabled={Boolean(placeholder)}
        onSend={send}
        onStop={chat.stop}
        options={<ModelPicker selection={selection} disabled={Boolean(placeholder)} />}
      />
    </main>
  )
}
