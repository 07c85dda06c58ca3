/**
 * The wire contract of POST /api/chat, mirroring crates/server/src/sse.rs.
 * Frames: `event: start` (only for a stored conversation), `data: {"token"}` (answer text),
 * `event: reasoning`, `event: done`, `event: error`, `event: stopped` (a stored answer ended by
 * Stop), and `: keep-alive` comments, which the parser drops. Each frame of a stored answer
 * carries an SSE `id:`, a cursor `"<text bytes>.<reasoning bytes>"`: how much UTF-8 answer text
 * and reasoning the client has once it has the frame (`start` is `0.0`; the terminal frame's
 * adds `.end`). Sent back as `Last-Event-ID` to GET /api/conversations/{id}/stream, it resumes
 * the answer exactly there.
 */

export type Role = 'user' | 'assistant'

export interface ChatMessage {
  role: Role
  content: string
}

export interface Usage {
  inputTokens: number
  outputTokens: number
  /** Prompt tokens read from Bedrock's prompt cache. */
  cacheReadInputTokens?: number
  /** Prompt tokens written to Bedrock's prompt cache. */
  cacheWriteInputTokens?: number
}

/** The `done` frame: the answer is complete. */
export interface DoneInfo {
  stopReason: string
  usage: Usage
  latencyMs: number
  model: string
  /** False when Bedrock refused streaming and Converse answered in one piece. */
  streamed: boolean
  /** Bedrock's service tier for the answer, when it says. */
  serviceTier?: string
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

/**
 * How hard a reasoning model thinks before it answers. Not sending one leaves it to the
 * server (its BEDROCK_REASONING), which is why the UI sends `off` too.
 */
export type ReasoningLevel = 'off' | 'low' | 'medium' | 'high'

/**
 * The reader's choice for a turn: a model id from GET /api/models (the server's default when
 * absent), and a reasoning level, only for a model whose `capabilities.reasoning` is not `none`.
 */
export interface ModelChoice {
  model?: string
  reasoning?: ReasoningLevel
}

/** What POST /api/chat takes: the whole history (stateless), or one turn of a stored conversation. */
export type ChatRequest = ({ messages: ChatMessage[] } | { conversationId: string; prompt: string }) & ModelChoice

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

/** What a model can do, as GET /api/models describes it. */
export interface ModelCapabilities {
  /** `none`: it cannot reason; `budget` and `adaptive` take a reasoning level. */
  reasoning: 'none' | 'budget' | 'adaptive'
  sampling: ('temperature' | 'topP' | 'topK')[]
  temperatureWithTopP: boolean
  maxOutputTokens: number
  contextWindow: number
  tools: boolean
  images: boolean
  documents: boolean
  promptCache: boolean
}

/** One model a client may pick. */
export interface ModelInfo {
  id: string
  /** The display name. */
  name: string
  provider: string
  default: boolean
  capabilities: ModelCapabilities
}

/** GET /api/models: the models a client may pick; `default` (an id) answers when none is named. */
export interface ModelsInfo {
  /** The default model's provider. */
  provider: string
  default: string
  models: ModelInfo[]
}
