import { useRef, useState } from 'react'

import { type StreamChat, useChat } from '../hooks/use-chat'
import { useAutoScroll } from '../hooks/use-auto-scroll'
import { useModels } from '../hooks/use-models'
import { ApiKeyForm } from './api-key-form'
import { Composer } from './composer'
import { ErrorBanner } from './error-banner'
import { MessageList } from './message-list'

/** The chat screen: header, conversation, error, and the message box. */
export function ChatView({ stream }: { stream?: StreamChat }) {
  const chat = useChat(stream)
  const [keyVersion, setKeyVersion] = useState(0)
  const [keyFormOpen, setKeyFormOpen] = useState(false)
  const models = useModels(keyVersion)
  const scroller = useRef<HTMLDivElement>(null)
  const follow = useAutoScroll(scroller, chat.messages)

  const send = (text: string) => {
    follow()
    chat.send(text)
  }

  const needsKey = chat.error?.code === 'unauthorized'
  const keySaved = () => {
    setKeyFormOpen(false)
    setKeyVersion((v) => v + 1)
    if (needsKey) chat.retry()
  }

  return (
    <main className="chat">
      <header className="chat-header">
        <h1>Streambed</h1>
        {models && (
          <span className="model" title={`Provider: ${models.provider}`}>
            {models.default} · {models.provider}
          </span>
        )}
        <button type="button" className="key-toggle" aria-expanded={keyFormOpen} onClick={() => setKeyFormOpen((o) => !o)}>
          API key
        </button>
        <button type="button" className="new-chat" onClick={chat.newChat} disabled={chat.messages.length === 0}>
          New chat
        </button>
      </header>
      <MessageList messages={chat.messages} ref={scroller} />
      {chat.error && <ErrorBanner error={chat.error} onRetry={chat.retry} />}
      {(keyFormOpen || needsKey) && <ApiKeyForm onSaved={keySaved} />}
      <Composer busy={chat.busy} onSend={send} onStop={chat.stop} />
    </main>
  )
}
