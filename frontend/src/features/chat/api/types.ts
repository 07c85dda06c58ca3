/**
 * The wire contract of POST /api/chat, mirroring crates/server/src/sse.rs.
 * Frames: `event: start` (only for a stored conversation), `data: {"token"}` (answer text),
 * `event: reasoning`, `event: done`, `event: error`, `event: stopped` (a stored answer ended by
 * Stop), and `: keep-alive` comments, which the parser drops. Each frame of a stored answer
 * carries an SSE `id:`, a cursor `"<text bytes>.<reasoning bytes>"`: how much UTF-8 answer text
 * and reasoning the client has once it has the frame (`start` is `0.0`). Sent back as
 * `Last-Event-ID` to GET /api/conversations/{id}/stream, it resumes the answer exactly there.
 */

export type Role = 'user' | 'assistant'

export interface ChatMessage {
  role: Role
  content: string
}

export interface Usage {
  inputTokens: number
  outputTokens: number
}

/** The `done` frame: the answer is complete. */
export interface DoneInfo {
  stopReason: string
  usage: Usage
  latencyMs: number
  model: string
  /** False when Bedrock refused streaming and Converse answered in one piece. */
  streamed: boolean
}

/** The error shape of both JSON error bodies and `event: error` frames. */
export interface ErrorBody {
  code: string
  message: string
  retryable?: boolean
  /** Our request id (X-Request-Id), also in the server's logs. */
  requestId?: string
  /** Bedrock's own request id, for an AWS support case. */
  upstreamRequestId?: string
}

/** What POST /api/chat takes: the whole history (stateless), or one turn of a stored conversation. */
export type ChatRequest = { messages: ChatMessage[] } | { conversationId: string; prompt: string }

/** The `start` frame: the server has stored the turn and will store this answer as `messageId`. */
export interface StartInfo {
  conversationId: string
  messageId: string
}

export type ChatStreamEvent =
  | { type: 'start'; info: StartInfo }
  | { type: 'token'; text: string }
  | { type: 'reasoning'; text: string }
  | { type: 'done'; info: DoneInfo }
  | { type: 'error'; error: ErrorBody }
  | { type: 'stopped' }

/**
 * Not on the wire: what the transport of a stored answer says about its connection. After a
 * drop it yields `reconnecting` before each attempt, and `reconnected` once the server answers.
 */
export type ConnectionEvent = { type: 'reconnecting'; attempt: number; delayMs: number } | { type: 'reconnected' }

/** What a transport yields: the server's events, and news of the connection. */
export type StreamEvent = ChatStreamEvent | ConnectionEvent

/** GET /api/models */
export interface ModelsInfo {
  provider: string
  default: string
  models: { id: string; provider: string }[]
}
