// Streambed's OpenAI Chat Completions API through the official `openai` JavaScript SDK.
// Run by run.sh, which starts the emulator and the server and sets STREAMBED_URL and
// STREAMBED_API_KEY.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import OpenAI from 'openai';

const HAIKU = 'anthropic.claude-3-haiku-20240307-v1:0';
const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The current weather in a city.',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

const client = new OpenAI({
  baseURL: `${process.env.STREAMBED_URL}/v1`,
  apiKey: process.env.STREAMBED_API_KEY,
  maxRetries: 0,
});

test('streamed chunks join to the upstream text', async () => {
  const stream = await client.chat.completions.create({
    model: HAIKU,
    messages: [{ role: 'user', content: 'hello from node' }],
    stream: true,
  });

  let text = '';
  let finishReason = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    finishReason = chunk.choices[0]?.finish_reason ?? finishReason;
  }

  assert.equal(text, 'Hello from the Streambed emulator. You said: hello from node');
  assert.equal(finishReason, 'stop');
});

test('a streamed tool call comes back whole, and its result is answered', async () => {
  const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
  const stream = await client.chat.completions.create({ model: HAIKU, messages, tools: [WEATHER], stream: true });

  const calls = [];
  let finishReason = null;
  for await (const chunk of stream) {
    for (const delta of chunk.choices[0]?.delta?.tool_calls ?? []) {
      calls[delta.index] ??= { id: delta.id, type: 'function', function: { name: delta.function.name, arguments: '' } };
      calls[delta.index].function.arguments += delta.function.arguments ?? '';
    }
    finishReason = chunk.choices[0]?.finish_reason ?? finishReason;
  }

  assert.equal(finishReason, 'tool_calls');
  assert.equal(calls.length, 1);
  assert.equal(calls[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(calls[0].function.arguments), { city: 'Paris' });

  messages.push({ role: 'assistant', content: null, tool_calls: calls });
  messages.push({ role: 'tool', tool_call_id: calls[0].id, content: 'Sunny, 21 °C' });
  const answer = await client.chat.completions.create({ model: HAIKU, messages, tools: [WEATHER] });

  assert.equal(answer.choices[0].message.content, 'The tool `get_weather` returned: Sunny, 21 °C.');
});

test('a mid-stream exception rejects the iteration', async () => {
  const stream = await client.chat.completions.create({
    model: HAIKU,
    messages: [{ role: 'user', content: '[[scenario:exception type=modelStreamErrorException after=3]]' }],
    stream: true,
  });

  await assert.rejects(async () => {
    for await (const _chunk of stream) {
      // read until it fails
    }
  }, OpenAI.APIError);
});
