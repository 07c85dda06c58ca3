import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'

import { ChatView } from './features/chat/components/chat-view'
import './index.css'

const root = document.getElementById('root')
if (!root) throw new Error('index.html has no #root element')

createRoot(root).render(
  <StrictMode>
    <ChatView />
  </StrictMode>,
)
