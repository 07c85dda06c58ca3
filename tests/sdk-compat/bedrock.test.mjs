// The emulator through the AWS SDK for JavaScript v3, which uses HTTP/2 for these operations.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime'

const url = process.env.EMULATOR_URL
const MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1:0'
const UNICODE = JSON.parse(readFileSync(new URL('./unicode-deltas.json', import.meta.url), 'utf8'))
const client = new BedrockRuntimeClient({ endpoint: url, region: 'us-east-1', maxAttempts: 3 })
const user = (text) => [{ role: 'user', content: [{ text }] }]

async function stream(text, extra = {}) {
  const response = await client.send(new ConverseStreamCommand({ modelId: MODEL, messages: user(text), ...extra }))
  const deltas = []
  let stop
  let usage
  for await (const event of response.stream) {
    if (event.contentBlockDelta) deltas.push(event.contentBlockDelta.delta.text)
    if (event.messageStop) stop = event.messageStop.stopReason
    if (event.metadata) usage = event.metadata.usage
  }
  return { deltas, stop, usage }
}

const records = async () => (await fetch(`${url}/_emulator/requests`)).json()

test('converse stream ok', async () => {
  const { deltas, stop, usage } = await stream('hi there')
  assert.equal(deltas.join(''), 'Hello from the Streambed emulator. You said: hi there')
  assert.equal(deltas.length, 9)
  assert.equal(stop, 'end_turn')
  assert.deepEqual(usage, { inputTokens: 2, outputTokens: 9, totalTokens: 11 })
})

test('converse ok', async () => {
  const response = await client.send(new ConverseCommand({ modelId: MODEL, messages: user('hello') }))
  assert.equal(response.output.message.content[0].text, 'Hello from the Streambed emulator. You said: hello')
  assert.equal(response.stopReason, 'end_turn')
  assert.equal(response.usage.outputTokens, 8)
})

test('unicode', async () => {
  assert.deepEqual((await stream('[[scenario:unicode]]')).deltas, UNICODE)
})

test('deny-stream refuses only streaming', async () => {
  await assert.rejects(stream('[[scenario:deny-stream]]'), (e) => e.name === 'AccessDeniedException' && e.$metadata.httpStatusCode === 403)
  const answer = await client.send(new ConverseCommand({ modelId: MODEL, messages: user('[[scenario:deny-stream]] hi') }))
  assert.ok(answer.output.message.content[0].text.endsWith('hi'))
})

test('throttling is retried three times', async () => {
  await assert.rejects(stream('[[scenario:throttle]] javascript'), (e) => e.name === 'ThrottlingException')
  const attempts = (await records()).filter((r) => JSON.stringify(r.body).includes('javascript')).map((r) => r.attempt)
  assert.deepEqual(attempts, [1, 2, 3])
})

test('mid-stream exception after deltas', async () => {
  const response = await client.send(
    new ConverseStreamCommand({ modelId: MODEL, messages: user('[[scenario:exception type=throttlingException after=3]]') }),
  )
  const deltas = []
  await assert.rejects(
    (async () => {
      for await (const event of response.stream) if (event.contentBlockDelta) deltas.push(event.contentBlockDelta.delta.text)
    })(),
    (e) => e.name === 'ThrottlingException',
  )
  assert.equal(deltas.join(''), 'lorem0 ipsum1 dolor2 ')
})

test('echo returns the request', async () => {
  const { deltas } = await stream('[[scenario:echo]] hi', { system: [{ text: 'Be brief.' }], inferenceConfig: { maxTokens: 64 } })
  const echoed = JSON.parse(deltas.join(''))
  assert.deepEqual(echoed.system, [{ text: 'Be brief.' }])
  assert.deepEqual(echoed.inferenceConfig, { maxTokens: 64 })
  assert.equal(echoed.messages[0].content[0].text, '[[scenario:echo]] hi')
})

test('the JS SDK speaks HTTP/2 with prior knowledge', async () => {
  const versions = new Set((await records()).filter((r) => JSON.stringify(r.body).includes('javascript')).map((r) => r.httpVersion))
  assert.deepEqual([...versions], ['HTTP/2.0'])
})
