import { saveApiKey } from './api-key'
import { ChatError } from './chat-error'
import { type Frame, IDLE_TIMEOUT_MS, postTurn, readFrames, streamChat } from './stream-chat'
import type { ChatStreamEvent } from './types'

const encoder = new TextEncoder()

/** A fetch that answers with `chunks` as the body, one read each. */
function fetchWith(chunks: Uint8Array[], init: ResponseInit = { status: 200 }) {
  return async () =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (const chunk of chunks) controller.enqueue(chunk)
          controller.close()
        },
      }),
      init,
    )
}

async function collect(chunks: Uint8Array[], init?: ResponseInit): Promise<ChatStreamEvent[]> {
  const events: ChatStreamEvent[] = []
  for await (const event of streamChat([{ role: 'user', content: 'hi' }], new AbortController().signal, {}, fetchWith(chunks, init))) {
    events.push(event)
  }
  return events
}

const done = 'event: done\ndata: {"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":3},"latencyMs":5,"model":"m","streamed":true}\n\n'
const body =
  ': keep-alive\n\n' +
  'data: {"token":"Hé"}\n\n' +
  'event: reasoning\ndata: {"token":"hmm"}\n\n' +
  'data: {"token":"llo 👋"}\n\n' +
  'data: {"token":"data: x\\n\\nevent: done"}\n\n' +
  done

const expected: ChatStreamEvent[] = [
  { type: 'token', text: 'Hé' },
  { type: 'reasoning', text: 'hmm' },
  { type: 'token', text: 'llo 👋' },
  { type: 'token', text: 'data: x\n\nevent: done' },
  { type: 'done', info: { stopReason: 'end_turn', usage: { inputTokens: 1, outputTokens: 3 }, latencyMs: 5, model: 'm', streamed: true } },
]

describe('streamChat', () => {
  afterEach(() => sessionStorage.clear())

  it('sends the saved API key as a bearer token, and none when there is none', async () => {
    const seen: Headers[] = []
    const fetchSpy = async (_url: RequestInfo | URL, init?: RequestInit) => {
      seen.push(new Headers(init?.headers))
      return fetchWith([encoder.encode(done)])()
    }
    const run = async () => {
      const events: ChatStreamEvent[] = []
      for await (const event of streamChat([{ role: 'user', content: 'hi' }], new AbortController().signal, {}, fetchSpy)) {
        events.push(event)
      }
      expect(events.at(-1)?.type).toBe('done')
    }

    await run()
    saveApiKey('sk-test-123')
    await run()

    expect(seen[0]!.has('authorization')).toBe(false)
    expect(seen[1]!.get('authorization')).toBe('Bearer sk-test-123')
  })

  it('posts one turn of a stored conversation, whose frames carry their ids', async () => {
    const bodies: unknown[] = []
    const fetchSpy = async (_url: RequestInfo | URL, init?: RequestInit) => {
      bodies.push(JSON.parse(String(init?.body)))
      const frames = 'event: start\ndata: {"conversationId":"c1","messageId":"m9"}\nid: 0.0\n\ndata: {"token":"Hé"}\nid: 3.0\n\nid: 3.0\n' + done
      return fetchWith([encoder.encode(frames)])()
    }
    const signal = new AbortController().signal
    const frames: Frame[] = []

    for await (const frame of readFrames(await postTurn('c1', 'Hello', signal, {}, fetchSpy), signal)) frames.push(frame)

    expect(bodies).toEqual([{ conversationId: 'c1', prompt: 'Hello' }])
    expect(frames.map((f) => [f.event.type, f.id])).toEqual([
      ['start', '0.0'],
      ['token', '3.0'],
      ['done', '3.0'],
    ])
    expect(frames[0]!.event).toEqual({ type: 'start', info: { conversationId: 'c1', messageId: 'm9' } })
  })

  it('sends the chosen model and reasoning level, off included, and neither when none was chosen', async () => {
    const bodies: unknown[] = []
    const fetchSpy = async (_url: RequestInfo | URL, init?: RequestInit) => {
      bodies.push(JSON.parse(String(init?.body)))
      return fetchWith([encoder.encode(done)])()
    }
    const signal = new AbortController().signal
    const history = [{ role: 'user' as const, content: 'hi' }]

    for await (const _ of streamChat(history, signal, { model: 'm2', reasoning: 'high' }, fetchSpy)) void _
    for await (const _ of streamChat(history, signal, { model: 'm2', reasoning: 'off' }, fetchSpy)) void _
    await postTurn('c1', 'Hello', signal, { model: 'm3', reasoning: 'low' }, fetchSpy)
    await postTurn('c1', 'Again', signal, {}, fetchSpy)

    expect(bodies).toEqual([
      { messages: history, model: 'm2', reasoning: 'high' },
      { messages: history, model: 'm2', reasoning: 'off' },
      { conversationId: 'c1', prompt: 'Hello', model: 'm3', reasoning: 'low' },
      { conversationId: 'c1', prompt: 'Again' },
    ])
  })

  it('never yields a frame cut off before its blank line, even when the body ends cleanly', async () => {
    const cut = 'data: {"token":"a"}\nid: 1.0\n\ndata: {"token":"b"}\n'
    const signal = new AbortController().signal
    const frames: Frame[] = []

    const error = await (async () => {
      for await (const frame of readFrames(await fetchWith([encoder.encode(cut)])(), signal)) frames.push(frame)
    })().catch((e: unknown) => e)

    expect(frames).toEqual([{ event: { type: 'token', text: 'a' }, id: '1.0' }])
    expect(error).toMatchObject({ code: 'stream_interrupted' })
  })

  it('treats a connection silent for longer than the idle timeout as broken', async () => {
    const silent = new Response(
      new ReadableStream<Uint8Array>({
        start: (controller) => controller.enqueue(encoder.encode('data: {"token":"a"}\nid: 1.0\n\n: keep-alive\n\n')),
      }),
    )
    const frames: Frame[] = []

    const error = await (async () => {
      for await (const frame of readFrames(silent, new AbortController().signal, { idleTimeoutMs: 30 })) frames.push(frame)
    })().catch((e: unknown) => e)

    expect(frames).toHaveLength(1)
    expect(error).toMatchObject({ code: 'stream_interrupted' })
  })

  it('treats a connection silent for IDLE_TIMEOUT_MS as broken unless told otherwise (the stateless chat too)', async () => {
    vi.useFakeTimers()
    try {
      const silent = new Response(new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(encoder.encode(': keep-alive\n\n')) }))
      const read = (async () => {
        for await (const frame of readFrames(silent, new AbortController().signal)) void frame
      })().catch((e: unknown) => e)

      await vi.advanceTimersByTimeAsync(IDLE_TIMEOUT_MS - 1_000)
      const early = await Promise.race([read, Promise.resolve('still reading')])
      await vi.advanceTimersByTimeAsync(2_000)

      expect(early).toBe('still reading')
      expect(await read).toMatchObject({ code: 'stream_interrupted' })
    } finally {
      vi.useRealTimers()
    }
  })

  it('parses tokens, reasoning, comments and done in one chunk', async () => {
    expect(await collect([encoder.encode(body)])).toEqual(expected)
  })

  it('parses the same events when the body is split at every byte boundary', async () => {
    const bytes = encoder.encode(body)
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(await collect([bytes.slice(0, cut), bytes.slice(cut)])).toEqual(expected)
    }
  })

  it('parses a body delivered one byte at a time, splitting multi-byte characters', async () => {
    const bytes = encoder.encode(body)
    expect(await collect(Array.from(bytes, (b) => Uint8Array.of(b)))).toEqual(expected)
  })

  it('accepts CRLF and CR line endings', async () => {
    const crlf = body.replaceAll('\n', '\r\n')
    const cr = body.replaceAll('\n', '\r')
    expect(await collect([encoder.encode(crlf)])).toEqual(expected)
    expect(await collect([encoder.encode(cr)])).toEqual(expected)
  })

  it('joins multi-line data fields with newlines', async () => {
    const multi = 'event: error\ndata: {"error":{"code":"x",\ndata: "message":"two lines"}}\n\n'
    expect(await collect([encoder.encode(multi)])).toEqual([{ type: 'error', error: { code: 'x', message: 'two lines' } }])
  })

  it('stops at an in-stream error event', async () => {
    const failing = 'data: {"token":"a"}\n\nevent: error\ndata: {"error":{"code":"throttled","message":"slow down","retryable":true}}\n\ndata: {"token":"never"}\n\n'
    const events = await collect([encoder.encode(failing)])
    expect(events).toEqual([
      { type: 'token', text: 'a' },
      { type: 'error', error: { code: 'throttled', message: 'slow down', retryable: true } },
    ])
  })

  it('turns an HTTP error body into a ChatError with status and code', async () => {
    const json = encoder.encode('{"error":{"code":"access_denied","message":"Check IAM.","requestId":"r1"}}')
    const error = await collect([json], { status: 502, headers: { 'Content-Type': 'application/json' } }).catch((e) => e)
    expect(error).toBeInstanceOf(ChatError)
    expect(error).toMatchObject({ status: 502, code: 'access_denied', message: 'Check IAM.', requestId: 'r1', retryable: true })
  })

  it('describes an error response that is not JSON', async () => {
    const error = await collect([encoder.encode('<html>Bad Gateway</html>')], { status: 502 }).catch((e) => e)
    expect(error).toMatchObject({ status: 502, code: 'http_error' })
  })

  it('ends at a stopped frame (a stored answer ended by Stop)', async () => {
    const stopped = 'data: {"token":"a"}\n\nevent: stopped\ndata: {"messageId":"m1"}\n\n'
    expect(await collect([encoder.encode(stopped)])).toEqual([{ type: 'token', text: 'a' }, { type: 'stopped' }])
  })

  it('reports a stream that ends without done as interrupted', async () => {
    const error = await collect([encoder.encode('data: {"token":"a"}\n\n')]).catch((e) => e)
    expect(error).toMatchObject({ code: 'stream_interrupted' })
  })

  it('reports an unreachable server as a network error, without build settings for a UI the server serves', async () => {
    const refuse = async () => {
      throw new TypeError('Failed to fetch')
    }
    const run = async () => {
      for await (const _ of streamChat([], new AbortController().signal, {}, refuse)) void _
    }
    await expect(run()).rejects.toMatchObject({ code: 'network_error', message: 'Check your connection, then try again.' })
  })

  it('cancels the body when aborted mid-stream', async () => {
    let cancelled = false
    const abort = new AbortController()
    const endless = async () =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            controller.enqueue(encoder.encode('data: {"token":"t"}\n\n'))
          },
          cancel() {
            cancelled = true
          },
        }),
      )
    const seen: ChatStreamEvent[] = []
    for await (const event of streamChat([], abort.signal, {}, endless)) {
      seen.push(event)
      if (seen.length === 3) break
    }
    expect(seen).toHaveLength(3)
    await vi.waitFor(() => expect(cancelled).toBe(true))
  })
})
