/**
 * The wire contract of POST /api/chat, mirroring crates/server/src/sse.rs.
 * Frames: `data: {"token"}` (answer text), `event: reasoning`, `event: done`, `event: error`,
 * and `: keep-alive` comments, which the parser drops.
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

export type ChatStreamEvent =
  | { type: 'token'; text: string }
  | { type: 'reasoning'; text: string }
  | { type: 'done'; info: DoneInfo }
  | { type: 'error'; error: ErrorBody }

/** GET /api/models */
export interface ModelsInfo {
  provider: string
  default: string
  models: { id: string; provider: string }[]
}
