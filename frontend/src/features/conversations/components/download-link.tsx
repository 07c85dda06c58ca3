import { type MouseEvent, useState } from 'react'

import { toChatError } from '../../chat/api/chat-error'
import { downloadConversation, downloadNeedsFetch, exportUrl } from '../api/conversations'
import type { Conversation } from '../api/types'

/**
 * "Download as Markdown": a plain link to the export route, which the server sends as an
 * attachment. A link cannot carry the API key, so with a key set the file is fetched instead.
 */
export function DownloadLink({ conversation }: { conversation: Pick<Conversation, 'id' | 'title'> }) {
  const [error, setError] = useState<string | null>(null)

  const click = (event: MouseEvent) => {
    if (!downloadNeedsFetch()) return
    event.preventDefault()
    downloadConversation(conversation).then(
      () => setError(null),
      (failure: unknown) => setError(toChatError(failure).message),
    )
  }

  return (
    <>
      <a className="download" href={exportUrl(conversation.id)} download onClick={click}>
        Download as Markdown
      </a>
      {error && (
        <p className="sidebar-error" role="alert">
          Download failed: {error}
        </p>
      )}
    </>
  )
}
