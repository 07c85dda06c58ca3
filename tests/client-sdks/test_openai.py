"""Streambed's OpenAI Chat Completions API through the official `openai` Python SDK.

Run by run.sh, which starts the emulator and the server and sets STREAMBED_URL,
STREAMBED_API_KEY and EMULATOR_URL.
"""

import json
import time
import unittest
import uuid

import openai
import pydantic

from common import (
    EMBEDDED,
    HAIKU,
    KEY,
    PDF,
    PNG,
    SONNET_45,
    URL,
    emulated_document_blocks,
    emulated_image_blocks,
    emulated_text,
    emulator_records,
    user,
)


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def client(api_key=KEY):
    # OPENAI_BASE_URL is the server's /v1: the SDK adds /chat/completions itself.
    return openai.OpenAI(base_url=f"{URL}/v1", api_key=api_key, max_retries=0)


def streamed_text(chunks):
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def assembled_tool_calls(chunks):
    """Tool calls from stream deltas, assembled by index as clients do."""
    calls = {}
    for chunk in chunks:
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            call = calls.setdefault(delta.index, {"id": None, "name": None, "arguments": ""})
            call["id"] = delta.id or call["id"]
            call["name"] = (delta.function and delta.function.name) or call["name"]
            call["arguments"] += (delta.function and delta.function.arguments) or ""
    return [calls[i] for i in sorted(calls)]


def finish_reason(chunks):
    return next(c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason)


class Text(unittest.TestCase):
    def test_a_non_streamed_answer_is_the_upstream_text_with_usage(self):
        completion = client().chat.completions.create(model=HAIKU, messages=user("hello there"))

        self.assertEqual(completion.choices[0].message.content, emulated_text("hello there"))
        self.assertEqual(completion.choices[0].finish_reason, "stop")
        self.assertTrue(completion.id.startswith("chatcmpl-"))
        self.assertEqual(completion.model, HAIKU)
        self.assertGreater(completion.usage.prompt_tokens, 0)
        self.assertGreater(completion.usage.completion_tokens, 0)
        self.assertEqual(completion.usage.total_tokens, completion.usage.prompt_tokens + completion.usage.completion_tokens)

    def test_streamed_chunks_join_to_the_upstream_text(self):
        chunks = list(client().chat.completions.create(model=HAIKU, messages=user("stream me"), stream=True))

        self.assertEqual(streamed_text(chunks), emulated_text("stream me"))
        self.assertEqual(chunks[0].choices[0].delta.role, "assistant")
        self.assertEqual(finish_reason(chunks), "stop")
        self.assertEqual({c.id for c in chunks}, {chunks[0].id})

    def test_include_usage_reports_the_usage_in_a_last_chunk_without_choices(self):
        chunks = list(
            client().chat.completions.create(
                model=HAIKU, messages=user("count me"), stream=True, stream_options={"include_usage": True}
            )
        )

        self.assertEqual(chunks[-1].choices, [])
        self.assertGreater(chunks[-1].usage.prompt_tokens, 0)
        self.assertGreater(chunks[-1].usage.completion_tokens, 0)
        self.assertTrue(all(c.usage is None for c in chunks[:-1]))

    def test_the_stream_helper_assembles_the_upstream_text(self):
        with client().chat.completions.stream(model=HAIKU, messages=user("helper")) as stream:
            deltas = "".join(event.delta for event in stream if event.type == "content.delta")
            final = stream.get_final_completion()

        self.assertEqual(deltas, emulated_text("helper"))
        self.assertEqual(final.choices[0].message.content, emulated_text("helper"))

    def test_the_models_are_listed(self):
        ids = [model.id for model in client().models.list()]

        self.assertEqual(ids[0], HAIKU, "the default first")
        self.assertIn(SONNET_45, ids)
        self.assertIn(EMBEDDED, ids)

    def test_one_model_is_retrieved_and_another_is_not_found(self):
        self.assertEqual(client().models.retrieve(SONNET_45).id, SONNET_45)

        with self.assertRaises(openai.NotFoundError):
            client().models.retrieve("no-such-model")


class Embedded(unittest.TestCase):
    def test_the_embedded_model_streams_what_it_answers_whole(self):
        # temperature 0 decodes greedily, so the two answers are the same text.
        asked = dict(model=EMBEDDED, messages=user("Say hi."), max_tokens=16, temperature=0)
        whole = client().chat.completions.create(**asked)
        chunks = list(client().chat.completions.create(**asked, stream=True))

        text = whole.choices[0].message.content
        self.assertTrue(text.strip())
        self.assertEqual(streamed_text(chunks), text)
        self.assertIn(whole.choices[0].finish_reason, ("stop", "length"))
        self.assertEqual(finish_reason(chunks), whole.choices[0].finish_reason)
        self.assertGreater(whole.usage.completion_tokens, 0)

    def test_the_embedded_model_refuses_tools_with_a_bad_request(self):
        with self.assertRaises(openai.BadRequestError) as raised:
            client().chat.completions.create(model=EMBEDDED, messages=user("Weather?"), tools=[WEATHER])

        self.assertIn("tools", raised.exception.message)
        self.assertIn(EMBEDDED, raised.exception.message)


class Images(unittest.TestCase):
    def test_an_image_as_a_data_url_reaches_bedrock_as_an_image(self):
        answer = client().chat.completions.create(
            model=HAIKU,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "low"}},
                    ],
                }
            ],
        )

        self.assertEqual(answer.choices[0].finish_reason, "stop")
        self.assertEqual(emulated_image_blocks(), [{"format": "png", "source": {"bytes": PNG}}])

    def test_a_file_part_reaches_bedrock_as_a_document(self):
        file = {"filename": "report.pdf", "file_data": f"data:application/pdf;base64,{PDF}"}
        answer = client().chat.completions.create(
            model=HAIKU,
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "file", "file": file}, {"type": "text", "text": "What does it say?"}],
                }
            ],
        )

        self.assertEqual(answer.choices[0].finish_reason, "stop")
        self.assertEqual(emulated_document_blocks(), [{"format": "pdf", "name": "report", "source": {"bytes": PDF}}])


class Tools(unittest.TestCase):
    def test_a_tool_round_trip_without_streaming(self):
        messages = user("What is the weather in Paris?")
        asked = client().chat.completions.create(model=HAIKU, messages=messages, tools=[WEATHER])

        choice = asked.choices[0]
        self.assertEqual(choice.finish_reason, "tool_calls")
        call = choice.message.tool_calls[0]
        self.assertEqual(call.function.name, "get_weather")
        self.assertEqual(json.loads(call.function.arguments), {"city": "Paris"})
        # The SDK's own message object goes back as it is, as OpenAI's examples do.
        messages += [choice.message, {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21 °C"}]
        answered = client().chat.completions.create(model=HAIKU, messages=messages, tools=[WEATHER])

        self.assertEqual(answered.choices[0].message.content, "The tool `get_weather` returned: Sunny, 21 °C.")
        self.assertEqual(answered.choices[0].finish_reason, "stop")

    def test_a_tool_round_trip_streamed(self):
        messages = user("What is the weather in Paris?")
        chunks = list(
            client().chat.completions.create(
                model=HAIKU, messages=messages, tools=[WEATHER], tool_choice="required", stream=True
            )
        )

        calls = assembled_tool_calls(chunks)
        self.assertEqual(len(calls), 1)
        self.assertEqual(calls[0]["name"], "get_weather")
        self.assertEqual(json.loads(calls[0]["arguments"]), {"city": "Paris"})
        self.assertEqual(finish_reason(chunks), "tool_calls")
        tool_call = {"id": calls[0]["id"], "type": "function",
                     "function": {"name": calls[0]["name"], "arguments": calls[0]["arguments"]}}
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [tool_call]},
            {"role": "tool", "tool_call_id": calls[0]["id"], "content": "Sunny, 21 °C"},
        ]
        answer = list(client().chat.completions.create(model=HAIKU, messages=messages, tools=[WEATHER], stream=True))

        self.assertEqual(streamed_text(answer), "The tool `get_weather` returned: Sunny, 21 °C.")

    def test_the_named_tool_is_called_when_tool_choice_says_so(self):
        other = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
        asked = client().chat.completions.create(
            model=HAIKU,
            messages=user("Weather?"),
            tools=[other, WEATHER],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
        )

        self.assertEqual(asked.choices[0].message.tool_calls[0].function.name, "get_weather")


class City(pydantic.BaseModel):
    name: str
    population: int


class StructuredOutput(unittest.TestCase):
    def test_parse_with_a_pydantic_model_gets_an_instance_of_it(self):
        completion = client().chat.completions.parse(
            model=SONNET_45, messages=user("A big city, as JSON?"), response_format=City
        )

        self.assertIsInstance(completion.choices[0].message.parsed, City)
        sent = emulator_records()[-1]["body"]["outputConfig"]["textFormat"]
        self.assertEqual(sent["type"], "json_schema")
        schema = json.loads(sent["structure"]["jsonSchema"]["schema"])
        self.assertEqual(schema["required"], ["name", "population"])

    def test_a_streamed_json_schema_answer_is_json_of_the_schema(self):
        schema = City.model_json_schema()
        chunks = list(
            client().chat.completions.create(
                model=SONNET_45,
                messages=user("A big city, streamed?"),
                response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema}},
                stream=True,
            )
        )

        City.model_validate_json(streamed_text(chunks))

    def test_parse_works_on_a_model_without_structured_output_through_a_forced_tool_call(self):
        marker = str(uuid.uuid4())
        completion = client().chat.completions.parse(
            model=HAIKU, messages=user(f"A big city? {marker}"), response_format=City
        )

        self.assertIsInstance(completion.choices[0].message.parsed, City)
        self.assertEqual(completion.choices[0].finish_reason, "stop")
        sent = next(r["body"] for r in emulator_records() if marker in json.dumps(r["body"]))
        self.assertNotIn("outputConfig", sent)
        self.assertEqual(sent["toolConfig"]["toolChoice"]["tool"]["name"], "json_answer")

    def test_json_object_is_asked_of_the_model_in_its_system_prompt(self):
        marker = str(uuid.uuid4())
        client().chat.completions.create(
            model=HAIKU, messages=user(f"JSON please {marker}"), response_format={"type": "json_object"}
        )

        sent = next(r["body"] for r in emulator_records() if marker in json.dumps(r["body"]))
        self.assertIn("one JSON object", sent["system"][0]["text"])
        self.assertNotIn("outputConfig", sent)

    def test_the_embedded_model_refuses_a_schema_it_cannot_follow(self):
        with self.assertRaises(openai.BadRequestError) as refused:
            client().chat.completions.parse(model=EMBEDDED, messages=user("A city?"), response_format=City)

        self.assertIn("structured output", refused.exception.message)


class Errors(unittest.TestCase):
    def test_throttling_raises_the_rate_limit_error(self):
        for stream in (False, True):
            with self.assertRaises(openai.RateLimitError) as raised:
                client().chat.completions.create(model=HAIKU, messages=user("[[scenario:throttle]]"), stream=stream)

            self.assertGreaterEqual(int(raised.exception.response.headers["retry-after"]), 1)

    def test_a_wrong_key_raises_the_authentication_error(self):
        with self.assertRaises(openai.AuthenticationError) as raised:
            client(api_key="wrong-key-0123456789").chat.completions.create(model=HAIKU, messages=user("hi"))

        self.assertEqual(raised.exception.code, "invalid_api_key")

    def test_an_unknown_model_raises_not_found(self):
        with self.assertRaises(openai.NotFoundError) as raised:
            client().chat.completions.create(model="gpt-4o", messages=user("hi"))

        self.assertEqual(raised.exception.code, "model_not_found")
        self.assertIn(HAIKU, raised.exception.message)

    def test_more_than_one_choice_is_a_bad_request(self):
        with self.assertRaises(openai.BadRequestError) as raised:
            client().chat.completions.create(model=HAIKU, messages=user("hi"), n=2)

        self.assertEqual(raised.exception.param, "n")

    def test_a_mid_stream_exception_raises_rather_than_ending_quietly(self):
        prompt = "[[scenario:exception type=modelStreamErrorException after=3]]"
        received = []
        with self.assertRaises(openai.APIError) as raised:
            for chunk in client().chat.completions.create(model=HAIKU, messages=user(prompt), stream=True):
                received.append(chunk)

        self.assertGreater(len(streamed_text(received)), 0, "the text before the failure arrived")
        self.assertTrue(raised.exception.message)

    def test_closing_the_stream_early_makes_the_upstream_hang_up_within_a_second(self):
        marker = uuid.uuid4().hex
        prompt = f"[[scenario:slow delay_ms=100 n=200]] {marker}"
        stream = client().chat.completions.create(model=HAIKU, messages=user(prompt), stream=True)
        for _, _chunk in zip(range(3), stream):
            pass

        stream.close()
        closed = time.monotonic()

        while time.monotonic() - closed < 1.0:
            mine = [r for r in emulator_records() if marker in json.dumps(r["body"])]
            if mine and mine[-1]["outcome"]["kind"] == "client-hung-up":
                self.assertLess(mine[-1]["deltasSent"], 20)
                return
            time.sleep(0.05)
        self.fail(f"the emulator did not record the hang-up within 1 s: {mine}")


if __name__ == "__main__":
    unittest.main()
