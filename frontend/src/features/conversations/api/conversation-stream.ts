import { ChatError, toChatError } from '../../chat/api/chat-error'
import { postTurn, streamChat } from '../../chat/api/stream-chat'
import type { ChatMessage, ModelChoice, StreamEvent } from '../../chat/api/types'
import { type ResumeChat, type StreamChat, notSent, stopRequested } from '../../chat/hooks/use-chat'
import { type FollowTuning, cursorAfter, followAnswer } from './answer-stream'
import { createConversation, getConversation, isConversationsDisabled, isNotFound, stopAnswer } from './conversations'
import { announce } from './tab-news'
import type { Conversation } from './types'

export interface ConversationStreamOptions {
  /** The conversation on screen, read at each send; null for a new chat, created on its first send. */
  conversationId: () => string | null
  /** The new chat's conversation exists: show it in the list, put it in the URL. */
  onCreated: (conversation: Conversation) => void
  /**
   * The new chat's first turn is stored, and with it the title the server took from the
   * question: the list can show it while the first answer is still being written.
   */
  onTitled?: () => void
  /**
   * The new chat's conversation was refused its first turn before storing anything (the
   * question too long, say), or the turn was stopped while the conversation was being created:
   * it holds nothing, so it goes again, and the chat is new once more.
   */
  onAbandoned?: (conversationId: string) => void
  /** The server keeps no conversations (`error` says why): this turn and the next go stateless. */
  onDisabled: (error: unknown) => void
  fetchImpl?: typeof fetch
  /** How a dropped answer is followed again (tests make it quick). */
  follow?: FollowTuning
  /** Shared with the page's other transport (see `PendingStops`). */
  stops?: PendingStops
}

/** `promise`, or nothing as soon as `signal` aborts (the promise goes on, unwatched). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined)
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}

/**
 * The Stops a page sent and the server has not answered yet, by conversation, shared by its
 * transports. The server answers a Stop once the stopped answer's record is written, and takes
 * the conversation's next turn only then: a turn asked meanwhile (Stop, then Enter at once)
 * waits for it rather than meet a 409.
 */
export class PendingStops {
  private readonly sent = new Map<string, Promise<ChatError | null>>()

  /**
   * `timeoutMs`: how long a Stop may take to be answered, past the server's own wait for the
   * replica writing the answer (5 s), before the page says it could not stop it.
   */
  constructor(private readonly timeoutMs = 10_000) {}

  /** Asks the server to stop the conversation's answer; settles as `answered` does. */
  send(conversationId: string, fetchImpl?: typeof fetch): Promise<ChatError | null> {
    const stop = stopAnswer(conversationId, fetchImpl, AbortSignal.timeout(this.timeoutMs)).then(
      () => null,
      (error: unknown) => {
        // A conversation deleted meanwhile has no answer left to stop.
        if (isNotFound(error)) return null
        if ((error as { name?: unknown } | null)?.name === 'TimeoutError') {
          const message = 'The server did not answer the Stop in time: it may go on writing the answer.'
          return new ChatError({ code: 'stop_unavailable', message, retryable: true })
        }
        return toChatError(error)
      },
    )
    this.sent.set(conversationId, stop)
    void stop.then(() => {
      if (this.sent.get(conversationId) === stop) this.sent.delete(conversationId)
    })
    return stop
  }

  /**
   * Settles once the server has answered the conversation's Stop, if one was sent: with why
   * the Stop failed (no server reached, or the replica writing the answer did not confirm it),
   * null when it did not.
   */
  answered(conversationId: string): Promise<ChatError | null> {
    return this.sent.get(conversationId) ?? Promise.resolve(null)
  }
}

/** Why a Stop failed, as the `stop_unavailable` the hook ends the turn with (see `stopRequested`). */
function stopFailure(error: ChatError): ChatError {
  if (error.code === 'stop_unavailable') return error
  // The server's own refusal says why (a key, a rate); no answer from it, only that it did not.
  const message = error.status > 0 ? error.message : 'The Stop did not reach the server, which goes on writing the answer.'
  return new ChatError({ code: 'stop_unavailable', message, retryable: true, requestId: error.requestId }, error.status)
}

/**
 * Passes `events` on; meanwhile Stop (an abort whose reason is `stopRequested`) also asks the
 * server to stop the answer, which it would otherwise go on writing without the reader. The
 * turn ends as stopped once the server has said so: a Stop it could not deliver ends it with
 * that error instead, the answer still being written there (Retry follows it again).
 */
async function* stoppable(conversationId: string, signal: AbortSignal, events: AsyncIterable<StreamEvent>, stops: PendingStops, fetchImpl?: typeof fetch) {
  let stopping: Promise<ChatError | null> | undefined
  const stopOnServer = () => {
    if (signal.reason === stopRequested) stopping = stops.send(conversationId, fetchImpl)
  }
  signal.addEventListener('abort', stopOnServer, { once: true })
  try {
    yield* events
  } catch (error) {
    const unstopped = await stopping
    throw unstopped ? stopFailure(unstopped) : error
  } finally {
    signal.removeEventListener('abort', stopOnServer)
  }
}

/**
 * What the server kept of a turn it refused with an HTTP error: the failed answer, if it stored
 * the question with the failure (Bedrock refused the request after the turn was stored, as for
 * an answer that fails mid-way); `empty` when the conversation holds nothing at all; null when
 * that cannot be told (no HTTP refusal, or the conversation cannot be read).
 */
async function keptOfRefusal(conversationId: string, prompt: string, error: unknown, fetchImpl?: typeof fetch): Promise<{ kept: string } | 'empty' | null> {
  if (!(error instanceof ChatError) || error.status === 0 || isConversationsDisabled(error)) return null
  try {
    const { messages } = await getConversation(conversationId, undefined, fetchImpl)
    if (messages.length === 0) return 'empty'
    const [question, answer] = messages.slice(-2)
    const kept =
      question?.role === 'user' &&
      question.content === prompt &&
      answer?.role === 'assistant' &&
      answer.status === 'error' &&
      answer.errorCode === error.code
    return kept ? { kept: answer.id } : null
  } catch {
    return null
  }
}

/**
 * The transport of a stored conversation: each send carries only the new turn, and the server
 * adds the history from its store. The first send of a new chat creates the conversation.
 * A stored answer belongs to the server, which goes on writing it when the reader leaves: so
 * Stop, besides closing the connection, asks the server to stop, and a dropped connection is
 * followed again from where it broke (`followAnswer`). Where the server answers
 * `conversations_disabled`, the turn is sent the stateless way, with the whole history.
 */
export function conversationStream(options: ConversationStreamOptions): StreamChat {
  const { conversationId, onCreated, onTitled, onAbandoned, onDisabled, fetchImpl, follow, stops = new PendingStops() } = options
  return async function* (history: ChatMessage[], signal: AbortSignal, choice: ModelChoice = {}): AsyncGenerator<StreamEvent> {
    const prompt = history.at(-1)
    if (prompt?.role !== 'user') throw new Error('A turn ends with the user message')
    let id = conversationId()
    const created = id === null
    try {
      if (id === null) {
        // The request is not cut off with the turn: cut off in flight it might still create the
        // conversation, and leave an empty one in the list with no one knowing its id. Stopped,
        // or left for another conversation, meanwhile, the turn ends at once, and the new
        // conversation, which holds nothing, goes again once it exists.
        const creating = createConversation(undefined, undefined, fetchImpl)
        const conversation = await untilAborted(creating, signal)
        if (conversation === undefined || signal.aborted) {
          creating.then((created) => onAbandoned?.(created.id), () => {})
          throw notSent
        }
        id = conversation.id
        onCreated(conversation)
      }
      const conversation = id
      const post = async function* (): AsyncGenerator<StreamEvent> {
        let response: Response
        try {
          await untilAborted(stops.answered(conversation), signal)
          if (signal.aborted) throw notSent
          response = await postTurn(conversation, prompt.content, signal, choice, fetchImpl)
        } catch (error) {
          // Shown as the server keeps it (as a reload would show it): a Retry then replaces
          // the kept failure, as the server does when the same question is asked again.
          const kept = await keptOfRefusal(conversation, prompt.content, error, fetchImpl)
          if (kept === 'empty' && created && !signal.aborted) onAbandoned?.(conversation)
          else if (kept && kept !== 'empty' && error instanceof ChatError) {
            // The answer the server kept ended with this error, as a reload would show it.
            yield { type: 'start', info: { conversationId: conversation, messageId: kept.kept } }
            const { code, message, retryable, requestId, upstreamRequestId } = error
            yield { type: 'error', error: { code, message, retryable, requestId, upstreamRequestId } }
            return
          }
          throw error
        }
        // The turn is stored: another tab showing the conversation can follow its answer, and
        // show how it ended.
        announce(conversation)
        if (created) onTitled?.()
        try {
          yield* followAnswer(response, '0.0', { ...follow, conversationId: conversation, signal, fetchImpl })
        } finally {
          announce(conversation)
        }
      }
      yield* stoppable(conversation, signal, post(), stops, fetchImpl)
    } catch (error) {
      if (!isConversationsDisabled(error)) throw error
      onDisabled(error)
      yield* streamChat(history, signal, choice, fetchImpl)
    }
  }
}

export interface ConversationResumeOptions {
  /** The conversation on screen, whose latest answer is followed. */
  conversationId: () => string | null
  fetchImpl?: typeof fetch
  follow?: FollowTuning
  stops?: PendingStops
}

/**
 * Follows the answer the server is still writing in the conversation on screen (after a
 * reload, or to try again after the connection was lost), from the text the page already has.
 */
export function conversationResume({ conversationId, fetchImpl, follow, stops = new PendingStops() }: ConversationResumeOptions): ResumeChat {
  return async function* (answer, signal): AsyncGenerator<StreamEvent> {
    const id = conversationId()
    if (id === null) throw new ChatError({ code: 'no_answer', message: 'There is no conversation to follow.' })
    const cursor = cursorAfter(answer.content, answer.reasoning)
    const messageId = answer.stored ? answer.id : undefined
    yield* stoppable(id, signal, followAnswer(null, cursor, { ...follow, conversationId: id, signal, fetchImpl, messageId }), stops, fetchImpl)
  }
}
